// `wsengine/engine` on this platform: the main entry loads the wasm.
import '../browser.js';

export * from '../engine.js';
