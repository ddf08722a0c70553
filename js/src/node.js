// Node entry point: loads the wasm from the package's files, gives clients TCP (and TLS
// for wss:) as their default transport, and serves WebSocket on sockets. Sockets are read
// through their 'data' events and written with backpressure through 'drain', with no
// web-stream adapter in between.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { initSync } from '../wasm/wsengine.js';
import { engineLoaded, engineVariant } from './memory.js';
import { WebSocket, setDefaultConnect } from './websocket.js';

// Unless wsengine/deflate loaded its own first.
if (!engineVariant()) {
  engineLoaded(initSync({ module: readFileSync(new URL('../wasm/wsengine_bg.wasm', import.meta.url)) }), 'default');
}

/**
 * A socket as a web stream pair (for code that wants one; the package itself reads sockets
 * directly).
 * @param {import('node:net').Socket} socket
 * @returns {{ readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array> }}
 */
export function fromSocket(socket) {
  socket.setNoDelay?.(true);
  return Duplex.toWeb(socket);
}

/**
 * A TCP (ws:) or TLS (wss:) connection to the URL's host, once connected.
 * @param {URL} url
 * @returns {Promise<import('node:net').Socket>}
 */
export function connectTcp(url) {
  const port = Number(url.port) || (url.protocol === 'wss:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket =
      url.protocol === 'wss:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }, () => resolve(socket))
        : net.connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

setDefaultConnect(connectTcp);

/**
 * The server side on a raw socket (from `net.createServer`): the engine reads the upgrade
 * request and answers it; resolves with the open WebSocket.
 * @param {import('node:net').Socket} socket
 * @param {object} [options] As for `WebSocket.accept`.
 */
export function acceptSocket(socket, options) {
  return WebSocket.accept(socket, options);
}

/**
 * The server side for a Node HTTP server's 'upgrade' event: the request Node already parsed
 * is handed to the engine as the bytes it came as (the request line and the raw header
 * lines), followed by `head`; the engine checks it and answers (101, or its rejection and
 * the socket ended). Resolves with the open WebSocket.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:stream').Duplex} socket
 * @param {Buffer} head The bytes Node read after the request head.
 * @param {object} [options] As for `WebSocket.accept`.
 */
export function acceptUpgrade(req, socket, head, options = {}) {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  const request = Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), head ?? Buffer.alloc(0)]);
  return WebSocket.accept(socket, options, request);
}

export * from './api.js';
