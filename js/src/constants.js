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

/** True for the types that carry message data. */
export const isData = (type) => type >= BufferType.UTF8_MESSAGE && type <= BufferType.BINARY_FRAGMENT;
/** True for the text types. */
export const isText = (type) => type === BufferType.UTF8_MESSAGE || type === BufferType.UTF8_FRAGMENT;
/** True for the types that end a message. */
export const endsMessage = (type) => type === BufferType.UTF8_MESSAGE || type === BufferType.BINARY_MESSAGE;
