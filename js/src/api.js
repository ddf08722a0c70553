// What `wsengine` exports on every platform: the WebSocket facade and what a web app uses
// with it. The entry points (node.js, browser.js, workerd.js) load the wasm first and add
// their platform's transports. websocket.dll's raw API is `wsengine/engine` (engine.js).

export { keepaliveInterval, setKeepaliveInterval, supportedVersions } from '../wasm/wsengine.js';
export { WebSocketError } from './errors.js';
export { WebSocket, setDefaultConnect } from './websocket.js';
