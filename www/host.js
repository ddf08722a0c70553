// The playground's host: websocket.dll's action loop written out one action at a time, so
// the page can show every call and let the user step through them. Like any host it only
// moves bytes and calls the engine; every frame, mask, check and close rule is the engine's.

import { Action, ActionQueue, BufferType, closeReply } from '/js/src/engine/browser.js';

/** True for the handle states after which the transport is closed (`handle.state`). */
export const isOver = (state) => ['closed', 'failed', 'send-broken', 'aborted'].includes(state);

const ACTION_NAMES = Object.fromEntries(Object.entries(Action).map(([k, v]) => [v, k]));
const TYPE_NAMES = Object.fromEntries(Object.entries(BufferType).map(([k, v]) => [v, k]));

/** `SEND_TO_NETWORK` for 1, and so on. */
export const actionName = (kind) => ACTION_NAMES[kind] ?? String(kind);
/** `UTF8_MESSAGE` for 0x80000000, and so on; '' for none. */
export const typeName = (type) => TYPE_NAMES[type] ?? (type ? `0x${type.toString(16)}` : '');

/**
 * Taps a stream pair: `onOut` sees every chunk written, `onIn` every chunk read, before
 * they go on. The wire view is fed this way, handshake included.
 */
export function tap(stream, onOut, onIn) {
  const out = new TransformStream({
    transform(chunk, c) {
      onOut?.(chunk.slice());
      c.enqueue(chunk);
    },
  });
  out.readable.pipeTo(stream.writable).catch(() => {});
  if (!onIn) return { readable: stream.readable, writable: out.writable };
  const inn = new TransformStream({
    transform(chunk, c) {
      onIn(chunk.slice());
      c.enqueue(chunk);
    },
  });
  stream.readable.pipeTo(inn.writable).catch(() => {});
  return { readable: inn.readable, writable: out.writable };
}

/** Two stream pairs joined back to back in memory: what one writes, the other reads. */
export function memoryPipe() {
  const ab = new TransformStream();
  const ba = new TransformStream();
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/**
 * @typedef {object} EndpointEvents
 * @property {(entry: {call: string, action?: number, type?: number, bytes?: number, note?: string}) => void} log
 *   A call into the engine (send, receive, getAction, completeAction) and what it carried.
 * @property {(message: {type: number, bytes: Uint8Array, pieces: number}) => void} message
 *   A whole message received (its pieces joined).
 * @property {(close: {status: number, reason: Uint8Array, replied: boolean}) => void} close
 *   The peer's close indication.
 * @property {(state: string) => void} state The handle's state, after every step.
 * @property {(error: Error) => void} error An engine error (a refused send, a protocol error).
 * @property {() => void} wake Bytes arrived: there may be work.
 */

/** One handle over one stream pair, stepped by a {@link Playground}. */
export class Endpoint {
  /**
   * @param {string} name
   * @param {import('/js/index.d.ts').Handle} handle An open handle.
   * @param {{readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>}} stream
   * @param {EndpointEvents} events
   */
  constructor(name, handle, stream, events) {
    this.name = name;
    this.handle = handle;
    this.events = events;
    this.writer = stream.writable.getWriter();
    this.reader = stream.readable.getReader();
    /** Chunks read and not yet given to the engine; `ended` once the stream is over. */
    this.inbox = [];
    this.ended = false;
    /** Sends waiting for the one before them to complete (websocket.dll allows one). */
    this.queue = [];
    this.sending = false;
    /** The token of a receive-from-network action waiting for bytes. */
    this.read = null;
    this.receiving = false;
    this.pieces = [];
    this.done = false;
    this.ending = false;
    this.lastState = '';
    this.#readLoop();
    this.#receive();
    this.#reportState();
  }

  async #readLoop() {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        if (value.byteLength > 0) this.inbox.push(value);
        this.events.wake();
      }
    } catch {
      // a failed or cancelled transport ends the stream too
    }
    this.ended = true;
    this.events.wake();
  }

  /**
   * Sends: `type` a BufferType; `data` bytes, or `{status, reason}` for a close, or
   * undefined. It goes to the engine at once when no send is in flight; the engine's
   * refusal is reported (and thrown back to the caller) then.
   */
  send(type, data) {
    this.queue.push({ type, data });
    if (!this.sending) this.#submit(true);
  }

  /** Hands the next queued send to the engine. */
  #submit(rethrow = false) {
    while (!this.sending && this.queue.length > 0 && !this.done) {
      const { type, data } = this.queue.shift();
      try {
        if (type === BufferType.CLOSE && data) {
          this.handle.sendClose(data.status, data.reason, undefined);
          this.events.log({ call: 'send', type, bytes: 2 + data.reason.length, note: `close ${data.status}` });
        } else {
          this.handle.send(type, data, undefined);
          this.events.log({ call: 'send', type, bytes: data?.length ?? 0 });
        }
        this.sending = true;
      } catch (e) {
        this.events.log({ call: 'send', type, note: `refused: ${e.message}` });
        this.events.error(e);
        if (rethrow) throw e;
      }
    }
  }

  #receive() {
    if (this.receiving || this.done) return;
    try {
      this.handle.receive(undefined);
      this.receiving = true;
      this.events.log({ call: 'receive' });
    } catch (e) {
      // closed for receiving: nothing more will come
    }
  }

  /** True when a step would do something now. */
  get ready() {
    if (this.done) return false;
    if (this.read !== null && (this.inbox.length > 0 || this.ended)) return true;
    return this.queue.length > 0 || this.sending || (this.read === null && this.receiving);
  }

  /** Carries out one action (get it, do it, complete it); false when there was none. */
  step() {
    if (this.done) return false;
    const h = this.handle;
    try {
      if (this.read !== null && (this.inbox.length > 0 || this.ended)) {
        this.#fill();
        return true;
      }
      this.#submit();
      // With a read waiting for bytes, only the send queue can move.
      const kind = h.getAction(this.read === null ? ActionQueue.ALL : ActionQueue.SEND);
      if (kind === Action.NO_ACTION) return false;
      const token = h.actionToken;
      const type = h.actionBufferType;
      this.events.log({ call: 'getAction', action: kind, type, bytes: h.actionByteLength });
      if (kind === Action.SEND_TO_NETWORK) {
        const frame = h.actionData();
        this.writer.write(frame).catch(() => {});
        h.completeAction(token, frame.length);
        this.events.log({ call: 'completeAction', action: kind, type, bytes: frame.length, note: 'written' });
      } else if (kind === Action.INDICATE_SEND_COMPLETE) {
        const completed = h.actionCompleted;
        h.completeAction(token, 0);
        this.sending = false;
        this.events.log({ call: 'completeAction', action: kind, type, note: completed ? 'sent' : 'cancelled' });
        this.#submit();
      } else if (kind === Action.RECEIVE_FROM_NETWORK) {
        this.read = token;
        if (this.inbox.length > 0 || this.ended) this.#fill();
        else this.events.log({ call: 'wait', note: `room for ${h.actionByteLength} bytes; waiting for the peer` });
      } else {
        this.#indicated(token, type);
      }
    } catch (e) {
      this.events.error(e);
      this.#protocolError(e);
    }
    this.#reportState();
    return true;
  }

  /** Completes the waiting read with what the inbox holds (0 bytes: the stream ended). */
  #fill() {
    const h = this.handle;
    const token = this.read;
    this.read = null;
    // A view of the lent space: valid until the next call into the engine, so fill it now.
    const room = h.readBuffer(token);
    let n = 0;
    while (n < room.length && this.inbox.length > 0) {
      const chunk = this.inbox[0];
      const k = Math.min(chunk.length, room.length - n);
      room.set(chunk.subarray(0, k), n);
      n += k;
      if (k === chunk.length) this.inbox.shift();
      else this.inbox[0] = chunk.subarray(k);
    }
    h.completeAction(token, n);
    this.events.log({ call: 'completeAction', action: Action.RECEIVE_FROM_NETWORK, bytes: n, note: n === 0 ? 'end of stream' : 'read' });
    this.#reportState();
  }

  #indicated(token, type) {
    const h = this.handle;
    const bytes = h.actionData();
    const status = h.actionCloseStatus;
    h.completeAction(token, 0);
    this.receiving = false;
    this.events.log({ call: 'completeAction', action: Action.INDICATE_RECEIVE_COMPLETE, type, bytes: bytes.length });
    if (type === BufferType.CLOSE) {
      const replied = h.state === 'close-received';
      this.events.close({ status, reason: bytes, replied });
      if (replied) {
        // Answer with the peer's status and reason (an empty close for 1005).
        const reply = closeReply(status, bytes);
        this.queue.push({ type: BufferType.CLOSE, data: reply });
        this.#submit();
      }
      return;
    }
    if (type === 0) {
      this.events.log({ call: 'end', note: 'the stream ended' });
      return;
    }
    if (type !== BufferType.PING_PONG) {
      this.pieces.push(bytes);
      if (type === BufferType.UTF8_MESSAGE || type === BufferType.BINARY_MESSAGE) {
        const all = new Uint8Array(this.pieces.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of this.pieces) {
          all.set(p, at);
          at += p.length;
        }
        this.events.message({ type, bytes: all, pieces: this.pieces.length });
        this.pieces = [];
      }
    }
    this.#receive();
  }

  /** A protocol error from the peer: the engine names the close to send; send it. */
  #protocolError(e) {
    if (e.closeStatus && !this.sending) {
      try {
        this.handle.sendClose(e.closeStatus, new Uint8Array(0), undefined);
        this.sending = true;
        this.events.log({ call: 'send', type: BufferType.CLOSE, note: `close ${e.closeStatus} for the protocol error` });
      } catch {
        // the handle failed for good: nothing more to send
      }
    }
  }

  #reportState() {
    const state = this.handle.state;
    if (state !== this.lastState) {
      this.lastState = state;
      this.events.state(state);
    }
    // Both closes are sent (the state says so as soon as the send is accepted) and written:
    // end the transport (the server first, RFC 6455 §7.1.1; the client when the server's
    // end arrives).
    const over = isOver(state);
    if (over && !this.sending && this.queue.length === 0 && !this.ending) {
      this.ending = true;
      this.writer.close().catch(() => {});
    }
  }

  /** Ends the transport both ways and frees the handle. */
  dispose() {
    this.done = true;
    this.reader.cancel().catch(() => {});
    this.writer.abort().catch(() => {});
    this.handle.free();
  }
}

/** The endpoints of the page and who goes next: all at once, or one action per step. */
export class Playground {
  constructor(onIdle) {
    this.endpoints = [];
    this.stepMode = false;
    this.next = 0;
    this.onIdle = onIdle;
  }

  add(endpoint) {
    this.endpoints.push(endpoint);
  }

  /** Something may be runnable: run it (auto mode) or say so (step mode). */
  kick() {
    // Bounded, so that an engine bug shows as a stuck page rather than a hung tab.
    for (let n = 0; !this.stepMode && n < 100000 && this.step(); n++);
    this.onIdle?.(this.pending());
  }

  /** True when a step would do something. */
  pending() {
    return this.endpoints.some((e) => e.ready);
  }

  /** One action of the next endpoint that has one, round-robin; false when none has. */
  step() {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const e = this.endpoints[(this.next + i) % n];
      if (e.step()) {
        this.next = (this.next + i + 1) % n;
        return true;
      }
    }
    return false;
  }

  dispose() {
    for (const e of this.endpoints) e.dispose();
    this.endpoints = [];
  }
}
