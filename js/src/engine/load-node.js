// Loads the Handle's wasm (websocket.dll's API and the HTTP helpers, with
// permessage-deflate) from the package's files.

import { readFileSync } from 'node:fs';
import { initSync, setErrorClass } from '../../wasm/handle.js';
import { WebSocketError } from '../errors.js';

initSync({ module: readFileSync(new URL('../../wasm/handle_bg.wasm', import.meta.url)) });
setErrorClass(WebSocketError);
