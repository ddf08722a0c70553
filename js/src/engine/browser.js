// `wsengine/engine` in browsers (and by default): the main entry loads the Connection's
// wasm, the loader the Handle's.
import '../browser.js';
import './load-browser.js';

export * from '../engine.js';
