// Types of `wsengine` in Node (the "node" export condition): everything of index.d.ts, and
// the socket helpers that exist only there.

import type { AcceptOptions, StreamPair, Transport, WebSocket } from './index.js';

export * from './index.js';

/** A Node socket as a {@link StreamPair} (the package itself reads sockets directly). */
export function fromSocket(socket: import('node:net').Socket): StreamPair;
/** A TCP (ws:) or TLS (wss:) connection to the URL's host, as a socket. */
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
