// `wsengine/engine` on this platform: the main entry loads the wasm.
import '../node.js';

export * from '../engine.js';
