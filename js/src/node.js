// Node entry point: loads the wasm from the package's files, gives clients TCP (and TLS
// for wss:) as their default transport, and accepts server connections on sockets.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { initSync } from '../wasm/wsengine.js';
import { setMemory } from './memory.js';
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

export * from './api.js';
