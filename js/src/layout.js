// The layout of a Connection's report, event records and staged sends in the engine's
// memory (bindings/js/src/connection.rs). The bindings' connectionLayout() states the same
// numbers; tests/js/layout.test.mjs checks that the two agree.

/** Word offsets in the report at `connection.reportAddress`. */
export const Report = Object.freeze({
  COUNT: 0,
  RECORDS: 1,
  OUT0: 2,
  OUT_LEN0: 3,
  OUT1: 4,
  OUT_LEN1: 5,
  OUT2: 6,
  OUT_LEN2: 7,
  WAKE_LO: 8,
  WAKE_HI: 9,
  STATE: 10,
  BUFFERED: 11,
  FLAGS: 12,
  INBOX: 13,
  INBOX_CAP: 14,
  SENDS: 15,
  SENDS_CAP: 16,
});

/** Report flags. */
export const Flag = Object.freeze({ MORE_EVENTS: 1, INPUT_BLOCKED: 2, MORE_OUTPUT: 4, ERROR: 8 });

/** Words per event record: `kind | flags << 8`, status, pointer, length. */
export const RECORD_WORDS = 4;

/** Event kinds (a record's low byte). */
export const EventKind = Object.freeze({
  REQUEST: 1,
  OPEN: 2,
  MESSAGE: 3,
  PING: 4,
  PONG: 5,
  CLOSE_RECEIVED: 6,
  FAILED: 7,
  CLOSED: 8,
});

/** Event flags (a record's second byte). */
export const EventFlag = Object.freeze({ TEXT: 1, FIN: 2, CLEAN: 4 });

/** Kinds of staged sends. */
export const Send = Object.freeze({ TEXT: 1, BINARY: 2, TEXT_PIECE: 3, BINARY_PIECE: 4, PING: 5, PONG: 6 });
