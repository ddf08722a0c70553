// The wsengine component transpiled by jco and run in Node: a client handle and a server
// handle of one instance talk through the host, which only moves bytes. Shows the
// component is host-neutral (the Wasmtime host runs the same .wasm).
//
// Needs target/component/jco (./dev builds it: jco transpile of target/component/wsengine.wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';

const { engine } = await import(new URL('../../target/component/jco/wsengine.js', import.meta.url));
const { Handle, HeadParser } = engine;

const enc = new TextEncoder();
const dec = new TextDecoder();
const seed = () => ({ tag: 'random-seed', val: webcrypto.getRandomValues(new Uint8Array(32)) });
const header = (name, value) => ({ name: enc.encode(name), value: enc.encode(value) });

/** One end: its handle, what it wrote, what it saw. */
class Side {
  constructor(handle) {
    this.h = handle;
    this.out = [];      // bytes written to the "network"
    this.inbox = [];    // bytes the peer wrote, not yet read
    this.events = [];
    this.receiving = false;
    this.read = null;   // a receive-from-network action waiting for bytes
  }
  /** Runs the actions until none can go on; returns whether anything happened. */
  drive() {
    let progress = false;
    for (;;) {
      if (!this.receiving && this.read === null) {
        try { this.h.receive(undefined, 7n); this.receiving = true; } catch { /* receive side over */ }
      }
      if (this.read !== null) {
        if (this.inbox.length === 0) {
          const a = this.h.getAction('send');
          if (a.tag === 'no-action') return progress;
          this.carry(a);
          progress = true;
          continue;
        }
        const n = Math.min(this.read.maxBytes, this.inbox.length);
        this.h.completeReceive(this.read.action, Uint8Array.from(this.inbox.splice(0, n)));
        this.read = null;
        progress = true;
        continue;
      }
      const a = this.h.getAction('all');
      if (a.tag === 'no-action') return progress;
      this.carry(a);
      progress = true;
    }
  }
  carry(a) {
    switch (a.tag) {
      case 'send-to-network':
        this.out.push(...a.val.data);
        this.h.completeAction(a.val.action, a.val.data.length);
        break;
      case 'indicate-send-complete':
        this.events.push({ sent: a.val.bufferType, completed: a.val.completed, context: a.val.context });
        this.h.completeAction(a.val.action, 0);
        break;
      case 'receive-from-network':
        this.read = a.val;
        break;
      case 'indicate-receive-complete':
        this.receiving = false;
        assert.equal(a.val.context, 7n);
        this.events.push({ type: a.val.bufferType, data: a.val.data, close: a.val.closeStatus });
        this.h.completeAction(a.val.action, 0);
        break;
      default:
        assert.fail(`unexpected action ${a.tag}`);
    }
  }
  /** Received data pieces joined into messages: [{ text, bytes }]. */
  messages() {
    const out = [];
    let cur = null;
    for (const e of this.events) {
      if (!e.type || !/^(utf8|binary)-/.test(e.type)) continue;
      cur ??= { text: e.type.startsWith('utf8'), bytes: [] };
      cur.bytes.push(...e.data);
      if (e.type.endsWith('-message')) { out.push({ text: cur.text, bytes: Uint8Array.from(cur.bytes) }); cur = null; }
    }
    return out;
  }
}

function connect() {
  const client = Handle.create('client', [seed(), { tag: 'receive-buffer-size', val: 256 }]);
  const server = Handle.create('server', [{ tag: 'receive-buffer-size', val: 256 }]);
  // The opening handshake, with real HTTP heads through the component's helpers.
  const offer = client.beginClientHandshake(['chat.v1', 'chat.v2'], [], []);
  const requestHead = engine.encodeRequestHead('/chat', [header('Host', 'test'), ...offer]);
  const p = new HeadParser(8192, 128);
  assert.equal(p.push(requestHead), true);
  const request = p.request();
  assert.equal(request.method, 'GET');
  const chosen = engine.offeredSubprotocols(request.headers).find((s) => s === 'chat.v2');
  const answer = server.beginServerHandshake(chosen, [], request.headers);
  const q = new HeadParser(8192, 128);
  assert.equal(q.push(engine.encodeResponseHead(101, 'Switching Protocols', answer)), true);
  const response = q.response();
  assert.equal(response.status, 101);
  const outcome = client.endClientHandshake(response.headers);
  assert.equal(outcome.subprotocol, 1);
  server.endServerHandshake();
  return { client: new Side(client), server: new Side(server) };
}

function run(pair) {
  for (let i = 0; i < 100000; i++) {
    const a = pair.client.drive();
    const b = pair.server.drive();
    const moved = pair.client.out.length + pair.server.out.length > 0;
    pair.server.inbox.push(...pair.client.out.splice(0));
    pair.client.inbox.push(...pair.server.out.splice(0));
    if (!a && !b && !moved) return;
  }
  assert.fail('the pair did not settle');
}

test('messages of several sizes round-trip through the component in Node', () => {
  const pair = connect();
  const sizes = [0, 1, 125, 126, 1000, 70000];
  for (const [i, n] of sizes.entries()) {
    const text = 'κόσμε '.repeat(Math.ceil(n / 11)).slice(0, n);
    pair.client.h.send('utf8-message', { tag: 'data', val: enc.encode(text) }, BigInt(i));
    run(pair);
    pair.server.h.send('binary-message', { tag: 'data', val: enc.encode(text) }, BigInt(i));
    run(pair);
    assert.equal(dec.decode(pair.server.messages().at(-1).bytes), text);
    assert.equal(pair.client.messages().at(-1).text, false);
  }
  assert.equal(pair.server.messages().length, sizes.length);
});

test('fragments, a ping inside them, and the close handshake', () => {
  const pair = connect();
  pair.client.h.send('utf8-fragment', { tag: 'data', val: enc.encode('Hel') }, 1n);
  run(pair);
  pair.client.h.send('ping-pong', undefined, 2n);
  run(pair);
  pair.client.h.send('utf8-message', { tag: 'data', val: enc.encode('lo') }, 3n);
  run(pair);
  assert.deepEqual(pair.server.messages().map((m) => dec.decode(m.bytes)), ['Hello']);
  assert.ok(pair.client.events.some((e) => e.type === 'ping-pong'), 'the automatic pong came back');
  pair.client.h.send('close', { tag: 'close', val: { status: 1000, reason: enc.encode('bye') } }, 4n);
  run(pair);
  assert.equal(pair.server.h.state(), 'close-received');
  const close = pair.server.events.find((e) => e.type === 'close');
  assert.equal(close.close, 1000);
  assert.equal(dec.decode(close.data), 'bye');
  pair.server.h.send('close', undefined, 5n);
  run(pair);
  assert.equal(pair.client.h.state(), 'closed');
  assert.equal(pair.server.h.state(), 'closed');
});

test('misuse comes back as errors with HRESULTs, and the instance keeps working', () => {
  const h = Handle.create('server', []);
  const expectError = (fn, tag, hresult) => {
    try { fn(); } catch (e) {
      assert.equal(e.payload.tag, tag, e.message);
      assert.equal(e.payload.val.hresult, hresult);
      assert.ok(e.payload.val.message.length > 0);
      return;
    }
    assert.fail(`expected ${tag}`);
  };
  expectError(() => h.send('ping-pong', undefined, 0n), 'invalid-state', 0x8007139f);
  expectError(() => Handle.create('client', []), 'invalid-argument', 0x80070057);
  expectError(() => Handle.create('server', [{ tag: 'receive-buffer-size', val: 1 }]), 'invalid-argument', 0x80070057);
  expectError(() => h.completeAction(0x1_0000_0005n, 3), 'invalid-argument', 0x80070057);
  expectError(() => h.beginServerHandshake(undefined, [], []), 'invalid-protocol-format', 0x83760002);
  // The failed request is answered by the component's rejection helper.
  try { h.beginServerHandshake(undefined, [], []); } catch (e) {
    assert.match(dec.decode(engine.encodeRejection(e.payload)), /^HTTP\/1\.1 400 Bad Request\r\n/);
  }
  const ok = Handle.fromUpgraded('server', []);
  assert.equal(ok.state(), 'open');
  ok.send('binary-message', { tag: 'data', val: new Uint8Array([1, 2, 3]) }, 9n);
  const a = ok.getAction('send');
  assert.equal(a.tag, 'send-to-network');
  assert.deepEqual([...a.val.data], [0x82, 3, 1, 2, 3]);
  assert.equal(engine.acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.deepEqual([...engine.supportedVersions()], [13]);
});
