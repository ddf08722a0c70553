// permessage-deflate between the native engine (examples/echo_server, built with the
// `deflate` feature: it accepts permessage-deflate and compresses every message) and
// clients it did not write: Node's `ws` with perMessageDeflate (context takeover on and
// off) and headless Chromium's own WebSocket. A proxy between them reads every frame
// header each way, so the test sees on the wire that messages went compressed (RSV1) and
// smaller than they are. Loopback only.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { freePort, launchChromium, listening, root, staticServer } from '../support.mjs';

// Two echo servers: one with context takeover, one that asks for none both ways.
const echoes = {};

before(async () => {
  for (const takeover of [true, false]) {
    const port = await freePort();
    const args = [`127.0.0.1:${port}`, ...(takeover ? [] : ['no-context-takeover'])];
    const child = spawn(`${root}target/release/examples/echo_server`, args, { stdio: 'ignore' });
    await listening(port);
    echoes[takeover] = { port, child };
  }
});

after(() => Object.values(echoes).forEach((e) => e.child.kill()));

/**
 * A TCP proxy to the echo server that parses the frames going each way (after the HTTP
 * heads): { port, frames: { up: [], down: [] }, close }. A frame is { rsv1, opcode, len }.
 */
async function frameProxy(echoPort) {
  const frames = { up: [], down: [] };
  const watch = (list) => {
    let buf = Buffer.alloc(0);
    let head = true;
    return (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        buf = buf.subarray(end + 4);
        head = false;
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        if (buf[1] & 0x80) at += 4;
        if (buf.length < at + len) return;
        list.push({ rsv1: (buf[0] & 0x40) !== 0, opcode: buf[0] & 0x0f, len });
        buf = buf.subarray(at + len);
      }
    };
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(echoPort, '127.0.0.1');
    const up = watch(frames.up);
    const down = watch(frames.down);
    client.on('data', (d) => {
      up(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      down(d);
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, frames, close: () => server.close() };
}

function json(len) {
  let s = '';
  for (let k = 0; s.length < len; k++) s += JSON.stringify({ id: k, name: `item${(k * 7919) % 1000}`, ok: true }) + ',';
  return s.slice(0, len);
}

/** Data frames (text, binary, continuation) of a list. */
const data = (list) => list.filter((f) => f.opcode <= 2);
/** The first frames of messages (RSV1 marks a compressed message there). */
const firsts = (list) => list.filter((f) => f.opcode === 1 || f.opcode === 2);

for (const takeover of [true, false]) {
  test(`ws (perMessageDeflate, context takeover ${takeover ? 'on' : 'off'}) and the native server compress both ways`, async () => {
    const proxy = await frameProxy(echoes[true].port);
    const ws = new WsClient(`ws://127.0.0.1:${proxy.port}/`, {
      perMessageDeflate: { threshold: 0, serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover },
    });
    let agreed = '';
    ws.once('upgrade', (res) => (agreed = res.headers['sec-websocket-extensions']));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.match(agreed, /^permessage-deflate/);
    assert.equal(agreed.includes('server_no_context_takeover'), !takeover, agreed);
    assert.equal(agreed.includes('client_no_context_takeover'), !takeover, agreed);
    const sizes = [0, 1, 200, 4096, 65536, 300000, 1 << 20];
    let total = 0;
    for (const [i, size] of sizes.entries()) {
      const text = json(size);
      const sent = i % 2 ? Buffer.from(text) : text;
      const got = new Promise((resolve) => ws.once('message', (d, isBinary) => resolve([d, isBinary])));
      ws.send(sent);
      const [d, isBinary] = await got;
      assert.equal(isBinary, i % 2 === 1);
      assert.equal(d.toString(), text, `${size}-byte message`);
      total += size;
    }
    ws.close(1000);
    await new Promise((r) => ws.once('close', r));
    proxy.close();
    for (const way of ['up', 'down']) {
      // The echo server sends each message back in pieces as they arrive: RSV1 on the
      // first frame of each.
      const starts = firsts(proxy.frames[way]);
      assert.equal(starts.length, sizes.length, `${way}: every message`);
      assert.ok(starts.every((f) => f.rsv1), `${way}: every message compressed (RSV1)`);
      const wire = data(proxy.frames[way]).reduce((n, f) => n + f.len, 0);
      assert.ok(wire * 5 < total, `${way}: ${wire} bytes on the wire for ${total} bytes of messages`);
    }
  });
}

for (const takeover of [true, false]) {
  test(`headless Chromium's WebSocket offers permessage-deflate and the native server compresses (context takeover ${takeover ? 'on' : 'off'})`, async () => {
    const proxy = await frameProxy(echoes[takeover].port);
    const page = await staticServer((path) => (path === '/' ? `${root}tests/peers/deflate.html` : null));
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${page.address().port}/?port=${proxy.port}`);
      await tab.waitForFunction(() => window.result !== undefined, null, { timeout: 20000 });
      const result = await tab.evaluate(() => window.result);
      assert.equal(result.error, undefined, result.error);
      assert.match(result.extensions, /^permessage-deflate/);
      assert.equal(result.extensions.includes('server_no_context_takeover'), !takeover, result.extensions);
      assert.equal(result.extensions.includes('client_no_context_takeover'), !takeover, result.extensions);
      assert.deepEqual(result.echoed, result.sizes);
      const total = result.sizes.reduce((a, b) => a + b, 0);
      for (const way of ['up', 'down']) {
        const starts = firsts(proxy.frames[way]);
        assert.equal(starts.length, result.sizes.length, `${way}: every message`);
        // Chromium decides itself what it compresses (and cuts large messages into
        // frames); the server compresses everything.
        if (way === 'down') assert.ok(starts.every((f) => f.rsv1), 'every echo compressed (RSV1)');
        else assert.ok(starts.some((f) => f.rsv1), 'Chromium compressed its messages');
        const wire = data(proxy.frames[way]).reduce((n, f) => n + f.len, 0);
        assert.ok(wire * 5 < total, `${way}: ${wire} bytes on the wire for ${total} bytes of messages`);
      }
    } finally {
      await browser.close();
      page.close();
      proxy.close();
    }
  });
}
