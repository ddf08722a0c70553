// Compiled by ./dev with tsc --strict: code written against index.d.ts type-checks.
import { WebSocket, WebSocketError, type Transport } from 'wsengine';
import { Action, ActionQueue, BufferType, Handle } from 'wsengine/engine';
const ws = new WebSocket('ws://127.0.0.1:1/', ['chat'], { maxPayload: 1024, deflate: { serverMaxWindowBits: 12 } });
const extensions: string = ws.extensions;
void extensions;
// wsengine/deflate has the same API.
import { WebSocket as CompressedWebSocket, acceptSocket } from 'wsengine/deflate';
void new CompressedWebSocket('ws://127.0.0.1:1/', [], { deflate: false });
void acceptSocket;
// @ts-expect-error deflate is true, false or its parameters
void new WebSocket('ws://127.0.0.1:1/', [], { deflate: 'yes' });
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
// Queues, actions and buffer types are typed by their values.
const a = h.getAction(ActionQueue.ALL);
if (a === Action.SEND_TO_NETWORK) h.completeAction(h.actionToken, h.actionByteLength);
// @ts-expect-error 7 is no WEB_SOCKET_ACTION_QUEUE
h.getAction(7);
// @ts-expect-error 1 is no WEB_SOCKET_BUFFER_TYPE
h.send(1, undefined);
// A Node socket or Duplex is a transport (declared by shape: no Node types outside Node).
declare const duplex: import('node:stream').Duplex;
declare const socket: import('node:net').Socket;
const transports: Transport[] = [duplex, socket];
void transports;
