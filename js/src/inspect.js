// The wire as a tool shows it: the engine reads a frame header, this file names its fields.

import { frameHeader } from '../wasm/handle.js';

/**
 * @typedef {object} FrameHeader
 * @property {boolean} fin
 * @property {number} rsv RSV1-RSV3 as a 3-bit number (RSV1 highest).
 * @property {number} opcode
 * @property {boolean} masked
 * @property {number} headerLength 2 to 14 bytes; with `masked`, the key is its last four.
 * @property {number} payloadLength
 */

/**
 * The frame header at the start of `bytes`, as the wire has it (nothing is checked against
 * a connection), or undefined while `bytes` ends inside it. Throws a RangeError for a
 * header RFC 6455 forbids (a 64-bit length with its top bit set).
 * @param {Uint8Array} bytes
 * @returns {FrameHeader | undefined}
 */
export function readFrameHeader(bytes) {
  const packed = frameHeader(bytes);
  if (packed === undefined) return undefined;
  if (Number.isNaN(packed)) throw new RangeError('a 64-bit payload length with its top bit set');
  const low = packed % 8192;
  return {
    fin: (low & 0x80) !== 0,
    rsv: (low >> 4) & 7,
    opcode: low & 15,
    masked: (low & 0x100) !== 0,
    headerLength: low >> 9,
    payloadLength: (packed - low) / 8192,
  };
}
