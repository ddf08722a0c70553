// The engine's linear memory, as the entry point that loaded the wasm hands it over (with
// the class the engine's errors are made with). The driver reads action out-parameters and
// byte ranges straight from it. Growing the memory
// replaces its ArrayBuffer and detaches the old one (length 0): the views are then remade.

import { setErrorClass } from '../wasm/wsengine.js';
import { WebSocketError } from './errors.js';

let memory = null;
let u8 = new Uint8Array(0);
let u32 = new Uint32Array(0);
/** Which wasm is loaded: null, 'default' or 'deflate' (permessage-deflate). */
let loaded = null;

/**
 * The wasm is loaded (the entry point calls this once, with `init`'s result): its memory,
 * and the class its errors are made with.
 * @param {{ memory: WebAssembly.Memory }} engine
 * @param {'default' | 'deflate'} variant
 */
export function engineLoaded(engine, variant) {
  memory = engine.memory;
  loaded = variant;
  setErrorClass(WebSocketError);
}

/**
 * Which wasm this program loaded, if any. One program loads one: the first entry point
 * evaluated decides (wsengine/deflate must come before any other import of the package).
 * @returns {null | 'default' | 'deflate'}
 */
export function engineVariant() {
  return loaded;
}

/** Fails when the wasm without permessage-deflate is loaded already (deflate entry points). */
export function expectNoEngineYet() {
  if (loaded === 'default') {
    throw new Error(
      'wsengine/deflate was imported after wsengine had loaded its wasm without permessage-deflate: import wsengine/deflate first',
    );
  }
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
