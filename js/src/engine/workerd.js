// `wsengine/engine` in workerd: the main entry loads the Connection's wasm, the loader the
// Handle's.
import '../workerd.js';
import './load-workerd.js';

export * from '../engine.js';
