// examples/wasi_client built for wasm32-wasip2 is a WASI component that opens its TCP
// connection with wasi:sockets and speaks WebSocket through the engine. Here jco runs it
// in Node (preview2-shim provides the sockets) against the native echo_server, on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A free loopback port. */
const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** Runs a command to its end; resolves with its exit code and output. */
const run = (cmd, args) => new Promise((resolve) => {
  const p = spawn(cmd, args, { cwd: root });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  p.on('close', (code) => resolve({ code, out }));
});

test('the WASI client component talks WebSocket over wasi:sockets to echo_server', async () => {
  const port = await freePort();
  const server = spawn(`${root}target/release/examples/echo_server`, [`127.0.0.1:${port}`]);
  try {
    await new Promise((resolve, reject) => {
      server.stderr.on('data', (d) => { if (String(d).includes('listening')) resolve(); });
      server.once('exit', (code) => reject(new Error(`echo_server exited with ${code}`)));
    });
    const { code, out } = await run(`${root}node_modules/.bin/jco`, [
      'run', 'target/wasm32-wasip2/release/examples/wasi_client.wasm', `ws://127.0.0.1:${port}/`,
    ]);
    assert.equal(code, 0, out);
    assert.match(out, /text echoed: "hello from wasi ✓" \(same\)/);
    assert.match(out, /binary echoed: 5 bytes \(same\)/);
    assert.match(out, /text echoed: 70000 bytes \(same\)/);
    assert.match(out, /closed cleanly/);
  } finally {
    server.kill();
  }
});
