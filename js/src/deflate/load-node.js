// Loads the wasm with permessage-deflate before the package's Node entry point runs.

import { readFileSync } from 'node:fs';
import { initSync } from '../../wasm/wsengine.js';
import { engineLoaded, engineVariant, expectNoEngineYet } from '../memory.js';

expectNoEngineYet();
if (!engineVariant()) {
  const module = readFileSync(new URL('../../wasm/wsengine_deflate_bg.wasm', import.meta.url));
  engineLoaded(initSync({ module }), 'deflate');
}
