// The engine's linear memory, as the entry point that loaded the wasm hands it over (with
// the class the engine's errors are made with). The driver reads action out-parameters and
// byte ranges straight from it. Growing the memory
// replaces its ArrayBuffer and detaches the old one (length 0): the views are then remade.

import { setErrorClass } from '../wasm/wsengine.js';
import { WebSocketError } from './errors.js';

let memory = null;
let u8 = new Uint8Array(0);
let u32 = new Uint32Array(0);

/**
 * The wasm is loaded (the entry point calls this once, with `init`'s result): its memory,
 * and the class its errors are made with.
 * @param {{ memory: WebAssembly.Memory }} engine
 */
export function engineLoaded(engine) {
  memory = engine.memory;
  setErrorClass(WebSocketError);
}

function refresh() {
  u8 = new Uint8Array(memory.buffer);
  u32 = new Uint32Array(memory.buffer);
}

/** The memory as bytes (valid until the next call into the engine). */
export function bytes() {
  if (u8.byteLength === 0) refresh();
  return u8;
}

/** The memory as little-endian u32 (valid until the next call into the engine). */
export function words() {
  if (u32.byteLength === 0) refresh();
  return u32;
}
