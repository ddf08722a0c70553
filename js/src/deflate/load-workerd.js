// Loads the wasm with permessage-deflate before the package's workerd entry point runs.

import module from '../../wasm/wsengine_deflate_bg.wasm';
import { initSync } from '../../wasm/wsengine.js';
import { engineLoaded, engineVariant, expectNoEngineYet } from '../memory.js';

expectNoEngineYet();
if (!engineVariant()) engineLoaded(initSync({ module }), 'deflate');
