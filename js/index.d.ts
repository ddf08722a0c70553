// Types of the wsengine npm package (hand-written; the wasm-bindgen output is not shipped as types).

/** A bidirectional byte stream: a WebTransport bidirectional stream, `Duplex.toWeb(socket)`,
 * a workerd `connect()` socket, or anything alike. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** A Node stream (a `net.Socket`, any `Duplex`), as the package uses one: read through its
 * 'data' events, written with backpressure through 'drain'. Declared by shape, so these types
 * need no Node types outside Node. */
export interface NodeByteStream {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  write(chunk: Uint8Array): boolean;
  end(): unknown;
}

/** What the package speaks over: a web {@link StreamPair}, or (in Node) a socket or any
 * Duplex. */
export type Transport = StreamPair | NodeByteStream;

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
  /**
   * The opening handshake is an HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220) extended CONNECT:
   * `:method CONNECT`, `:protocol websocket`, no key, answered `:status 200` (a handle's;
   * a `Connection` takes it from `clientConnect` / `acceptConnect`).
   */
  extendedConnect?: boolean;
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

/** HTTP header fields as `[name, value]` pairs, in order (names compare case-insensitively). */
export type HeaderList = [name: string, value: string][];

/** The global keep-alive interval in ms (websocket.dll's KEEPALIVE_INTERVAL, 30 s by default). */
export function keepaliveInterval(): number;
/** Sets the global keep-alive interval in ms; returns the previous value. */
export function setKeepaliveInterval(ms: number): number;
/** The WebSocket protocol versions the engine speaks ([13]). */
export function supportedVersions(): Uint32Array;

/** The engine's deadlines, in ms (`null`: none); as `ConnectionOptions` in `wsengine/engine`. */
export interface Deadlines {
  pingInterval?: number | null;
  pongTimeout?: number | null;
  closeTimeout?: number | null;
  openTimeout?: number | null;
}

/**
 * permessage-deflate's parameters (RFC 7692), each optional: the defaults are windows of
 * 2^12 both ways, memory level 5, context takeover on, level 6, threshold 128 bytes.
 */
export interface DeflateOptions {
  /** The largest window (9 to 15, a power of two) the server compresses with. */
  serverMaxWindowBits?: number;
  /** The largest window (9 to 15) the client compresses with. */
  clientMaxWindowBits?: number;
  /** The server empties its window after every message. */
  serverNoContextTakeover?: boolean;
  /** The client empties its window after every message. */
  clientNoContextTakeover?: boolean;
  /** Compression level, 0 to 9. */
  level?: number;
  /** zlib's memory level for the compressor, 1 to 9. */
  memLevel?: number;
  /** Messages shorter than this many bytes go uncompressed. */
  threshold?: number;
}

/** Options of `new WebSocket(url, protocols, options)`, beyond the DOM's two arguments. */
export interface WebSocketOptions extends Deadlines {
  /** The transport to speak over, or how to get one for the URL (default: TCP in Node and workerd). */
  transport?: Transport | ((url: URL) => Transport | Promise<Transport>);
  /** More request headers. */
  headers?: HeaderList;
  properties?: HandleProperties;
  /** The largest message accepted (default 100 MiB); a larger one fails the connection with 1009. */
  maxPayload?: number;
  /** permessage-deflate: offered by default with `wsengine/deflate`; the wasm without it
   * refuses anything but `false`. */
  deflate?: boolean | DeflateOptions;
}

/** Options of the server side (`WebSocket.accept`, `acceptSocket`, `acceptUpgrade`). */
export interface AcceptOptions extends Deadlines {
  protocols?: string[] | ((offered: string[]) => string | undefined);
  properties?: HandleProperties;
  maxPayload?: number;
  /** permessage-deflate: accepted by default with `wsengine/deflate` (the first offer these
   * parameters allow); the wasm without it refuses anything but `false`. */
  deflate?: boolean | DeflateOptions;
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

/** What a URL connects to when no `transport` is given (Node and workerd set TCP; browsers have none; `null` removes it). */
export function setDefaultConnect(connect: ((url: URL) => Transport | Promise<Transport>) | null): void;
