// A WebSocket-compatible facade (the WHATWG WebSocket interface) over any transport, on the
// engine's Connection: code written for the browser's WebSocket runs unchanged over a
// WebTransport stream, a Node socket or an edge worker's connect(). Every protocol rule is
// the engine's; this file maps its events to DOM events.

import { Connection, offeredSubprotocols } from '../wasm/wsengine.js';
import { Driver } from './driver.js';
import { bytes, engineVariant } from './memory.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The default `maxPayload`, as Node's `ws` has it: 100 MiB. */
const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
/** The constructor's key for the server side (not a public option). */
const SERVER = Symbol('server');
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
 * @param {((url: URL) => object | Promise<object>) | null} connect
 */
export function setDefaultConnect(connect) {
  defaultConnect = connect;
}

/**
 * The Connection options the facade's options map to (everything else is the engine's
 * default). permessage-deflate is on by default with the wasm that has it (wsengine/deflate).
 */
function connectionOptions(options, extra) {
  const o = {
    reassemble: true,
    maxMessageSize: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    deflate: options.deflate ?? engineVariant() === 'deflate',
    ...extra,
  };
  for (const key of ['properties', 'headers', 'pingInterval', 'pongTimeout', 'closeTimeout', 'openTimeout']) {
    if (options[key] !== undefined) o[key] = options[key];
  }
  return o;
}

/**
 * The WHATWG WebSocket interface over the engine.
 *
 * `new WebSocket(url, protocols, { transport })` connects as a client over `transport` (a
 * Node socket or Duplex, a `{ readable, writable }` stream pair, or a function of the URL
 * returning one or a promise of one); without it, over the platform's TCP where the entry
 * point provides one (Node, workerd). `WebSocket.accept(transport, options)` is the server side.
 *
 * Beyond the standard: `options.maxPayload` (bytes, default 100 MiB; a larger message
 * fails the connection with 1009), `options.properties` (handle properties), the
 * engine's deadlines (`pingInterval`, `pongTimeout`, `closeTimeout`, `openTimeout`, in ms,
 * `null` for none), `options.deflate` (permessage-deflate: `true`, `false`, or its
 * parameters; on by default with wsengine/deflate, refused by the wasm without it),
 * `ping(data)`, `ping` and `pong` events (a `MessageEvent` whose `data` is
 * the payload as a Uint8Array; the engine answers pings itself), and `binaryType`
 * 'uint8array' besides 'blob' and 'arraybuffer'.
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
  /** The failure to report with the close event, once. */
  #error = null;
  #closeEmitted = false;
  /** Sends waiting for a Blob to be read, in order; bytes counted after the close. */
  #blobChain = null;
  #pendingBytes = 0;
  /** Server side: the accept promise's settlers and protocol choice. */
  #accepting = null;

  /**
   * @param {string | URL} url
   * @param {string | string[]} [protocols]
   * @param {object} [options]
   */
  constructor(url, protocols = [], options = {}) {
    super();
    const server = options[SERVER];
    if (server) {
      this.#url = 'ws://localhost/';
      this.#origin = 'null';
      this.#serve(server, options);
      return;
    }
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
    const transport = options.transport ?? defaultConnect;
    if (!transport) {
      throw domException('no transport: pass options.transport (a socket or a { readable, writable } pair)', 'NotSupportedError');
    }
    // Checked now (a bad option throws here), connected once the transport is there.
    const connection = Connection.client(u.href, connectionOptions(options, { protocols: list }), performance.now());
    this.#connect(transport, u, connection);
  }

  /**
   * The server side: runs the opening handshake on `transport` (a Node socket or Duplex,
   * or a `{ readable, writable }` pair) and resolves with an open WebSocket (its `open`
   * event fires in a later task). Rejects, after answering the client with the engine's
   * rejection (400, 426, 431), when the request is not a valid upgrade.
   * @param {object} transport
   * @param {object} [options] `protocols` (list in order of preference, or a chooser of
   *   one among those offered), `properties`, `maxPayload`, the deadlines.
   * @param {Uint8Array} [first] Bytes read from the transport before (an HTTP server's).
   * @returns {Promise<WebSocket>}
   */
  static accept(transport, options = {}, first = undefined) {
    return new Promise((resolve, reject) => {
      // eslint-disable-next-line no-new
      new WebSocket(undefined, [], { ...options, [SERVER]: { transport, first, resolve, reject } });
    });
  }

  #serve({ transport, first, resolve, reject }, options) {
    this.#accepting = { resolve, reject, protocols: options.protocols ?? [] };
    let connection;
    try {
      // A list of protocols is the engine's to choose from; a chooser function is the
      // application's, so the engine then shows the request and waits (deferAccept).
      const protocols = options.protocols ?? [];
      const extra = typeof protocols === 'function' ? { deferAccept: true } : { protocols: [...protocols] };
      connection = Connection.server(connectionOptions(options, extra), performance.now());
    } catch (e) {
      reject(e);
      return;
    }
    this.#driver = new Driver(connection, transport, this.#hooks, first);
    this.#driver.start();
  }

  async #connect(transport, url, connection) {
    let t;
    try {
      t = await (typeof transport === 'function' ? transport(url) : transport);
    } catch (e) {
      connection.free();
      this.#readyState = CLOSED;
      this.#emitError(e);
      this.#emitClose(1006, '', false);
      return;
    }
    if (this.#readyState !== CONNECTING) {
      // closed while the transport was coming
      connection.free();
      destroyTransport(t);
      return;
    }
    this.#driver = new Driver(connection, t, this.#hooks);
    this.#driver.start();
  }

  /** A server's `url`: the request's Host and target. */
  #serverUrl(headers, target) {
    const host = headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? 'localhost';
    try {
      this.#url = new URL(`ws://${host}${target}`).href;
      this.#origin = new URL(this.#url).origin;
    } catch {
      // an odd Host: keep the placeholder
    }
  }

  /** The engine's events, as DOM events. */
  #hooks = {
    request: (request) => {
      // The engine checked the upgrade before showing it; the chooser's pick must be one
      // the client offered, else none is selected (RFC 6455 lets a server choose none).
      let protocol;
      try {
        protocol = this.#accepting.protocols(offeredSubprotocols(request.headers));
      } catch {
        protocol = undefined;
      }
      try {
        this.#driver.accept(protocol ?? undefined, undefined);
      } catch {
        this.#driver.accept(undefined, undefined);
      }
    },
    open: (protocol, headers, target, extensions) => {
      if (target !== undefined) this.#serverUrl(headers, target);
      this.#protocol = protocol;
      this.#extensions = extensions;
      this.#readyState = OPEN;
      if (this.#accepting) {
        const { resolve } = this.#accepting;
        this.#accepting = null;
        resolve(this);
        // The caller sets its handlers once the promise resolved: open fires after that.
        setTimeout(() => this.dispatchEvent(new Event('open')), 0);
      } else {
        this.dispatchEvent(new Event('open'));
      }
    },
    // The message's bytes at `ptr` in the engine's memory (the driver's internal hook).
    messageAt: (text, ptr, len) => {
      let data;
      if (text) {
        data = decodeUtf8(ptr, len);
      } else {
        const own = bytes().slice(ptr, ptr + len);
        if (this.#binaryType === 'uint8array') data = own;
        else if (this.#binaryType === 'arraybuffer') data = own.buffer;
        else data = new Blob([own]);
      }
      this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
    },
    ping: (data) => {
      this.dispatchEvent(new MessageEvent('ping', { data: data.slice() }));
    },
    pong: (data) => {
      this.dispatchEvent(new MessageEvent('pong', { data: data.slice() }));
    },
    closing: () => {
      if (this.#readyState === OPEN) this.#readyState = CLOSING;
    },
    failed: (error) => {
      this.#error = error ?? new Error('the connection failed');
    },
    closed: (clean, code, reason) => {
      this.#readyState = CLOSED;
      if (this.#accepting) {
        // The upgrade was refused (answered already) or the transport ended before it.
        const { reject } = this.#accepting;
        this.#accepting = null;
        reject(this.#error ?? new Error('the transport ended before the upgrade'));
        return;
      }
      if (this.#error) this.#emitError(this.#error);
      this.#emitClose(code, reason, clean);
    },
    error: (e) => {
      // A send the engine refused after the fact: the connection cannot go on.
      if (this.#readyState === OPEN) {
        this.#error = e;
        this.#driver.abort();
      }
    },
  };

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
  /** The extensions in force, as the server's response listed them ('' for none). */
  get extensions() {
    return this.#extensions;
  }
  /** Bytes queued by `send` and not yet written to the transport. */
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
    if (typeof data === 'string') this.#driver.sendText(data);
    else this.#driver.sendBinary(binary(data));
  }

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
    if (reason !== undefined && encoder.encode(reason).length > 123) {
      throw domException('the close reason is longer than 123 bytes', 'SyntaxError');
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      // Fail the connection: nothing was opened.
      this.#readyState = CLOSED;
      this.#driver?.destroy();
      this.#emitError(new Error('closed before the connection opened'));
      this.#emitClose(1006, '', false);
      return;
    }
    this.#readyState = CLOSING;
    this.#driver.close(code, code === undefined ? undefined : (reason ?? ''));
  }

  /**
   * Sends a ping with up to 125 bytes of payload (not in the browser's interface); the
   * peer's pong arrives as a `pong` event.
   * @param {ArrayBuffer | ArrayBufferView | string} [data]
   */
  ping(data) {
    if (this.#readyState !== OPEN) throw domException('the connection is not open', 'InvalidStateError');
    this.#driver.ping(data === undefined ? undefined : binary(data));
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

/** The UTF-8 text at `ptr` (valid: the engine checked it); short ASCII without a call out. */
function decodeUtf8(ptr, len) {
  const m = bytes();
  if (len <= 24) {
    let s = '';
    for (let i = ptr; i < ptr + len; i++) {
      const c = m[i];
      if (c >= 0x80) return decoder.decode(m.subarray(ptr, ptr + len));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(m.subarray(ptr, ptr + len));
}

function destroyTransport(t) {
  try {
    if (typeof t?.destroy === 'function') t.destroy();
    else {
      t?.writable?.abort().catch(() => {});
      t?.readable?.cancel().catch(() => {});
    }
  } catch {
    // already gone
  }
}

function byteSize(data) {
  if (typeof data === 'string') return encoder.encode(data).length;
  if (data instanceof Blob) return data.size;
  return data.byteLength ?? 0;
}
