// A worker that uses the npm package over workerd's connect(): it opens a WebSocket to
// the URL in ?target=, sends a few messages, and answers with what came back.

import { WebSocket } from './js/src/workerd.js';

export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('target');
    const ws = new WebSocket(target, ['chat.v2']);
    ws.binaryType = 'uint8array';
    const sent = ['hello from workerd ✓', new Uint8Array([0, 1, 2, 254, 255]), 'x'.repeat(70000)];
    const got = [];
    const result = await new Promise((resolve) => {
      ws.onopen = () => {
        for (const m of sent) ws.send(m);
      };
      ws.onmessage = (e) => {
        got.push(typeof e.data === 'string' ? { text: e.data.length > 100 ? `${e.data.length} chars` : e.data } : { binary: [...e.data] });
        if (got.length === sent.length) ws.close(1000, 'done');
      };
      ws.onerror = (e) => got.push({ error: String(e.error?.message ?? e.error) });
      ws.onclose = (e) => resolve({ protocol: ws.protocol, got, close: { code: e.code, reason: e.reason, wasClean: e.wasClean } });
    });
    return Response.json(result);
  },
};
