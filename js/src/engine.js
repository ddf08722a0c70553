// What `wsengine/engine` exports: websocket.dll's API (handles, actions, out-parameters and
// views into the engine's memory), the Connection with its batched calls and the Driver
// that runs one over a transport, and the HTTP and frame helpers. The entry points in
// engine/ load the wasm (through the platform's main entry) before this is used.

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
  chooseSubprotocol,
  offeredSubprotocols,
  setKeepaliveInterval,
  supportedVersions,
} from '../wasm/wsengine.js';
export { Action, ActionQueue, BufferType, CloseStatus, MAX_CLOSE_REASON_LENGTH, OutWord } from './constants.js';
export { Driver } from './driver.js';
export { WebSocketError } from './errors.js';
export { readFrameHeader } from './inspect.js';
