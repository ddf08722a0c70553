// What the Node-driven suites share: a free loopback port and waiting until something
// listens on it; wsengine-wt (the native engine echoing WebSocket on every WebTransport
// stream) on 127.0.0.1, a static server on 127.0.0.1, headless Chromium, and the check of
// tests/webtransport/page.js's result.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../', import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** A port of 127.0.0.1 that nothing listens on now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (10 s at most). */
export async function listening(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Starts target/debug/`name` on 127.0.0.1; resolves to the JSON of its first line, and `kill`. */
async function loopbackServer(name) {
  const child = spawn(`${root}target/debug/${name}`, ['127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { ...JSON.parse(first), kill: () => child.kill() };
}

/** Starts target/debug/wsengine-wt; resolves to { port, certHash, kill }. */
export function webTransportEcho() {
  return loopbackServer('wsengine-wt');
}

/**
 * Starts target/debug/wsengine-https (HTTP/1.1 and HTTP/2 over TLS); resolves to { port,
 * spki, cert, kill }: its key's SHA-256 and its certificate's DER, in base64.
 */
export function httpsEcho() {
  return loopbackServer('wsengine-https');
}

/** Serves what `files(path)` maps a request path to (a file path, or null: 404). */
export async function staticServer(files) {
  const server = http.createServer(async (req, res) => {
    const file = files(new URL(req.url, 'http://x').pathname);
    try {
      if (!file) throw new Error('not served');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** Headless Chromium; `args` are command-line switches besides the usual ones. */
export function launchChromium(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args],
  });
}

/** Opens `url` (a page running tests/webtransport/page.js) against `wt` and checks the echo. */
export async function expectWebTransportEcho(browser, url, wt) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const query = new URLSearchParams({ port: String(wt.port), hash: JSON.stringify(wt.certHash) });
  await page.goto(`${url}?${query}`);
  // The page's module runs once the package's wasm is loaded (a top-level await).
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 10000 });
  const result = await page.evaluate(() => window.result);
  assert.deepEqual(errors, [], await page.textContent('#log'));
  assert.deepEqual(result, {
    protocol: 'chat.v2',
    got: ['hello over WebTransport ✓', [0, 1, 2, 254, 255], '200000 chars'],
    close: { code: 1000, reason: 'done', wasClean: true },
  });
  await page.close();
}
