// Loads the wasm with permessage-deflate before the package's browser entry point runs.

import init from '../../wasm/wsengine.js';
import { engineLoaded, engineVariant, expectNoEngineYet } from '../memory.js';

expectNoEngineYet();
// Next to the bindings' module (js/wasm/), or, once bundled, where the bundler put it.
if (!engineVariant()) {
  engineLoaded(await init({ module_or_path: new URL('../../wasm/wsengine_deflate_bg.wasm', import.meta.url) }), 'deflate');
}
