// Compressed echo throughput: the npm package's facade from wsengine/deflate (zlib-rs in
// wasm) against the `ws` package with perMessageDeflate (Node's zlib, native code), on the
// same in-memory pipe, in one run. A client sends COUNT text messages of SIZE bytes
// (JSON-like, 64 different ones in turn, so context takeover helps as it does on real
// traffic), pipelined; the server echoes each; the clock stops at the last echo. Best of
// RUNS. Both compress every message (threshold 0) with the same settings: level 6, windows
// of 2^15 and zlib's memory level 8, context takeover on; then wsengine again with its
// defaults (2^12 windows, memory level 5).
//
//   node bench/js/deflate.mjs [SIZES=1024,65536]

import http from 'node:http';
import { Duplex, PassThrough } from 'node:stream';
import { WebSocket as Ws, WebSocketServer } from 'ws';
import { WebSocket } from 'wsengine/deflate';

const sizes = (process.argv[2] ?? '1024,65536').split(',').map(Number);
const RUNS = 3;
const zlibLike = { serverMaxWindowBits: 15, clientMaxWindowBits: 15, level: 6, memLevel: 8, threshold: 0 };

function pipePair() {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

function messages(size) {
  return Array.from({ length: 64 }, (_, m) => {
    let s = '';
    for (let k = m * 1000; s.length < size; k++) {
      s += JSON.stringify({ id: k, user: `user${(k * 7919) % 5000}`, score: (k * 31) % 977, tags: ['a', `t${k % 17}`] }) + ',';
    }
    return s.slice(0, size);
  });
}

/** Sends `count` messages and resolves with the milliseconds until all are back. */
function pump(client, texts, count) {
  return new Promise((resolve) => {
    let got = 0;
    const start = performance.now();
    client.onmessage = () => {
      if (++got === count) resolve(performance.now() - start);
    };
    for (let i = 0; i < count; i++) client.send(texts[i % texts.length]);
  });
}

async function ours(texts, count, deflate) {
  const [a, b] = pipePair();
  const serverP = WebSocket.accept(b, { deflate });
  const client = new WebSocket('ws://bench/', [], { transport: a, deflate });
  const opened = new Promise((r) => (client.onopen = r));
  const server = await serverP;
  server.onmessage = (e) => server.send(e.data);
  await opened;
  if (!client.extensions.startsWith('permessage-deflate')) throw new Error('not compressed');
  const ms = await pump(client, texts, count);
  client.close();
  return ms;
}

async function theirs(texts, count) {
  const [a, b] = pipePair();
  const httpServer = http.createServer();
  const pmd = {
    threshold: 0,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    zlibDeflateOptions: { level: 6, memLevel: 8 },
  };
  const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: pmd });
  wss.on('connection', (s) => s.on('message', (d, binary) => s.send(d, { binary })));
  httpServer.emit('connection', b);
  const client = new Ws('ws://bench/', { createConnection: () => a, perMessageDeflate: pmd });
  await new Promise((r) => client.once('open', r));
  if (!client.extensions.startsWith('permessage-deflate')) throw new Error('not compressed');
  const ms = await pump(client, texts, count);
  client.close();
  return ms;
}

const best = async (f) => {
  let ms = Infinity;
  for (let r = 0; r < RUNS; r++) ms = Math.min(ms, await f());
  return ms;
};

console.log('| text | messages | ws msg/s | wsengine msg/s, same settings | / ws | wsengine msg/s, its defaults | / ws |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const size of sizes) {
  const texts = messages(size);
  const count = size >= 65536 ? 2000 : 40000;
  const w = await best(() => theirs(texts, count));
  const o = await best(() => ours(texts, count, zlibLike));
  const d = await best(() => ours(texts, count, { threshold: 0 }));
  const rate = (ms) => Math.round((count / ms) * 1000).toLocaleString('en');
  console.log(`| ${size} B | ${count} | ${rate(w)} | ${rate(o)} | ${(w / o).toFixed(2)}x | ${rate(d)} | ${(w / d).toFixed(2)}x |`);
}
process.exit(0);
