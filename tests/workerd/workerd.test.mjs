// The npm package in workerd: tests/workerd/worker.js reaches the native echo_server with
// connect() (loopback allowed through the "internet" network service) and reports what
// came back. Needs target/release/examples/echo_server and js/wasm (./dev builds both).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freePort, listening } from '../support.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children = [];

function start(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  children.push(child);
  return () => stderr;
}

let echoPort;
let workerPort;
let workerdLog;
before(async () => {
  [echoPort, workerPort] = [await freePort(), await freePort()];
  start('target/release/examples/echo_server', [`127.0.0.1:${echoPort}`]);
  workerdLog = start('node_modules/.bin/workerd', [
    'serve',
    'tests/workerd/config.capnp',
    '--socket-addr',
    `http=127.0.0.1:${workerPort}`,
  ]);
  await listening(echoPort);
  // workerd exits at once when the worker does not load (a module missing from the config).
  await listening(workerPort).catch((e) => {
    throw new Error(`${e.message}; workerd said:\n${workerdLog()}`);
  });
});

after(() => {
  for (const c of children) c.kill();
});

test('a worker speaks WebSocket through the package over connect()', async () => {
  const res = await fetch(`http://127.0.0.1:${workerPort}/?target=ws://127.0.0.1:${echoPort}/chat`);
  assert.equal(res.status, 200, workerdLog());
  const body = await res.json();
  assert.deepEqual(body, {
    protocol: 'chat.v2',
    got: [{ text: 'hello from workerd ✓' }, { binary: [0, 1, 2, 254, 255] }, { text: '70000 chars' }],
    close: { code: 1000, reason: 'done', wasClean: true },
  });
});
