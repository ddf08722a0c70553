// Browser (and default) entry point: fetches and compiles the wasm next to this file.

import init from '../wasm/wsengine.js';
import { engineLoaded } from './memory.js';

engineLoaded(await init({ module_or_path: new URL('../wasm/wsengine_bg.wasm', import.meta.url) }));

export * from './api.js';
