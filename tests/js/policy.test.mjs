// The engine's policy seen through the npm package's WebSocket facade, against Node's `ws`
// and raw TCP peers: pings with payloads, a 16 MiB message as one frame, keep-alive pings
// and their pongs, the pong deadline, closing both ways, the message size limit (1009).
// Loopback only.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket as WsClient, WebSocketServer } from 'ws';
import { WebSocket, acceptSocket } from 'wsengine';
import { acceptKey, readFrameHeader } from 'wsengine/engine';

function next(target, type) {
  return new Promise((resolve) => {
    if (typeof target.once === 'function') target.once(type, (...args) => resolve(args));
    else target.addEventListener(type, resolve, { once: true });
  });
}

async function wsServer(options = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await next(wss, 'listening');
  return { wss, url: `ws://127.0.0.1:${wss.address().port}/` };
}

/** A TCP proxy in front of `port` that records what the client sends. */
async function recordingProxy(port) {
  const seen = [];
  const proxy = net.createServer((a) => {
    const b = net.connect(port, '127.0.0.1');
    a.on('data', (d) => {
      seen.push(d);
      b.write(d);
    });
    b.pipe(a);
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
    a.on('error', () => {});
    b.on('error', () => {});
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  return { proxy, port: proxy.address().port, wire: () => Buffer.concat(seen) };
}

/** The frames after the HTTP head of `wire`: header fields and offsets. */
function frames(wire) {
  let at = wire.indexOf('\r\n\r\n') + 4;
  const out = [];
  while (at < wire.length) {
    const h = readFrameHeader(wire.subarray(at));
    if (!h) break;
    out.push(h);
    at += h.headerLength + h.payloadLength;
  }
  return out;
}

/** A raw server that upgrades, records what it reads, and otherwise says nothing. */
async function silentServer() {
  const state = { received: [] };
  const srv = net.createServer((s) => {
    let head = '';
    const onHead = (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onHead);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)[1];
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
      s.on('data', (more) => state.received.push(more));
    };
    s.on('data', onHead);
    s.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  state.srv = srv;
  state.url = `ws://127.0.0.1:${srv.address().port}/`;
  return state;
}

/** Unmasks the client frames in `wire` (no HTTP head): [{opcode, payload}]. */
function clientFrames(wire) {
  const out = [];
  let at = 0;
  while (at < wire.length) {
    const h = readFrameHeader(wire.subarray(at));
    if (!h) break;
    const key = wire.subarray(at + h.headerLength - 4, at + h.headerLength);
    const payload = Buffer.from(wire.subarray(at + h.headerLength, at + h.headerLength + h.payloadLength));
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    out.push({ opcode: h.opcode, payload });
    at += h.headerLength + h.payloadLength;
  }
  return out;
}

describe('pings and pongs', () => {
  let server;
  before(async () => {
    server = await wsServer();
  });
  after(() => server.wss.close());

  test('ping(data) carries up to 125 bytes; the pong comes back as a pong event', async () => {
    const pinged = new Promise((resolve) => server.wss.once('connection', (s) => s.on('ping', (d) => resolve(d))));
    const ws = new WebSocket(server.url);
    await next(ws, 'open');
    ws.ping('hello');
    assert.equal(Buffer.from(await pinged).toString(), 'hello');
    const pong = await next(ws, 'pong');
    assert.deepEqual(pong.data, new TextEncoder().encode('hello'));
    const full = new Uint8Array(125).fill(7);
    ws.ping(full);
    assert.deepEqual((await next(ws, 'pong')).data, full);
    assert.throws(() => ws.ping(new Uint8Array(126)), { name: 'WebSocketError', kind: 'invalid-argument' });
    assert.equal(ws.readyState, WebSocket.OPEN, 'a refused ping changes nothing');
    ws.send('still open');
    ws.close(1000);
    const close = await next(ws, 'close');
    assert.equal(close.wasClean, true);
  });

  test('keep-alive pings go out at pingInterval and the pongs keep the connection open', async () => {
    let pings = 0;
    server.wss.once('connection', (s) => s.on('ping', () => pings++));
    const ws = new WebSocket(server.url, [], { pingInterval: 40, pongTimeout: 500 });
    let pongs = 0;
    ws.addEventListener('pong', () => pongs++);
    await next(ws, 'open');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(pings >= 3, `${pings} keep-alive pings`);
    assert.ok(pongs >= 3, `${pongs} pongs`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
    await next(ws, 'close');
  });

  test('a keep-alive ping with no pong fails the connection with 1011 at pongTimeout', async () => {
    const peer = await silentServer();
    const ws = new WebSocket(peer.url, [], { pingInterval: 30, pongTimeout: 60 });
    await next(ws, 'open');
    const [error, close] = await Promise.all([next(ws, 'error'), next(ws, 'close')]);
    assert.equal(error.error.kind, 'timeout');
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    await new Promise((r) => setTimeout(r, 20));
    const sent = clientFrames(Buffer.concat(peer.received));
    assert.equal(sent[0].opcode, 9, 'a ping went out');
    const last = sent.at(-1);
    assert.deepEqual([last.opcode, last.payload.readUInt16BE(0)], [8, 1011], 'then a close with 1011');
    peer.srv.close();
  });
});

describe('a 16 MiB message', () => {
  test('leaves our client as one frame, and a ws server with default limits takes it', async () => {
    const server = await wsServer(); // ws's defaults: maxPayload 100 MiB
    const got = new Promise((resolve) =>
      server.wss.once('connection', (s) => s.once('message', (d, isBinary) => resolve([d, isBinary]))),
    );
    const tap = await recordingProxy(server.wss.address().port);
    const ws = new WebSocket(`ws://127.0.0.1:${tap.port}/`);
    await next(ws, 'open');
    const big = new Uint8Array(16 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i >> 12;
    ws.send(big);
    const [data, isBinary] = await got;
    assert.equal(isBinary, true);
    assert.ok(Buffer.compare(data, big) === 0);
    ws.close(1000);
    await next(ws, 'close');
    const [first] = frames(tap.wire());
    assert.deepEqual(
      { fin: first.fin, opcode: first.opcode, masked: first.masked, length: first.payloadLength },
      { fin: true, opcode: 2, masked: true, length: 16 << 20 },
    );
    tap.proxy.close();
    server.wss.close();
  });
});

describe('closing both ways', () => {
  let srv;
  let url;
  const closes = [];
  before(async () => {
    srv = net.createServer(async (socket) => {
      const ws = await acceptSocket(socket);
      ws.onmessage = (e) => {
        if (e.data === 'close-me') ws.close(4003, 'as asked');
      };
      ws.onclose = (e) => closes.push([e.code, e.reason, e.wasClean]);
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${srv.address().port}/`;
  });
  after(() => srv.close());

  test('our client closes our server: both see the code, the reason and a clean close', async () => {
    const ws = new WebSocket(url);
    await next(ws, 'open');
    ws.close(3003, 'client done');
    const close = await next(ws, 'close');
    assert.deepEqual([close.code, close.reason, close.wasClean], [3003, 'client done', true]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(closes.pop(), [3003, 'client done', true]);
  });

  test('our server closes our client: both see the code, the reason and a clean close', async () => {
    const ws = new WebSocket(url);
    await next(ws, 'open');
    ws.send('close-me');
    const close = await next(ws, 'close');
    assert.deepEqual([close.code, close.reason, close.wasClean], [4003, 'as asked', true]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(closes.pop(), [4003, 'as asked', true]);
  });
});

describe('the message size limit (maxPayload)', () => {
  test('our client fails with 1009 on a message one byte over, and tells the server', async () => {
    const server = await wsServer();
    const seen = new Promise((resolve) =>
      server.wss.once('connection', (s) => {
        s.send(new Uint8Array(1000));
        s.send(new Uint8Array(1001));
        s.on('close', (code) => resolve(code));
      }),
    );
    const ws = new WebSocket(server.url, [], { maxPayload: 1000 });
    const messages = [];
    ws.onmessage = (e) => messages.push(e.data.size);
    const [error, close] = await Promise.all([next(ws, 'error'), next(ws, 'close')]);
    assert.deepEqual(messages, [1000], 'the message at the limit arrived');
    assert.equal(error.error.closeStatus, 1009);
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    assert.equal(await seen, 1009);
    server.wss.close();
  });

  test('our server fails with 1009 on a message over its maxPayload; the ws client sees 1009', async () => {
    const srv = net.createServer(async (socket) => {
      const ws = await acceptSocket(socket, { maxPayload: 4096 });
      ws.onmessage = (e) => ws.send(`${e.data.size ?? e.data.length}`);
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const c = new WsClient(`ws://127.0.0.1:${srv.address().port}/`);
    await next(c, 'open');
    c.send(new Uint8Array(4096));
    const [m] = await next(c, 'message');
    assert.equal(m.toString(), '4096');
    c.send(new Uint8Array(100000));
    const [code] = await next(c, 'close');
    assert.equal(code, 1009);
    srv.close();
  });
});
