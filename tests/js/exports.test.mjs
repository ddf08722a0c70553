// The hand-written .d.ts files agree with the package's two entry points:
// every name each declares is exported (in Node, where the node-only names exist too), and
// nothing exported is undeclared. The default entry exposes no view into the engine's memory.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as facade from 'wsengine';
import * as pkg from 'wsengine/engine';

/** The names a .d.ts file exports: declarations and re-exports (not types), following
 * `export * from`. */
function declaredIn(file) {
  const dts = readFileSync(new URL(`../../js/${file}`, import.meta.url), 'utf8');
  const names = [...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]);
  for (const [, list] of dts.matchAll(/^export \{([^}]*)\} from/gm)) names.push(...list.split(',').map((n) => n.trim()));
  for (const [, from] of dts.matchAll(/^export \* from '\.\/(\w+)\.js';/gm)) names.push(...declaredIn(`${from}.d.ts`));
  return new Set(names);
}

// In Node: the "node" types. (index.d.ts alone is the browser's and has no socket helpers.)
for (const [file, entry, module] of [['node.d.ts', 'wsengine', facade], ['engine.d.ts', 'wsengine/engine', pkg]]) {
  test(`${file} declares exactly what ${entry} exports`, () => {
    const declared = declaredIn(file);
    const exported = new Set(Object.keys(module));
    assert.deepEqual([...declared].filter((n) => !exported.has(n)), [], 'declared but not exported');
    assert.deepEqual([...exported].filter((n) => !declared.has(n)), [], 'exported but not declared');
  });
}

test('the default entry is the facade: no handles, actions or memory views', () => {
  for (const raw of ['Handle', 'Connection', 'Driver', 'HeadParser', 'Action', 'BufferType']) {
    assert.equal(raw in facade, false, `${raw} is wsengine/engine's`);
  }
  assert.equal(facade.WebSocketError, pkg.WebSocketError, 'one error class for both entries');
});

// The Handle's wasm is wsengine/engine's own and always has permessage-deflate, though this
// program loaded the default wasm (without it) through 'wsengine'.
test('handles negotiate and apply permessage-deflate whatever wasm the facade loaded', () => {
  const { Handle, ActionQueue, BufferType, Action } = pkg;
  const client = Handle.createClient(undefined);
  const server = Handle.createServer(undefined);
  const request = client.beginClientHandshake([], ['permessage-deflate'], []);
  const response = server.beginServerHandshake(undefined, ['permessage-deflate'], [['Host', 'x'], ...request]);
  assert.deepEqual(client.endClientHandshake(response).extensions, [0]);
  client.sendText(BufferType.UTF8_MESSAGE, 'compress me '.repeat(100));
  assert.equal(client.getAction(ActionQueue.SEND), Action.SEND_TO_NETWORK);
  const frame = client.actionData();
  assert.equal(frame[0], 0xc1, 'FIN, RSV1 and text: compressed');
  assert.ok(frame.length < 200, `${frame.length} bytes for 1200 of text`);
  client.free();
  server.free();
});

test('a server chooses its most preferred offered subprotocol with the engine\'s rule', () => {
  const request = [['Sec-WebSocket-Protocol', 'chat.v1, chat.v2']];
  assert.equal(pkg.chooseSubprotocol(request, ['chat.v3', 'chat.v2', 'chat.v1']), 'chat.v2');
  assert.equal(pkg.chooseSubprotocol(request, ['other']), undefined);
});

test('a handle tells the buffer sizes in force', () => {
  const h = pkg.Handle.createClient({ receiveBufferSize: 1024, sendBufferSize: 512 });
  assert.deepEqual([h.receiveBufferSize, h.sendBufferSize], [1024, 512]);
  h.free();
  const s = pkg.Handle.createServer(undefined);
  assert.deepEqual([s.receiveBufferSize, s.sendBufferSize], [4096, 16]);
  s.free();
});

test('completing NO_ACTION is a harmless no-op, as in the SDK loop', () => {
  const { Handle, ActionQueue, BufferType, Action: ActionType } = pkg;
  const server = Handle.fromUpgraded(false, undefined);
  // Nothing to send: NO_ACTION, whose token is 0.
  assert.equal(server.getAction(ActionQueue.SEND), ActionType.NO_ACTION);
  assert.equal(server.actionToken, 0);
  server.completeAction(server.actionToken, 0);
  server.completeAction(0, 0);
  // The loop goes on: a send is handed out and completed normally.
  server.send(BufferType.BINARY_MESSAGE, Uint8Array.of(1, 2, 3), undefined);
  assert.equal(server.getAction(ActionQueue.SEND), ActionType.SEND_TO_NETWORK);
  const token = server.actionToken;
  server.completeAction(0, 0);
  server.completeAction(token, server.actionByteLength);
  assert.throws(() => server.completeAction(token, 0), { name: 'WebSocketError', kind: 'invalid-argument' });
  // A real class: instanceof works, with the HRESULT and the kind.
  try {
    server.completeAction(token, 0);
    assert.fail('completed twice');
  } catch (e) {
    assert.ok(e instanceof pkg.WebSocketError && e instanceof Error, `${e}`);
    assert.equal(e.hresult, 0x80070057);
    assert.match(e.stack, /WebSocketError/);
  }
  server.free();
});

test('a network action in flight is handed out again by its token', () => {
  const { Handle, ActionQueue, BufferType, Action } = pkg;
  const client = Handle.fromUpgraded(true, undefined);
  client.send(BufferType.BINARY_MESSAGE, Uint8Array.of(1, 2, 3), undefined);
  assert.equal(client.getAction(ActionQueue.SEND), Action.SEND_TO_NETWORK);
  const [token, bytes] = [client.actionToken, client.actionData()];
  client.getAction(ActionQueue.SEND); // NO_ACTION: the send is in flight
  assert.equal(client.action(token), Action.SEND_TO_NETWORK);
  assert.deepEqual(client.actionData(), bytes);
  client.completeAction(token, bytes.length);
  assert.throws(() => client.action(token), { name: 'WebSocketError', kind: 'invalid-argument' });
  client.free();
});

test('a short write breaks the send side, and state says so', () => {
  const { Handle, ActionQueue, BufferType, Action } = pkg;
  const client = Handle.fromUpgraded(true, undefined);
  client.send(BufferType.BINARY_MESSAGE, Uint8Array.of(1, 2, 3, 4, 5), undefined);
  assert.equal(client.getAction(ActionQueue.SEND), Action.SEND_TO_NETWORK);
  assert.equal(client.state, 'open');
  client.completeAction(client.actionToken, 3); // 3 of 11 bytes written
  assert.equal(client.getAction(ActionQueue.SEND), Action.INDICATE_SEND_COMPLETE);
  assert.equal(client.actionCompleted, false);
  client.completeAction(client.actionToken, 0);
  assert.equal(client.state, 'send-broken');
  assert.throws(() => client.send(BufferType.BINARY_MESSAGE, Uint8Array.of(1), undefined), { name: 'WebSocketError', kind: 'invalid-protocol-operation' });
  assert.equal(client.state, 'send-broken');
  client.free();
});

test('readFrameHeader names the fields of frames as the engine writes them', async () => {
  const { Handle, ActionQueue, BufferType, readFrameHeader } = pkg;
  const client = Handle.fromUpgraded(true, undefined);
  client.send(BufferType.BINARY_FRAGMENT, new Uint8Array(300), undefined);
  assert.equal(client.getAction(ActionQueue.SEND), 1);
  const frame = client.actionData();
  assert.deepEqual(readFrameHeader(frame), { fin: false, rsv: 0, opcode: 2, masked: true, headerLength: 8, payloadLength: 300 });
  assert.equal(readFrameHeader(frame.subarray(0, 7)), undefined, 'cut inside the mask key');
  client.free();
  // RFC 6455 §5.7: an unmasked "Hello", and a ping; a 64-bit length with its top bit set.
  assert.deepEqual(readFrameHeader(Uint8Array.of(0x81, 0x05, 0x48)), { fin: true, rsv: 0, opcode: 1, masked: false, headerLength: 2, payloadLength: 5 });
  assert.equal(readFrameHeader(Uint8Array.of(0x89, 0x00)).opcode, 9);
  assert.equal(readFrameHeader(Uint8Array.of(0xc2, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0)).payloadLength, 2 ** 40);
  assert.throws(() => readFrameHeader(Uint8Array.of(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0)), RangeError);
});
