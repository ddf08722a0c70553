// websocket.dll's numbers, as the engine's bindings take and return them.

/** `WEB_SOCKET_ACTION_QUEUE`: which operations' actions `getAction` looks at. */
export const ActionQueue = Object.freeze({ SEND: 1, RECEIVE: 2, ALL: 3 });

/** `WEB_SOCKET_ACTION`: what `getAction` asks the host to do. */
export const Action = Object.freeze({
  NO_ACTION: 0,
  SEND_TO_NETWORK: 1,
  INDICATE_SEND_COMPLETE: 2,
  RECEIVE_FROM_NETWORK: 3,
  INDICATE_RECEIVE_COMPLETE: 4,
});

/** `WEB_SOCKET_BUFFER_TYPE`: what a send carries or an indication holds. */
export const BufferType = Object.freeze({
  UTF8_MESSAGE: 0x80000000,
  UTF8_FRAGMENT: 0x80000001,
  BINARY_MESSAGE: 0x80000002,
  BINARY_FRAGMENT: 0x80000003,
  CLOSE: 0x80000004,
  PING_PONG: 0x80000005,
  UNSOLICITED_PONG: 0x80000006,
});

/** `WEB_SOCKET_CLOSE_STATUS`: the named close codes. */
export const CloseStatus = Object.freeze({
  SUCCESS: 1000,
  ENDPOINT_UNAVAILABLE: 1001,
  PROTOCOL_ERROR: 1002,
  INVALID_DATA_TYPE: 1003,
  EMPTY: 1005,
  ABORTED: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  UNSUPPORTED_EXTENSIONS: 1010,
  SERVER_ERROR: 1011,
  SECURE_HANDSHAKE_ERROR: 1015,
});

/** `WEB_SOCKET_MAX_CLOSE_REASON_LENGTH`: the longest close reason, in UTF-8 bytes. */
export const MAX_CLOSE_REASON_LENGTH = 123;

/** The word of each out-parameter that `getAction` fills, at `handle.outAddress` (ten u32). */
export const OutWord = Object.freeze({
  KIND: 0,
  BUFFER_TYPE: 1,
  PTR0: 2,
  LEN0: 3,
  PTR1: 4,
  LEN1: 5,
  TOKEN_LO: 6,
  TOKEN_HI: 7,
  CLOSE_STATUS: 8,
  COMPLETED: 9,
});

/** True for the types that carry message data. */
export const isData = (type) => type >= BufferType.UTF8_MESSAGE && type <= BufferType.BINARY_FRAGMENT;
/** True for the text types. */
export const isText = (type) => type === BufferType.UTF8_MESSAGE || type === BufferType.UTF8_FRAGMENT;
/** True for the types that end a message. */
export const endsMessage = (type) => type === BufferType.UTF8_MESSAGE || type === BufferType.BINARY_MESSAGE;
