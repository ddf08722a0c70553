// Types of the wsengine npm package (hand-written; the wasm-bindgen output is not shipped as types).

/** A bidirectional byte stream: a WebTransport bidirectional stream, `Duplex.toWeb(socket)`,
 * a workerd `connect()` socket, or anything alike. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

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

/** An error thrown by the engine: an `Error` named `WebSocketError`. */
export interface WebSocketError extends Error {
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

export interface DriverHooks {
  /** Each indication: a data piece, a pong, a close (with its status), or type 0 at the end.
   * `bytes` is a view valid only during the call. */
  onPiece(type: number, bytes: Uint8Array, closeStatus: number): void;
  onError(error: Error): void;
}

/** Runs a handle's action loop over a {@link StreamPair}, with backpressure both ways. */
export class Driver {
  constructor(handle: Handle, stream: StreamPair, hooks: DriverHooks);
  readonly handle: Handle;
  readonly bufferedAmount: number;
  start(): void;
  send(
    type: number,
    data?: Uint8Array | string | { status: number; reason?: Uint8Array },
    done?: (error: Error | null, completed: boolean) => void,
  ): void;
  closeTransport(): Promise<void>;
  destroy(reason?: unknown): void;
}

export interface Opened {
  handle: Handle;
  protocol: string;
  extensions: string;
}

export function clientHandshake(
  stream: StreamPair,
  options: { url: string | URL; protocols?: string[]; headers?: HeaderList; properties?: HandleProperties },
): Promise<Opened>;

export function serverHandshake(
  stream: StreamPair,
  options?: { protocols?: string[] | ((offered: string[]) => string | undefined); properties?: HandleProperties },
): Promise<Opened & { request: { method: string; target: string; headers: HeaderList } }>;

/** The server's answer to an upgrade request already read: the 101 or the engine's rejection. */
export function answerUpgrade(
  write: (bytes: Uint8Array) => Promise<unknown> | unknown,
  request: { method: string; target: string; headers: HeaderList },
  rest: Uint8Array,
  options?: { protocols?: string[] | ((offered: string[]) => string | undefined); properties?: HandleProperties },
): Promise<Opened & { request: { method: string; target: string; headers: HeaderList } }>;

export interface WebSocketOptions {
  /** The byte stream to speak over, or how to get one for the URL (default: TCP in Node and workerd). */
  transport?: StreamPair | ((url: URL) => StreamPair | Promise<StreamPair>);
  /** More request headers. */
  headers?: HeaderList;
  properties?: HandleProperties;
  /** The largest message accepted (default 100 MiB); a larger one fails the connection with 1009. */
  maxPayload?: number;
}

export interface AcceptOptions {
  protocols?: string[] | ((offered: string[]) => string | undefined);
  properties?: HandleProperties;
  maxPayload?: number;
}

/** The WHATWG WebSocket interface over the engine, on any {@link StreamPair}. */
export class WebSocket extends EventTarget {
  constructor(url: string | URL, protocols?: string | string[], options?: WebSocketOptions);
  /** The server side: the opening handshake on `stream`, then an open WebSocket. */
  static accept(stream: StreamPair, options?: AcceptOptions): Promise<WebSocket>;
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
  /** Not in the browser's interface: sends a ping. */
  ping(data?: ArrayBuffer | ArrayBufferView | string): void;
}

export function setDefaultConnect(connect: ((url: URL) => StreamPair | Promise<StreamPair>) | null): void;

// Node only (the "node" export condition):
/** A Node socket as a {@link StreamPair}. */
export function fromSocket(socket: import('node:net').Socket): StreamPair;
/** A TCP (ws:) or TLS (wss:) connection to the URL's host. Node and workerd. */
export function connectTcp(url: URL): Promise<StreamPair>;
/** The server side on a raw socket from `net.createServer`. */
export function acceptSocket(socket: import('node:net').Socket, options?: AcceptOptions): Promise<WebSocket>;
/** The server side for a Node HTTP server's 'upgrade' event. */
export function acceptUpgrade(
  req: import('node:http').IncomingMessage,
  socket: import('node:stream').Duplex,
  head: Uint8Array,
  options?: AcceptOptions,
): Promise<WebSocket>;
