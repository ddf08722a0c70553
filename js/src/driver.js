// The action loop over a byte stream pair: the host's half of websocket.dll's model.
// It moves bytes and nothing else: every frame, mask, check and close rule is the engine's.

import { Action, ActionQueue, BufferType } from './constants.js';

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
  #reader;
  #writer;
  #hooks;
  /** The unread rest of the last chunk read. */
  #chunk = null;
  /** Sends waiting for the engine (one is outstanding at a time). */
  #queue = [];
  #current = null;
  #pumping = false;
  #wakeReceive = null;
  #queuedBytes = 0;
  #failed = null;
  #receiving = false;

  /**
   * @param {import('../wasm/wsengine.js').Handle} handle An open handle.
   * @param {StreamPair} stream
   * @param {DriverHooks} hooks
   */
  constructor(handle, stream, hooks) {
    this.#h = handle;
    this.#reader = stream.readable.getReader();
    this.#writer = stream.writable.getWriter();
    this.#hooks = hooks;
    this.#writer.closed.catch((e) => this.#fail(e));
  }

  /** The handle this driver runs. */
  get handle() {
    return this.#h;
  }

  /** Bytes of sends not yet handed to the transport. */
  get bufferedAmount() {
    return this.#queuedBytes;
  }

  /** Starts the receive loop; it ends when the receive side does. */
  start() {
    if (!this.#receiving) {
      this.#receiving = true;
      this.#receiveLoop().catch((e) => this.#fail(e));
    }
  }

  /**
   * Queues a send: `data` is a Uint8Array (copied in), a string (text, encoded on the way
   * in), `undefined` (ping, unsolicited pong, empty close) or `{ status, reason }` for a
   * close. Resolves with true once every byte went to the transport (false when the
   * send was cancelled by an abort or a failed write); rejects with the engine's error
   * when it refuses the send.
   * @param {number} type A {@link BufferType}.
   * @param {Uint8Array | string | undefined | {status: number, reason: Uint8Array}} data
   * @returns {Promise<boolean>}
   */
  send(type, data) {
    return new Promise((resolve, reject) => {
      const size = data == null ? 0 : typeof data === 'string' ? data.length : (data.byteLength ?? 0);
      this.#queue.push({ type, data, size, resolve, reject });
      this.#queuedBytes += size;
      this.#pumpSends();
    });
  }

  /** Ends the outgoing byte stream (after the close handshake). */
  async closeTransport() {
    await this.#writer.close().catch(() => {});
  }

  /** Drops the transport both ways at once (after an abort or a failure). */
  destroy(reason) {
    this.#reader.cancel(reason).catch(() => {});
    this.#writer.abort(reason).catch(() => {});
  }

  #fail(e) {
    if (this.#failed) return;
    this.#failed = e ?? new Error('the transport failed');
    this.#hooks.onError(this.#failed);
  }

  /** Starts queued sends and carries out the send queue's actions. */
  async #pumpSends() {
    if (this.#pumping) return;
    this.#pumping = true;
    const h = this.#h;
    try {
      for (;;) {
        if (this.#current === null) {
          const op = this.#queue.shift();
          if (op === undefined) break;
          try {
            startSend(h, op.type, op.data);
          } catch (e) {
            this.#queuedBytes -= op.size;
            op.reject(e);
            continue;
          }
          this.#current = op;
        }
        const kind = h.getAction(ActionQueue.SEND);
        if (kind === Action.NO_ACTION) break; // an automatic pong goes first; the receive side wakes us
        if (kind === Action.SEND_TO_NETWORK) {
          await this.#write();
        } else if (kind === Action.INDICATE_SEND_COMPLETE) {
          const op = this.#current;
          const completed = h.actionCompleted;
          h.completeAction(h.actionToken, 0);
          this.#current = null;
          this.#queuedBytes -= op.size;
          op.resolve(completed);
          this.#wake();
        }
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#pumping = false;
    }
  }

  /** Writes the frame of the send-to-network action just returned, then completes it. */
  async #write() {
    const h = this.#h;
    const token = h.actionToken;
    const frame = h.actionData();
    if (this.#writer.desiredSize !== null && this.#writer.desiredSize <= 0) {
      await this.#writer.ready;
    }
    // A failed write errors the writable; `closed` reports it once.
    this.#writer.write(frame).catch(() => {});
    h.completeAction(token, this.#failed ? 0 : frame.byteLength);
  }

  #wake() {
    const wake = this.#wakeReceive;
    this.#wakeReceive = null;
    wake?.();
  }

  async #receiveLoop() {
    const h = this.#h;
    for (;;) {
      try {
        h.receive(undefined);
      } catch {
        // The receive side is over: the peer's close arrived. Read on to the end of the
        // stream (RFC 6455 §7.1.1: the server ends it first), then report the end.
        await this.#drain();
        this.#hooks.onPiece(0, new Uint8Array(0), 0);
        return;
      }
      for (;;) {
        let kind;
        try {
          kind = h.getAction(ActionQueue.RECEIVE);
        } catch (e) {
          this.#hooks.onError(e); // a protocol error in received data
          return;
        }
        if (kind === Action.RECEIVE_FROM_NETWORK) {
          const token = h.actionToken;
          h.completeAction(token, await this.#read(token));
        } else if (kind === Action.INDICATE_RECEIVE_COMPLETE) {
          const type = h.actionBufferType;
          const token = h.actionToken;
          const status = h.actionCloseStatus;
          this.#hooks.onPiece(type, h.actionView(0), status);
          h.completeAction(token, 0);
          if (type === 0) return; // the stream ended
          break;
        } else if (kind === Action.SEND_TO_NETWORK) {
          await this.#write(); // an automatic pong
          this.#pumpSends(); // a send may have waited for it
        } else {
          // A send is reading the last piece out of the receive buffer: wait for it.
          await new Promise((resolve) => {
            this.#wakeReceive = resolve;
          });
        }
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

  /** Reads into the buffer `token` lent, at most its size; 0 at the end of the stream. */
  async #read(token) {
    while (this.#chunk === null) {
      let result;
      try {
        result = await this.#reader.read();
      } catch {
        return 0; // a failed transport ends the stream
      }
      if (result.done) return 0;
      const v = result.value;
      if (v.byteLength > 0) {
        this.#chunk = v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      }
    }
    // The view is taken after the read: awaiting may have grown the engine's memory.
    const into = this.#h.readBuffer(token);
    const chunk = this.#chunk;
    const n = Math.min(into.length, chunk.length);
    into.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    this.#chunk = n === chunk.length ? null : chunk.subarray(n);
    return n;
  }
}

/** Hands one queued send to the engine (throws its refusal). */
function startSend(h, type, data) {
  if (type === BufferType.CLOSE) {
    if (data == null) h.send(type, undefined, undefined);
    else h.sendClose(data.status, data.reason ?? new Uint8Array(0), undefined);
  } else if (typeof data === 'string') {
    h.sendText(type, data, undefined);
  } else {
    h.send(type, data ?? undefined, undefined);
  }
}
