// The npm package's engine over Node's own HTTP/2 (node:http2): `Connection.clientConnect`
// and `acceptConnect` make and check the extended CONNECT's fields (RFC 8441), Node carries
// them and the stream, a `Driver` runs each WebSocket over its Http2Stream (a Duplex).
// Against wsengine-https (hyper's HTTP/2 over TLS, the native engine behind it) and against
// a Node HTTP/2 server running the npm engine; several WebSockets on one HTTP/2 session.
// Loopback only.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import { Connection, Driver, WebSocketError } from 'wsengine/engine';
import { httpsEcho } from '../support.mjs';

const now = () => performance.now();

/** Node's header object as `[name, value]` pairs (repeated fields come as arrays). */
function pairs(headers) {
  return Object.entries(headers).flatMap(([name, value]) => (Array.isArray(value) ? value.map((v) => [name, v]) : [[name, String(value)]]));
}

/** `[name, value]` pairs as Node's header object. */
function object(fields) {
  const o = {};
  for (const [name, value] of fields) o[name] = name in o ? [].concat(o[name], value) : value;
  return o;
}

/** Resolves once the session has the server's SETTINGS allowing extended CONNECT. */
function connectAllowed(session) {
  return new Promise((resolve, reject) => {
    const check = (settings) => settings.enableConnectProtocol && resolve();
    if (session.remoteSettings) check(session.remoteSettings);
    session.on('remoteSettings', check);
    session.once('error', reject);
  });
}

/**
 * Opens a WebSocket for `url` on `session` and runs it: resolves with { protocol, echoed,
 * close } once it closed, having sent every size as text and binary and checked the echoes.
 */
async function exchange(session, url, sizes, tag) {
  const { connection, fields } = Connection.clientConnect(url, { protocols: ['chat.v1', 'chat.v2'], reassemble: true }, now());
  assert.deepEqual(fields.slice(0, 2), [[':method', 'CONNECT'], [':protocol', 'websocket']]);
  const stream = session.request(object(fields), { endStream: false });
  const [headers] = await Promise.race([
    new Promise((resolve) => stream.once('response', (...a) => resolve(a))),
    new Promise((_, reject) => stream.once('error', reject)),
  ]);
  connection.connectResponse(headers[':status'], pairs(headers));
  const received = [];
  let wake = null;
  let protocol;
  let closed;
  const done = new Promise((resolve) => {
    closed = resolve;
  });
  const driver = new Driver(connection, stream, {
    open: (p) => (protocol = p),
    message: (text, data) => {
      received.push(text ? new TextDecoder().decode(data) : data.slice());
      wake?.();
    },
    closed: (clean, code, reason) => closed({ clean, code, reason }),
  });
  driver.start();
  const next = async () => {
    while (!received.length) await new Promise((r) => (wake = r));
    return received.shift();
  };
  const echoed = [];
  for (const size of sizes) {
    const text = 'aé€'.repeat(Math.ceil(size / 3) + 1).slice(0, size);
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + tag) & 255);
    driver.sendText(text);
    driver.sendBinary(bytes);
    const gotText = await next();
    const gotBytes = await next();
    echoed.push({ size, text: gotText === text, binary: Buffer.compare(Buffer.from(gotBytes), Buffer.from(bytes)) === 0 });
  }
  driver.close(1000, 'done');
  return { protocol, echoed, close: await done };
}

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];
const expected = (protocol) => ({
  protocol,
  echoed: SIZES.map((size) => ({ size, text: true, binary: true })),
  close: { clean: true, code: 1000, reason: 'done' },
});

let server;
let rust;

before(async () => {
  server = await httpsEcho();
  const { port, cert } = server;
  rust = { port, ca: `-----BEGIN CERTIFICATE-----\n${cert.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n` };
});

after(() => server?.kill());

test("the npm engine over Node's HTTP/2 client, three WebSockets on one session, against wsengine-https", async () => {
  const session = http2.connect(`https://localhost:${rust.port}`, { ca: rust.ca });
  await connectAllowed(session);
  const url = `wss://localhost:${rust.port}/echo`;
  const results = await Promise.all([1, 2, 3].map((tag) => exchange(session, url, SIZES, tag)));
  for (const r of results) assert.deepEqual(r, expected('chat.v2'));
  session.close();
});

test("a Node HTTP/2 server running the npm engine: acceptConnect answers, refusals carry their status", async () => {
  const opened = [];
  const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
  h2.on('stream', (stream, headers) => {
    let accepted;
    try {
      accepted = Connection.acceptConnect(pairs(headers), { protocols: ['chat.v2'], reassemble: true }, now());
    } catch (e) {
      assert.ok(e instanceof WebSocketError);
      stream.respond({ ':status': e.httpStatus ?? 400 }, { endStream: true });
      return;
    }
    const { connection, fields } = accepted;
    opened.push(Object.fromEntries(fields)[':status']);
    stream.respond(object(fields));
    const driver = new Driver(connection, stream, {
      message: (text, data) => (text ? driver.sendText(new TextDecoder().decode(data)) : driver.sendBinary(data.slice())),
    });
    driver.start();
  });
  await new Promise((r) => h2.listen(0, '127.0.0.1', r));
  const { port } = h2.address();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  await connectAllowed(session);
  const url = `ws://127.0.0.1:${port}/echo`;
  const results = await Promise.all([1, 2].map((tag) => exchange(session, url, SIZES, tag)));
  for (const r of results) assert.deepEqual(r, expected('chat.v2'));
  assert.deepEqual(opened, ['200', '200']);

  // Requests no engine client makes: a key (400), another version (426).
  const refused = async (extra) => {
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/echo', ':scheme': 'http', ':authority': `127.0.0.1:${port}`, 'sec-websocket-version': '13', ...extra }, { endStream: false });
    const [headers] = await new Promise((resolve) => stream.once('response', (...a) => resolve(a)));
    stream.close();
    return headers[':status'];
  };
  assert.equal(await refused({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }), 400);
  assert.equal(await refused({ 'sec-websocket-version': '8' }), 426);

  // A client refused by its response fails with the error, and connectResponse says so.
  const { connection } = Connection.clientConnect(url, {}, now());
  assert.throws(() => connection.connectResponse(403, []), (e) => e instanceof WebSocketError && e.kind === 'invalid-protocol-format');
  assert.throws(() => connection.connectResponse(200, []), (e) => e.kind === 'invalid-state');
  connection.free();
  session.close();
  await new Promise((r) => h2.close(r));
});
