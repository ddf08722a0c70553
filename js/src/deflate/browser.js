// `wsengine/deflate` in browsers (and by default): the package on the wasm with
// permessage-deflate. The loader is imported first, so the wasm is in place before the
// entry point below runs.

import './load-browser.js';

export * from '../browser.js';
