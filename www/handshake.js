// The playground's opening handshake for a Handle: websocket.dll's model leaves the HTTP
// exchange to its host, so this host runs it over a byte stream pair with the engine's HTTP
// helpers (the engine writes and checks every header). The npm package itself does not: a
// Connection runs its own handshake over raw bytes in the engine.

import {
  Handle,
  HeadParser,
  encodeRejection,
  encodeRequestHead,
  encodeResponseHead,
  chooseSubprotocol,
  offeredSubprotocols,
} from '/js/src/engine/browser.js';

/**
 * @typedef {object} Opened
 * @property {Handle} handle The open handle (bytes read past the head were pushed into it).
 * @property {string} protocol The subprotocol agreed on, or ''.
 * @property {string} extensions The extensions agreed on ('': none are supported yet).
 */

/**
 * Reads an HTTP head from `reader` into a HeadParser.
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 */
async function readHead(reader) {
  const parser = new HeadParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      parser.free();
      throw new Error('the stream ended inside the HTTP head');
    }
    try {
      if (parser.push(value)) return parser;
    } catch (e) {
      parser.free();
      throw e;
    }
  }
}

/**
 * The client's opening handshake: writes the upgrade request for `url` and checks the
 * answer. The stream's locks are released afterwards, for the driver.
 * @param {{readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>}} stream
 * @param {object} options
 * @param {string | URL} options.url `ws://` or `wss://` (the transport is the caller's).
 * @param {string[]} [options.protocols] Subprotocols to offer, in order of preference.
 * @param {[string, string][]} [options.headers] More request headers.
 * @param {object} [options.properties] Handle properties (`receiveBufferSize`, ...).
 * @returns {Promise<Opened>}
 */
export async function clientHandshake(stream, { url, protocols = [], headers = [], properties } = {}) {
  const u = new URL(url);
  const handle = Handle.createClient(properties);
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  try {
    const own = handle.beginClientHandshake(protocols, [], headers);
    const request = encodeRequestHead(`${u.pathname}${u.search}`, [['Host', u.host], ...headers, ...own]);
    await writer.write(request);
    const parser = await readHead(reader);
    try {
      const response = parser.response();
      if (response.status !== 101) {
        const e = new Error(`the server answered ${response.status} ${response.reason} instead of 101`);
        e.status = response.status;
        throw e;
      }
      const outcome = handle.endClientHandshake(response.headers);
      const rest = parser.rest();
      if (rest.length > 0) handle.pushReceived(rest);
      return { handle, protocol: outcome.subprotocol >= 0 ? protocols[outcome.subprotocol] : '', extensions: '' };
    } finally {
      parser.free();
    }
  } catch (e) {
    handle.free();
    throw e;
  } finally {
    reader.releaseLock();
    writer.releaseLock();
  }
}

/**
 * The server's opening handshake: reads the upgrade request, checks it and answers 101,
 * or answers the engine's rejection (400, 426 with the supported version, 431) and
 * throws. The stream's locks are released afterwards, for the driver.
 * @param {{readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>}} stream
 * @param {object} [options]
 * @param {string[] | ((offered: string[]) => string | undefined)} [options.protocols]
 *   The subprotocols this server speaks, in order of preference, or a function choosing
 *   among those the client offers.
 * @param {object} [options.properties] Handle properties.
 * @returns {Promise<Opened & { request: { method: string, target: string, headers: [string, string][] } }>}
 */
export async function serverHandshake(stream, options = {}) {
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  try {
    const parser = await readHead(reader);
    try {
      let request;
      try {
        request = parser.request();
      } catch (e) {
        await writer.write(encodeRejection(e.httpStatus ?? 400, e.message)).catch(() => {});
        throw e;
      }
      return await answerUpgrade((bytes) => writer.write(bytes), request, parser.rest(), options);
    } finally {
      parser.free();
    }
  } catch (e) {
    // No WebSocket on this stream: end it.
    await writer.close().catch(() => {});
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
    writer.releaseLock();
  }
}

/**
 * The server's answer to an upgrade request already read (by `serverHandshake`, or by an
 * HTTP server such as Node's 'upgrade' event): checks it, writes the 101 response or the
 * engine's rejection with `write`, and returns the open handle with `rest` (bytes read
 * after the head) pushed into it. Throws after writing a rejection.
 * @param {(bytes: Uint8Array) => Promise<unknown> | unknown} write
 * @param {{ method: string, target: string, headers: [string, string][] }} request
 * @param {Uint8Array} rest
 * @param {object} [options] `protocols` (list or chooser) and `properties`.
 */
export async function answerUpgrade(write, request, rest, { protocols = [], properties } = {}) {
  const protocol =
    typeof protocols === 'function'
      ? protocols(offeredSubprotocols(request.headers))
      : chooseSubprotocol(request.headers, protocols);
  const handle = Handle.createServer(properties);
  try {
    let own;
    try {
      own = handle.beginServerHandshake(protocol ?? undefined, [], request.headers);
    } catch (e) {
      await write(encodeRejection(e.httpStatus ?? 400, e.message));
      throw e;
    }
    await write(encodeResponseHead(101, 'Switching Protocols', own));
    handle.endServerHandshake();
    if (rest.length > 0) handle.pushReceived(rest);
    return { handle, protocol: protocol ?? '', extensions: '', request };
  } catch (e) {
    handle.free();
    throw e;
  }
}
