// An echo server written against the npm package (acceptSocket on a Node net server, from
// wsengine/deflate: permessage-deflate accepted, every message compressed), for
// `wstest -m fuzzingclient`. Loopback only.
//
//   node tests/autobahn/npm_server.mjs 127.0.0.1:9002

import net from 'node:net';
import { acceptSocket } from 'wsengine/deflate';

const [addr = '127.0.0.1:9002'] = process.argv.slice(2);
const i = addr.lastIndexOf(':');
const host = addr.slice(0, i);
if (host !== '127.0.0.1' && host !== '::1' && host !== '[::1]') throw new Error(`loopback only, not ${host}`);

net
  .createServer(async (socket) => {
    socket.on('error', () => {});
    try {
      const ws = await acceptSocket(socket, { protocols: ['chat.v2'], deflate: { threshold: 0 } });
      ws.binaryType = 'uint8array';
      ws.onmessage = (e) => ws.send(e.data);
    } catch {
      // not an upgrade: answered and closed already
    }
  })
  .listen(Number(addr.slice(i + 1)), host.replace(/^\[|\]$/g, ''), () => console.error(`npm_server on ${addr}`));
