// The npm package as a user meets it: `npm pack`, the tarball installed into a fresh
// project in a temporary directory, then (1) a Node ESM program there imports it and talks
// to the native echo_server; (2) esbuild bundles a page that imports it (the WebTransport
// page of tests/webtransport), which headless Chromium runs against wsengine-wt, the native
// engine echoing over WebTransport; (3) a TypeScript file using the public API of both
// entry points type-checks with tsc --strict against the installed types. Needs js/wasm,
// target/release/examples/echo_server, target/debug/wsengine-wt and Debian's chromium
// (./dev provides them).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { expectWebTransportEcho, freePort, launchChromium, listening, root, staticServer, webTransportEcho } from '../support.mjs';

const project = mkdtempSync(join(tmpdir(), 'wsengine-pack-'));
let echo;
let echoPort;

const run = (cmd, args, cwd = project) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe' });

before(async () => {
  // The tarball npm would publish, installed as a dependency of a new project.
  run('npm', ['pack', '--pack-destination', project, join(root, 'js')], root);
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', `./${tarball}`]);
  echoPort = await freePort();
  echo = spawn(join(root, 'target/release/examples/echo_server'), [`127.0.0.1:${echoPort}`], { stdio: 'ignore' });
  await listening(echoPort);
});

after(() => {
  echo?.kill();
  rmSync(project, { recursive: true, force: true });
});

test('the installed wasm files stay within their gzipped budgets (56 KiB, 96 KiB with permessage-deflate)', () => {
  // What a browser downloads: the budgets of the issue that added permessage-deflate.
  // ./dev prints the sizes at each build; bench/README.md says what they are made of.
  const wasm = join(project, 'node_modules/wsengine/wasm');
  for (const [file, budget] of [['wsengine_bg.wasm', 56 * 1024], ['wsengine_deflate_bg.wasm', 96 * 1024]]) {
    const size = gzipSync(readFileSync(join(wasm, file)), { level: 9 }).length;
    assert.ok(size <= budget, `${file}: ${size} bytes gzipped, over ${budget}`);
  }
});

test('the installed package runs a client against echo_server from Node ESM', () => {
  writeFileSync(
    join(project, 'client.mjs'),
    `import { WebSocket, WebSocketError } from 'wsengine';
import { Handle } from 'wsengine/engine';
const ws = new WebSocket('ws://127.0.0.1:${echoPort}/', [], { pingInterval: null });
ws.binaryType = 'arraybuffer';
const got = [];
ws.onopen = () => { ws.send('hello'); ws.send(new Uint8Array([1, 2, 3])); };
ws.onmessage = (e) => { got.push(typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)]); if (got.length === 2) ws.close(1000, 'done'); };
ws.onclose = (e) => {
  let refused;
  try { Handle.fromUpgraded(false, undefined).completeAction(7, 0); } catch (err) { refused = err instanceof WebSocketError && err.kind; }
  console.log(JSON.stringify({ got, code: e.code, clean: e.wasClean, refused }));
};
`,
  );
  const out = JSON.parse(run(process.execPath, ['client.mjs']).trim());
  assert.deepEqual(out, { got: ['hello', [1, 2, 3]], code: 1000, clean: true, refused: 'invalid-argument' });
});

test('the installed wsengine/deflate compresses against echo_server (which accepts permessage-deflate)', () => {
  writeFileSync(
    join(project, 'deflate.mjs'),
    `import { WebSocket } from 'wsengine/deflate';
const ws = new WebSocket('ws://127.0.0.1:${echoPort}/', [], { pingInterval: null, deflate: { threshold: 0 } });
const text = 'compress me '.repeat(5000);
ws.onopen = () => ws.send(text);
ws.onmessage = (e) => { console.log(JSON.stringify({ same: e.data === text, extensions: ws.extensions })); ws.close(1000); };
`,
  );
  const out = JSON.parse(run(process.execPath, ['deflate.mjs']).trim());
  assert.equal(out.same, true);
  assert.match(out.extensions, /^permessage-deflate/);
});

test('code using both entry points type-checks with tsc --strict against the installed types, in Node and in a browser project', () => {
  writeFileSync(
    join(project, 'use.ts'),
    `import { WebSocket, WebSocketError, acceptSocket } from 'wsengine';
import { Action, ActionQueue, BufferType, Connection, Handle, readFrameHeader } from 'wsengine/engine';
const ws = new WebSocket('ws://127.0.0.1:1/', ['chat'], { maxPayload: 1024, pingInterval: null });
ws.onmessage = (e: MessageEvent) => { const d: unknown = e.data; void d; };
const h = Handle.createClient({ receiveBufferSize: 4096 });
const queue: 1 | 2 | 3 = ActionQueue.SEND;
const kind: number = h.getAction(queue);
if (kind === Action.SEND_TO_NETWORK) h.completeAction(h.actionToken, h.actionByteLength);
h.sendText(BufferType.UTF8_MESSAGE, 'x');
const c: Connection = Connection.server(undefined, 0);
void c, acceptSocket, readFrameHeader(new Uint8Array(2));
try { h.completeAction(0, 0); } catch (e) { if (e instanceof WebSocketError) { const n: number = e.hresult; void n; } }
`,
  );
  const tsc = join(root, 'node_modules/.bin/tsc');
  run(tsc, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--lib', 'es2022,dom', '--types', 'node', '--typeRoots', join(root, 'node_modules/@types'), 'use.ts']);
  // A browser project (bundler resolution, no Node types): the default types, which have no
  // Node-only helpers and need no Node types.
  writeFileSync(
    join(project, 'browser.ts'),
    `import { WebSocket } from 'wsengine';
// @ts-expect-error acceptSocket exists in Node only
import { acceptSocket } from 'wsengine';
import { Handle } from 'wsengine/engine';
const ws = new WebSocket('ws://127.0.0.1:1/', [], { transport: new WebTransport('https://x/').createBidirectionalStream() as never });
void ws, acceptSocket, Handle;
`,
  );
  run(tsc, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'es2022,dom', '--types', '', 'browser.ts']);
});

test('a page bundled by esbuild from the installed package runs in Chromium over WebTransport', async () => {
  // The page script, bundled as a user's app would be: 'wsengine' resolved from the
  // project's node_modules (the default, browser condition). esbuild copies no asset that a
  // module reaches with new URL(..., import.meta.url): the wasm goes next to the bundle, as
  // js/README.md says.
  const web = join(project, 'web');
  mkdirSync(web);
  copyFileSync(join(root, 'tests/webtransport/page.js'), join(project, 'page.js'));
  run(join(root, 'node_modules/.bin/esbuild'), ['page.js', '--bundle', '--format=esm', '--platform=browser', '--outfile=web/app.js']);
  copyFileSync(join(project, 'node_modules/wsengine/wasm/wsengine_bg.wasm'), join(web, 'wsengine_bg.wasm'));
  writeFileSync(join(web, 'index.html'), '<!doctype html><meta charset="utf-8"><pre id="log"></pre><script type="module" src="app.js"></script>');
  const files = new Map(readdirSync(web).map((f) => [`/${f}`, join(web, f)]));
  const [wt, server, browser] = [await webTransportEcho(), await staticServer((p) => files.get(p)), await launchChromium()];
  try {
    await expectWebTransportEcho(browser, `http://127.0.0.1:${server.address().port}/index.html`, wt);
  } finally {
    await browser.close();
    server.close();
    wt.kill();
  }
});
