// The engine's own cost in Node under the facade, at the level the driver uses it: a client
// and a server Connection echo SIZE-byte binary messages through the batched calls (sends
// staged in the send area, one flush per batch of sends, one read per chunk, records and
// output read from wasm memory), with no transport, event or promise between them. It is
// the floor under bench/js/facade.mjs; bench/js/engine.mjs is the same for Handle's calls.
//
//   node bench/js/connection.mjs [SIZE=16] [ROUNDS=8]

import { Connection } from 'wsengine/engine';
import { EventKind, Flag, RECORD_WORDS, Report, Send } from '../../js/src/layout.js';
import { bytes, words } from '../../js/src/memory.js';

const size = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 8);
const BATCH = 20000;
const options = { pingInterval: null, closeTimeout: null, openTimeout: null, pongTimeout: null, reassemble: true };

/** A connection with the output it has not reported taken yet, and its staged sends. */
function side(client) {
  const c = Connection.fromUpgraded(client, options, 0);
  const x = { c, r: c.reportAddress >>> 2, taken: 0, staged: 0 };
  c.flush(0, 0); // the open event
  c.flush(0, 0);
  return x;
}

/** Stages a binary message in `x`'s send area. */
function stage(x, payload) {
  const w = words();
  if (x.staged + 8 + payload.length > w[x.r + Report.SENDS_CAP]) x.c.reserveSends((x.staged + 8 + payload.length) * 2);
  const at = words()[x.r + Report.SENDS] + x.staged;
  const m = bytes();
  m[at] = Send.BINARY;
  m[at + 1] = m[at + 2] = m[at + 3] = 0;
  m[at + 4] = payload.length & 0xff;
  m[at + 5] = payload.length >> 8;
  m[at + 6] = m[at + 7] = 0;
  m.set(payload, at + 8);
  x.staged += 8 + ((payload.length + 3) & ~3);
}

/** The output of `x`'s last report, copied out (and reported taken by the next call). */
function take(x) {
  const w = words();
  const r = x.r;
  const parts = [0, 1, 2].map((i) => [w[r + Report.OUT0 + 2 * i], w[r + Report.OUT_LEN0 + 2 * i]]);
  const total = parts.reduce((n, [, l]) => n + l, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const [p, l] of parts) {
    out.set(bytes().subarray(p, p + l), at);
    at += l;
  }
  x.taken = total;
  return { out, more: (w[r + Report.FLAGS] & Flag.MORE_OUTPUT) !== 0 };
}

/** Everything `from` has to write, as chunks. */
function drainOutput(from) {
  const chunks = [];
  let count = from.c.flush(from.taken, from.staged);
  from.staged = 0;
  for (;;) {
    if (count !== 0) throw new Error('unexpected event');
    const { out, more } = take(from);
    if (out.length > 0) chunks.push(out);
    if (!more && out.length === 0) return chunks;
    count = from.c.flush(from.taken, 0);
    from.taken = 0;
  }
}

/** Hands `chunks` to `to`; each message to `onMessage(ptr, len)`, batch by batch. */
function feed(to, chunks, onMessage) {
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length; ) {
      const w = words();
      const n = Math.min(w[to.r + Report.INBOX_CAP], chunk.length - at);
      bytes().set(chunk.subarray(at, at + n), w[to.r + Report.INBOX]);
      at += n;
      let count = to.c.read(n, 0, to.taken, to.staged);
      to.taken = to.staged = 0;
      for (;;) {
        const v = words();
        const rec = v[to.r + Report.RECORDS] >>> 2;
        for (let i = 0; i < count; i++) {
          const k = rec + i * RECORD_WORDS;
          if ((v[k] & 0xff) === EventKind.MESSAGE) onMessage(v[k + 2], v[k + 3]);
        }
        if ((words()[to.r + Report.FLAGS] & Flag.MORE_EVENTS) === 0) break;
        count = to.c.flush(0, to.staged);
        to.staged = 0;
      }
    }
  }
}

const client = side(true);
const server = side(false);
const payload = new Uint8Array(size).fill(120);
let best = 0;
for (let r = 0; r < rounds; r++) {
  const start = performance.now();
  let echoed = 0;
  for (let b = 0; b < 10; b++) {
    for (let i = 0; i < BATCH; i++) stage(client, payload);
    feed(server, drainOutput(client), (p, l) => stage(server, bytes().slice(p, p + l)));
    feed(client, drainOutput(server), () => echoed++);
  }
  best = Math.max(best, (echoed / (performance.now() - start)) * 1000);
}
console.log(`${size} B: ${Math.round(best).toLocaleString('en')} echoes/s through Connection alone (${(1e9 / best).toFixed(0)} ns each), best of ${rounds}`);
