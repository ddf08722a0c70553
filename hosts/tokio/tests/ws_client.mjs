// A client from Node's `ws` (an independent implementation) with permessage-deflate
// offered (ws's default) and the subprotocol chat.v2: sends text and binary messages
// of several sizes to the echo at argv[2], checks each echo, then closes with 1000.
// Prints one JSON line: the extensions and subprotocol in force and the echoes checked.

import WebSocket from 'ws';

const ws = new WebSocket(process.argv[2], ['chat.v2'], { perMessageDeflate: { threshold: 0 } });
const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];
const sent = [];
let checked = 0;
ws.on('open', () => {
  for (const n of sizes) {
    const binary = Buffer.alloc(n, 0).map((_, i) => i % 251);
    const text = 'é✓ab'.repeat(Math.ceil(n / 4)).slice(0, n);
    sent.push(binary, text);
    ws.send(binary);
    ws.send(text);
  }
});
ws.on('message', (data, isBinary) => {
  const expected = sent[checked];
  const same = isBinary ? Buffer.isBuffer(expected) && expected.equals(data) : data.toString() === expected;
  if (!same) {
    console.error(`echo ${checked} differs`);
    process.exit(1);
  }
  checked += 1;
  if (checked === sent.length) ws.close(1000);
});
ws.on('close', (code) => {
  console.log(JSON.stringify({ extensions: ws.extensions, protocol: ws.protocol, checked, code }));
  process.exit(checked === sent.length && code === 1000 ? 0 : 1);
});
ws.on('error', (e) => {
  console.error(e.message);
  process.exit(1);
});
