// Runs a WASI (preview 1) command module in Node's WASI: the C tests compiled for
// wasm32-wasi with clang and linked with libwsengine.a built for wasm32-wasip1.
//
//   node bindings/c/tests/wasi.mjs program.wasm [args...]

import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, returnOnExit: true });
const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(file)), wasi.getImportObject());
process.exitCode = wasi.start(instance);
