// The action loop over a byte stream pair: the host's half of websocket.dll's model.
// It moves bytes and nothing else: every frame, mask, check and close rule is the engine's.

import { Action, ActionQueue, BufferType } from './constants.js';
import { bytes, words } from './memory.js';

const encoder = new TextEncoder();

// The out-parameters of getAction, as u32 slots from the handle's outAddress (bindings/js).
const TYPE = 1;
const PTR0 = 2;
const LEN0 = 3;
const PTR1 = 4;
const LEN1 = 5;
const TOKEN_LO = 6;
const TOKEN_HI = 7;
const CLOSE_STATUS = 8;
const COMPLETED = 9;
/** Frames at least this long are written as they are; shorter ones are joined. */
const LARGE = 1 << 16;
/** Written bytes whose writes have not completed, beyond which frames wait. Web-stream
 * adapters count chunks, not bytes (Node's Duplex.toWeb has room for 16384 chunks), so
 * the room is measured here too. */
const HIGH_WATER = 1 << 20;

/**
 * @typedef {object} StreamPair A bidirectional byte stream: a WebTransport bidirectional
 *   stream, `Duplex.toWeb(socket)`, a workerd `connect()` socket, or anything alike.
 * @property {ReadableStream<Uint8Array>} readable
 * @property {WritableStream<Uint8Array>} writable
 */

/**
 * @typedef {object} DriverHooks
 * @property {(type: number, bytes: Uint8Array, closeStatus: number) => void} onPiece
 *   Each indication of the receive side: a data piece, a pong (`PING_PONG`), a close
 *   (`CLOSE`, with its status), or type 0 when the stream ended. `bytes` is a view of the
 *   engine's memory, valid only during the call: copy or decode it before anything else.
 * @property {(error: Error) => void} onError A protocol error in received data (it carries
 *   the `closeStatus` to answer with), or a failed transport.
 */

/**
 * Runs a handle's action loop over a {@link StreamPair}, both ways at once.
 *
 * Backpressure: the transport is read only when the engine asks for bytes, and no more
 * than it asks for (the rest of a chunk waits for the next ask); a send's frames are
 * completed only once the writable has room, so a slow peer holds sends in the queue
 * (`bufferedAmount`). Bytes are never dropped or reordered: each frame is one write.
 */
export class Driver {
  #h;
  /** The index of the handle's out-parameters in `words()`. */
  #o;
  #reader;
  #writer;
  #hooks;
  /** The unread rest of the last chunk read. */
  #chunk = null;
  /** Sends waiting for the engine, oldest at `#head`. */
  #queue = [];
  #head = 0;
  /** The send the engine has (one at a time): its byte count and its `done`. */
  #sending = false;
  #sendSize = 0;
  #sendDone = null;
  /** The token of the last send's indicate-send-complete while the pump still runs, or -1
   * (a number either way: the field then holds its double without a new box per send). */
  #indication = -1;
  #pumping = false;
  /** Whether the writable has no room: frames wait (updated as writes go and complete). */
  #full = false;
  /** A send-to-network frame waiting for room in the writable, and whether we wait. */
  #held = null;
  #waitingRoom = false;
  /** Bytes handed to `write` whose writes are not done. */
  #inFlight = 0;
  /** Chunks ready to write, in order, and the small frames being joined after them. */
  #out = [];
  #outBytes = 0;
  #batch = null;
  #batchLen = 0;
  #flushQueued = false;
  #wakeReceive = null;
  #queuedBytes = 0;
  #failed = null;
  /** Set once the writable failed: frames are then completed as unwritten (0 bytes). */
  #writeFailed = false;
  #receiving = false;
  /** The handle's lifetime: destroy() ends the loops, which free the handle once out. */
  #destroyed = false;
  #looping = false;
  #freed = false;

  /**
   * @param {import('../wasm/wsengine.js').Handle} handle An open handle.
   * @param {StreamPair} stream
   * @param {DriverHooks} hooks
   */
  constructor(handle, stream, hooks) {
    this.#h = handle;
    this.#o = handle.outAddress >>> 2;
    this.#reader = stream.readable.getReader();
    this.#writer = stream.writable.getWriter();
    this.#hooks = hooks;
    // A failed write stops the sends only: what the peer sent before is still read, and
    // the receive side reports the end (a peer's close may be waiting in the readable).
    this.#writer.closed.catch(() => {
      this.#writeFailed = true;
      this.#out = [];
      this.#outBytes = 0;
      this.#batch = null;
      this.#batchLen = 0;
    });
  }

  /** The handle this driver runs. */
  get handle() {
    return this.#h;
  }

  /** Bytes of sends not yet handed to the transport. */
  get bufferedAmount() {
    return this.#queuedBytes + this.#outBytes;
  }

  /** Starts the receive loop; it ends when the receive side does. */
  start() {
    if (!this.#receiving) {
      this.#receiving = true;
      this.#receiveLoop().catch((e) => this.#fail(e));
    }
  }

  /**
   * Sends: `data` is a Uint8Array (copied, now or when the engine takes it), a string
   * (text, encoded on the way in), `undefined` (ping, unsolicited pong, empty close) or
   * `{ status, reason }` for a close. When no other send is in the way it goes to the
   * engine at once (no copy, no queue entry); else it waits in order. `done(error,
   * completed)` is called once the send is over: with the engine's error when it refuses
   * the send, else with true when every byte went to the transport (false when an abort
   * or a failed write cancelled it).
   * @param {number} type A {@link BufferType}.
   * @param {Uint8Array | string | undefined | {status: number, reason: Uint8Array}} data
   * @param {(error: Error | null, completed: boolean) => void} [done]
   */
  send(type, data, done) {
    // Text crosses into the engine as UTF-8 bytes (which bufferedAmount counts).
    const text = typeof data === 'string';
    if (text) data = encoder.encode(data);
    if (!this.#pumping && !this.#sending && this.#head === this.#queue.length) {
      this.#pumpSends(type, data, done);
      return;
    }
    // It waits behind another send: keep what the caller passed now, as WebSocket.send does.
    if (!text && data instanceof Uint8Array) data = data.slice();
    const size = byteSize(data);
    this.#queue.push({ type, data, size, done });
    this.#queuedBytes += size;
    this.#pumpSends();
  }

  /** Ends the outgoing byte stream (after the close handshake). */
  async closeTransport() {
    this.#flush();
    await this.#writer.close().catch(() => {});
  }

  /**
   * Ends the transport both ways (what was sent is written, nothing more is read) and frees
   * the handle, once no loop is inside a step: a read that completes later must not write
   * into the memory of a freed handle.
   */
  destroy(reason) {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#wake();
    // Cancelling first could tear down a transport (a Node socket) before the writes left.
    this.closeTransport().then(() => this.#reader.cancel(reason).catch(() => {}));
    this.#release();
  }

  /** Frees the handle after destroy(), when neither loop is running. */
  #release() {
    if (this.#destroyed && !this.#looping && !this.#pumping && !this.#freed) {
      this.#freed = true;
      this.#h.free();
    }
  }

  #fail(e) {
    if (this.#failed) return;
    this.#failed = e ?? new Error('the transport failed');
    this.#hooks.onError(this.#failed);
  }

  /**
   * Carries out the send in progress, then `type`/`data` (a send that queued nothing),
   * then the queued sends, until the queue is empty or a frame has to wait for room.
   */
  #pumpSends(type, data, done) {
    if (this.#pumping || this.#failed || this.#destroyed) return;
    this.#pumping = true;
    try {
      let over = this.#sending ? this.#resume() : true;
      if (over && type !== undefined) {
        const size = byteSize(data);
        this.#queuedBytes += size;
        over = this.#transmit(type, data, size, done);
      }
      while (over && !this.#destroyed) {
        const op = this.#next();
        if (op === undefined) break;
        over = this.#transmit(op.type, op.data, op.size, op.done);
      }
      const last = this.#indication;
      if (last !== -1) {
        this.#indication = -1;
        this.#h.completeAction(last, 0);
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#pumping = false;
      this.#release();
    }
    // Waiting for room: the writable's own signal when it is full; when our writes in
    // flight are the reason, their completions (#written) pump again.
    if (this.#held !== null && !this.#waitingRoom && (this.#writer.desiredSize ?? 1) <= 0) {
      this.#waitingRoom = true;
      const again = () => {
        this.#waitingRoom = false;
        this.#full = this.#noRoom();
        this.#pumpSends(); // failed: the held frame completes as unwritten
      };
      this.#writer.ready.then(again, again);
    }
  }

  /** Hands a send to the engine and carries out its actions; false when it has to wait. */
  #transmit(type, data, size, done) {
    // The last send's indication is completed by the same call (it cannot fail: the
    // engine just handed its token out).
    const last = this.#indication;
    this.#indication = -1;
    let kind;
    try {
      kind = startSend(this.#h, last === -1 ? undefined : last, type, data);
    } catch (e) {
      this.#queuedBytes -= size;
      done?.(e, false);
      return true;
    }
    this.#sending = true;
    this.#sendSize = size;
    this.#sendDone = done;
    return this.#carry(kind);
  }

  /** Goes on with the send in progress: a frame that waited for room, or an action. */
  #resume() {
    const f = this.#held;
    if (f === null) return this.#carry(this.#h.getAction(ActionQueue.SEND));
    if (this.#full && !this.#writeFailed) return false;
    this.#held = null;
    const kind = this.#h.step(f.token, this.#take(f.p0, f.l0, f.p1, f.l1), ActionQueue.SEND);
    this.#scheduleFlush();
    return this.#carry(kind);
  }

  /**
   * Carries out the send's actions from `kind` on: true once it is over, false when it
   * waits (a frame for room, or an automatic pong that goes first: the receive side wakes
   * us).
   */
  #carry(kind) {
    const h = this.#h;
    const o = this.#o;
    for (;;) {
      if (kind === Action.NO_ACTION) return false;
      const w = words();
      const token = w[o + TOKEN_LO] + w[o + TOKEN_HI] * 4294967296;
      if (kind === Action.SEND_TO_NETWORK) {
        const p0 = w[o + PTR0];
        const l0 = w[o + LEN0];
        const p1 = w[o + PTR1];
        const l1 = w[o + LEN1];
        if (this.#full && !this.#writeFailed) {
          // No room: the frame stays with the engine (its ranges stay put) until there is.
          this.#held = { token, p0, l0, p1, l1 };
          return false;
        }
        kind = h.step(token, this.#take(p0, l0, p1, l1), ActionQueue.SEND);
        this.#scheduleFlush();
      } else {
        // INDICATE_SEND_COMPLETE
        // Completed by the next send, or when the pump ends.
        const completed = w[o + COMPLETED] !== 0;
        this.#indication = token;
        const done = this.#sendDone;
        this.#sending = false;
        this.#sendDone = null;
        this.#queuedBytes -= this.#sendSize;
        done?.(null, completed);
        this.#wake();
        return true;
      }
    }
  }

  /** The oldest queued send, taken off the queue. */
  #next() {
    if (this.#head === this.#queue.length) {
      if (this.#head > 0) {
        this.#queue = [];
        this.#head = 0;
      }
      return undefined;
    }
    const op = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return op;
  }

  /** True while the transport has no room: frames wait in the engine until it has. */
  #noRoom() {
    const room = this.#writer.desiredSize;
    return this.#inFlight >= HIGH_WATER || (room !== null && room <= 0);
  }

  /**
   * Copies out a send-to-network frame (its two ranges in the engine's memory); returns
   * the byte count to complete it with (0 once the writable failed: that cancels the send).
   */
  #take(p0, l0, p1, l1) {
    if (this.#writeFailed) return 0;
    const m = bytes();
    if (l0 + l1 >= LARGE) {
      this.#endBatch();
      const f = new Uint8Array(l0 + l1);
      f.set(m.subarray(p0, p0 + l0));
      f.set(m.subarray(p1, p1 + l1), l0);
      this.#out.push(f);
    } else {
      this.#put(m, p0, l0);
      this.#put(m, p1, l1);
    }
    this.#outBytes += l0 + l1;
    return l0 + l1;
  }

  /** Writes what was taken at the end of this turn, or now when it is a lot. */
  #scheduleFlush() {
    if (this.#outBytes >= 1 << 20) {
      this.#flush(); // enough for one turn: the writable's room decides what comes next
    } else if (this.#outBytes > 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
  }

  /**
   * Appends `len` bytes at `ptr` of the engine's memory to the batch of small frames. A
   * full batch becomes a chunk to write and the next one starts (no copy to regrow).
   */
  #put(m, ptr, len) {
    let b = this.#batch;
    if (b === null || this.#batchLen + len > b.length) {
      this.#endBatch();
      // The first batch of a turn is small (a turn often has one frame), later ones 64 KiB.
      b = this.#batch = new Uint8Array(Math.max(len, this.#out.length === 0 ? 16384 : LARGE));
    }
    const at = this.#batchLen;
    if (len <= 32) {
      for (let i = 0; i < len; i++) b[at + i] = m[ptr + i];
    } else {
      b.set(m.subarray(ptr, ptr + len), at);
    }
    this.#batchLen = at + len;
  }

  /** Closes the batch of small frames as one chunk to write. */
  #endBatch() {
    if (this.#batchLen > 0) this.#out.push(this.#batch.subarray(0, this.#batchLen));
    this.#batch = null;
    this.#batchLen = 0;
  }

  /** Writes the chunks of this turn, in order (a failed write errors the writable once). */
  #flush() {
    this.#endBatch();
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    this.#outBytes = 0;
    for (const chunk of out) {
      const n = chunk.byteLength;
      this.#inFlight += n;
      // A failed write errors the writable; `closed` reports it once.
      this.#writer.write(chunk).then(
        () => this.#written(n),
        () => this.#written(n),
      );
    }
    // The room changes only with writes and their completions: it is kept, not asked per frame.
    this.#full = this.#noRoom();
  }

  /** A write is done: a frame waiting for room may go now. */
  #written(n) {
    this.#inFlight -= n;
    this.#full = this.#noRoom();
    if (this.#held !== null && !this.#full) this.#pumpSends();
  }

  #wake() {
    const wake = this.#wakeReceive;
    this.#wakeReceive = null;
    wake?.();
  }

  async #receiveLoop() {
    this.#looping = true;
    try {
      await this.#receiveSteps();
    } finally {
      this.#looping = false;
      this.#release();
    }
  }

  async #receiveSteps() {
    const h = this.#h;
    const o = this.#o;
    let kind;
    try {
      h.receive(undefined);
      kind = h.getAction(ActionQueue.RECEIVE);
    } catch (e) {
      this.#hooks.onError(e);
      return;
    }
    for (;;) {
      const w = words();
      const token = w[o + TOKEN_LO] + w[o + TOKEN_HI] * 4294967296;
      try {
        if (kind === Action.RECEIVE_FROM_NETWORK) {
          // The lent space stays at this address while the action is in flight; the
          // out-parameters do not (sends run meanwhile).
          const at = w[o + PTR0];
          const len = w[o + LEN0];
          if (this.#chunk === null) {
            const more = await this.#nextChunk();
            if (this.#destroyed) return; // nothing is written into a handle being freed
            if (!more) {
              kind = h.step(token, 0, ActionQueue.RECEIVE); // the end of the stream
              continue;
            }
          }
          kind = h.step(token, this.#fill(at, len), ActionQueue.RECEIVE);
        } else if (kind === Action.INDICATE_RECEIVE_COMPLETE) {
          const type = w[o + TYPE];
          const at = w[o + PTR0];
          this.#hooks.onPiece(type, bytes().subarray(at, at + w[o + LEN0]), w[o + CLOSE_STATUS]);
          if (type === 0) {
            h.completeAction(token, 0); // the stream ended
            return;
          }
          if (type === BufferType.CLOSE) {
            // The receive side is over. Read on to the end of the stream (RFC 6455 §7.1.1:
            // the server ends it first), then report the end.
            h.completeAction(token, 0);
            await this.#drain();
            this.#hooks.onPiece(0, new Uint8Array(0), 0);
            return;
          }
          kind = h.step(token, 0, ActionQueue.RECEIVE, true);
        } else if (kind === Action.SEND_TO_NETWORK) {
          // An automatic pong (small: taken whatever the room).
          kind = h.step(token, this.#take(w[o + PTR0], w[o + LEN0], w[o + PTR1], w[o + LEN1]), ActionQueue.RECEIVE);
          this.#scheduleFlush();
          this.#pumpSends(); // a send may have waited for it
        } else {
          // A send is reading the last piece out of the receive buffer: wait for it.
          await new Promise((resolve) => {
            this.#wakeReceive = resolve;
          });
          if (this.#destroyed) return;
          kind = h.getAction(ActionQueue.RECEIVE);
        }
      } catch (e) {
        this.#hooks.onError(e); // a protocol error in received data
        return;
      }
    }
  }

  /** Reads and drops what follows the close until the stream ends or fails. */
  async #drain() {
    this.#chunk = null;
    try {
      while (!(await this.#reader.read()).done);
    } catch {
      // cancelled or failed: ended either way
    }
  }

  /** Waits for the next chunk of the readable: false at its end (or when it failed). */
  async #nextChunk() {
    for (;;) {
      let result;
      try {
        result = await this.#reader.read();
      } catch {
        return false; // a failed transport ends the stream
      }
      if (result.done) return false;
      const v = result.value;
      if (v.byteLength > 0) {
        this.#chunk = v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        return true;
      }
    }
  }

  /** Copies what it can of the chunk into the `len` bytes at `ptr` a receive lent. */
  #fill(ptr, len) {
    const chunk = this.#chunk;
    const n = Math.min(len, chunk.length);
    bytes().set(n === chunk.length ? chunk : chunk.subarray(0, n), ptr);
    this.#chunk = n === chunk.length ? null : chunk.subarray(n);
    return n;
  }
}

/**
 * Hands a send to the engine, after completing the indication `last` names (if any), and
 * returns the send queue's next action (throws the engine's refusal).
 */
function startSend(h, last, type, data) {
  if (type === BufferType.CLOSE && data != null) {
    if (last !== undefined) h.completeAction(last, 0);
    h.sendClose(data.status, data.reason ?? new Uint8Array(0), undefined);
    return h.getAction(ActionQueue.SEND);
  }
  return h.sendStep(last, type, data ?? undefined, ActionQueue.SEND);
}

/** The bytes a send carries (a close's reason; nothing for a ping or an empty close). */
function byteSize(data) {
  if (data == null) return 0;
  return data.byteLength ?? data.reason?.byteLength ?? 0;
}
