// A Connection over a transport: read, hand in, write out, sleep until told. Every rule (the
// opening handshake, answering a close, failing with a status, keep-alive, deadlines,
// limits) is the engine's; this file moves bytes, schedules calls and hands events on.
//
// One call into the engine per transport read, per batch of sends, per timer: each returns
// a batch of event records and the output, which this file reads from the engine's memory
// (js/src/layout.js) without an object per event.

import { EventFlag, EventKind, Flag, RECORD_WORDS, Report, Send } from './layout.js';
import { bytes, words } from './memory.js';
import { transportFor } from './transport.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Sends at least this long go to the engine at once instead of through the send area. */
const DIRECT_SEND = 16 * 1024;
/** Staged sends are handed in once they reach this many bytes. */
const STAGE_LIMIT = 1 << 20;
/** Output shorter than this waits while more events come (one write for many replies). */
const COALESCE = 64 * 1024;
const NONE = 0xffffffff;

/**
 * @typedef {object} DriverHooks What the connection tells its host; all optional. Views
 *   (`data`) are of the engine's memory and valid only during the call: copy or decode them.
 * @property {(request: {target: string, headers: [string, string][]}) => void} [request]
 *   A server with `deferAccept`: the upgrade request; answer with `accept` or `reject`.
 * @property {(protocol: string, headers: [string, string][]) => void} [open] The opening
 *   handshake is done. Later events come in a later task.
 * @property {(text: boolean, data: Uint8Array, fin: boolean) => void} [message] Message data:
 *   a whole message, or a piece (`fin` false) without the `reassemble` option.
 * @property {(data: Uint8Array) => void} [ping] The peer pinged (the engine answered).
 * @property {(data: Uint8Array) => void} [pong] A pong arrived.
 * @property {(code: number, reason: string) => void} [closing] The peer's close (answered).
 * @property {(error: Error, statusSent: number) => void} [failed] The connection failed
 *   (a `WebSocketError`; `statusSent` is the close status sent to the peer, or 0).
 * @property {(clean: boolean, code: number, reason: string) => void} [closed] The end: the
 *   transport is closed once the output is written.
 * @property {(error: Error) => void} [error] A send handed in later was refused.
 */

/**
 * Runs a `Connection` over a transport: a Node socket or Duplex (read through 'data' events,
 * written with backpressure through 'drain'), or a `{ readable, writable }` web stream pair.
 *
 * Backpressure: output is taken from the engine only while the transport holds less than
 * 1 MiB unwritten; input the engine cannot take yet (its buffered-input limit) pauses the
 * reading. Sends are copied into the engine at once (as `WebSocket.send` snapshots its
 * argument) and handed in together, once per turn.
 */
export class Driver {
  #c;
  #r;
  #t;
  #hooks;
  #busy = false;
  /** After `open`: the rest waits for a later task. */
  #held = false;
  #started = false;
  /** `closed` was indicated; the transport ends once the output is written. */
  #done = false;
  #ended = false;
  #freed = false;
  /** Chunks read and not yet handed in. */
  #backlog = [];
  #head = 0;
  #eof = false;
  #eofSent = false;
  #blocked = false;
  /** Output bytes taken (copied out) and not yet reported to the engine. */
  #taken = 0;
  /** Whether output waits in the engine for room in the transport. */
  #left = false;
  /** Bytes staged in the send area, and the payload bytes among them. */
  #staged = 0;
  #stagedBytes = 0;
  /** The engine's bufferedAmount as of the last report (or direct send). */
  #buffered = 0;
  #flush = false;
  #queued = false;
  #timer = null;
  #timerAt = -1;
  /** The deadline words of the last report (the timer changes only when they do). */
  #wakeLo = 0xffffffff;
  #wakeHi = 0xffffffff;
  #timerDue = false;
  #sink;

  /**
   * @param {import('../wasm/wsengine.js').Connection} connection A new connection (the
   *   driver frees it at the end).
   * @param {import('./transport.js').Transport | object} transport A Node stream or a
   *   `{ readable, writable }` pair.
   * @param {DriverHooks} hooks
   * @param {Uint8Array} [first] Bytes read before (an HTTP server's parsed request, say).
   */
  constructor(connection, transport, hooks, first) {
    this.#c = connection;
    this.#r = connection.reportAddress >>> 2;
    this.#t = transportFor(transport);
    this.#hooks = hooks;
    if (first?.byteLength > 0) this.#backlog.push(first);
    this.#sink = {
      data: (chunk) => {
        if (this.#done || this.#freed) return;
        this.#backlog.push(chunk);
        this.#pump();
      },
      end: () => {
        if (this.#eof) return;
        this.#eof = true;
        this.#pump();
      },
      drain: () => {
        this.#flush = true;
        this.#pump();
      },
    };
  }

  /** The connection this driver runs (freed once the transport is closed). */
  get connection() {
    return this.#c;
  }

  /** Bytes of sends not yet handed to the transport, and handed but not yet written. */
  get bufferedAmount() {
    return this.#buffered - this.#taken + this.#stagedBytes + this.#t.pending;
  }

  /** Starts reading and writing (a client's upgrade request goes out). */
  start() {
    if (this.#started) return;
    this.#started = true;
    this.#t.start(this.#sink);
    this.#flush = true;
    this.#pump();
  }

  /** Queues a text message (or a piece of one when `fin` is false). */
  sendText(text, fin = true) {
    if (this.#freed) return;
    if (text.length >= DIRECT_SEND) {
      this.#submit();
      this.#c.sendText(text, fin);
      this.#buffered += utf8Length(text);
      this.#later();
      return;
    }
    const max = text.length * 3;
    const at = this.#reserve(max);
    let n;
    const m = bytes();
    if (text.length <= 64) {
      // Short ASCII is copied by hand: cheaper than encodeInto's view and call.
      n = 0;
      for (; n < text.length; n++) {
        const c = text.charCodeAt(n);
        if (c >= 0x80) break;
        m[at + 8 + n] = c;
      }
      if (n < text.length) n = encoder.encodeInto(text, m.subarray(at + 8, at + 8 + max)).written;
    } else {
      n = encoder.encodeInto(text, m.subarray(at + 8, at + 8 + max)).written;
    }
    this.#commitStage(at, fin ? Send.TEXT : Send.TEXT_PIECE, n);
  }

  /** Queues a binary message (or a piece of one), copied now. */
  sendBinary(data, fin = true) {
    if (this.#freed) return;
    const n = data.byteLength;
    if (n >= DIRECT_SEND) {
      this.#submit();
      this.#c.sendBinary(data, fin);
      this.#buffered += n;
      this.#later();
      return;
    }
    const at = this.#reserve(n);
    const m = bytes();
    if (n <= 32) {
      for (let i = 0; i < n; i++) m[at + 8 + i] = data[i];
    } else {
      m.set(data, at + 8);
    }
    this.#commitStage(at, fin ? Send.BINARY : Send.BINARY_PIECE, n);
  }

  /** Queues a ping (up to 125 bytes; throws the engine's refusal). */
  ping(data) {
    if (this.#freed) return;
    this.#submit();
    this.#c.ping(data);
    this.#later();
  }

  /** Queues an unsolicited pong (up to 125 bytes). */
  pong(data) {
    if (this.#freed) return;
    this.#submit();
    this.#c.pong(data);
    this.#later();
  }

  /** Starts the closing handshake (throws the engine's refusal). */
  close(code, reason) {
    if (this.#freed) return;
    this.#submit();
    this.#c.close(code, reason, performance.now());
    this.#later();
  }

  /** Deferred server: accepts the upgrade (throws the engine's refusal: a request that is
   * no valid upgrade is then answered with its rejection and the connection fails). */
  accept(protocol, headers) {
    if (this.#freed) return;
    try {
      this.#c.accept(protocol, headers);
    } finally {
      this.#later();
    }
  }

  /** Deferred server: refuses the upgrade with an HTTP status. */
  reject(status, message) {
    if (this.#freed) return;
    this.#c.reject(status, message);
    this.#later();
  }

  /** Ends the connection without a closing handshake (`closed` follows, not clean). */
  abort() {
    if (this.#freed) return;
    this.#c.abort();
    this.#later();
  }

  /** Room for a staged send of up to `max` bytes; returns its address. */
  #reserve(max) {
    const w = words();
    const r = this.#r;
    const need = this.#staged + 8 + max;
    if (need > w[r + Report.SENDS_CAP]) {
      if (this.#staged > 0 && 8 + max <= w[r + Report.SENDS_CAP]) {
        this.#submit();
      } else {
        this.#c.reserveSends(need);
      }
      return words()[r + Report.SENDS] + this.#staged;
    }
    return w[r + Report.SENDS] + this.#staged;
  }

  /** Writes a staged send's header ([kind, length] as little-endian u32) and counts it. */
  #commitStage(at, kind, n) {
    const m = bytes();
    m[at] = kind;
    m[at + 1] = 0;
    m[at + 2] = 0;
    m[at + 3] = 0;
    m[at + 4] = n & 0xff;
    m[at + 5] = (n >>> 8) & 0xff;
    m[at + 6] = (n >>> 16) & 0xff;
    m[at + 7] = n >>> 24;
    this.#staged += 8 + ((n + 3) & ~3);
    this.#stagedBytes += n;
    if (this.#staged >= STAGE_LIMIT) this.#submit();
    this.#later();
  }

  /** Hands the staged sends in now, without collecting (a send must follow them). */
  #submit() {
    if (this.#staged === 0) return;
    const staged = this.#staged;
    this.#buffered += this.#stagedBytes;
    this.#staged = 0;
    this.#stagedBytes = 0;
    this.#c.submit(staged);
  }

  /** Something to hand in: a call at the end of this turn (or of the running loop). */
  #later() {
    this.#flush = true;
    if (this.#busy || this.#queued || !this.#started) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.#pump();
    });
  }

  /** Makes calls until there is nothing to hand in. */
  #pump() {
    if (this.#busy || this.#held || this.#freed || !this.#started) return;
    this.#busy = true;
    const c = this.#c;
    // One clock reading per turn: time the engine keeps is in milliseconds.
    let now = performance.now();
    let calls = 0;
    try {
      for (;;) {
        const taken = this.#taken;
        const staged = this.#staged;
        let count;
        if (this.#head < this.#backlog.length && !this.#blocked && !this.#done) {
          if ((++calls & 63) === 0) now = performance.now();
          this.#taken = 0;
          this.#staged = 0;
          this.#stagedBytes = 0;
          count = this.#read(now, taken, staged);
        } else if (this.#flush || staged > 0) {
          this.#flush = false;
          this.#taken = 0;
          this.#staged = 0;
          this.#stagedBytes = 0;
          count = c.flush(taken, staged);
        } else if (this.#eof && !this.#eofSent && !this.#done && this.#head === this.#backlog.length) {
          this.#eofSent = true;
          this.#taken = 0;
          this.#staged = 0;
          this.#stagedBytes = 0;
          count = c.readEof(taken, staged);
        } else if (this.#timerDue) {
          this.#timerDue = false;
          this.#taken = 0;
          this.#staged = 0;
          this.#stagedBytes = 0;
          count = c.handleTimeout(performance.now(), taken, staged);
        } else {
          break;
        }
        this.#after(count);
        if (this.#held || this.#freed) break;
      }
    } finally {
      this.#busy = false;
    }
    this.#finish();
  }

  /** Hands in the oldest chunk read (as much as the inbox holds). */
  #read(now, taken, staged) {
    const w = words();
    const r = this.#r;
    const cap = w[r + Report.INBOX_CAP];
    let chunk = this.#backlog[this.#head];
    if (chunk.byteLength > cap) {
      this.#backlog[this.#head] = chunk.subarray(cap);
      chunk = chunk.subarray(0, cap);
    } else {
      this.#backlog[this.#head++] = undefined;
      if (this.#head === this.#backlog.length) {
        this.#backlog.length = 0;
        this.#head = 0;
      }
    }
    const n = chunk.byteLength;
    const at = w[r + Report.INBOX];
    const m = bytes();
    if (n <= 32) {
      for (let i = 0; i < n; i++) m[at + i] = chunk[i];
    } else {
      m.set(chunk, at);
    }
    return this.#c.read(n, now, taken, staged);
  }

  /** Carries out a report: output, flags, the timer, then the events. */
  #after(count) {
    const r = this.#r;
    const w = words();
    const flags = w[r + Report.FLAGS];
    this.#buffered = w[r + Report.BUFFERED];
    this.#left = false;
    if (w[r + Report.OUT_LEN0] + w[r + Report.OUT_LEN1] + w[r + Report.OUT_LEN2] !== 0) this.#output(w, flags, count);
    if ((flags & (Flag.INPUT_BLOCKED | Flag.ERROR)) !== 0 || this.#blocked) this.#flags(flags);
    const lo = w[r + Report.WAKE_LO];
    const hi = w[r + Report.WAKE_HI];
    if (lo !== this.#wakeLo || hi !== this.#wakeHi) this.#schedule(lo, hi);
    if ((flags & Flag.MORE_EVENTS) !== 0) this.#flush = true;
    if (count === 0) return;
    let at = w[r + Report.RECORDS] >>> 2;
    const head = w[at];
    if (count === 1 && (head & 0xff) === EventKind.MESSAGE) {
      // The common batch: one message.
      const h = this.#hooks;
      const text = ((head >>> 8) & EventFlag.TEXT) !== 0;
      const fin = ((head >>> 8) & EventFlag.FIN) !== 0;
      if (h.messageAt !== undefined) h.messageAt(text, w[at + 2], w[at + 3], fin);
      else h.message?.(text, bytes().subarray(w[at + 2], w[at + 2] + w[at + 3]), fin);
      return;
    }
    for (let i = 0; i < count && !this.#freed; i++, at += RECORD_WORDS) this.#event(at);
  }

  /** Takes the output, when the transport has room and it is worth a write now. */
  #output(w, flags, count) {
    const r = this.#r;
    const l0 = w[r + Report.OUT_LEN0];
    const l1 = w[r + Report.OUT_LEN1];
    const l2 = w[r + Report.OUT_LEN2];
    const total = l0 + l1 + l2;
    // While the engine stopped after a message with more to come, small output waits to
    // leave with the replies in one write.
    if (
      (flags & (Flag.MORE_EVENTS | Flag.MORE_OUTPUT)) === Flag.MORE_EVENTS &&
      total < COALESCE &&
      count > 0 &&
      (w[(w[r + Report.RECORDS] >>> 2) + (count - 1) * RECORD_WORDS] & 0xff) === EventKind.MESSAGE
    ) {
      return;
    }
    if (!this.#t.room) {
      this.#left = true;
      this.#t.waitRoom();
      return;
    }
    const m = bytes();
    let out;
    const p0 = w[r + Report.OUT0];
    if (total === l0) {
      out = m.slice(p0, p0 + l0);
    } else {
      out = new Uint8Array(total);
      out.set(m.subarray(p0, p0 + l0));
      const p1 = w[r + Report.OUT1];
      out.set(m.subarray(p1, p1 + l1), l0);
      const p2 = w[r + Report.OUT2];
      out.set(m.subarray(p2, p2 + l2), l0 + l1);
    }
    this.#taken = total;
    this.#t.write(out);
    // More waits behind what was taken: ask for it while there is room.
    if ((flags & Flag.MORE_OUTPUT) !== 0) {
      if (this.#t.room) {
        this.#flush = true;
      } else {
        this.#left = true;
        this.#t.waitRoom();
      }
    }
  }

  /** The rare flags: input the engine cannot take yet, a refused staged send. */
  #flags(flags) {
    if ((flags & Flag.INPUT_BLOCKED) !== 0) {
      if (!this.#blocked) {
        this.#blocked = true;
        this.#t.pause();
      }
      // The engine reads on once its output moves.
      if (this.#taken > 0) this.#flush = true;
    } else if (this.#blocked) {
      this.#blocked = false;
      this.#t.resume();
    }
    if ((flags & Flag.ERROR) !== 0) {
      const e = this.#c.takeError();
      if (e) this.#hooks.error?.(e);
    }
  }

  /** Hands one event record on (at word `at`). */
  #event(at) {
    const c = this.#c;
    const h = this.#hooks;
    const w = words(); // a hook may have grown the memory
    const head = w[at];
    const kind = head & 0xff;
    const ptr = w[at + 2];
    const status = w[at + 1];
    const len = w[at + 3];
    switch (kind) {
      case EventKind.MESSAGE: {
        const text = ((head >>> 8) & EventFlag.TEXT) !== 0;
        const fin = ((head >>> 8) & EventFlag.FIN) !== 0;
        // The package's own hosts take the bytes' place (no view made); others get a view.
        if (h.messageAt !== undefined) h.messageAt(text, ptr, len, fin);
        else h.message?.(text, bytes().subarray(ptr, ptr + len), fin);
        break;
      }
      case EventKind.REQUEST:
        h.request?.(c.request);
        break;
      case EventKind.OPEN:
        // Like a browser's, nothing else is indicated in the task that indicated open.
        this.#held = true;
        setTimeout(() => {
          this.#held = false;
          this.#flush = true;
          this.#pump();
        }, 0);
        h.open?.(c.subprotocol ?? '', c.headers, c.target, c.extensions ?? '');
        break;
      case EventKind.PING:
        h.ping?.(bytes().subarray(ptr, ptr + len));
        break;
      case EventKind.PONG:
        h.pong?.(bytes().subarray(ptr, ptr + len));
        break;
      case EventKind.CLOSE_RECEIVED:
        h.closing?.(status, decoder.decode(bytes().subarray(ptr, ptr + len)));
        break;
      case EventKind.FAILED:
        h.failed?.(c.error, status);
        break;
      case EventKind.CLOSED:
        this.#done = true;
        this.#backlog.length = 0;
        this.#head = 0;
        h.closed?.(((head >>> 8) & EventFlag.CLEAN) !== 0, status, decoder.decode(bytes().subarray(ptr, ptr + len)));
        break;
    }
  }

  /** Keeps one timer at the engine's next deadline. */
  #schedule(lo, hi) {
    this.#wakeLo = lo;
    this.#wakeHi = hi;
    if (lo === NONE && hi === NONE) {
      if (this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#timerAt = -1;
      }
      return;
    }
    const at = hi * 4294967296 + lo;
    if (at === this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = -1;
        this.#wakeLo = -1; // the next report arms the timer again, whatever it says
        this.#timerDue = true;
        this.#pump();
      },
      Math.max(0, at - performance.now() + 1),
    );
    this.#timer.unref?.();
  }

  /** After `closed`, with the output written: closes the transport and frees the engine. */
  #finish() {
    if (!this.#done || this.#freed || this.#busy || this.#left) return;
    this.#freed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#t.end();
    this.#buffered = 0;
    this.#taken = 0;
    this.#c.free();
  }

  /** Drops the transport and the connection at once, indicating nothing more. */
  destroy() {
    if (this.#freed) return;
    this.#freed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#t.destroy();
    if (!this.#busy) this.#c.free();
    else queueMicrotask(() => this.#c.free());
  }
}

/** The UTF-8 length of `text` (lone surrogates count 3, as they are sent as U+FFFD). */
function utf8Length(text) {
  if (typeof Buffer === 'function') return Buffer.byteLength(text, 'utf8');
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x800) {
      // A surrogate pair is 4 bytes for 2 units; anything else up here is 3.
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        n += 2;
        i++;
      } else {
        n += 2;
      }
    } else if (c >= 0x80) {
      n += 1;
    }
  }
  return n;
}
