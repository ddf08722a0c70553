// workerd (Cloudflare Workers) entry point: the wasm arrives as a compiled module import
// (no fetch, no file system), and clients reach ws: URLs with `connect()`.

import { connect } from 'cloudflare:sockets';
import module from '../wasm/wsengine_bg.wasm';
import { initSync } from '../wasm/wsengine.js';
import { engineLoaded, engineVariant } from './memory.js';
import { setDefaultConnect } from './websocket.js';

// Unless wsengine/deflate loaded its own first.
if (!engineVariant()) engineLoaded(initSync({ module }), 'default');

/**
 * A TCP connection made with workerd's `connect()`, as a byte stream pair.
 * @param {URL} url
 */
export function connectTcp(url) {
  const port = Number(url.port) || (url.protocol === 'wss:' ? 443 : 80);
  const socket = connect(
    { hostname: url.hostname.replace(/^\[|\]$/g, ''), port },
    { secureTransport: url.protocol === 'wss:' ? 'on' : 'off' },
  );
  return socket.opened.then(() => socket);
}

setDefaultConnect(connectTcp);

export * from './api.js';
