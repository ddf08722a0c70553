// Messages per second through the npm package's WebSocket facade in Node, against the `ws`
// package, on the same in-memory pipe (two PassThrough streams as a Node Duplex pair, which
// both read as they read a socket: 'data' events, write() and 'drain'), in one run. A client sends
// COUNT messages of SIZE bytes, pipelined; the server echoes each; the clock stops when the
// client has every echo. Best of RUNS. With `tcp` as the third argument the pair is a real
// loopback TCP connection (127.0.0.1) instead: the facade's server against ws's server.
//
//   node bench/js/facade.mjs [SIZES=16,1024,65536] [COUNT=100000] [pipe|tcp]

import http from 'node:http';
import net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { WebSocket as Ws, WebSocketServer } from 'ws';
import { WebSocket } from 'wsengine';

const sizes = (process.argv[2] ?? '16,1024,65536').split(',').map(Number);
const baseCount = Number(process.argv[3] ?? 100000);
const RUNS = 3;
const tcp = process.argv[4] === 'tcp';

/** Two ends of a loopback TCP connection: [client socket, server socket]. */
async function tcpPair() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => server.once('connection', r));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const socket = await accepted;
  server.close();
  for (const s of [client, socket]) s.setNoDelay(true);
  return [client, socket];
}

function pipePair() {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** Sends `count` messages and resolves when all echoes are back. */
function pump(client, payload, count) {
  return new Promise((resolve) => {
    let got = 0;
    const start = performance.now();
    client.onmessage = () => {
      if (++got === count) resolve(performance.now() - start);
    };
    for (let i = 0; i < count; i++) client.send(payload);
  });
}

const duplexPair = () => (tcp ? tcpPair() : pipePair());

async function ours(payload, count) {
  const [a, b] = await duplexPair();
  const serverP = WebSocket.accept(b);
  const client = new WebSocket('ws://bench/', [], { transport: a });
  client.binaryType = 'uint8array';
  const opened = new Promise((r) => (client.onopen = r));
  const server = await serverP;
  server.binaryType = 'uint8array';
  server.onmessage = (e) => server.send(e.data);
  await opened;
  const ms = await pump(client, payload, count);
  client.close();
  return ms;
}

async function theirs(payload, count) {
  const [a, b] = await duplexPair();
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer, maxPayload: 1 << 30 });
  wss.on('connection', (s) => s.on('message', (d, binary) => s.send(d, { binary })));
  httpServer.emit('connection', b);
  const client = new Ws('ws://bench/', { createConnection: () => a, maxPayload: 1 << 30 });
  client.binaryType = 'nodebuffer';
  await new Promise((r) => client.once('open', r));
  const ms = await pump(client, payload, count);
  client.close();
  return ms;
}

console.log('| payload | messages | ws msg/s | wsengine msg/s | wsengine / ws |');
console.log('|---:|---:|---:|---:|---:|');
for (const size of sizes) {
  const count = Math.max(1000, Math.floor(baseCount / Math.max(1, size / 1024)));
  const payload = new Uint8Array(size).fill(120);
  let [w, o] = [Infinity, Infinity];
  for (let r = 0; r < RUNS; r++) {
    w = Math.min(w, await theirs(payload, count));
    o = Math.min(o, await ours(payload, count));
  }
  const rate = (ms) => (count / ms) * 1000;
  console.log(`| ${size} B | ${count} | ${Math.round(rate(w)).toLocaleString('en')} | ${Math.round(rate(o)).toLocaleString('en')} | ${(w / o).toFixed(2)}x |`);
}
process.exit(0);
