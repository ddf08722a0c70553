// Types of the wsengine npm package (hand-written; the wasm-bindgen output is not shipped as types).

/** A bidirectional byte stream: a WebTransport bidirectional stream, `Duplex.toWeb(socket)`,
 * a workerd `connect()` socket, or anything alike. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** What the package speaks over: a web {@link StreamPair}, or (in Node) a socket or any
 * Duplex, read through its 'data' events and written with backpressure through 'drain'. */
export type Transport = StreamPair | import('node:stream').Duplex;

/** Handle properties (websocket.dll's WEB_SOCKET_PROPERTY), all optional. */
export interface HandleProperties {
  /** 256..=65536 bytes (default 4096): received data comes in pieces of at most this. */
  receiveBufferSize?: number;
  /** 16..=65536 bytes (default 4096 on clients, 16 on servers). */
  sendBufferSize?: number;
  /** Client: mask with a zero key; server: accept unmasked frames. */
  disableMasking?: boolean;
  /** Do not check that text and close reasons are UTF-8. */
  disableUtf8Verification?: boolean;
  /** 32 bytes seeding the handle's generator (default: crypto.getRandomValues). */
  randomSeed?: Uint8Array;
}

/** An error from the engine: a refused call, or the reason a connection failed (`instanceof` works). */
export class WebSocketError extends Error {
  private constructor();
  name: 'WebSocketError';
  /** The HRESULT websocket.dll would return, e.g. 0x83760002 for E_INVALID_PROTOCOL_FORMAT. */
  hresult: number;
  kind:
    | 'invalid-protocol-operation'
    | 'invalid-protocol-format'
    | 'extensions-not-supported'
    | 'subprotocol-not-supported'
    | 'version-not-supported'
    | 'invalid-argument'
    | 'invalid-state'
    | 'timeout'
    | 'fail';
  /** For a peer's protocol error: the status to close the connection with. */
  closeStatus?: number;
  /** For a refused upgrade request: the HTTP status to answer with. */
  httpStatus?: number;
}

export const ActionQueue: Readonly<{ SEND: 1; RECEIVE: 2; ALL: 3 }>;
export const Action: Readonly<{
  NO_ACTION: 0;
  SEND_TO_NETWORK: 1;
  INDICATE_SEND_COMPLETE: 2;
  RECEIVE_FROM_NETWORK: 3;
  INDICATE_RECEIVE_COMPLETE: 4;
}>;
export const BufferType: Readonly<{
  UTF8_MESSAGE: 0x80000000;
  UTF8_FRAGMENT: 0x80000001;
  BINARY_MESSAGE: 0x80000002;
  BINARY_FRAGMENT: 0x80000003;
  CLOSE: 0x80000004;
  PING_PONG: 0x80000005;
  UNSOLICITED_PONG: 0x80000006;
}>;

export type HeaderList = [name: string, value: string][];

/** Options of a {@link Connection} (all optional; the engine's defaults otherwise). */
export interface ConnectionOptions {
  properties?: HandleProperties;
  /** Client: the subprotocols offered, in order of preference. Server: those it speaks, in
   * order of preference (the first the client offered is chosen). */
  protocols?: string[];
  /** Client: extension offers, sent as they are (none is implemented yet). */
  extensions?: string[];
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
  readonly reportAddress: number;
  read(length: number, now: number, taken: number, staged: number): number;
  flush(taken: number, staged: number): number;
  advance(n: number): number;
  handleTimeout(now: number, taken: number, staged: number): number;
  readEof(taken: number, staged: number): number;
  /** Hands staged sends in now, without collecting (throws the first refusal). */
  submit(staged: number): void;
  reserveInput(n: number): void;
  reserveSends(n: number): void;
  /** The error of a call or staged send that failed (the report's ERROR flag), once. */
  takeError(): WebSocketError | undefined;
  /** The error the connection failed with (its `failed` event's). */
  readonly error: WebSocketError | undefined;
  /** Queue one send each (copied in); they throw the engine's refusal. */
  sendText(text: string, fin?: boolean): void;
  sendBinary(data: Uint8Array, fin?: boolean): void;
  ping(payload?: Uint8Array): void;
  pong(payload?: Uint8Array): void;
  close(code: number | undefined, reason: string | undefined, now: number): void;
  abort(): void;
  accept(subprotocol?: string, headers?: HeaderList): void;
  reject(status: number, message?: string): void;
  /** A deferred server's request. */
  readonly request: { target: string; headers: HeaderList } | undefined;
  /** The peer's head at open. */
  readonly headers: HeaderList;
  /** A server's request target (`/chat?room=1`) once open. */
  readonly target: string | undefined;
  readonly subprotocol: string | undefined;
  readonly bufferedAmount: number;
  readonly state: 'connecting' | 'open' | 'closing' | 'closed';
  readonly isClient: boolean;
  free(): void;
  [Symbol.dispose](): void;
}

/** WEB_SOCKET_HANDLE: websocket.dll's API. Free it with `free()`. Methods throw {@link WebSocketError}. */
export class Handle {
  private constructor();
  static createClient(properties?: HandleProperties): Handle;
  static createServer(properties?: HandleProperties): Handle;
  /** A handle for a connection upgraded elsewhere, open at once. */
  static fromUpgraded(client: boolean, properties?: HandleProperties): Handle;
  readonly isClient: boolean;
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
  beginClientHandshake(subprotocols?: string[], extensions?: string[], initialHeaders?: HeaderList): HeaderList;
  endClientHandshake(responseHeaders: HeaderList): { subprotocol: number; extensions: number[] };
  beginServerHandshake(subprotocol: string | undefined, extensions: string[] | undefined, requestHeaders: HeaderList): HeaderList;
  endServerHandshake(): void;
  send(bufferType: number, data: Uint8Array | undefined, context?: number): void;
  sendText(bufferType: number, text: string, context?: number): void;
  sendClose(status: number, reason: Uint8Array, context?: number): void;
  sendLastReceived(bufferType: number, context?: number): void;
  receive(context?: number, maxPiece?: number): void;
  pushReceived(data: Uint8Array): void;
  /** Returns an {@link Action} value; the details are in the `action*` members until the next call. */
  getAction(queue: number): number;
  /** `completeAction`, then `receive()` when `thenReceive`, then `getAction(queue)`. */
  step(token: number, bytesTransferred: number, queue: number, thenReceive?: boolean): number;
  /** `completeAction(token, 0)` when `token` is given, then `send`, then `getAction(queue)`. */
  sendStep(token: number | undefined, bufferType: number, data: Uint8Array | undefined, queue: number): number;
  readonly actionBufferType: number;
  readonly actionToken: number;
  readonly actionContext: number;
  readonly actionCloseStatus: number;
  readonly actionCompleted: boolean;
  readonly actionBufferCount: number;
  readonly actionByteLength: number;
  /** The address of the out-parameters (ten u32) in the engine's memory. */
  readonly outAddress: number;
  /** A copy of the last action's bytes. */
  actionData(): Uint8Array;
  /** A view of range `index` of the last action (valid until the next call into the engine). */
  actionView(index: number): Uint8Array;
  /** The space a receive-from-network action in flight lent (valid until the next call). */
  readBuffer(token: number): Uint8Array;
  completeAction(token: number, bytesTransferred: number): void;
  completeReceive(token: number, data: Uint8Array): void;
  abort(): void;
  free(): void;
  [Symbol.dispose](): void;
}

/** Collects an HTTP head as it arrives (8 KiB and 128 fields at most by default). */
export class HeadParser {
  constructor(maxLen?: number, maxHeaders?: number);
  push(bytes: Uint8Array): boolean;
  request(): { method: string; target: string; headers: HeaderList };
  response(): { status: number; reason: string; headers: HeaderList };
  rest(): Uint8Array;
  free(): void;
}

export function encodeRequestHead(target: string, headers: HeaderList): Uint8Array;
export function encodeResponseHead(status: number, reason: string, headers: HeaderList): Uint8Array;
export function encodeRejection(status: number, message: string): Uint8Array;
export function offeredSubprotocols(requestHeaders: HeaderList): string[];
export function acceptKey(key: string): string;
/** The close that answers a peer's close, or undefined (answer with an empty close) for 1005. */
export function closeReply(status: number, reason: Uint8Array): { status: number; reason: Uint8Array } | undefined;
export function keepaliveInterval(): number;
export function setKeepaliveInterval(ms: number): number;
export function supportedVersions(): Uint32Array;

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
  constructor(connection: Connection, transport: Transport, hooks: DriverHooks, first?: Uint8Array);
  readonly connection: Connection;
  readonly bufferedAmount: number;
  start(): void;
  sendText(text: string, fin?: boolean): void;
  sendBinary(data: Uint8Array, fin?: boolean): void;
  ping(data?: Uint8Array): void;
  pong(data?: Uint8Array): void;
  close(code?: number, reason?: string): void;
  accept(protocol?: string, headers?: HeaderList): void;
  reject(status: number, message?: string): void;
  abort(): void;
  destroy(): void;
}

/** The engine's deadlines, in ms (`null`: none); see {@link ConnectionOptions}. */
export interface Deadlines {
  pingInterval?: number | null;
  pongTimeout?: number | null;
  closeTimeout?: number | null;
  openTimeout?: number | null;
}

export interface WebSocketOptions extends Deadlines {
  /** The transport to speak over, or how to get one for the URL (default: TCP in Node and workerd). */
  transport?: Transport | ((url: URL) => Transport | Promise<Transport>);
  /** More request headers. */
  headers?: HeaderList;
  properties?: HandleProperties;
  /** The largest message accepted (default 100 MiB); a larger one fails the connection with 1009. */
  maxPayload?: number;
}

export interface AcceptOptions extends Deadlines {
  protocols?: string[] | ((offered: string[]) => string | undefined);
  properties?: HandleProperties;
  maxPayload?: number;
}

/** The WHATWG WebSocket interface over the engine, on any {@link StreamPair}. */
export class WebSocket extends EventTarget {
  constructor(url: string | URL, protocols?: string | string[], options?: WebSocketOptions);
  /** The server side: the engine's opening handshake on `transport`, then an open WebSocket
   * (`first`: bytes read from the transport before). */
  static accept(transport: Transport, options?: AcceptOptions, first?: Uint8Array): Promise<WebSocket>;
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  readonly url: string;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: 'blob' | 'arraybuffer' | 'uint8array';
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
  /** Not in the browser's interface: sends a ping with up to 125 bytes of payload; the
   * pong comes as a `pong` event (a MessageEvent whose `data` is a Uint8Array), a peer's
   * ping (answered by the engine) as a `ping` event. */
  ping(data?: ArrayBuffer | ArrayBufferView | string): void;
}

export function setDefaultConnect(connect: ((url: URL) => Transport | Promise<Transport>) | null): void;

// Node only (the "node" export condition):
/** A Node socket as a {@link StreamPair} (the package itself reads sockets directly). */
export function fromSocket(socket: import('node:net').Socket): StreamPair;
/** A TCP (ws:) or TLS (wss:) connection to the URL's host: a socket in Node, a
 * `connect()` socket (a stream pair) in workerd. */
export function connectTcp(url: URL): Promise<Transport>;
/** The server side on a raw socket from `net.createServer`: the engine reads and answers the request. */
export function acceptSocket(socket: import('node:net').Socket, options?: AcceptOptions): Promise<WebSocket>;
/** The server side for a Node HTTP server's 'upgrade' event: the parsed request is handed to the engine as its bytes. */
export function acceptUpgrade(
  req: import('node:http').IncomingMessage,
  socket: import('node:stream').Duplex,
  head: Uint8Array,
  options?: AcceptOptions,
): Promise<WebSocket>;
