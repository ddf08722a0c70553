// What `wsengine/engine` exports: websocket.dll's API (handles, actions, out-parameters and
// views into the engine's memory), the Connection with its batched calls and the Driver
// that runs one over a transport, and the HTTP and frame helpers.
//
// Two wasm files: the Connection's, which every entry point loads (the platform's main entry,
// or wsengine/deflate's), and the Handle's with the helpers, which only this entry point
// loads (engine/load-*.js), so that the facade's users do not download websocket.dll's API.
// The entry points in engine/ load both before this is used.

export { Connection, keepaliveInterval, offeredSubprotocols, setKeepaliveInterval, supportedVersions } from '../wasm/wsengine.js';
export {
  Handle,
  HeadParser,
  acceptKey,
  chooseSubprotocol,
  closeReply,
  encodeRejection,
  encodeRequestHead,
  encodeResponseHead,
} from '../wasm/handle.js';
export { Action, ActionQueue, BufferType, CloseStatus, MAX_CLOSE_REASON_LENGTH, OutWord } from './constants.js';
export { Driver } from './driver.js';
export { WebSocketError } from './errors.js';
export { readFrameHeader } from './inspect.js';
