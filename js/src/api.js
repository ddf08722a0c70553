// Everything the package exports, whatever the platform; the entry points (node.js,
// browser.js, workerd.js) load the wasm first.

export {
  Connection,
  Handle,
  HeadParser,
  acceptKey,
  closeReply,
  encodeRejection,
  encodeRequestHead,
  encodeResponseHead,
  keepaliveInterval,
  offeredSubprotocols,
  setKeepaliveInterval,
  supportedVersions,
} from '../wasm/wsengine.js';
export { Action, ActionQueue, BufferType } from './constants.js';
export { Driver } from './driver.js';
export { WebSocketError } from './errors.js';
export { readFrameHeader } from './inspect.js';
export { WebSocket, setDefaultConnect } from './websocket.js';
