// The cost of websocket.dll's calls in Node: a client and a server Handle echo 16-byte
// binary messages through the fused calls (sendStep, step, the out-parameters in wasm
// memory), with no stream, no event and no promise between them. The facade no longer runs
// on Handle; bench/js/connection.mjs is the floor under it now. This one stays as the
// measure of the Handle binding.
//
//   node bench/js/engine.mjs [SIZE=16] [ROUNDS=8]

import { Handle, OutWord } from 'wsengine/engine';
import { bytes, words } from '../../js/src/memory.js';

const SEND = 1;
const RECEIVE = 2;
const BINARY_MESSAGE = 0x80000002;
const [SEND_TO_NETWORK, RECEIVE_FROM_NETWORK, INDICATE_RECEIVE_COMPLETE] = [1, 3, 4];
const size = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 8);
const BATCH = 20000;

/** A handle with its inbox (the bytes its peer wrote) and its receive action in flight. */
function side(client) {
  const h = Handle.fromUpgraded(client, undefined);
  h.receive(undefined);
  return { h, o: h.outAddress >>> 2, inbox: new Uint8Array(BATCH * (size + 14)), len: 0, read: 0, lent: null, last: undefined };
}

const token = (w, o) => w[o + OutWord.TOKEN_LO] + w[o + OutWord.TOKEN_HI] * 4294967296;

/** One message from `from` into `to`'s inbox: sendStep, the frame copied out, step. */
function send(from, payload, to) {
  if (from.h.sendStep(from.last, BINARY_MESSAGE, payload, SEND) !== SEND_TO_NETWORK) throw new Error('no frame');
  const w = words();
  const m = bytes();
  const o = from.o;
  for (const [p, l] of [[w[o + OutWord.PTR0], w[o + OutWord.LEN0]], [w[o + OutWord.PTR1], w[o + OutWord.LEN1]]]) {
    to.inbox.set(m.subarray(p, p + l), to.len);
    to.len += l;
  }
  from.h.step(token(w, o), w[o + OutWord.LEN0] + w[o + OutWord.LEN1], SEND); // indicate-send-complete
  from.last = token(words(), o); // completed by the next sendStep
}

function settle(x) {
  if (x.last !== undefined) x.h.completeAction(x.last, 0);
  x.last = undefined;
}

/** Everything in `x`'s inbox through its receive side; each message to `onMessage`. */
function receive(x, onMessage) {
  let kind = x.lent === null ? x.h.getAction(RECEIVE) : RECEIVE_FROM_NETWORK;
  for (;;) {
    const w = words();
    const o = x.o;
    if (kind === RECEIVE_FROM_NETWORK) {
      x.lent ??= [w[o + OutWord.PTR0], w[o + OutWord.LEN0], token(w, o)];
      if (x.read === x.len) break;
      const [at, room, t] = x.lent;
      x.lent = null;
      const n = Math.min(room, x.len - x.read);
      bytes().set(x.inbox.subarray(x.read, x.read + n), at);
      x.read += n;
      kind = x.h.step(t, n, RECEIVE);
    } else if (kind === INDICATE_RECEIVE_COMPLETE) {
      const at = w[o + OutWord.PTR0];
      const t = token(w, o);
      onMessage(bytes().slice(at, at + w[o + OutWord.LEN0]));
      kind = x.h.step(t, 0, RECEIVE, true);
    } else {
      throw new Error(`unexpected action ${kind}`);
    }
  }
  x.read = x.len = 0;
}

const client = side(true);
const server = side(false);
const payload = new Uint8Array(size).fill(120);
let best = 0;
for (let r = 0; r < rounds; r++) {
  const start = performance.now();
  let echoed = 0;
  for (let b = 0; b < 10; b++) {
    for (let i = 0; i < BATCH; i++) send(client, payload, server);
    settle(client);
    receive(server, (m) => send(server, m, client));
    settle(server);
    receive(client, () => echoed++);
  }
  best = Math.max(best, (echoed / (performance.now() - start)) * 1000);
}
console.log(`${size} B: ${Math.round(best).toLocaleString('en')} echoes/s through the engine alone (${(1e9 / best).toFixed(0)} ns each), best of ${rounds}`);
