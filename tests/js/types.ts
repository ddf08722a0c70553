// Compiled by ./dev with tsc --strict: code written against index.d.ts type-checks.
import { WebSocket, WebSocketError } from 'wsengine';
import { Handle, BufferType } from 'wsengine/engine';
const ws = new WebSocket('ws://127.0.0.1:1/', ['chat'], { maxPayload: 1024 });
ws.binaryType = 'uint8array';
ws.onmessage = (e) => { const d: unknown = e.data; void d; };
ws.send(new Uint8Array([1]));
const h = Handle.createClient({ receiveBufferSize: 4096 });
h.sendText(BufferType.UTF8_MESSAGE, 'x');
try {
  h.completeAction(0, 0);
} catch (e) {
  if (e instanceof WebSocketError) {
    const hr: number = e.hresult;
    const kind: 'invalid-argument' | string = e.kind;
    void hr, kind, e.closeStatus;
  }
}
