// The bytes of one direction of the wire, cut into what a person reads: the HTTP head of the
// opening handshake, then frames. The engine reads each frame header (readFrameHeader); this
// file only waits for whole frames and names opcodes.

import { readFrameHeader } from '/js/src/browser.js';

const OPCODES = { 0: 'CONTINUATION', 1: 'TEXT', 2: 'BINARY', 8: 'CLOSE', 9: 'PING', 10: 'PONG' };
/** The name of an opcode, or "RESERVED 0x3" and so on. */
export const opcodeName = (op) => OPCODES[op] ?? `RESERVED 0x${op.toString(16)}`;

const CRLFCRLF = [13, 10, 13, 10];

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
    this.inHead = true;
    this.broken = false;
  }

  /** @param {Uint8Array} chunk */
  push(chunk) {
    if (this.broken) return;
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    for (;;) {
      const used = this.inHead ? this.#head() : this.#frame();
      if (used === 0) break;
      this.buffer = this.buffer.subarray(used);
    }
  }

  #head() {
    const b = this.buffer;
    for (let i = 0; i + 4 <= b.length; i++) {
      if (CRLFCRLF.every((x, k) => b[i + k] === x)) {
        this.inHead = false;
        this.onEntry({ kind: 'http', text: new TextDecoder().decode(b.subarray(0, i)), length: i + 4 });
        return i + 4;
      }
    }
    return 0;
  }

  #frame() {
    let header;
    try {
      header = readFrameHeader(this.buffer);
    } catch (e) {
      this.broken = true;
      this.onEntry({ kind: 'bad', note: e.message, bytes: this.buffer.slice(0, 14) });
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
