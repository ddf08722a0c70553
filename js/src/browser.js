// Browser (and default) entry point: fetches and compiles the wasm (see below).

import init from '../wasm/wsengine.js';
import { engineLoaded, engineVariant } from './memory.js';

// The wasm next to the bindings' module (js/wasm/), or, once bundled, next to the bundle;
// unless wsengine/deflate loaded its own first.
if (!engineVariant()) engineLoaded(await init(), 'default');

export * from './api.js';
