// `wsengine/engine` on this platform: the main entry loads the wasm.
import '../workerd.js';

export * from '../engine.js';
