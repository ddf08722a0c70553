// Headless Chromium's own WebSocket against wsengine-https (hosts/https): the page comes
// over HTTP/2, and the WebSocket opened from it rides that connection as an extended
// CONNECT (RFC 8441), served by the engine through wsengine-tokio. The server's
// certificate is trusted for this browser only, by its key's hash on the command line.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { httpsEcho, launchChromium } from '../support.mjs';

let server;
let browser;
let origin;

before(async () => {
  server = await httpsEcho();
  const { port, spki } = server;
  origin = `https://localhost:${port}`;
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
});

after(async () => {
  await browser?.close();
  server?.kill();
});

/** Sizes of the messages each way, text and binary: 0 B to 1 MiB. */
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

test('a WebSocket from Chromium goes over HTTP/2 and echoes 0 B to 1 MiB, text and binary', async () => {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const navigation = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(navigation, 'h2', 'the page came over HTTP/2');

  const result = await page.evaluate(async (sizes) => {
    const ws = new WebSocket(`wss://${location.host}/echo`, ['chat.v1', 'chat.v2']);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    let wake = null;
    ws.onmessage = (e) => {
      queue.push(e.data);
      wake?.();
    };
    const next = async () => {
      while (!queue.length) await new Promise((r) => (wake = r));
      return queue.shift();
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('the WebSocket failed to open'));
    });
    const echoed = [];
    for (const size of sizes) {
      // Text with two- and three-byte characters, cut to `size` UTF-16 units.
      const text = 'aé€'.repeat(Math.ceil(size / 3) + 1).slice(0, size);
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 255);
      ws.send(text);
      ws.send(bytes);
      const gotText = await next();
      const gotBytes = new Uint8Array(await next());
      echoed.push({
        size,
        text: gotText === text,
        binary: gotBytes.length === size && gotBytes.every((b, i) => b === bytes[i]),
      });
    }
    const closed = new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    });
    ws.close(1000, 'done');
    return { protocol: ws.protocol, extensions: ws.extensions, echoed, close: await closed };
  }, SIZES);

  assert.equal(result.protocol, 'chat.v2');
  assert.match(result.extensions, /^permessage-deflate/);
  assert.deepEqual(
    result.echoed,
    SIZES.map((size) => ({ size, text: true, binary: true })),
  );
  assert.deepEqual(result.close, { code: 1000, reason: 'done', wasClean: true });

  // The server took it as an extended CONNECT on an HTTP/2 stream, not an upgrade.
  const stats = await page.evaluate(async () => (await fetch('/stats')).json());
  assert.deepEqual(stats, { http1: 0, http2: 1, http3: 0 });
  await page.close();
});
