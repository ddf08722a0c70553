// Fetches and compiles the Handle's wasm (websocket.dll's API and the HTTP helpers, with
// permessage-deflate): next to the bindings' module (js/wasm/), or, once bundled, next to
// the bundle.

import init, { setErrorClass } from '../../wasm/handle.js';
import { WebSocketError } from '../errors.js';

await init();
setErrorClass(WebSocketError);
