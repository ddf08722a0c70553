// `wsengine/deflate` in workerd: the package on the wasm with permessage-deflate. The
// loader is imported first, so the wasm is in place before the entry point below runs.

import './load-workerd.js';

export * from '../workerd.js';
