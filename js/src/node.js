// Node entry point: loads the wasm from the package's files, gives clients TCP (and TLS
// for wss:) as their default transport, and accepts server connections on sockets.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { initSync } from '../wasm/wsengine.js';
import { setMemory } from './memory.js';
import { answerUpgrade } from './handshake.js';
import { WebSocket, setDefaultConnect } from './websocket.js';

setMemory(initSync({ module: readFileSync(new URL('../wasm/wsengine_bg.wasm', import.meta.url)) }).memory);

/**
 * A socket as a byte stream pair.
 * @param {import('node:net').Socket} socket
 * @returns {import('./driver.js').StreamPair}
 */
export function fromSocket(socket) {
  socket.setNoDelay?.(true);
  return Duplex.toWeb(socket);
}

/**
 * A TCP (ws:) or TLS (wss:) connection to the URL's host, once connected.
 * @param {URL} url
 * @returns {Promise<import('./driver.js').StreamPair>}
 */
export function connectTcp(url) {
  const port = Number(url.port) || (url.protocol === 'wss:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket =
      url.protocol === 'wss:'
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }, () => resolve(fromSocket(socket)))
        : net.connect({ host, port }, () => resolve(fromSocket(socket)));
    socket.once('error', reject);
  });
}

setDefaultConnect(connectTcp);

/**
 * The server side on a raw socket (from `net.createServer`): reads the upgrade request,
 * answers it, and resolves with the open WebSocket.
 * @param {import('node:net').Socket} socket
 * @param {object} [options] As for `WebSocket.accept`.
 */
export function acceptSocket(socket, options) {
  return WebSocket.accept(fromSocket(socket), options);
}

/**
 * The server side for a Node HTTP server's 'upgrade' event: answers the request Node
 * already parsed (101, or the engine's rejection and the socket ended) and resolves with
 * the open WebSocket.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:stream').Duplex} socket
 * @param {Buffer} head The bytes Node read after the request head.
 * @param {object} [options] As for `WebSocket.accept`.
 */
export async function acceptUpgrade(req, socket, head, options = {}) {
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  const request = { method: req.method, target: req.url, headers };
  const write = (bytes) => new Promise((resolve, reject) => socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  let opened;
  try {
    opened = await answerUpgrade(write, request, head ?? new Uint8Array(0), options);
  } catch (e) {
    socket.end();
    throw e;
  }
  const host = headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? 'localhost';
  return new WebSocket(`ws://${host}${req.url}`, [], { ...options, accepted: { ...opened, stream: fromSocket(socket) } });
}

export * from './api.js';
