// The engine's linear memory, as the entry point that loaded the wasm hands it over. The
// driver reads action out-parameters and byte ranges straight from it (views are remade
// when the memory grows, which replaces its ArrayBuffer).

let memory = null;
let buffer = null;
let u8 = null;
let u32 = null;

/** @param {WebAssembly.Memory} m */
export function setMemory(m) {
  memory = m;
}

function refresh() {
  buffer = memory.buffer;
  u8 = new Uint8Array(buffer);
  u32 = new Uint32Array(buffer);
}

/** The memory as bytes (valid until the next call into the engine). */
export function bytes() {
  if (memory.buffer !== buffer) refresh();
  return u8;
}

/** The memory as little-endian u32 (valid until the next call into the engine). */
export function words() {
  if (memory.buffer !== buffer) refresh();
  return u32;
}
