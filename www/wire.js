// The bytes of one direction of the wire, cut into what a person reads: the HTTP head of the
// opening handshake, then frames. The engine finds the end of the head (HeadParser) and reads
// each frame header (readFrameHeader); this file only waits for whole frames and names
// opcodes.

import { HeadParser, readFrameHeader } from '/js/src/engine/browser.js';

const OPCODES = { 0: 'CONTINUATION', 1: 'TEXT', 2: 'BINARY', 8: 'CLOSE', 9: 'PING', 10: 'PONG' };
/** The name of an opcode, or "RESERVED 0x3" and so on. */
export const opcodeName = (op) => OPCODES[op] ?? `RESERVED 0x${op.toString(16)}`;

/**
 * @typedef {{kind: 'http', text: string, length: number}
 *   | {kind: 'frame', header: import('/js/index.d.ts').FrameHeader, bytes: Uint8Array}
 *   | {kind: 'bad', note: string, bytes: Uint8Array}} WireEntry
 */

export class WireReader {
  /** @param {(entry: WireEntry) => void} onEntry */
  constructor(onEntry) {
    this.onEntry = onEntry;
    this.buffer = new Uint8Array(0);
    /** Until the head is complete; freed then. */
    this.head = new HeadParser();
    this.broken = false;
  }

  /** @param {Uint8Array} chunk */
  push(chunk) {
    if (this.broken) return;
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    if (this.head !== null && !this.#head(chunk)) return;
    for (;;) {
      const used = this.#frame();
      if (used === 0) break;
      this.buffer = this.buffer.subarray(used);
    }
  }

  /** Feeds the head parser; true once the head is complete and taken off the buffer. */
  #head(chunk) {
    const parser = this.head;
    let complete;
    try {
      complete = parser.push(chunk);
    } catch (e) {
      this.#stop(e.message);
      return false;
    }
    if (!complete) return false;
    const length = this.buffer.length - parser.rest().length;
    this.onEntry({ kind: 'http', text: new TextDecoder().decode(this.buffer.subarray(0, length)).trimEnd(), length });
    this.buffer = this.buffer.subarray(length);
    this.head = null;
    parser.free();
    return true;
  }

  /** Bytes that cannot be read any further: shown once, then ignored. */
  #stop(note) {
    this.broken = true;
    this.head?.free();
    this.head = null;
    this.onEntry({ kind: 'bad', note, bytes: this.buffer.slice(0, 14) });
  }

  #frame() {
    let header;
    try {
      header = readFrameHeader(this.buffer);
    } catch (e) {
      this.#stop(e.message);
      return 0;
    }
    if (header === undefined) return 0;
    const total = header.headerLength + header.payloadLength;
    if (this.buffer.length < total) return 0;
    this.onEntry({ kind: 'frame', header, bytes: this.buffer.slice(0, total) });
    return total;
  }
}

/** Bytes as hex pairs: `81 85 37 fa`. */
export const hex = (bytes, max = Infinity) =>
  Array.from(bytes.subarray(0, Math.min(bytes.length, max)), (b) => b.toString(16).padStart(2, '0')).join(' ');
