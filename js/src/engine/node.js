// `wsengine/engine` in Node: the main entry loads the Connection's wasm, the loader the
// Handle's.
import '../node.js';
import './load-node.js';

export * from '../engine.js';
