// `wsengine/deflate` in Node: the package on the wasm with permessage-deflate, which
// WebSocket clients offer and servers accept unless told `deflate: false`. The loader is
// imported first, so the wasm is in place before the entry point below runs.

import './load-node.js';

export * from '../node.js';
