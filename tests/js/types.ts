// Compiled by ./dev with tsc --strict: code written against index.d.ts type-checks.
import { WebSocket, Handle, BufferType } from 'wsengine';
const ws = new WebSocket('ws://127.0.0.1:1/', ['chat'], { maxPayload: 1024 });
ws.binaryType = 'uint8array';
ws.onmessage = (e) => { const d: unknown = e.data; void d; };
ws.send(new Uint8Array([1]));
const h = Handle.createClient({ receiveBufferSize: 4096 });
h.sendText(BufferType.UTF8_MESSAGE, 'x');
