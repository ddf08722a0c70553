// The error class of everything the engine throws or reports. The bindings make the
// instances (setErrorClass hands them this class once the wasm is loaded) and set their
// fields from the engine's error, in one place.

/** An error from the engine: a refused call, or the reason a connection failed. */
export class WebSocketError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'WebSocketError';
    /** The HRESULT websocket.dll would return, e.g. 0x83760002 for E_INVALID_PROTOCOL_FORMAT. */
    this.hresult = 0;
    /** The error's family, after websocket.dll's HRESULTs. */
    this.kind = 'fail';
  }
}
