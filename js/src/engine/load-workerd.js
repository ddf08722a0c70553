// Loads the Handle's wasm (websocket.dll's API and the HTTP helpers, with
// permessage-deflate), which arrives as a compiled module import.

import module from '../../wasm/handle_bg.wasm';
import { initSync, setErrorClass } from '../../wasm/handle.js';
import { WebSocketError } from '../errors.js';

initSync({ module });
setErrorClass(WebSocketError);
