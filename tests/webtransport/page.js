// The npm package in Chromium: a WebSocket whose transport is a WebTransport bidirectional
// stream to wsengine-wt (the native engine as the server). The tests read window.result.
// Loaded two ways: by page.html with 'wsengine' mapped to the package's sources
// (tests/webtransport), and bundled by esbuild from the installed tarball (tests/pack).
import { WebSocket } from 'wsengine';

const params = new URLSearchParams(location.search);
const log = (line) => (document.getElementById('log').textContent += `${line}\n`);
window.result = (async () => {
  const wt = new WebTransport(`https://127.0.0.1:${params.get('port')}/`, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(JSON.parse(params.get('hash'))) }],
  });
  await wt.ready;
  const stream = await wt.createBidirectionalStream();
  const ws = new WebSocket('ws://127.0.0.1/wt', ['chat.v2'], { transport: stream });
  ws.binaryType = 'arraybuffer';
  const sent = ['hello over WebTransport ✓', new Uint8Array([0, 1, 2, 254, 255]), 'y'.repeat(200000)];
  const got = [];
  const close = await new Promise((resolve) => {
    ws.onopen = () => sent.forEach((m) => ws.send(m));
    ws.onmessage = (e) => {
      got.push(typeof e.data === 'string' ? (e.data.length > 100 ? `${e.data.length} chars` : e.data) : [...new Uint8Array(e.data)]);
      log(`message ${got.length}`);
      if (got.length === sent.length) ws.close(1000, 'done');
    };
    ws.onerror = (e) => log(`error ${e.error?.message ?? e.error}`);
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  });
  wt.close();
  return { protocol: ws.protocol, got, close };
})();
