// The playground (www/) driven like a person would: headless Chromium clicks and types,
// the test reads what the page shows. Loopback mode (a client and a server handle in the
// page) and network mode (the page's client over WebTransport to wsengine-wt), served by
// www/serve.mjs as README's first command serves them. Screenshots go to
// target/www-test/ (or $TEST_OUTPUT). Needs js/wasm, the debug build of wsengine-wt and
// Debian's chromium (./dev provides all three).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
const output = process.env.TEST_OUTPUT ?? join(root, 'target/www-test');
let server;
let url;
let browser;
let page;
const problems = [];

before(async () => {
  mkdirSync(output, { recursive: true });
  server = spawn(process.execPath, [join(root, 'www/serve.mjs'), '--port', '0', '--wt', join(root, 'target/debug/wsengine-wt')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise((resolve, reject) => {
    createInterface({ input: server.stdout }).once('line', resolve);
    server.once('exit', (code) => reject(new Error(`www/serve.mjs exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(10000);
});

after(async () => {
  await browser?.close();
  server?.kill();
});

const text = (selector) => page.textContent(selector);
const texts = (selector) => page.locator(selector).allTextContents();

/** Picks what to send in a panel's composer and sends it. */
async function send(side, kind, fields = {}) {
  const panel = `#${side}`;
  await page.selectOption(`${panel} select[name=kind]`, kind);
  await page.setChecked(`${panel} input[name=hex]`, Boolean(fields.hex));
  if (fields.payload !== undefined) await page.fill(`${panel} input[name=payload]`, fields.payload);
  if (fields.code !== undefined) await page.fill(`${panel} input[name=code]`, fields.code);
  if (fields.reason !== undefined) await page.fill(`${panel} input[name=reason]`, fields.reason);
  await page.click(`${panel} button[type=submit]`);
}

/** The log's rows as [handle, call, action, buffer type, bytes, note]. */
async function logRows() {
  return page.$$eval('#log tbody tr', (rows) => rows.map((r) => [...r.cells].slice(1).map((c) => c.textContent)));
}

test('loopback: both handles in the page, every action and frame on screen', async () => {
  await page.goto(url);
  await page.waitForSelector('#client .state[data-state=open]');
  await page.waitForSelector('#server .state[data-state=open]');
  // The opening handshake went over the pipe: the two HTTP heads.
  assert.deepEqual(await texts('#wire li .op'), ['HTTP', 'HTTP']);
  assert.match(await text('#wire'), /GET \/playground HTTP\/1\.1/);
  assert.match(await text('#wire'), /HTTP\/1\.1 101 Switching Protocols/);

  await send('client', 'text', { payload: 'hello engine' });
  await page.waitForSelector('#server .messages li');
  assert.match(await text('#server .messages'), /text · 12 B\s*hello engine/);
  const rows = await logRows();
  assert.ok(rows.some((r) => r.join('|') === 'client|getAction|SEND_TO_NETWORK|UTF8_MESSAGE|18|'), 'the client frames 12 bytes with 6 of header and key');
  assert.ok(rows.some((r) => r.join('|') === 'server|completeAction|INDICATE_RECEIVE_COMPLETE|UTF8_MESSAGE|12|'), 'the server is handed the message');
  const frame = page.locator('#wire li.c2s').last();
  assert.match(await frame.textContent(), /client → server\s*TEXT\s*FIN\s*RSV 000\s*MASK [0-9a-f]{2}( [0-9a-f]{2}){3}\s*len 12/);

  await send('server', 'binary', { payload: 'de ad be ef' });
  await page.waitForSelector('#client .messages li');
  assert.match(await text('#client .messages'), /binary · 4 B\s*de ad be ef/);
  assert.match(await page.locator('#wire li.s2c').last().textContent(), /BINARY\s*FIN\s*RSV 000\s*MASK\s*len 4\s*82 04 de ad be ef/);

  await send('client', 'fragments', { payload: 'one|two|three' });
  await page.waitForFunction(() => document.querySelectorAll('#server .messages li').length === 2);
  assert.match(await page.locator('#server .messages li').last().textContent(), /3 pieces\s*onetwothree/);
  assert.deepEqual((await texts('#wire li.c2s .op')).slice(-3), ['TEXT', 'CONTINUATION', 'CONTINUATION']);

  await send('client', 'ping');
  await send('server', 'pong');
  await page.waitForFunction(() => [...document.querySelectorAll('#wire li.s2c .op')].filter((e) => e.textContent === 'PONG').length === 2);
  assert.equal((await texts('#wire li.c2s .op')).at(-1), 'PING');

  // Bad input: the engine's own errors, and the page goes on.
  await send('server', 'text', { hex: true, payload: 'c3 28' });
  assert.match(await text('#server .error'), /not valid UTF-8.*WebSocketError invalid-protocol-format, HRESULT 0x83760002/);
  await send('client', 'close', { code: '4000', reason: 'x'.repeat(124) });
  assert.match(await text('#client .error'), /close reason is 124 bytes \(at most 123 allowed\).*HRESULT 0x80070057/);
  assert.equal(await text('#client .state'), 'open', 'a refused close changes nothing');

  // Step mode: nothing moves until Step is clicked, one action per click.
  await page.check('#step-mode');
  await send('client', 'text', { payload: 'one step at a time' });
  assert.equal(await text('#pending'), 'actions waiting');
  const before = (await logRows()).length;
  let steps = 0;
  while ((await page.locator('#server .messages li').count()) < 3) {
    assert.ok(steps < 20, 'the message arrives within 20 steps');
    await page.click('#step');
    steps++;
  }
  assert.ok(steps >= 3, `write, read, indicate: at least three steps (took ${steps})`);
  assert.ok((await logRows()).length > before + steps, 'each step shows its getAction and completeAction');
  await page.uncheck('#step-mode');

  await page.screenshot({ path: join(output, 'loopback.png') });

  // The close handshake, as it happens on both sides.
  await send('client', 'close', { code: '4000', reason: 'bye' });
  await page.waitForSelector('#client .state[data-state=closed]');
  await page.waitForSelector('#server .state[data-state=closed]');
  assert.match(await text('#client .closing'), /sent close 4000 “bye”\s*received close 4000 “bye” \(the answer to ours\)\s*handle closed/);
  assert.match(await text('#server .closing'), /received close 4000 “bye” → answering with the same\s*handle closed/);
  assert.deepEqual((await texts('#wire li .op')).slice(-2), ['CLOSE', 'CLOSE']);
  // A send after the close: the engine refuses it.
  await send('client', 'text', { payload: 'too late' });
  assert.match(await text('#client .error'), /WebSocketError/);
});

test('network: the page as a client over WebTransport to wsengine-wt', async () => {
  await page.click('#mode-network');
  await page.click('#connect');
  await page.waitForSelector('#client .state[data-state=open]');
  assert.equal(await text('#wt-state'), 'connected');
  await send('client', 'text', { payload: 'over WebTransport ✓' });
  await send('client', 'binary', { payload: '00 01 fe ff' });
  await page.waitForFunction(() => document.querySelectorAll('#client .messages li').length === 2);
  const echoed = await texts('#client .messages li .body');
  assert.deepEqual(echoed, ['over WebTransport ✓', '00 01 fe ff']);
  assert.deepEqual(await texts('#wire li.c2s .op'), ['HTTP', 'TEXT', 'BINARY']);
  assert.deepEqual(await texts('#wire li.s2c .op'), ['HTTP', 'TEXT', 'BINARY'], 'the echoes, unmasked');
  await send('client', 'close', { code: '1000', reason: 'done' });
  await page.waitForSelector('#client .state[data-state=closed]');
  assert.match(await text('#client .closing'), /received close 1000 “done” \(the answer to ours\)/);
  assert.equal(await text('#wt-state'), 'stream closed');
  await page.screenshot({ path: join(output, 'network.png') });
  // Connect again: a new stream, the views start over.
  await page.click('#connect');
  await page.waitForSelector('#client .state[data-state=open]');
  assert.equal(await page.locator('#client .messages li').count(), 0);
  assert.deepEqual(problems, [], 'no console errors');
});
