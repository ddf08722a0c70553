// An echo server from Node's `ws` (an independent implementation), on loopback, with
// permessage-deflate on (Node's zlib): every message is compressed (threshold 0), context
// takeover on, or off both ways with the argument `no-context-takeover`.
//
// Prints its port on the first line of stdout, then echoes every message until killed.

import { WebSocketServer } from 'ws';

const takeover = process.argv[2] !== 'no-context-takeover';
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 32 << 20,
  perMessageDeflate: { threshold: 0, serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover },
});
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
