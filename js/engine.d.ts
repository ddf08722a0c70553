// Types of `wsengine/engine`: websocket.dll's API, the Connection and its Driver, and the
// HTTP and frame helpers (hand-written, as index.d.ts).

/// <reference lib="esnext.disposable" />

import type { DeflateOptions, HandleProperties, HeaderList, Transport, WebSocketError } from './index.js';

export { WebSocketError, keepaliveInterval, setKeepaliveInterval, supportedVersions } from './index.js';
export type { HandleProperties, HeaderList, StreamPair, Transport } from './index.js';

/** WEB_SOCKET_ACTION_QUEUE: which operations' actions `getAction` looks at. */
export const ActionQueue: Readonly<{ SEND: 1; RECEIVE: 2; ALL: 3 }>;
/** WEB_SOCKET_ACTION: what `getAction` asks the host to do. */
export const Action: Readonly<{
  NO_ACTION: 0;
  SEND_TO_NETWORK: 1;
  INDICATE_SEND_COMPLETE: 2;
  RECEIVE_FROM_NETWORK: 3;
  INDICATE_RECEIVE_COMPLETE: 4;
}>;
/** WEB_SOCKET_BUFFER_TYPE: what a send carries or an indication holds. */
export const BufferType: Readonly<{
  UTF8_MESSAGE: 0x80000000;
  UTF8_FRAGMENT: 0x80000001;
  BINARY_MESSAGE: 0x80000002;
  BINARY_FRAGMENT: 0x80000003;
  CLOSE: 0x80000004;
  PING_PONG: 0x80000005;
  UNSOLICITED_PONG: 0x80000006;
}>;
/** A `WEB_SOCKET_ACTION_QUEUE` value. */
export type ActionQueueValue = (typeof ActionQueue)[keyof typeof ActionQueue];
/** A `WEB_SOCKET_ACTION` value. */
export type ActionValue = (typeof Action)[keyof typeof Action];
/** A `WEB_SOCKET_BUFFER_TYPE` value. */
export type BufferTypeValue = (typeof BufferType)[keyof typeof BufferType];
/** WEB_SOCKET_CLOSE_STATUS: the named close codes. */
export const CloseStatus: Readonly<{
  SUCCESS: 1000;
  ENDPOINT_UNAVAILABLE: 1001;
  PROTOCOL_ERROR: 1002;
  INVALID_DATA_TYPE: 1003;
  EMPTY: 1005;
  ABORTED: 1006;
  INVALID_PAYLOAD: 1007;
  POLICY_VIOLATION: 1008;
  MESSAGE_TOO_BIG: 1009;
  UNSUPPORTED_EXTENSIONS: 1010;
  SERVER_ERROR: 1011;
  SECURE_HANDSHAKE_ERROR: 1015;
}>;
/** The word of each out-parameter `getAction` fills, at `handle.outAddress` (ten u32). */
export const OutWord: Readonly<{
  KIND: 0;
  BUFFER_TYPE: 1;
  PTR0: 2;
  LEN0: 3;
  PTR1: 4;
  LEN1: 5;
  TOKEN_LO: 6;
  TOKEN_HI: 7;
  CLOSE_STATUS: 8;
  COMPLETED: 9;
}>;
/** WEB_SOCKET_MAX_CLOSE_REASON_LENGTH: the longest close reason, in UTF-8 bytes. */
export const MAX_CLOSE_REASON_LENGTH: 123;

/** Options of a {@link Connection} (all optional; the engine's defaults otherwise). */
export interface ConnectionOptions {
  properties?: HandleProperties;
  /** Client: the subprotocols offered, in order of preference. Server: those it speaks, in
   * order of preference (the first the client offered is chosen). */
  protocols?: string[];
  /** Client: extension offers, sent as they are, after the permessage-deflate offer. */
  extensions?: string[];
  /** permessage-deflate (only with the wasm of `wsengine/deflate`): a client offers it, a
   * server accepts the first offer it can. */
  deflate?: boolean | DeflateOptions;
  /** Extra headers for the client's request or the server's 101 response. */
  headers?: HeaderList;
  /** Server: indicate the request (`request`) and wait for `accept` or `reject`. */
  deferAccept?: boolean;
  /** The longest message accepted (default 64 MiB); a longer one fails with 1009. */
  maxMessageSize?: number;
  /** The most frames in one message (default 131072); more fail with 1009. */
  maxFragments?: number;
  /** Deliver whole messages instead of pieces as they arrive (default false). */
  reassemble?: boolean;
  /** Keep-alive ping interval in ms (default: the global keep-alive interval, 30 s); null: none. */
  pingInterval?: number | null;
  /** How long a keep-alive ping waits for its pong before failing with 1011 (default 20 s). */
  pongTimeout?: number | null;
  /** How long the closing handshake may take (default 10 s). */
  closeTimeout?: number | null;
  /** How long the opening handshake may take (default 10 s). */
  openTimeout?: number | null;
  /** The most input bytes kept unprocessed (default 1 MiB). */
  maxBufferedInput?: number;
  /** Limits on the HTTP head of the opening handshake (default 8 KiB, 128 fields). */
  maxHeadLength?: number;
  maxHeaders?: number;
}

/**
 * `wsengine::Connection`: bytes in, events out, bytes to write, with every rule of the
 * protocol (the opening handshake over raw HTTP/1.1 bytes, answering a close, failing with a
 * status, keep-alive, deadlines, limits) in the engine. Free it with `free()` (a
 * {@link Driver} frees the one it runs).
 *
 * Each collecting call (`read`, `flush`, `advance`, `handleTimeout`, `readEof`) returns the
 * number of events in its batch and writes a report at `reportAddress`: event records, the
 * output ranges and the next deadline, read from the engine's memory (js/src/layout.js
 * names the words). Input is written into the report's inbox, sends may be staged in its send
 * area; `taken` reports output written since the last call, `staged` the staged sends' bytes.
 * The report, records and ranges are valid until the next call. {@link Driver} does all of
 * this; use it unless you write a transport loop of your own.
 */
export class Connection {
  private constructor();
  /** A client for a `ws:`/`wss:` URL; its upgrade request is in the output at once. */
  static client(url: string, options: ConnectionOptions | undefined, now: number): Connection;
  /** A server waiting for the upgrade request. */
  static server(options: ConnectionOptions | undefined, now: number): Connection;
  /** A connection upgraded elsewhere, open at once. */
  static fromUpgraded(client: boolean, options: ConnectionOptions | undefined, now: number): Connection;
  /**
   * A client over HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220): the connection, waiting for
   * {@link Connection.connectResponse}, and the extended CONNECT's fields (pseudo-header
   * fields first) to send on a new stream of a connection whose server allows it. Then run
   * it over that stream (a Node `ClientHttp2Stream` is a Duplex) with a {@link Driver}.
   */
  static clientConnect(url: string, options: ConnectionOptions | undefined, now: number): { connection: Connection; fields: HeaderList };
  /**
   * A server for an extended CONNECT's fields (pseudo-header fields included): the
   * connection, open, and the response's fields (`:status` 200 and the selections). Throws
   * the error whose `httpStatus` answers a request that is no WebSocket CONNECT.
   */
  static acceptConnect(request: HeaderList, options: ConnectionOptions | undefined, now: number): { connection: Connection; fields: HeaderList };
  /** A `clientConnect` client: the response's status and fields; throws (and fails) unless a 2xx agrees with the request. */
  connectResponse(status: number, headers: HeaderList): void;
  /** The address of the report (u32 words named by the package's layout) in the engine's memory. */
  readonly reportAddress: number;
  /** Hands in the first `length` bytes of the inbox, read at `now`, after `taken` bytes of the last output were written and `staged` bytes of sends were staged; returns the number of event records. */
  read(length: number, now: number, taken: number, staged: number): number;
  /** `taken` and `staged` only (see `read`), then the events. */
  flush(taken: number, staged: number): number;
  /** `n` bytes of the output were written: `flush(n, 0)`. */
  advance(n: number): number;
  /** The time is `now` (at or after the report's wake-up): deadlines fire; then as `flush`. */
  handleTimeout(now: number, taken: number, staged: number): number;
  /** The transport reached its end; then as `flush`. */
  readEof(taken: number, staged: number): number;
  /** Hands staged sends in now, without collecting (throws the first refusal). */
  submit(staged: number): void;
  /** Makes the inbox at least `n` bytes (the report's inbox address may move). */
  reserveInput(n: number): void;
  /** Makes the send area at least `n` bytes, keeping what is staged (its address may move). */
  reserveSends(n: number): void;
  /** The error of a call or staged send that failed (the report's ERROR flag), once. */
  takeError(): WebSocketError | undefined;
  /** The error the connection failed with (its `failed` event's). */
  readonly error: WebSocketError | undefined;
  /** Queue one send each (copied in); they throw the engine's refusal. */
  sendText(text: string, fin?: boolean): void;
  /** As `sendText`, for bytes. */
  sendBinary(data: Uint8Array, fin?: boolean): void;
  /** A ping with up to 125 bytes of payload. */
  ping(payload?: Uint8Array): void;
  /** An unsolicited pong with up to 125 bytes of payload. */
  pong(payload?: Uint8Array): void;
  /** Starts the closing handshake (no code: an empty close). */
  close(code: number | undefined, reason: string | undefined, now: number): void;
  /** Ends the connection at once, with no close frame. */
  abort(): void;
  /** A deferred server accepts the request, with one of the offered subprotocols. */
  accept(subprotocol?: string, headers?: HeaderList): void;
  /** A deferred server refuses the request with an HTTP status (400-599). */
  reject(status: number, message?: string): void;
  /** A deferred server's request. */
  readonly request: { target: string; headers: HeaderList } | undefined;
  /** The peer's head at open. */
  readonly headers: HeaderList;
  /** A server's request target (`/chat?room=1`) once open. */
  readonly target: string | undefined;
  /** The subprotocol in force, once open. */
  readonly subprotocol: string | undefined;
  /** The extensions in force once open, as the server's response lists them. */
  readonly extensions: string | undefined;
  /** Bytes accepted for sending and not yet written. */
  readonly bufferedAmount: number;
  /** The connection's state. */
  readonly state: 'connecting' | 'open' | 'closing' | 'closed';
  /** True for a client. */
  readonly isClient: boolean;
  /** Frees the engine's memory for it. */
  free(): void;
  [Symbol.dispose](): void;
}

/** WEB_SOCKET_HANDLE: websocket.dll's API. Free it with `free()`. Methods throw {@link WebSocketError}. */
export class Handle {
  private constructor();
  /** WebSocketCreateClientHandle. */
  static createClient(properties?: HandleProperties): Handle;
  /** WebSocketCreateServerHandle. */
  static createServer(properties?: HandleProperties): Handle;
  /** A handle for a connection upgraded elsewhere, open at once. */
  static fromUpgraded(client: boolean, properties?: HandleProperties): Handle;
  /** True for a client handle. */
  readonly isClient: boolean;
  /** The receive buffer size in force. */
  readonly receiveBufferSize: number;
  /** The send buffer size in force. */
  readonly sendBufferSize: number;
  /** The handle's state; `send-broken` after a short write (the transport must be closed). */
  readonly state:
    | 'created'
    | 'client-handshaking'
    | 'server-handshaking'
    | 'handshake-failed'
    | 'open'
    | 'close-sent'
    | 'close-received'
    | 'closed'
    | 'failed'
    | 'send-broken'
    | 'aborted';
  /** WebSocketBeginClientHandshake: the headers to add to the upgrade request. */
  beginClientHandshake(subprotocols?: string[], extensions?: string[], initialHeaders?: HeaderList): HeaderList;
  /** WebSocketEndClientHandshake: checks the response headers; the indexes of what the server chose. */
  endClientHandshake(responseHeaders: HeaderList): { subprotocol: number; extensions: number[] };
  /** WebSocketBeginServerHandshake: checks the request; the headers of the 101 response. */
  beginServerHandshake(subprotocol: string | undefined, extensions: string[] | undefined, requestHeaders: HeaderList): HeaderList;
  /** WebSocketEndServerHandshake (optional: the first session call does the same). */
  endServerHandshake(): void;
  /** WebSocketSend of data (copied in), a close with `undefined` data, or a ping / unsolicited pong. */
  send(bufferType: BufferTypeValue, data: Uint8Array | undefined, context?: number): void;
  /** WebSocketSend of a string as its UTF-8 bytes. */
  sendText(bufferType: BufferTypeValue, text: string, context?: number): void;
  /** WebSocketSend of a close with a status and a reason of at most {@link MAX_CLOSE_REASON_LENGTH} bytes. */
  sendClose(status: number, reason: Uint8Array, context?: number): void;
  /** WebSocketSend of the piece the last receive indication handed over, from where it lies. */
  sendLastReceived(bufferType: BufferTypeValue, context?: number): void;
  /** WebSocketReceive; pieces of at most `maxPiece` bytes (at least 125) when given, else the receive buffer size. */
  receive(context?: number, maxPiece?: number): void;
  /** Bytes of the stream read before the handle took over (those behind the HTTP head). */
  pushReceived(data: Uint8Array): void;
  /** WebSocketGetAction: the action; its details are in the `action*` members until the next call. */
  getAction(queue: ActionQueueValue): ActionValue;
  /** `completeAction`, then `receive()` when `thenReceive`, then `getAction(queue)`. */
  step(token: number, bytesTransferred: number, queue: ActionQueueValue, thenReceive?: boolean): ActionValue;
  /** `completeAction(token, 0)` when `token` is given, then `send`, then `getAction(queue)`. */
  sendStep(token: number | undefined, bufferType: BufferTypeValue, data: Uint8Array | undefined, queue: ActionQueueValue): ActionValue;
  /** The last action's buffer type (0 for none). */
  readonly actionBufferType: BufferTypeValue | 0;
  /** The last action's token, for `completeAction` (0 for NO_ACTION, which completes as a no-op). */
  readonly actionToken: number;
  /** The context given to the `send` or `receive` the last action belongs to (0 for none). */
  readonly actionContext: number;
  /** For a close indication, its status (1005 when the frame had no body); else 0. */
  readonly actionCloseStatus: number;
  /** For an indicate-send-complete, true when every byte was written. */
  readonly actionCompleted: boolean;
  /** How many byte ranges the last action has (a send-to-network: 1 or 2). */
  readonly actionBufferCount: number;
  /** The last action's bytes in all. */
  readonly actionByteLength: number;
  /** The address of the out-parameters (ten u32, see {@link OutWord}) in the engine's memory. */
  readonly outAddress: number;
  /** A copy of the last action's bytes. */
  actionData(): Uint8Array;
  /** A view of range `index` of the last action (valid until the next call into the engine). */
  actionView(index: number): Uint8Array;
  /** The space a receive-from-network action in flight lent (valid until the next call). */
  readBuffer(token: number): Uint8Array;
  /** The network action in flight that `token` names, again, into the out-parameters as `getAction` sets them. */
  action(token: number): ActionValue;
  /** WebSocketCompleteAction: the bytes written or read (0 for indications; 0 on a read is end of stream). */
  completeAction(token: number, bytesTransferred: number): void;
  /** Completes a receive-from-network action with the bytes read (copied in). */
  completeReceive(token: number, data: Uint8Array): void;
  /** WebSocketAbortHandle. */
  abort(): void;
  /** WebSocketDeleteHandle. */
  free(): void;
  [Symbol.dispose](): void;
}

/** Collects an HTTP head as it arrives (8 KiB and 128 fields at most by default). */
export class HeadParser {
  /** A parser with these limits. */
  constructor(maxLen?: number, maxHeaders?: number);
  /** Adds bytes read (copied); true once the head is complete. */
  push(bytes: Uint8Array): boolean;
  /** The complete head as a request. */
  request(): { method: string; target: string; headers: HeaderList };
  /** The complete head as a response. */
  response(): { status: number; reason: string; headers: HeaderList };
  /** The bytes after the head (the WebSocket stream's first bytes). */
  rest(): Uint8Array;
  /** Frees the engine's memory for it. */
  free(): void;
}

/** `GET target HTTP/1.1` and the header fields, as the bytes of an upgrade request head. */
export function encodeRequestHead(target: string, headers: HeaderList): Uint8Array;
/** A response head's bytes (`HTTP/1.1 101 Switching Protocols` and the handshake's fields). */
export function encodeResponseHead(status: number, reason: string, headers: HeaderList): Uint8Array;
/** A whole HTTP response refusing an upgrade (400-599), with `message` as its body. */
export function encodeRejection(status: number, message: string): Uint8Array;
/** The subprotocols a client's upgrade request offers, in its order. */
export function offeredSubprotocols(requestHeaders: HeaderList): string[];
/** The first of `protocols` (the server's order of preference) that the request offers. */
export function chooseSubprotocol(requestHeaders: HeaderList, protocols: string[]): string | undefined;
/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string;
/** The close that answers a peer's close, or undefined (answer with an empty close) for 1005. */
export function closeReply(status: number, reason: Uint8Array): { status: number; reason: Uint8Array } | undefined;

/** A frame header as the wire has it (nothing checked against a connection). */
export interface FrameHeader {
  fin: boolean;
  /** RSV1-RSV3 as a 3-bit number (RSV1 highest). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** 2 to 14 bytes; with `masked`, the key is its last four. */
  headerLength: number;
  payloadLength: number;
}
/** The frame header at the start of `bytes`, or undefined while `bytes` ends inside it (throws a RangeError for a forbidden 64-bit length). */
export function readFrameHeader(bytes: Uint8Array): FrameHeader | undefined;

/** What a {@link Driver} tells its host; views (`data`) are valid only during the call. */
export interface DriverHooks {
  /** A server with `deferAccept`: the upgrade request; answer with `accept` or `reject`. */
  request?(request: { target: string; headers: HeaderList }): void;
  /** The opening handshake is done (later events come in a later task); `target` is a
   * server's request target. */
  open?(protocol: string, headers: HeaderList, target: string | undefined): void;
  /** Message data: a whole message, or a piece (`fin` false) without `reassemble`. */
  message?(text: boolean, data: Uint8Array, fin: boolean): void;
  /** The peer pinged (the engine answered). */
  ping?(data: Uint8Array): void;
  pong?(data: Uint8Array): void;
  /** The peer's close (answered by the engine). */
  closing?(code: number, reason: string): void;
  /** The connection failed; `statusSent` is the close status sent to the peer, or 0. */
  failed?(error: WebSocketError, statusSent: number): void;
  /** The end (the transport is closed once the output is written). */
  closed?(clean: boolean, code: number, reason: string): void;
  /** A send handed in later was refused. */
  error?(error: WebSocketError): void;
}

/** Runs a {@link Connection} over a {@link Transport}: one call into the engine per read, per
 * batch of sends and per timer; backpressure both ways. */
export class Driver {
  /** Runs `connection` over `transport`, `first` being bytes already read from it. */
  constructor(connection: Connection, transport: Transport, hooks: DriverHooks, first?: Uint8Array);
  /** The connection it runs. */
  readonly connection: Connection;
  /** Bytes accepted for sending and not yet written to the transport. */
  readonly bufferedAmount: number;
  /** Starts reading and writing (a client's upgrade request goes out). */
  start(): void;
  /** Sends text (copied in at once). */
  sendText(text: string, fin?: boolean): void;
  /** Sends bytes (copied in at once). */
  sendBinary(data: Uint8Array, fin?: boolean): void;
  /** A ping with up to 125 bytes. */
  ping(data?: Uint8Array): void;
  /** An unsolicited pong with up to 125 bytes. */
  pong(data?: Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** A deferred server accepts the request. */
  accept(protocol?: string, headers?: HeaderList): void;
  /** A deferred server refuses the request. */
  reject(status: number, message?: string): void;
  /** Ends at once, with no close frame. */
  abort(): void;
  /** Drops the transport and the connection at once, indicating nothing more. */
  destroy(): void;
}

