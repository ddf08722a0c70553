// The npm package in headless Chromium over WebTransport: wsengine-wt (hosts/webtransport,
// the native engine serving WebSocket on each bidirectional stream, self-signed ECDSA
// certificate valid 14 days) on 127.0.0.1; page.html, served from 127.0.0.1, maps
// 'wsengine' to the package's sources and runs page.js: the package's WebSocket over a
// stream opened with serverCertificateHashes. Needs the debug build of wsengine-wt, js/wasm
// and Debian's chromium (./dev provides all three).

import { join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { expectWebTransportEcho, launchChromium, root, staticServer, webTransportEcho } from '../support.mjs';

let wt;
let web;
let browser;

before(async () => {
  wt = await webTransportEcho();
  // The page, its script and the package's js/ directory, nothing else.
  web = await staticServer((path) => {
    const p = normalize(path);
    if (p === '/page.html' || p === '/page.js') return join(root, 'tests/webtransport', p);
    return p.startsWith('/js/') ? join(root, p) : null;
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  web?.close();
  wt?.kill();
});

test('the package speaks WebSocket over a WebTransport stream in Chromium', async () => {
  await expectWebTransportEcho(browser, `http://127.0.0.1:${web.address().port}/page.html`, wt);
});
