// The npm package's WebSocket facade against Node's `ws`, both ways: our client against a
// ws server, and our server (acceptSocket on a net server) against a ws client. Loopback only.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket as WsClient, WebSocketServer } from 'ws';
import { WebSocket, acceptSocket, acceptUpgrade } from 'wsengine';

/** Resolves with the next event of `type` on an EventTarget or EventEmitter. */
function next(target, type) {
  return new Promise((resolve) => {
    if (typeof target.once === 'function') target.once(type, (...args) => resolve(args));
    else target.addEventListener(type, resolve, { once: true });
  });
}

/** Collects `count` message events. */
function messages(ws, count) {
  return new Promise((resolve) => {
    const got = [];
    const on = (e) => {
      got.push(e.data);
      if (got.length === count) {
        ws.removeEventListener('message', on);
        resolve(got);
      }
    };
    ws.addEventListener('message', on);
  });
}

async function wsServer(onConnection) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await next(wss, 'listening');
  wss.on('connection', onConnection);
  return { wss, url: `ws://127.0.0.1:${wss.address().port}/path?q=1` };
}

const echo = (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));

function pattern(size, seed = 7) {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('our client against a ws server', () => {
  let server;
  before(async () => {
    server = await wsServer(echo);
  });
  after(() => server.wss.close());

  async function open(protocols, options) {
    const ws = new WebSocket(server.url, protocols, options);
    ws.binaryType = 'uint8array';
    await next(ws, 'open');
    return ws;
  }

  test('echoes text and binary of 0 B to 16 MiB', async () => {
    const ws = await open();
    for (const size of [0, 1, 125, 126, 20000, 65535, 65536, 65537, 1 << 20, 16 << 20]) {
      const bin = pattern(size, size & 0xff);
      const text = 'é'.repeat(size >> 1) + (size & 1 ? 'a' : '');
      ws.send(bin);
      ws.send(text);
      const [b, t] = await messages(ws, 2);
      assert.deepEqual(b, bin, `binary ${size}`);
      assert.equal(t, text, `text ${size}`);
    }
    ws.close(1000);
    const close = await next(ws, 'close');
    assert.equal(close.code, 1000);
    assert.equal(close.wasClean, true);
  });

  test('frames of 16 to 64 KiB from a client with a large send buffer', async () => {
    const ws = await open(undefined, { properties: { sendBufferSize: 65536 } });
    for (const size of [20000, 40000, 65000]) {
      ws.send(pattern(size));
      const [b] = await messages(ws, 1);
      assert.deepEqual(b, pattern(size), `binary ${size}`);
    }
    ws.close();
    await next(ws, 'close');
  });

  test('a buffer changed after send() does not change what is sent', async () => {
    const ws = await open();
    ws.send(new Uint8Array(4 << 20).fill(1)); // more than the transport takes at once
    const buf = new Uint8Array(100000).fill(2);
    ws.send(buf); // waits behind the first
    buf.fill(3);
    const [a, b] = await messages(ws, 2);
    assert.ok(a.every((x) => x === 1));
    assert.ok(b.every((x) => x === 2), 'the second message as it was when sent');
    ws.close();
    await next(ws, 'close');
  });

  test('binaryType arraybuffer and blob, and a Blob sent in order', async () => {
    const ws = await open();
    ws.binaryType = 'arraybuffer';
    ws.send(new Blob([new Uint8Array([1, 2])]));
    ws.send(new Uint16Array([0x0403]));
    const [a, b] = await messages(ws, 2);
    assert.ok(a instanceof ArrayBuffer);
    assert.deepEqual(new Uint8Array(a), new Uint8Array([1, 2]));
    assert.deepEqual(new Uint8Array(b), new Uint8Array([3, 4]));
    ws.binaryType = 'blob';
    ws.send(new Uint8Array([9]));
    const [c] = await messages(ws, 1);
    assert.ok(c instanceof Blob);
    assert.deepEqual(new Uint8Array(await c.arrayBuffer()), new Uint8Array([9]));
    ws.close();
    await next(ws, 'close');
  });

  test('offers subprotocols and reports the chosen one', async () => {
    const chooser = await wsServer(echo);
    chooser.wss.options.handleProtocols = (offered) => (offered.has('chat.v2') ? 'chat.v2' : false);
    const ws = new WebSocket(chooser.url, ['chat.v1', 'chat.v2']);
    await next(ws, 'open');
    assert.equal(ws.protocol, 'chat.v2');
    assert.equal(ws.extensions, '');
    ws.close();
    await next(ws, 'close');
    chooser.wss.close();
  });

  test('receives fragmented messages and answers pings', async () => {
    const frag = await wsServer((socket) => {
      socket.on('message', () => {
        socket.send('hel', { fin: false });
        socket.send('lo', { fin: true });
        socket.send(pattern(3), { binary: true, fin: false });
        socket.send(pattern(70000, 1), { binary: true, fin: true });
        socket.ping('are you there');
      });
      socket.on('pong', (data) => socket.send(`pong:${data}`));
    });
    const ws = new WebSocket(frag.url);
    ws.binaryType = 'uint8array';
    await next(ws, 'open');
    ws.send('go');
    const [text, bin, pong] = await messages(ws, 3);
    assert.equal(text, 'hello');
    assert.deepEqual(bin, new Uint8Array([...pattern(3), ...pattern(70000, 1)]));
    assert.equal(pong, 'pong:are you there');
    ws.close();
    await next(ws, 'close');
    frag.wss.close();
  });

  test('the server closes: with a code and reason, and with none (1005)', async () => {
    for (const [code, reason, expected] of [
      [4001, 'bye now', 4001],
      [undefined, undefined, 1005],
    ]) {
      const closer = await wsServer((socket) => socket.on('message', () => socket.close(code, reason)));
      const seen = new Promise((resolve) => closer.wss.on('connection', (s) => s.on('close', (c, r) => resolve([c, `${r}`]))));
      const ws = new WebSocket(closer.url);
      await next(ws, 'open');
      ws.send('close please');
      const close = await next(ws, 'close');
      assert.deepEqual([close.code, close.reason, close.wasClean], [expected, reason ?? '', true]);
      // Our answer echoes the status and reason, or is empty.
      assert.deepEqual(await seen, [expected, reason ?? '']);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      closer.wss.close();
    }
  });

  test('our close: the server sees our code and reason; sends after close are counted, not sent', async () => {
    const seen = new Promise((resolve) => server.wss.once('connection', (s) => s.on('close', (c, r) => resolve([c, `${r}`]))));
    const ws = await open();
    ws.close(3001, 'done');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.send('too late');
    assert.ok(ws.bufferedAmount >= 8);
    const close = await next(ws, 'close');
    assert.deepEqual([close.code, close.reason, close.wasClean], [3001, 'done', true]);
    assert.deepEqual(await seen, [3001, 'done']);
  });

  test('bufferedAmount counts the UTF-8 bytes of sends that wait, until they are written', async () => {
    const ws = await open();
    ws.send(new Uint8Array(2 << 20)); // the first MiB of frames fills the transport's room
    ws.send('x'); // waits behind it
    ws.send('é'.repeat(1000)); // 2000 bytes of UTF-8
    assert.equal(ws.bufferedAmount, (2 << 20) + 1 + 2000, 'a send counts whole until it is written');
    while (ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 5));
    ws.close();
    await next(ws, 'close');
  });

  test('bad close arguments throw the DOM errors', async () => {
    const ws = await open();
    assert.throws(() => ws.close(1001), { name: 'InvalidAccessError' });
    assert.throws(() => ws.close(1000, 'x'.repeat(124)), { name: 'SyntaxError' });
    assert.throws(() => new WebSocket('http://x/#frag'), { name: 'SyntaxError' });
    assert.throws(() => new WebSocket('ftp://x/'), { name: 'SyntaxError' });
    ws.close();
    await next(ws, 'close');
  });

  test('a server that dies without a close gives 1006, not clean', async () => {
    const dier = await wsServer((socket) => socket.on('message', () => socket.terminate()));
    const ws = new WebSocket(dier.url);
    await next(ws, 'open');
    ws.send('die');
    const close = await next(ws, 'close');
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    dier.wss.close();
  });

  test('a refused upgrade fires error and close 1006', async () => {
    const refuser = net.createServer((s) => s.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    await new Promise((r) => refuser.listen(0, '127.0.0.1', r));
    const ws = new WebSocket(`ws://127.0.0.1:${refuser.address().port}/`);
    const [error, close] = await Promise.all([next(ws, 'error'), next(ws, 'close')]);
    assert.match(String(error.error?.message), /403/);
    assert.equal(close.code, 1006);
    refuser.close();
  });
});

/** A raw TCP peer that upgrades correctly and then writes `bytes`. */
async function rawServer(bytes) {
  const { acceptKey } = await import('wsengine/engine');
  const srv = net.createServer((s) => {
    let head = '';
    s.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)[1];
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
      s.write(bytes);
      head = '\0'.repeat(1e6); // ignore the rest
      srv.received = [];
      s.on('data', (more) => srv.received.push(more));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}

describe('a peer that breaks the protocol', () => {
  for (const [name, bytes, status] of [
    ['a masked frame from a server', [0x81, 0x81, 1, 2, 3, 4, 0x61], 1002],
    ['text that is not UTF-8', [0x81, 0x02, 0xc3, 0x28], 1007],
    ['a reserved opcode', [0x83, 0x00], 1002],
    ['a fragmented ping', [0x09, 0x00], 1002],
  ]) {
    test(`${name}: error, our close ${status}, then close 1006`, async () => {
      const srv = await rawServer(Buffer.from(bytes));
      const ws = new WebSocket(`ws://127.0.0.1:${srv.address().port}/`);
      await next(ws, 'open');
      const [error, close] = await Promise.all([next(ws, 'error'), next(ws, 'close')]);
      assert.equal(error.error?.closeStatus, status);
      assert.deepEqual([close.code, close.wasClean], [1006, false]);
      // What we wrote after the upgrade: a masked close frame carrying the status.
      await new Promise((r) => setTimeout(r, 20));
      const wire = Buffer.concat(srv.received);
      assert.equal(wire[0], 0x88);
      const mask = wire.subarray(2, 6);
      assert.equal(((wire[6] ^ mask[0]) << 8) | (wire[7] ^ mask[1]), status);
      srv.close();
    });
  }
});

describe('our server (acceptSocket) against a ws client', () => {
  let srv;
  let url;
  const accepted = [];
  before(async () => {
    srv = net.createServer(async (socket) => {
      try {
        const ws = await acceptSocket(socket, { protocols: ['chat.v2'] });
        accepted.push(ws);
        ws.binaryType = 'uint8array';
        ws.onmessage = (e) => {
          if (e.data === 'close-me') ws.close(4002, 'server says bye');
          else ws.send(e.data);
        };
      } catch {
        // a refused upgrade: answered already
      }
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${srv.address().port}/srv`;
  });
  after(() => srv.close());

  test('echoes 0 B to 16 MiB, binary and text, with the subprotocol', async () => {
    const c = new WsClient(url, ['chat.v1', 'chat.v2'], { maxPayload: 64 << 20 });
    await next(c, 'open');
    assert.equal(c.protocol, 'chat.v2');
    for (const size of [0, 125, 126, 20000, 65536, 1 << 20, 16 << 20]) {
      const bin = Buffer.from(pattern(size));
      c.send(bin);
      const [data, isBinary] = await next(c, 'message');
      assert.equal(isBinary, true);
      assert.ok(Buffer.compare(data, bin) === 0, `binary ${size}`);
      const text = 'ü'.repeat(size >> 2);
      c.send(text);
      const [t] = await next(c, 'message');
      assert.equal(t.toString(), text, `text ${size}`);
    }
    c.close(1000, 'ok');
    const [code] = await next(c, 'close');
    assert.equal(code, 1000);
  });

  test('fragments from the client, a ping, and the server closing', async () => {
    const c = new WsClient(url);
    await next(c, 'open');
    c.send('ab', { fin: false });
    c.send('cd', { fin: true });
    const [m] = await next(c, 'message');
    assert.equal(m.toString(), 'abcd');
    c.ping('p');
    const [pong] = await next(c, 'pong');
    assert.equal(pong.toString(), 'p');
    c.send('close-me');
    const [code, reason] = await next(c, 'close');
    assert.deepEqual([code, reason.toString()], [4002, 'server says bye']);
  });

  test('a request that is not an upgrade gets a 400 and no WebSocket', async () => {
    const before = accepted.length;
    const reply = await new Promise((resolve) => {
      const s = net.connect(srv.address().port, '127.0.0.1', () => s.write('GET /srv HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('end', () => s.end());
    });
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.equal(accepted.length, before);
  });
});

describe('our server on a Node HTTP server (acceptUpgrade) against a ws client', () => {
  let srv;
  let url;
  before(async () => {
    srv = http.createServer((_, res) => res.end('plain http'));
    srv.on('upgrade', async (req, socket, head) => {
      try {
        const ws = await acceptUpgrade(req, socket, head, { protocols: ['chat.v2'] });
        ws.onmessage = (e) => ws.send(typeof e.data === 'string' ? `${e.data} via ${ws.url}` : e.data);
      } catch {
        // refused: answered already
      }
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${srv.address().port}/up?x=1`;
  });
  after(() => srv.close());

  test('upgrades, echoes and closes', async () => {
    const c = new WsClient(url, ['chat.v2']);
    await next(c, 'open');
    assert.equal(c.protocol, 'chat.v2');
    c.send('hi');
    const [m] = await next(c, 'message');
    assert.equal(m.toString(), `hi via ${url}`);
    c.close(1000);
    const [code] = await next(c, 'close');
    assert.equal(code, 1000);
  });

  test('a request for another version gets 426 with the version the engine speaks', async () => {
    const res = await new Promise((resolve) => {
      const s = net.connect(srv.address().port, '127.0.0.1', () =>
        s.write(
          'GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n',
        ),
      );
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
    });
    assert.match(res, /^HTTP\/1\.1 426 /);
    assert.match(res, /Sec-WebSocket-Version: 13/i);
  });
});

describe('over a web stream pair (the WebTransport and workerd path) in Node', () => {
  test('our client over Duplex.toWeb: echoes up to 16 MiB, pings, closes cleanly', async () => {
    const { Duplex } = await import('node:stream');
    const server = await wsServer(echo);
    const port = server.wss.address().port;
    const transport = () =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(Duplex.toWeb(s)));
      });
    const ws = new WebSocket(server.url, [], { transport });
    ws.binaryType = 'uint8array';
    await next(ws, 'open');
    for (const size of [0, 125, 70000, 16 << 20]) {
      ws.send(pattern(size));
      ws.send('ü'.repeat(size >> 3));
      const [b, t] = await messages(ws, 2);
      assert.deepEqual(b, pattern(size), `binary ${size}`);
      assert.equal(t, 'ü'.repeat(size >> 3), `text ${size}`);
    }
    ws.ping('over streams');
    assert.equal(new TextDecoder().decode((await next(ws, 'pong')).data), 'over streams');
    ws.close(1000, 'done');
    const close = await next(ws, 'close');
    assert.deepEqual([close.code, close.reason, close.wasClean], [1000, 'done', true]);
    server.wss.close();
  });

  test('our server over Duplex.toWeb (WebSocket.accept) against a ws client', async () => {
    const { Duplex } = await import('node:stream');
    const srv = net.createServer(async (socket) => {
      const ws = await WebSocket.accept(Duplex.toWeb(socket), { protocols: ['chat.v2'] });
      ws.onmessage = (e) => ws.send(e.data);
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const c = new WsClient(`ws://127.0.0.1:${srv.address().port}/web`, ['chat.v2'], { maxPayload: 64 << 20 });
    await next(c, 'open');
    assert.equal(c.protocol, 'chat.v2');
    const big = Buffer.from(pattern(4 << 20));
    c.send(big);
    const [data] = await next(c, 'message');
    assert.ok(Buffer.compare(data, big) === 0);
    c.close(4000, 'bye');
    const [code, reason] = await next(c, 'close');
    assert.deepEqual([code, reason.toString()], [4000, 'bye']);
    srv.close();
  });
});

// A large frame is written from where it lies, and the engine holds later events until it
// is written: the driver must report such a write at once, not with its next read, which
// never comes once the peer has sent everything (the echoes stopped 4 to 33 short). An
// in-memory pair hands each side everything at once, as a fast peer on loopback may.
describe('pipelined large messages over an in-memory pair', () => {
  test('every echo comes back, in order', { timeout: 30000 }, async () => {
    const { Duplex, PassThrough } = await import('node:stream');
    const [ab, ba] = [new PassThrough(), new PassThrough()];
    const serverSide = WebSocket.accept(Duplex.from({ readable: ab, writable: ba }));
    const client = new WebSocket('ws://pair/', [], { transport: Duplex.from({ readable: ba, writable: ab }) });
    client.binaryType = 'uint8array';
    const opened = next(client, 'open');
    const server = await serverSide;
    server.binaryType = 'uint8array';
    server.onmessage = (e) => server.send(e.data);
    await opened;
    // Large messages (written from where they lie), then more small ones than the
    // 256 KiB of unwritten echoes the engine holds before it stops taking input.
    const sizes = [
      ...Array.from({ length: 60 }, (_, i) => [16384, 65536, 100000, 1000][i % 4] + i),
      ...Array.from({ length: 20000 }, (_, i) => 1024 + (i % 7)),
    ];
    const echoed = messages(client, sizes.length);
    for (const [i, size] of sizes.entries()) client.send(pattern(size, i));
    const got = await echoed;
    for (const [i, size] of sizes.entries()) assert.deepEqual(got[i], pattern(size, i), `message ${i}`);
    client.close();
    await next(client, 'close');
  });
});

describe('our server choosing the subprotocol', () => {
  test('a list is the engine\'s choice; a chooser function is the application\'s', async () => {
    const seen = [];
    const srv = net.createServer(async (socket) => {
      const protocols = seen.length === 0 ? ['b', 'a'] : (offered) => offered.at(-1);
      const ws = await acceptSocket(socket, { protocols });
      seen.push([ws.protocol, ws.url]);
      ws.close(1000);
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${srv.address().port}/room?id=7`;
    try {
      for (const offered of [['a', 'b'], ['a', 'b', 'c']]) {
        const c = new WsClient(url, offered);
        await next(c, 'open');
        await next(c, 'close');
      }
      // The list: the server's first preference the client offered. The function: its pick.
      assert.deepEqual(seen, [['b', url], ['c', url]]);
    } finally {
      srv.close();
    }
  });
});
