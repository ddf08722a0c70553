// wsengine/deflate: the facade on the wasm with permessage-deflate, against Node's `ws`
// with perMessageDeflate both ways (context takeover on and off), and what the two wasm
// files do when mixed up. Loopback only. (node --test runs each file in a process of its
// own, so this one loads the deflate wasm first.)

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { WebSocket as WsClient, WebSocketServer } from 'ws';
import * as compressed from 'wsengine/deflate';
import * as plain from 'wsengine';
import { WebSocket, acceptSocket } from 'wsengine/deflate';

const run = promisify(execFile);

function json(len) {
  let s = '';
  for (let k = 0; s.length < len; k++) s += JSON.stringify({ id: k, name: `item${(k * 7919) % 1000}`, ok: true }) + ',';
  return s.slice(0, len);
}

const sizes = [0, 1, 200, 4096, 65536, 300000, 1 << 20];

test('wsengine/deflate exports what wsengine exports, and they are the same objects', () => {
  assert.deepEqual(Object.keys(compressed).sort(), Object.keys(plain).sort());
  assert.equal(compressed.WebSocket, plain.WebSocket);
});

for (const takeover of [true, false]) {
  describe(`context takeover ${takeover ? 'on' : 'off'}`, () => {
    test('our client against a ws server: compressed both ways, extensions reported', async () => {
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: { threshold: 0, serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover },
      });
      await new Promise((r) => wss.once('listening', r));
      let socket;
      wss.on('connection', (ws, req) => {
        socket = req.socket;
        ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
      });
      const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`, [], {
        deflate: { serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover, threshold: 0 },
      });
      ws.binaryType = 'uint8array';
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      assert.match(ws.extensions, /^permessage-deflate/);
      assert.equal(ws.extensions.includes('server_no_context_takeover'), !takeover, ws.extensions);
      let total = 0;
      for (const [i, size] of sizes.entries()) {
        const text = json(size);
        const back = new Promise((r) => (ws.onmessage = (e) => r(e.data)));
        ws.send(i % 2 ? new TextEncoder().encode(text) : text);
        const d = await back;
        assert.equal(typeof d === 'string' ? d : new TextDecoder().decode(d), text, `${size} bytes`);
        total += size;
      }
      assert.ok(socket.bytesRead * 5 < total, `${socket.bytesRead} bytes read by ws for ${total} bytes sent`);
      ws.close(1000);
      await new Promise((r) => (ws.onclose = r));
      wss.close();
    });

    test('our server (acceptSocket) against a ws client: accepted and compressed', async () => {
      const server = net.createServer(async (s) => {
        const ws = await acceptSocket(s, { deflate: { threshold: 0 } });
        ws.binaryType = 'uint8array';
        ws.onmessage = (e) => ws.send(e.data);
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const ws = new WsClient(`ws://127.0.0.1:${server.address().port}/`, {
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
      let total = 0;
      for (const size of sizes) {
        const text = json(size);
        const back = new Promise((r) => ws.once('message', (d) => r(d.toString())));
        ws.send(text);
        assert.equal(await back, text, `${size} bytes`);
        total += size;
      }
      assert.ok(ws._socket.bytesRead * 5 < total, `${ws._socket.bytesRead} bytes read by ws for ${total}`);
      ws.close(1000);
      await new Promise((r) => ws.once('close', r));
      server.close();
    });
  });
}

test('deflate: false turns it off in wsengine/deflate', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  await new Promise((r) => wss.once('listening', r));
  const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`, [], { deflate: false });
  await new Promise((r) => (ws.onopen = r));
  assert.equal(ws.extensions, '');
  ws.close();
  await new Promise((r) => (ws.onclose = r));
  wss.close();
});

test('the wasm without permessage-deflate refuses the option, and wsengine/deflate must come first', async () => {
  const script = (body) => ['--input-type=module', '-e', body];
  const refused = await run(process.execPath, script(`
    import { WebSocket } from 'wsengine';
    try { new WebSocket('ws://127.0.0.1:9/', [], { deflate: true, transport: () => new Promise(() => {}) }); console.log('accepted'); }
    catch (e) { console.log(e.name, e.message); }
  `));
  assert.match(refused.stdout, /no permessage-deflate: import wsengine\/deflate/);
  const late = await run(process.execPath, script(`
    import 'wsengine';
    try { await import('wsengine/deflate'); console.log('loaded'); } catch (e) { console.log(e.message); }
  `));
  assert.match(late.stdout, /import wsengine\/deflate first/);
  const first = await run(process.execPath, script(`
    import 'wsengine/deflate';
    import { WebSocket } from 'wsengine';
    const ws = new WebSocket('ws://127.0.0.1:9/', [], { transport: () => new Promise(() => {}) });
    console.log('ok', typeof ws.extensions);
    process.exit(0);
  `));
  assert.match(first.stdout, /^ok string/);
});
