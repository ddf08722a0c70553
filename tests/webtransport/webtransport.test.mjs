// The npm package in headless Chromium over WebTransport: wsengine-wt (hosts/webtransport,
// the native engine serving WebSocket on each bidirectional stream, self-signed ECDSA
// certificate valid 14 days) on 127.0.0.1; a page served from 127.0.0.1 opens a stream with
// serverCertificateHashes and runs the package's WebSocket over it. Needs the debug build of
// wsengine-wt, js/wasm and Debian's chromium (./dev provides all three).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
let server;
let web;
let browser;
let wt;

/** Serves tests/webtransport/page.html and the package's js/ directory, nothing else. */
function staticServer() {
  return http.createServer(async (req, res) => {
    const path = normalize(new URL(req.url, 'http://x').pathname);
    const file =
      path === '/page.html' ? join(root, 'tests/webtransport/page.html') : path.startsWith('/js/') ? join(root, path) : null;
    try {
      if (!file || !file.startsWith(join(root, path === '/page.html' ? 'tests' : 'js'))) throw new Error('not served');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
}

before(async () => {
  wt = spawn(join(root, 'target/debug/wsengine-wt'), ['127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    createInterface({ input: wt.stdout }).once('line', resolve);
    wt.once('exit', (code) => reject(new Error(`wsengine-wt exited with ${code}`)));
  });
  server = JSON.parse(first);
  web = staticServer();
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  web?.close();
  wt?.kill();
});

test('the package speaks WebSocket over a WebTransport stream in Chromium', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const query = new URLSearchParams({ port: String(server.port), hash: JSON.stringify(server.certHash) });
  await page.goto(`http://127.0.0.1:${web.address().port}/page.html?${query}`);
  // The page's module runs once the package's wasm is loaded (a top-level await).
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 10000 });
  const result = await page.evaluate(() => window.result);
  assert.deepEqual(errors, [], await page.textContent('#log'));
  assert.deepEqual(result, {
    protocol: 'chat.v2',
    got: ['hello over WebTransport ✓', [0, 1, 2, 254, 255], '200000 chars'],
    close: { code: 1000, reason: 'done', wasClean: true },
  });
});
