// Transports: how a Driver reads and writes bytes. Two kinds, both only moving bytes:
// - a Node stream (net.Socket, tls.TLSSocket, any Duplex): read through 'data' events,
//   written with write(), backpressure through writableLength and 'drain';
// - a web stream pair ({ readable, writable }: a WebTransport bidirectional stream, a
//   workerd connect() socket, Duplex.toWeb(socket)): read by a reader loop, written through
//   a writer, backpressure through the bytes whose writes are not done and desiredSize.

/** Bytes handed to the transport and not yet written, beyond which output waits. */
const HIGH_WATER = 1 << 20;
const noop = () => {};

/**
 * @typedef {object} Sink What a transport tells its driver.
 * @property {(chunk: Uint8Array) => void} data Bytes read (the driver copies them at once).
 * @property {() => void} end The read side ended, failed or was closed.
 * @property {() => void} drain The transport has room again, after `waitRoom()`.
 */

/** True for a Node stream (a socket or any Duplex), as opposed to a web stream pair. */
export function isNodeStream(t) {
  return typeof t?.on === 'function' && typeof t.write === 'function' && typeof t.pipe === 'function';
}

/** The transport for `t`: a Node stream or a `{ readable, writable }` pair. */
export function transportFor(t) {
  return isNodeStream(t) ? new NodeTransport(t) : new StreamTransport(t);
}

/** A Node socket or Duplex, read through 'data' events (no web-stream adapter). */
class NodeTransport {
  #s;
  #waiting = false;
  #ended = false;

  constructor(socket) {
    this.#s = socket;
    socket.setNoDelay?.(true);
  }

  /** @param {Sink} sink */
  start(sink) {
    const s = this.#s;
    s.on('data', sink.data);
    s.on('end', sink.end);
    s.on('close', sink.end);
    s.on('error', noop); // 'close' follows
    s.on('drain', () => {
      if (!this.#waiting) return;
      this.#waiting = false;
      sink.drain();
    });
    s.resume();
  }

  /** True while the transport takes more (a closed one takes and drops everything). */
  get room() {
    const s = this.#s;
    return s.writableLength < HIGH_WATER || s.destroyed || !s.writable;
  }

  /** Bytes handed over and not yet written. */
  get pending() {
    return this.#s.writableLength;
  }

  /** Writes `chunk` (which the transport now owns). */
  write(chunk) {
    const s = this.#s;
    if (!s.destroyed && s.writable) s.write(chunk);
  }

  /** Asks for `drain` once there is room. */
  waitRoom() {
    this.#waiting = true;
  }

  pause() {
    this.#s.pause();
  }

  resume() {
    this.#s.resume();
  }

  /** Ends the write side after what was written; the socket goes once both sides are done
   * (or after `linger` ms, for a peer that never closes its side). */
  end(linger = 10000) {
    if (this.#ended) return;
    this.#ended = true;
    const s = this.#s;
    s.end();
    if (!s.destroyed) setTimeout(() => s.destroy(), linger).unref?.();
  }

  /** Drops the transport at once. */
  destroy() {
    this.#ended = true;
    this.#s.destroy();
  }
}

/** A web stream pair, read by a loop over its reader. */
class StreamTransport {
  #reader;
  #writer;
  #sink = null;
  #paused = false;
  #resume = null;
  #inFlight = 0;
  #failed = false;
  #waiting = false;
  #ended = false;

  constructor(pair) {
    this.#reader = pair.readable.getReader();
    this.#writer = pair.writable.getWriter();
    // A failed write stops the writes only: what the peer sent is still read.
    this.#writer.closed.catch(() => {
      this.#failed = true;
      this.#wake();
    });
  }

  /** @param {Sink} sink */
  start(sink) {
    this.#sink = sink;
    this.#loop();
  }

  async #loop() {
    try {
      for (;;) {
        if (this.#paused) await new Promise((r) => (this.#resume = r));
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (value.byteLength === 0) continue;
        this.#sink.data(value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch {
      // a failed or cancelled stream ends too
    }
    this.#sink.end();
  }

  get room() {
    const d = this.#writer.desiredSize;
    return this.#failed || this.#ended || (this.#inFlight < HIGH_WATER && (d === null || d > 0));
  }

  get pending() {
    return this.#inFlight;
  }

  write(chunk) {
    if (this.#failed || this.#ended) return;
    const n = chunk.byteLength;
    this.#inFlight += n;
    const done = () => {
      this.#inFlight -= n;
      this.#wake();
    };
    this.#writer.write(chunk).then(done, done);
  }

  waitRoom() {
    this.#waiting = true;
    // The writable's own signal when it is full; our writes' completions otherwise.
    this.#writer.ready.then(
      () => this.#wake(),
      () => this.#wake(),
    );
  }

  #wake() {
    if (this.#waiting && this.room) {
      this.#waiting = false;
      this.#sink?.drain();
    }
  }

  pause() {
    this.#paused = true;
  }

  resume() {
    if (!this.#paused) return;
    this.#paused = false;
    const r = this.#resume;
    this.#resume = null;
    r?.();
  }

  end() {
    if (this.#ended) return;
    this.#ended = true;
    // Cancelling first could tear the transport down before the writes left.
    this.#writer
      .close()
      .catch(noop)
      .finally(() => this.#reader.cancel().catch(noop));
  }

  destroy() {
    this.#ended = true;
    this.#writer.abort().catch(noop);
    this.#reader.cancel().catch(noop);
    this.resume();
  }
}
