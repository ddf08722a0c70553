// A WebSocket-compatible facade (the WHATWG WebSocket interface) over any byte stream pair,
// on the engine: code written for the browser's WebSocket runs unchanged over a
// WebTransport stream, a TCP socket or an edge worker's connect().

import { closeReply } from '../wasm/wsengine.js';
import { BufferType, endsMessage, isData, isText } from './constants.js';
import { Driver } from './driver.js';
import { clientHandshake, serverHandshake } from './handshake.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `CloseEvent`, where the platform has none (Node 20). */
const CloseEventImpl =
  globalThis.CloseEvent ??
  class CloseEvent extends Event {
    #code;
    #reason;
    #wasClean;
    constructor(type, init = {}) {
      super(type, init);
      this.#code = init.code ?? 0;
      this.#reason = init.reason ?? '';
      this.#wasClean = init.wasClean ?? false;
    }
    get code() {
      return this.#code;
    }
    get reason() {
      return this.#reason;
    }
    get wasClean() {
      return this.#wasClean;
    }
  };

function domException(message, name) {
  return typeof DOMException === 'function' ? new DOMException(message, name) : Object.assign(new Error(message), { name });
}

/** The connector used when a client is given no transport (set by the entry point). */
let defaultConnect = null;

/**
 * Sets how a client with no `transport` option reaches a `ws:`/`wss:` URL (the Node and
 * workerd entry points set TCP; browsers have no default).
 * @param {((url: URL) => import('./driver.js').StreamPair | Promise<import('./driver.js').StreamPair>) | null} connect
 */
export function setDefaultConnect(connect) {
  defaultConnect = connect;
}

/**
 * The WHATWG WebSocket interface over the engine.
 *
 * `new WebSocket(url, protocols, { transport })` connects as a client over `transport` (a
 * {@link import('./driver.js').StreamPair}, or a function of the URL returning one or a
 * promise of one); without it, over the platform's TCP where the entry point provides
 * one (Node, workerd). `WebSocket.accept(stream, options)` is the server side.
 *
 * Beyond the standard: `options.maxPayload` (bytes, default 100 MiB; a larger message
 * fails the connection with 1009), `options.properties` (handle properties), and
 * `binaryType` 'uint8array' besides 'blob' and 'arraybuffer'.
 */
export class WebSocket extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;
  CONNECTING = CONNECTING;
  OPEN = OPEN;
  CLOSING = CLOSING;
  CLOSED = CLOSED;

  #url;
  #origin;
  #readyState = CONNECTING;
  #protocol = '';
  #extensions = '';
  #binaryType = 'blob';
  #driver = null;
  #client = true;
  #maxPayload;
  /** Pieces of the message being received. */
  #pieces = [];
  #pieceBytes = 0;
  #closeSent = false;
  #peerClose = null;
  #closeEmitted = false;
  /** Sends waiting for a Blob to be read, in order. */
  #blobChain = null;
  #pendingBytes = 0;

  /**
   * @param {string | URL} url
   * @param {string | string[]} [protocols]
   * @param {object} [options]
   */
  constructor(url, protocols = [], options = {}) {
    super();
    const u = new URL(url);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
      throw domException(`the URL's scheme must be ws or wss, not ${u.protocol}`, 'SyntaxError');
    }
    if (u.hash) throw domException('the URL must not have a fragment', 'SyntaxError');
    this.#url = u.href;
    this.#origin = u.origin;
    const list = typeof protocols === 'string' ? [protocols] : [...protocols];
    if (new Set(list).size !== list.length) throw domException('a subprotocol is repeated', 'SyntaxError');
    this.#maxPayload = options.maxPayload ?? 100 * 1024 * 1024;
    if (options.accepted) {
      // WebSocket.accept: already open on the server side.
      this.#client = false;
      queueMicrotask(() => this.#open(options.accepted));
      return;
    }
    const transport = options.transport ?? defaultConnect;
    if (!transport) {
      throw domException('no transport: pass options.transport (a { readable, writable } pair)', 'NotSupportedError');
    }
    this.#connect(transport, u, list, options);
  }

  /**
   * The server side: runs the opening handshake on `stream` and resolves with an open
   * WebSocket (its `open` event fires on the next microtask). Rejects, after answering
   * the client with the rejection, when the request is not a valid upgrade.
   * @param {import('./driver.js').StreamPair} stream
   * @param {object} [options] `protocols` (list or chooser), `properties`, `maxPayload`.
   * @returns {Promise<WebSocket>}
   */
  static async accept(stream, options = {}) {
    const opened = await serverHandshake(stream, options);
    const host = opened.request.headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? 'localhost';
    return new WebSocket(`ws://${host}${opened.request.target}`, [], { ...options, accepted: { ...opened, stream } });
  }

  async #connect(transport, url, protocols, options) {
    let stream;
    try {
      stream = await (typeof transport === 'function' ? transport(url) : transport);
      const opened = await clientHandshake(stream, { url, protocols, headers: options.headers, properties: options.properties });
      this.#open({ ...opened, stream });
    } catch (e) {
      try {
        stream?.writable.abort(e).catch(() => {});
        stream?.readable.cancel(e).catch(() => {});
      } catch {
        // the locks may still be held by a failed handshake step
      }
      this.#readyState = CLOSED;
      this.#emitError(e);
      this.#emitClose(1006, '', false);
    }
  }

  #open({ handle, protocol, extensions, stream }) {
    if (this.#readyState !== CONNECTING) {
      handle.free();
      return;
    }
    this.#protocol = protocol;
    this.#extensions = extensions;
    this.#driver = new Driver(handle, stream, {
      onPiece: (type, bytes, status) => this.#onPiece(type, bytes, status),
      onError: (e) => this.#fail(e),
    });
    this.#readyState = OPEN;
    this.dispatchEvent(new Event('open'));
    // Like a browser's, no other event fires in the task that fired `open`, even when bytes
    // that arrived with the handshake are a message or a protocol error.
    setTimeout(() => this.#driver?.start(), 0);
  }

  #onPiece(type, bytes, status) {
    if (isData(type)) {
      this.#pieceBytes += bytes.length;
      if (this.#pieceBytes > this.#maxPayload) {
        this.#pieces = [];
        this.#failWith(1009, 'message too big');
        return;
      }
      if (endsMessage(type) && this.#pieces.length === 0) {
        // The whole message in one piece: decode or copy straight from the engine.
        this.#pieceBytes = 0;
        this.#deliver(isText(type), bytes, true);
        return;
      }
      this.#pieces.push(bytes.slice());
      if (endsMessage(type)) {
        const all = joined(this.#pieces, this.#pieceBytes);
        this.#pieces = [];
        this.#pieceBytes = 0;
        this.#deliver(isText(type), all, false);
      }
    } else if (type === BufferType.CLOSE) {
      this.#peerClose = { code: status, reason: decoder.decode(bytes) };
      if (!this.#closeSent) {
        // Answer with the peer's status and reason (an empty close for 1005).
        this.#readyState = CLOSING;
        this.#closeSent = true;
        const reply = closeReply(status, bytes);
        this.#driver.send(BufferType.CLOSE, reply, () => this.#closed());
      } else {
        this.#closed();
      }
    } else if (type === 0) {
      // The stream ended.
      if (this.#readyState !== CLOSED) {
        const clean = this.#peerClose !== null && this.#closeSent;
        this.#finish(clean ? this.#peerClose.code : 1006, clean ? this.#peerClose.reason : '', clean);
      }
    }
    // PING_PONG: a pong; nothing to report in this interface.
  }

  #deliver(text, bytes, borrowed) {
    let data;
    if (text) {
      data = decoder.decode(bytes);
    } else {
      const own = borrowed ? bytes.slice() : bytes;
      if (this.#binaryType === 'uint8array') data = own;
      else if (this.#binaryType === 'arraybuffer') data = own.buffer;
      else data = new Blob([own]);
    }
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
  }

  /** Both closes are done: the server closes the stream first (RFC 6455 §7.1.1). */
  #closed() {
    if (this.#peerClose === null || this.#readyState === CLOSED) return;
    const { code, reason } = this.#peerClose;
    if (!this.#client) {
      this.#driver.closeTransport();
      this.#finish(code, reason, true);
    } else {
      // Wait (up to a second) for the server to end the stream; the receive side reports it.
      this.#driver.closeTransport();
      setTimeout(() => {
        if (this.#readyState !== CLOSED) {
          this.#driver.destroy();
          this.#finish(code, reason, true);
        }
      }, 1000).unref?.();
    }
  }

  #finish(code, reason, wasClean) {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSED;
    this.#driver?.destroy(); // frees the handle too
    this.#emitClose(code, reason, wasClean);
  }

  /** The peer broke the protocol, or the transport failed: answer, then drop the stream. */
  #fail(e) {
    if (this.#readyState === CLOSED) return;
    const status = e?.closeStatus;
    if (status && !this.#closeSent) {
      this.#failWith(status, '', e);
    } else {
      this.#emitError(e);
      this.#finish(1006, '', false);
    }
  }

  #failWith(status, reason, cause) {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSING;
    this.#closeSent = true;
    const done = () => {
      this.#emitError(cause ?? new Error(reason));
      this.#finish(1006, '', false);
    };
    this.#driver.send(BufferType.CLOSE, { status, reason: encoder.encode(reason) }, done);
  }

  #emitError(e) {
    const event = new Event('error');
    Object.defineProperty(event, 'error', { value: e });
    this.dispatchEvent(event);
  }

  #emitClose(code, reason, wasClean) {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    this.dispatchEvent(new CloseEventImpl('close', { code, reason, wasClean }));
  }

  /** The URL, as resolved. */
  get url() {
    return this.#url;
  }
  get readyState() {
    return this.#readyState;
  }
  get protocol() {
    return this.#protocol;
  }
  get extensions() {
    return this.#extensions;
  }
  /** Bytes queued by `send` and not yet handed to the transport. */
  get bufferedAmount() {
    return this.#pendingBytes + (this.#driver?.bufferedAmount ?? 0);
  }
  get binaryType() {
    return this.#binaryType;
  }
  set binaryType(type) {
    if (type === 'blob' || type === 'arraybuffer' || type === 'uint8array') this.#binaryType = type;
  }

  /**
   * Sends a message: a string as text, an ArrayBuffer, a view or a Blob as binary.
   * @param {string | ArrayBuffer | ArrayBufferView | Blob} data
   */
  send(data) {
    if (this.#readyState === CONNECTING) throw domException('the connection is not open yet', 'InvalidStateError');
    if (this.#readyState !== OPEN) {
      // As browsers do: counted, not sent.
      this.#pendingBytes += byteSize(data);
      return;
    }
    if (data instanceof Blob || this.#blobChain !== null) {
      this.#sendLater(data);
      return;
    }
    this.#sendNow(data);
  }

  #sendNow(data) {
    if (typeof data === 'string') this.#driver.send(BufferType.UTF8_MESSAGE, data, this.#refused);
    else this.#driver.send(BufferType.BINARY_MESSAGE, binary(data), this.#refused);
  }

  /** A send's end: an engine refusal fails the connection. */
  #refused = (error) => {
    if (error) this.#fail(error);
  };

  #sendLater(data) {
    const size = byteSize(data);
    this.#pendingBytes += size;
    const chain = (this.#blobChain ?? Promise.resolve())
      .then(() => (data instanceof Blob ? data.arrayBuffer() : data))
      .then((d) => {
        this.#pendingBytes -= size;
        if (this.#readyState === OPEN) this.#sendNow(d);
      });
    this.#blobChain = chain;
    chain.then(() => {
      if (this.#blobChain === chain) this.#blobChain = null;
    });
  }

  /**
   * Starts the closing handshake.
   * @param {number} [code] 1000 or 3000-4999.
   * @param {string} [reason] At most 123 bytes of UTF-8.
   */
  close(code, reason) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw domException(`close code ${code} is not 1000 or 3000-4999`, 'InvalidAccessError');
    }
    const why = reason === undefined ? new Uint8Array(0) : encoder.encode(reason);
    if (why.length > 123) throw domException('the close reason is longer than 123 bytes', 'SyntaxError');
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSED;
      this.#emitError(new Error('closed before the connection opened'));
      this.#emitClose(1006, '', false);
      return;
    }
    this.#readyState = CLOSING;
    this.#closeSent = true;
    const body = code === undefined ? undefined : { status: code, reason: why };
    this.#driver.send(BufferType.CLOSE, body, this.#refused);
  }

  /** Sends a ping (not in the browser's interface). */
  ping(data) {
    if (this.#readyState !== OPEN) throw domException('the connection is not open', 'InvalidStateError');
    this.#driver.send(BufferType.PING_PONG, data === undefined ? undefined : binary(data), this.#refused);
  }
}

/** True where EventTarget itself calls `on<type>` properties (workerd does). */
const platformCallsHandlers = (() => {
  let called = false;
  const t = new EventTarget();
  t.onprobe = () => {
    called = true;
  };
  t.dispatchEvent(new Event('probe'));
  return called;
})();

// Event handler attributes: one listener per type calls the current handler, registered
// when the first handler is set (so it runs in the order listeners were added), unless
// the platform's EventTarget already calls them.
for (const name of ['open', 'message', 'error', 'close']) {
  const key = Symbol(name);
  Object.defineProperty(WebSocket.prototype, `on${name}`, {
    get() {
      return this[key]?.handler ?? null;
    },
    set(fn) {
      const slot = (this[key] ??= { handler: null, added: false });
      slot.handler = typeof fn === 'function' ? fn : null;
      if (!slot.added && slot.handler && !platformCallsHandlers) {
        slot.added = true;
        this.addEventListener(name, (event) => slot.handler?.call(this, event));
      }
    },
    configurable: true,
    enumerable: true,
  });
}

function binary(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  return encoder.encode(String(data));
}

function byteSize(data) {
  if (typeof data === 'string') return encoder.encode(data).length;
  if (data instanceof Blob) return data.size;
  return data.byteLength ?? 0;
}

function joined(pieces, total) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
