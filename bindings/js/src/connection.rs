//! `Connection` for JavaScript: `wsengine::Connection<Vec<u8>>` with batched calls. Mapping
//! only: every protocol and policy rule (the handshake, answering a close, failing with a
//! status, keep-alive, deadlines, limits) is the core's.
//!
//! # One crossing per batch
//!
//! Each collecting call (`read`, `flush`, `advance`, `handleTimeout`, `readEof`) does its
//! work, then drains the connection's events into a batch, and describes the batch and the
//! output in a report: u32 words at `reportAddress` in the engine's memory, which the glue
//! reads without a call per field (see [`Report`]). No JavaScript object is made per event.
//!
//! A batch ends after a message (and after `Open`, `Request`), with `MORE_EVENTS` set: the
//! caller reacts to it (a reply it sends is staged) before the connection reads on, so the
//! reply goes out before whatever later frames cause (a failure, the answer to a close), as
//! in a host that polls one event at a time. The next call hands the staged reply in and
//! goes on from there. Pings, pongs and the close events ride in the same batch.
//!
//! - Events are fixed-size records of four u32 ([`RECORD_WORDS`]): kind and flags, a status,
//!   a pointer and a length. An event's bytes are copied once, inside the engine, into a
//!   reused arena (an event's data is valid only until the next poll), except a message of
//!   at least [`DIRECT_MIN`] bytes, which the record points at where the connection holds
//!   it, ending the batch. Records and bytes are valid until the next call.
//! - The output is up to three byte ranges, also valid until the next call. The glue copies
//!   what its transport takes and reports it with the next call's `taken` (or `advance`).
//! - Input is written by the glue into the inbox (`INBOX`, `INBOX_CAP`) and handed in with
//!   `read(length, now, ..)`; sends are written into the send area (`SENDS`, `SENDS_CAP`) as
//!   `[kind, length, bytes padded to 4]` and handed in by the next collecting call's `staged`
//!   byte count, in order, before anything else. `sendText` / `sendBinary` / `ping` / `pong`
//!   / `close` queue one send each, for callers that do not batch.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wsengine as core;

use crate::{error, headers_in, headers_out, invalid_argument, properties, set, strings};

/// Words per event record: `kind | flags << 8`, status, pointer, length.
pub const RECORD_WORDS: usize = 4;
/// A message at least this long is not copied into the arena: its record points at the
/// connection's own buffer, and the batch ends after it.
pub const DIRECT_MIN: usize = 32 * 1024;
/// An arena or record list grown past these is released after its batch.
const ARENA_KEEP: usize = 4 << 20;
/// The inbox and the send area start at this size and grow on request.
const AREA_START: usize = 64 * 1024;

// Event kinds (the low byte of a record's first word).
const EV_REQUEST: u32 = 1;
const EV_OPEN: u32 = 2;
const EV_MESSAGE: u32 = 3;
const EV_PING: u32 = 4;
const EV_PONG: u32 = 5;
const EV_CLOSE_RECEIVED: u32 = 6;
const EV_FAILED: u32 = 7;
const EV_CLOSED: u32 = 8;
// Event flags (shifted left by 8 in the first word).
const F_TEXT: u32 = 1;
const F_FIN: u32 = 2;
const F_CLEAN: u32 = 4;

// Report flags.
const R_MORE_EVENTS: u32 = 1;
const R_INPUT_BLOCKED: u32 = 2;
const R_MORE_OUTPUT: u32 = 4;
const R_ERROR: u32 = 8;

// Staged send kinds.
const S_TEXT: u32 = 1;
const S_BINARY: u32 = 2;
const S_TEXT_PIECE: u32 = 3;
const S_BINARY_PIECE: u32 = 4;
const S_PING: u32 = 5;
const S_PONG: u32 = 6;

/// The report of the last collecting call, as u32 words at `reportAddress`. Pointers are
/// addresses in the engine's memory; everything is valid until the next call.
#[repr(C)]
#[derive(Default)]
struct Report {
    /// Events in the batch.
    count: u32,
    /// The batch's records.
    records: u32,
    /// The output: three (pointer, length) ranges, in order.
    out: [u32; 6],
    /// The next deadline for `handleTimeout`, in ms on the caller's clock, as low and high
    /// halves; both `u32::MAX` for none.
    wake_lo: u32,
    wake_hi: u32,
    /// 0 connecting, 1 open, 2 closing, 3 closed.
    state: u32,
    /// Bytes accepted for sending and not yet taken (saturating).
    buffered: u32,
    /// `MORE_EVENTS` 1: the batch ended early, call again (`flush`) for the rest;
    /// `INPUT_BLOCKED` 2: input waits inside (stop reading until a report clears it);
    /// `MORE_OUTPUT` 4: report this output taken at once (`advance`): more output
    /// follows it, or events wait until a large frame in it is written;
    /// `ERROR` 8: the call or a staged send failed: `takeError()` throws nothing, returns it.
    flags: u32,
    /// Where the glue writes input, and its size.
    inbox: u32,
    inbox_cap: u32,
    /// Where the glue stages sends, and its size.
    sends: u32,
    sends_cap: u32,
}

fn millis(now: f64) -> core::Millis {
    if now.is_finite() && now > 0.0 { now as core::Millis } else { 0 }
}

/// A whole number of milliseconds, `None` for `null` or `false`, the default when absent.
#[cfg_attr(wsengine_size, optimize(size))]
fn duration(o: &Object, key: &str, default: Option<core::Millis>) -> Result<Option<core::Millis>, JsValue> {
    let v = js_sys::Reflect::get(o, &JsValue::from_str(key))?;
    if v.is_undefined() {
        return Ok(default);
    }
    if v.is_null() || v == JsValue::FALSE {
        return Ok(None);
    }
    match v.as_f64() {
        Some(ms) if ms.fract() == 0.0 && ms >= 0.0 => Ok(Some(ms as core::Millis)),
        _ => Err(invalid_argument(&format!("{key} must be a whole number of milliseconds, or null"))),
    }
}

#[cfg_attr(wsengine_size, optimize(size))]
fn whole(o: &Object, key: &str) -> Result<Option<f64>, JsValue> {
    let v = js_sys::Reflect::get(o, &JsValue::from_str(key))?;
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= 0.0 => Ok(Some(n)),
        _ => Err(invalid_argument(&format!("{key} must be a whole number"))),
    }
}

const OPTION_KEYS: [&str; 16] = [
    "properties",
    "protocols",
    "extensions",
    "deflate",
    "headers",
    "deferAccept",
    "maxMessageSize",
    "maxFragments",
    "reassemble",
    "pingInterval",
    "pongTimeout",
    "closeTimeout",
    "openTimeout",
    "maxBufferedInput",
    "maxHeadLength",
    "maxHeaders",
];

/// `Options` from a plain object (see `ConnectionOptions` in index.d.ts).
#[cfg_attr(wsengine_size, optimize(size))]
fn options(o: &JsValue, client: bool) -> Result<core::Options, JsValue> {
    let mut out = core::Options::default();
    if o.is_undefined() || o.is_null() {
        out.properties = properties(&JsValue::UNDEFINED, client)?;
        return Ok(out);
    }
    let obj: &Object = o.dyn_ref().ok_or_else(|| invalid_argument("options must be an object"))?;
    for key in Object::keys(obj).iter() {
        let name = key.as_string().unwrap_or_default();
        if !OPTION_KEYS.contains(&name.as_str()) {
            return Err(invalid_argument(&format!("unknown option {name}")));
        }
    }
    let get = |k: &str| js_sys::Reflect::get(obj, &JsValue::from_str(k));
    out.properties = properties(&get("properties")?, client)?;
    out.subprotocols = strings(&get("protocols")?)?;
    out.extensions = strings(&get("extensions")?)?;
    deflate(&get("deflate")?, &mut out)?;
    let headers = get("headers")?;
    if !headers.is_undefined() && !headers.is_null() {
        out.headers = headers_in(&headers)?;
    }
    out.defer_accept = get("deferAccept")?.is_truthy();
    let reassemble = get("reassemble")?;
    if !reassemble.is_undefined() {
        out.reassemble = reassemble.is_truthy();
    }
    if let Some(n) = whole(obj, "maxMessageSize")? {
        out.max_message_size = n as u64;
    }
    if let Some(n) = whole(obj, "maxFragments")? {
        out.max_fragments = n.min(f64::from(u32::MAX)) as u32;
    }
    if let Some(n) = whole(obj, "maxBufferedInput")? {
        out.max_buffered_input = n as usize;
    }
    if let Some(n) = whole(obj, "maxHeadLength")? {
        out.head_limits.max_len = n as usize;
    }
    if let Some(n) = whole(obj, "maxHeaders")? {
        out.head_limits.max_headers = n as usize;
    }
    out.ping_interval = duration(obj, "pingInterval", out.ping_interval)?;
    out.pong_timeout = duration(obj, "pongTimeout", out.pong_timeout)?;
    out.close_timeout = duration(obj, "closeTimeout", out.close_timeout)?;
    out.open_timeout = duration(obj, "openTimeout", out.open_timeout)?;
    Ok(out)
}

/// The `deflate` option: `true` for the defaults, an object of `DeflateOptions`' fields
/// (camelCase, each optional), or `false`/`undefined` for none.
#[cfg(feature = "deflate")]
#[cfg_attr(wsengine_size, optimize(size))]
fn deflate(v: &JsValue, out: &mut core::Options) -> Result<(), JsValue> {
    if v.is_undefined() || v.is_null() || v.as_bool() == Some(false) {
        return Ok(());
    }
    let mut d = core::DeflateOptions::default();
    if v.as_bool() != Some(true) {
        let o: &Object = v.dyn_ref().ok_or_else(|| invalid_argument("deflate must be true, false or an object"))?;
        for key in Object::keys(o).iter() {
            let name = key.as_string().unwrap_or_default();
            let n = || whole(o, &name).map(|n| n.map(|n| n.min(f64::from(u32::MAX)) as u32));
            let flag = || js_sys::Reflect::get(o, &JsValue::from_str(&name)).map(|v| v.is_truthy());
            let bits = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
            match name.as_str() {
                "serverMaxWindowBits" => d.server_max_window_bits = n()?.map_or(d.server_max_window_bits, bits),
                "clientMaxWindowBits" => d.client_max_window_bits = n()?.map_or(d.client_max_window_bits, bits),
                "serverNoContextTakeover" => d.server_no_context_takeover = flag()?,
                "clientNoContextTakeover" => d.client_no_context_takeover = flag()?,
                "level" => d.level = n()?.unwrap_or(d.level),
                "memLevel" => d.mem_level = n()?.unwrap_or(d.mem_level),
                "threshold" => d.threshold = n()?.map_or(d.threshold, |n| n as usize),
                _ => return Err(invalid_argument(&format!("unknown deflate option {name}"))),
            }
        }
    }
    d.check().map_err(|e| error(&e))?;
    out.deflate = Some(d);
    Ok(())
}

/// The `deflate` option in a build without permessage-deflate: refused unless off.
#[cfg(not(feature = "deflate"))]
#[cfg_attr(wsengine_size, optimize(size))]
fn deflate(v: &JsValue, _: &mut core::Options) -> Result<(), JsValue> {
    if v.is_undefined() || v.is_null() || v.as_bool() == Some(false) {
        return Ok(());
    }
    Err(invalid_argument("this wasm has no permessage-deflate: import wsengine/deflate for the one that has"))
}

/// Appends a record.
fn record(records: &mut Vec<u32>, kind: u32, flags: u32, status: u32, ptr: u32, len: u32) {
    records.extend_from_slice(&[kind | flags << 8, status, ptr, len]);
}

/// A record whose bytes are copied into the arena (its pointer is fixed up at the end).
fn copied(records: &mut Vec<u32>, arena: &mut Vec<u8>, kind: u32, flags: u32, status: u32, data: &[u8]) {
    let at = arena.len() as u32;
    arena.extend_from_slice(data);
    record(records, kind, flags, status, at, data.len() as u32);
}

/// `wsengine::Connection`: bytes in, events out, bytes to write. Free it with `free()`.
#[wasm_bindgen(js_name = Connection)]
pub struct JsConnection {
    inner: core::Connection<Vec<u8>>,
    /// Boxed: its address is handed out and must not move.
    report: Box<Report>,
    records: Vec<u32>,
    arena: Vec<u8>,
    /// Which records point into the arena (their pointers are fixed up at the end).
    direct: Option<usize>,
    inbox: Vec<u8>,
    sends: Vec<u8>,
    /// Input the connection refused for now (its buffered-input limit), handed in first
    /// by the next call.
    pending: Vec<u8>,
    /// Where the unfed part of `pending` starts.
    pending_at: usize,
    /// The connection refused input (its buffered-input limit): the caller should stop
    /// reading until a report clears `INPUT_BLOCKED`.
    blocked: bool,
    /// The transport ended; the connection is told once `pending` is in.
    eof: bool,
    /// The error of the last `Failed` event, and that of a failed call or staged send.
    failure: Option<core::Error>,
    call_error: Option<core::Error>,
    /// The client's request (deferred server), and the peer's head at `Open`.
    request: Option<(String, Vec<core::HttpHeader<'static>>)>,
    head: Vec<core::HttpHeader<'static>>,
    /// A server's request target, from `Open`.
    target: Option<String>,
    now: core::Millis,
}

impl JsConnection {
    #[cfg_attr(wsengine_size, optimize(size))]
    fn new(inner: core::Result<core::Connection<Vec<u8>>>, now: core::Millis) -> Result<JsConnection, JsValue> {
        let mut c = JsConnection {
            inner: inner.map_err(|e| error(&e))?,
            report: Box::default(),
            records: Vec::new(),
            arena: Vec::new(),
            direct: None,
            inbox: vec![0; AREA_START],
            sends: vec![0; AREA_START],
            pending: Vec::new(),
            pending_at: 0,
            blocked: false,
            eof: false,
            failure: None,
            call_error: None,
            request: None,
            head: Vec::new(),
            target: None,
            now,
        };
        c.report.count = 0;
        c.finish();
        Ok(c)
    }

    /// Starts a batch: the last one's records and bytes are the caller's no more.
    fn begin(&mut self, taken: u32, staged: u32) {
        self.records.clear();
        self.arena.clear();
        if self.arena.capacity() > ARENA_KEEP {
            self.arena = Vec::new();
        }
        if self.records.capacity() > ARENA_KEEP {
            self.records = Vec::new();
        }
        self.direct = None;
        self.report.flags = 0;
        self.call_error = None;
        if taken > 0
            && let Err(e) = self.inner.advance(taken as usize)
        {
            self.call_error = Some(e);
        }
        if staged > 0 {
            self.submit_staged(staged as usize);
        }
        if self.pending_at < self.pending.len() {
            self.blocked = false;
            let pending = std::mem::take(&mut self.pending);
            self.pending_at += self.feed(&pending[self.pending_at..]);
            self.pending = pending;
            if self.pending_at == self.pending.len() {
                self.pending.clear();
                self.pending_at = 0;
            }
        }
        if self.eof && self.pending_at == self.pending.len() && !self.stopped() {
            // The end of the stream, once the input before it is in.
            self.eof = false;
            self.inner.read_eof();
        }
    }

    /// Hands the staged sends to the connection, in order; the first refusal stops them.
    fn submit_staged(&mut self, staged: usize) {
        let end = staged.min(self.sends.len());
        let mut at = 0;
        while at + 8 <= end {
            let word =
                |i: usize| u32::from_le_bytes([self.sends[i], self.sends[i + 1], self.sends[i + 2], self.sends[i + 3]]);
            let (kind, len) = (word(at), word(at + 4) as usize);
            let start = at + 8;
            let Some(data) = self.sends.get(start..start + len) else {
                self.call_error = Some(core::Error::TooManyBytesTransferred { reported: start + len, max: end });
                return;
            };
            let result = match kind {
                S_TEXT => self.inner.send_text(data.to_vec(), true),
                S_BINARY => self.inner.send_binary(data.to_vec(), true),
                S_TEXT_PIECE => self.inner.send_text(data.to_vec(), false),
                S_BINARY_PIECE => self.inner.send_binary(data.to_vec(), false),
                S_PING => self.inner.ping(data),
                S_PONG => self.inner.pong(data),
                _ => Err(core::Error::UnknownBufferType(kind)),
            };
            if let Err(e) = result {
                self.call_error.get_or_insert(e);
                return;
            }
            at = start + ((len + 3) & !3);
        }
    }

    /// Hands in `data` in pieces that fit the receive buffer (no spill copy), draining the
    /// events after each, until the batch ends or the connection refuses more; returns how
    /// many bytes it took (the caller keeps the rest in `pending`).
    fn feed(&mut self, data: &[u8]) -> usize {
        let mut at = 0;
        while at < data.len() && !self.stopped() {
            let room = self.inner.read_buffer().map_or(0, |b| b.len());
            let n = if room > 0 { room.min(data.len() - at) } else { data.len() - at };
            match self.inner.feed(&data[at..at + n], self.now) {
                Ok(()) => at += n,
                Err(core::Error::InputBufferFull { .. }) => {
                    self.blocked = true;
                    return at;
                }
                Err(e) => {
                    self.call_error.get_or_insert(e);
                    return data.len();
                }
            }
            self.drain();
        }
        at
    }

    fn stopped(&self) -> bool {
        self.report.flags & R_MORE_EVENTS != 0
    }

    /// Polls events into the batch until there are none, or the batch must end here: after
    /// `Open` (the caller shows it alone), after a message shown in place (its bytes are
    /// the core's until the next poll).
    fn drain(&mut self) {
        while !self.stopped() {
            let Some(event) = self.inner.poll_event() else { return };
            let (records, arena) = (&mut self.records, &mut self.arena);
            let stop = match event {
                core::Event::Request { target, headers } => {
                    self.request = Some((target.to_owned(), headers.into_iter().map(|h| h.into_owned()).collect()));
                    record(records, EV_REQUEST, 0, 0, 0, 0);
                    true
                }
                core::Event::Open { headers, target, .. } => {
                    self.head = headers.into_iter().map(|h| h.into_owned()).collect();
                    self.target = target.map(str::to_owned);
                    record(records, EV_OPEN, 0, 0, 0, 0);
                    true
                }
                core::Event::Message { text, data, fin } => {
                    let flags = if text { F_TEXT } else { 0 } | if fin { F_FIN } else { 0 };
                    if data.len() >= DIRECT_MIN {
                        self.direct = Some(records.len());
                        let (ptr, len) = (data.as_ptr() as usize as u32, data.len() as u32);
                        record(records, EV_MESSAGE, flags, 0, ptr, len);
                        true
                    } else {
                        // Copied: the batch goes on. The core keeps the caller's replies
                        // ahead of what later frames cause (a failure, the answer to a
                        // close) until the caller's next call.
                        copied(records, arena, EV_MESSAGE, flags, 0, data);
                        false
                    }
                }
                core::Event::Ping(data) => {
                    copied(records, arena, EV_PING, 0, 0, data);
                    false
                }
                core::Event::Pong(data) => {
                    copied(records, arena, EV_PONG, 0, 0, data);
                    false
                }
                core::Event::CloseReceived { status, reason } => {
                    copied(records, arena, EV_CLOSE_RECEIVED, 0, u32::from(status.0), reason.as_bytes());
                    false
                }
                core::Event::Failed { error, status_sent } => {
                    let status = status_sent.map_or(0, |s| u32::from(s.0));
                    self.failure = Some(error);
                    record(records, EV_FAILED, 0, status, 0, 0);
                    false
                }
                core::Event::Closed { clean, status, reason } => {
                    let flags = if clean { F_CLEAN } else { 0 };
                    copied(records, arena, EV_CLOSED, flags, u32::from(status.0), reason.as_bytes());
                    false
                }
            };
            if stop {
                self.report.flags |= R_MORE_EVENTS;
            }
        }
    }

    /// Ends a batch: fixes up the arena pointers and writes the report.
    fn finish(&mut self) -> u32 {
        let base = self.arena.as_ptr() as usize as u32;
        for (i, r) in self.records.chunks_exact_mut(RECORD_WORDS).enumerate() {
            if self.direct != Some(i * RECORD_WORDS) {
                r[2] += base;
            }
        }
        let out = self.inner.output();
        let mut words = [0u32; 6];
        for (i, part) in out.as_array().iter().enumerate() {
            words[2 * i] = part.as_ptr() as usize as u32;
            words[2 * i + 1] = part.len() as u32;
        }
        let r = &mut *self.report;
        r.count = (self.records.len() / RECORD_WORDS) as u32;
        r.records = self.records.as_ptr() as usize as u32;
        r.out = words;
        let wake = self.inner.poll_timeout();
        (r.wake_lo, r.wake_hi) = match wake {
            Some(t) => (t as u32, (t >> 32) as u32),
            None => (u32::MAX, u32::MAX),
        };
        r.state = match self.inner.state() {
            core::ConnectionState::Connecting => 0,
            core::ConnectionState::Open => 1,
            core::ConnectionState::Closing => 2,
            core::ConnectionState::Closed => 3,
        };
        let buffered = self.inner.buffered_amount();
        r.buffered = u32::try_from(buffered).unwrap_or(u32::MAX);
        if buffered > out.len() || self.inner.events_wait_for_output() {
            r.flags |= R_MORE_OUTPUT;
        }
        if self.blocked {
            r.flags |= R_INPUT_BLOCKED;
        }
        if self.call_error.is_some() {
            r.flags |= R_ERROR;
        }
        r.inbox = self.inbox.as_ptr() as usize as u32;
        r.inbox_cap = self.inbox.len() as u32;
        r.sends = self.sends.as_ptr() as usize as u32;
        r.sends_cap = self.sends.len() as u32;
        r.count
    }
}

#[wasm_bindgen(js_class = Connection)]
impl JsConnection {
    /// A client for a `ws:` or `wss:` URL at `now` (ms on any monotonic clock): its upgrade
    /// request is in the output at once. Without a `randomSeed` property the client is
    /// seeded from `crypto.getRandomValues`.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn client(url: &str, options_: JsValue, now: f64) -> Result<JsConnection, JsValue> {
        let request = core::ClientRequest::from_url(url).map_err(|e| error(&e))?;
        let now = millis(now);
        Self::new(core::Connection::client(now, options(&options_, true)?, &request), now)
    }

    /// A server waiting for the client's upgrade request.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn server(options_: JsValue, now: f64) -> Result<JsConnection, JsValue> {
        let now = millis(now);
        Self::new(core::Connection::server(now, options(&options_, false)?), now)
    }

    /// A connection upgraded elsewhere, open at once (its first event is `Open`).
    #[wasm_bindgen(js_name = fromUpgraded)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn from_upgraded(client: bool, options_: JsValue, now: f64) -> Result<JsConnection, JsValue> {
        let role = if client { core::Role::Client } else { core::Role::Server };
        let now = millis(now);
        Self::new(core::Connection::from_upgraded(role, now, options(&options_, client)?), now)
    }

    /// An HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220) client for a `ws:` or `wss:` URL at `now`:
    /// `{ connection, fields }`, the connection waiting for `connectResponse` and the
    /// extended CONNECT's fields (`[name, value]` pairs, pseudo-header fields first) to
    /// send on a new stream.
    #[wasm_bindgen(js_name = clientConnect)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn client_connect(url: &str, options_: JsValue, now: f64) -> Result<Object, JsValue> {
        let request = core::ClientRequest::from_url(url).map_err(|e| error(&e))?;
        let now = millis(now);
        let made = core::Connection::client_connect(now, options(&options_, true)?, &request);
        Self::with_fields(made, now)
    }

    /// A server for an HTTP/2 or HTTP/3 extended CONNECT, given its fields (pseudo-header
    /// fields included): `{ connection, fields }`, the connection open and the response's
    /// fields (`:status` 200 and the selections) to send.
    #[wasm_bindgen(js_name = acceptConnect)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn accept_connect(request: JsValue, options_: JsValue, now: f64) -> Result<Object, JsValue> {
        let now = millis(now);
        let made = core::Connection::accept_connect(now, options(&options_, false)?, &headers_in(&request)?);
        Self::with_fields(made, now)
    }

    #[cfg_attr(wsengine_size, optimize(size))]
    fn with_fields(
        made: core::Result<(core::Connection<Vec<u8>>, Vec<core::HttpHeader<'static>>)>,
        now: core::Millis,
    ) -> Result<Object, JsValue> {
        let (inner, fields) = made.map_err(|e| error(&e))?;
        let o = Object::new();
        set(&o, "fields", headers_out(&fields));
        set(&o, "connection", Self::new(Ok(inner), now)?);
        Ok(o)
    }

    /// A `clientConnect` client: the response's status and header fields. A 2xx that
    /// agrees with the request opens it; anything else throws the error, and the
    /// connection has failed (its events come with the next call).
    #[wasm_bindgen(js_name = connectResponse)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn connect_response(&mut self, status: u16, headers: JsValue) -> Result<(), JsValue> {
        self.inner.connect_response(status, &headers_in(&headers)?).map_err(|e| error(&e))
    }

    /// The address of the report (u32 words; see the module docs).
    #[wasm_bindgen(getter, js_name = reportAddress)]
    pub fn report_address(&self) -> u32 {
        std::ptr::from_ref::<Report>(&self.report) as usize as u32
    }

    /// Hands in the first `length` bytes of the inbox, read at `now`, after `taken` bytes
    /// of the last output were written and `staged` bytes of sends were staged; returns the
    /// number of events in the batch.
    pub fn read(&mut self, length: u32, now: f64, taken: u32, staged: u32) -> u32 {
        self.now = self.now.max(millis(now));
        self.begin(taken, staged);
        let inbox = std::mem::take(&mut self.inbox);
        let length = (length as usize).min(inbox.len());
        if self.pending_at < self.pending.len() {
            // Earlier input still waits: this goes behind it.
            if self.pending_at * 2 >= self.pending.len() {
                self.pending.drain(..self.pending_at);
                self.pending_at = 0;
            }
            self.pending.extend_from_slice(&inbox[..length]);
        } else {
            let took = self.feed(&inbox[..length]);
            self.pending.clear();
            self.pending.extend_from_slice(&inbox[took..length]);
            self.pending_at = 0;
        }
        self.inbox = inbox;
        self.drain();
        self.finish()
    }

    /// Only `taken` and `staged` (see `read`), then the events: after sends, after
    /// `MORE_EVENTS`, or after commands.
    pub fn flush(&mut self, taken: u32, staged: u32) -> u32 {
        self.begin(taken, staged);
        self.drain();
        self.finish()
    }

    /// `n` bytes of the output were written: `flush(n, 0)`.
    pub fn advance(&mut self, n: u32) -> u32 {
        self.flush(n, 0)
    }

    /// Time passed: a due keep-alive ping, or a deadline that fails the connection.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, now: f64, taken: u32, staged: u32) -> u32 {
        self.now = self.now.max(millis(now));
        self.begin(taken, staged);
        self.inner.handle_timeout(self.now);
        self.drain();
        self.finish()
    }

    /// The transport reached its end (or failed): what was handed in is still processed.
    #[wasm_bindgen(js_name = readEof)]
    pub fn read_eof(&mut self, taken: u32, staged: u32) -> u32 {
        self.eof = true;
        self.begin(taken, staged);
        self.drain();
        self.finish()
    }

    /// Hands the first `staged` bytes of the send area to the connection now, without
    /// collecting anything (the last batch stays valid): for a send that must follow them
    /// at once (a large message, a ping, a close). Throws the first refusal.
    pub fn submit(&mut self, staged: u32) -> Result<(), JsValue> {
        let before = self.call_error.take();
        self.submit_staged(staged as usize);
        match std::mem::replace(&mut self.call_error, before) {
            Some(e) => Err(error(&e)),
            None => Ok(()),
        }
    }

    /// Makes the inbox at least `n` bytes (the report's `INBOX` may move).
    #[wasm_bindgen(js_name = reserveInput)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn reserve_input(&mut self, n: u32) {
        if self.inbox.len() < n as usize {
            self.inbox = vec![0; (n as usize).next_power_of_two()];
            self.report.inbox = self.inbox.as_ptr() as usize as u32;
            self.report.inbox_cap = self.inbox.len() as u32;
        }
    }

    /// Makes the send area at least `n` bytes, keeping what is staged in it (the report's
    /// `SENDS` may move).
    #[wasm_bindgen(js_name = reserveSends)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn reserve_sends(&mut self, n: u32) {
        if self.sends.len() < n as usize {
            self.sends.resize((n as usize).next_power_of_two(), 0);
            self.report.sends = self.sends.as_ptr() as usize as u32;
            self.report.sends_cap = self.sends.len() as u32;
        }
    }

    /// The error of a call or staged send that failed (`ERROR` in the report), once.
    #[wasm_bindgen(js_name = takeError)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn take_error(&mut self) -> JsValue {
        self.call_error.take().map_or(JsValue::UNDEFINED, |e| error(&e))
    }

    /// The error the connection failed with (the `Failed` event's), as a `WebSocketError`.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn error(&self) -> JsValue {
        self.failure.as_ref().map_or(JsValue::UNDEFINED, error)
    }

    /// Queues a text message (or a piece of one when `fin` is false), copied in.
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&mut self, text: String, fin: Option<bool>) -> Result<(), JsValue> {
        self.inner.send_text(text.into_bytes(), fin.unwrap_or(true)).map_err(|e| error(&e))
    }

    /// Queues a binary message (or a piece of one when `fin` is false), copied in.
    #[wasm_bindgen(js_name = sendBinary)]
    pub fn send_binary(&mut self, data: Vec<u8>, fin: Option<bool>) -> Result<(), JsValue> {
        self.inner.send_binary(data, fin.unwrap_or(true)).map_err(|e| error(&e))
    }

    /// Queues a ping with up to 125 bytes of payload.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn ping(&mut self, payload: Option<Box<[u8]>>) -> Result<(), JsValue> {
        self.inner.ping(payload.as_deref().unwrap_or_default()).map_err(|e| error(&e))
    }

    /// Queues an unsolicited pong with up to 125 bytes of payload.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn pong(&mut self, payload: Option<Box<[u8]>>) -> Result<(), JsValue> {
        self.inner.pong(payload.as_deref().unwrap_or_default()).map_err(|e| error(&e))
    }

    /// Starts the closing handshake at `now` with `code` (none: an empty close) and `reason`.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn close(&mut self, code: Option<u16>, reason: Option<String>, now: f64) -> Result<(), JsValue> {
        self.now = self.now.max(millis(now));
        let reason = reason.unwrap_or_default();
        self.inner.close(self.now, code.map(core::CloseStatus), &reason).map_err(|e| error(&e))
    }

    /// Ends the connection without a closing handshake; `Closed` follows (not clean).
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn abort(&mut self) {
        self.inner.abort();
    }

    /// Deferred server, after `Request`: accepts with a subprotocol the client offered (or
    /// none) and extra response headers.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn accept(&mut self, subprotocol: Option<String>, headers: JsValue) -> Result<(), JsValue> {
        let headers = if headers.is_undefined() || headers.is_null() { Vec::new() } else { headers_in(&headers)? };
        self.inner.accept(subprotocol.as_deref(), &headers).map_err(|e| error(&e))
    }

    /// Deferred server, after `Request`: refuses with an HTTP status and a message.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn reject(&mut self, status: u16, message: Option<String>) -> Result<(), JsValue> {
        self.inner.reject(status, message.as_deref().unwrap_or_default()).map_err(|e| error(&e))
    }

    /// The request a deferred server was shown: `{ target, headers }`, or undefined.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn request(&self) -> JsValue {
        let Some((target, headers)) = &self.request else { return JsValue::UNDEFINED };
        let o = Object::new();
        set(&o, "target", target.as_str());
        set(&o, "headers", headers_out(headers));
        o.into()
    }

    /// The peer's head at `Open` (the client's request, the server's response), as
    /// `[name, value]` pairs; empty for a connection made with `fromUpgraded`.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn headers(&self) -> Array {
        headers_out(&self.head)
    }

    /// A server's request target (`/chat?room=1`) once open, or undefined.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn target(&self) -> Option<String> {
        self.target.clone()
    }

    /// The subprotocol in force, or undefined.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn subprotocol(&self) -> Option<String> {
        self.inner.subprotocol().map(str::to_owned)
    }

    /// The extensions in force once open, as the server's response lists them, or
    /// undefined.
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn extensions(&self) -> Option<String> {
        self.inner.extensions().map(str::to_owned)
    }

    /// Bytes accepted for sending and not yet taken from the output.
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> f64 {
        self.inner.buffered_amount() as f64
    }

    /// "connecting", "open", "closing" or "closed".
    #[wasm_bindgen(getter)]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn state(&self) -> String {
        match self.inner.state() {
            core::ConnectionState::Connecting => "connecting",
            core::ConnectionState::Open => "open",
            core::ConnectionState::Closing => "closing",
            core::ConnectionState::Closed => "closed",
        }
        .to_owned()
    }

    /// True for a client.
    #[wasm_bindgen(getter, js_name = isClient)]
    pub fn is_client(&self) -> bool {
        self.inner.role() == core::Role::Client
    }
}

/// The layout of the report, the records and the staged sends, for the glue to check its
/// constants against (one source: this file).
#[wasm_bindgen(js_name = connectionLayout)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn connection_layout() -> Object {
    let o = Object::new();
    let report = Object::new();
    for (i, name) in [
        "count", "records", "out0", "outLen0", "out1", "outLen1", "out2", "outLen2", "wakeLo", "wakeHi", "state",
        "buffered", "flags", "inbox", "inboxCap", "sends", "sendsCap",
    ]
    .iter()
    .enumerate()
    {
        set(&report, name, i as u32);
    }
    set(&report, "words", (std::mem::size_of::<Report>() / 4) as u32);
    set(&o, "report", report);
    let constants = Object::new();
    for (name, value) in [
        ("recordWords", RECORD_WORDS as u32),
        ("directMin", DIRECT_MIN as u32),
        ("request", EV_REQUEST),
        ("open", EV_OPEN),
        ("message", EV_MESSAGE),
        ("ping", EV_PING),
        ("pong", EV_PONG),
        ("closeReceived", EV_CLOSE_RECEIVED),
        ("failed", EV_FAILED),
        ("closed", EV_CLOSED),
        ("text", F_TEXT),
        ("fin", F_FIN),
        ("clean", F_CLEAN),
        ("moreEvents", R_MORE_EVENTS),
        ("inputBlocked", R_INPUT_BLOCKED),
        ("moreOutput", R_MORE_OUTPUT),
        ("error", R_ERROR),
        ("sendText", S_TEXT),
        ("sendBinary", S_BINARY),
        ("sendTextPiece", S_TEXT_PIECE),
        ("sendBinaryPiece", S_BINARY_PIECE),
        ("sendPing", S_PING),
        ("sendPong", S_PONG),
    ] {
        set(&constants, name, value);
    }
    set(&o, "constants", constants);
    o
}

/// The subprotocols a request offers, in order.
#[wasm_bindgen(js_name = offeredSubprotocols)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn offered_subprotocols(request_headers: JsValue) -> Result<Array, JsValue> {
    let headers = headers_in(&request_headers)?;
    Ok(core::offered_subprotocols(&headers).into_iter().map(JsValue::from_str).collect())
}

// The global properties live with the Connection (every entry point loads its wasm): the
// keep-alive interval is what connections ping at.

/// WebSocketGetGlobalProperty(KEEPALIVE_INTERVAL), in milliseconds.
#[wasm_bindgen(js_name = keepaliveInterval)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn keepalive_interval() -> u32 {
    match core::global_property(core::PropertyType::KeepaliveInterval) {
        Ok(core::GlobalProperty::KeepaliveInterval(ms)) => ms,
        _ => core::DEFAULT_KEEPALIVE_INTERVAL_MS,
    }
}

/// Sets the keepalive interval (clamped as the registry value is); returns the value set.
#[wasm_bindgen(js_name = setKeepaliveInterval)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn set_keepalive_interval(ms: u32) -> u32 {
    core::set_keepalive_interval(ms)
}

/// WebSocketGetGlobalProperty(SUPPORTED_VERSIONS).
#[wasm_bindgen(js_name = supportedVersions)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn supported_versions() -> Vec<u32> {
    core::SUPPORTED_VERSIONS.to_vec()
}
