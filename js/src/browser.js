// Browser (and default) entry point: fetches and compiles the wasm (see below).

import init from '../wasm/wsengine.js';
import { engineLoaded } from './memory.js';

// The wasm next to the bindings' module (js/wasm/), or, once bundled, next to the bundle.
engineLoaded(await init());

export * from './api.js';
