//! Arbitrary scenarios on `wsengine::Connection`, the sans-IO connection layer. One
//! input is one scenario, in one of two modes:
//!
//! - **single**: one connection (a client from `Connection::client`, a server from
//!   `Connection::server`, either role from `Connection::from_upgraded` or opened by an
//!   extended CONNECT, as in pair mode) with small
//!   option values from the input, fed arbitrary bytes, well-formed (or slightly broken)
//!   peer heads and peer frames built from the input, read through `read_buffer` +
//!   `commit`, and driven with every command: `send_text` / `send_binary` (fin or not),
//!   `send_received` (and an echoing host that calls it as it polls), `ping` / `pong`
//!   (payloads up to 130 bytes), `close` (any u16 status or none, reasons up to 130
//!   bytes), `accept` / `reject`, `abort`, `read_eof`, `handle_timeout`, and `advance`
//!   by the whole output, a part, nothing, or too much;
//! - **pair**: a client and a server connection (opened by the HTTP/1.1 handshake on
//!   the wires, upgraded elsewhere, or by an extended CONNECT's fields passed between
//!   `client_connect`, `accept_connect` and `connect_response`, as a single connection
//!   can be too) wired by two in-memory wires: the input
//!   decides the commands on either side, how much of each output is written onto its
//!   wire, and how much of each wire is delivered (`feed`) to the peer, in what cuts.
//!
//! `now` never goes back: one running clock, moved by small arbitrary deltas. After every
//! operation `poll_event` runs until `None`, except that after a `PartialDrain` the next
//! operation is followed by a few polls only, so the one after it runs in the middle of
//! the drain (a host that reacts to an event, with `send_received` say, before polling
//! the next).
//!
//! Checked, beyond "no panic":
//! - every `Err` is one the call documents (listed by variant in `*_error_ok`), with the
//!   `ErrorKind` its variant has; when nothing can be pending (after a full drain, or
//!   right after a message, ping or pong event) the outcome of every command is the exact
//!   one its documentation gives (state, close sent, fragment kind, UTF-8, a message to
//!   echo, control payload length, close status and reason); a refused command changes neither
//!   `output()` nor `buffered_amount()`; an accepted send grows `buffered_amount()` by at
//!   least its payload;
//! - `advance(n)` with `n > output().len()` is `TooManyBytesTransferred { reported: n,
//!   max: len }` and leaves the output byte for byte as it was; `buffered_amount() >=
//!   output().len()`; `wants_write()` agrees with `output()`;
//! - event order: `Request` (deferred servers only) before `Open`, `Open` once and before
//!   any message, ping, pong or close; nothing but `Failed` / `Closed` after
//!   `CloseReceived`; nothing but `Closed` after `Failed` (which follows in the same
//!   drain); nothing at all after `Closed`, and `state()` is `Closed` from then on (and,
//!   after a full drain, only then); `Failed` carries a peer-side error (or `Rejected`)
//!   and `status_sent` is its close status; `Closed` repeats the peer's close status (1006
//!   when none came) and is clean only after a close was received and nothing failed;
//!   `handle_timeout` before `poll_timeout()`'s deadline does nothing, and a host looping
//!   on `poll_timeout() <= now` stops within a few calls;
//! - messages: pieces of one message keep its kind, reassembled ones come whole, no
//!   message grows past `max_message_size`, text is valid UTF-8 as a prefix in every
//!   piece and whole at `fin` (when verification is on);
//! - received side: once open, the events equal the reference decoding (`src/lib.rs`) of
//!   the bytes fed behind the head, exactly unless the connection failed or was aborted,
//!   a prefix otherwise, and a failure is one the reference allows (or a message limit);
//! - sent side: everything written behind the head decodes as a valid stream (masked iff
//!   client) whose data equals the accepted sends, in order (all of them once flushed,
//!   unless aborted), and whose first close is the one `close` accepted;
//! - pair: every message one side sent whole (and that was accepted) arrives at the other
//!   intact and in order; all of them unless a side failed, aborted or lost its transport.
//!
//! Its first findings (fuzz/README.md, regressions/connection) are fixed and now fail it.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsengine::{
    ClientRequest, CloseStatus, Connection, ConnectionState, Error, ErrorKind, Event, HeadLimits, HeadParser,
    HttpHeader, Millis, Options, Property, Role, accept_key,
};
use wsengine_fuzz::{End, Item, RefConfig, Splits, check_complete, check_prefix, is_prefix, normalize, reference};

/// Subprotocol names the configurations and the heads pick from.
const PROTOCOLS: [&str; 3] = ["chat", "v1", "v2"];
/// URLs a client connects to (all valid), besides arbitrary strings.
const URLS: [&str; 4] = ["ws://example.com/chat", "wss://h:8443/?q=1", "ws://[::1]:9001", "WS://a"];

// ------------------------------------------------------------------ input

#[derive(Arbitrary, Debug)]
struct Cfg {
    /// Full range of buffer sizes, not just small ones.
    big_buffers: bool,
    receive_buffer: u16,
    send_buffer: u16,
    disable_utf8: bool,
    disable_masking: bool,
    seed: u8,
    reassemble: bool,
    max_message_size: Option<u32>,
    max_fragments: Option<u8>,
    ping_interval: Option<u8>,
    pong_timeout: Option<u8>,
    close_timeout: Option<u8>,
    open_timeout: Option<u8>,
    defer_accept: bool,
    max_buffered_input: Option<u16>,
    /// Bit i: offers (client) or speaks (server) `PROTOCOLS[i]`.
    protocols: u8,
    head_limits: Option<(u16, u8)>,
    /// An echoing host: the first `echo % 16` message pieces are sent back with
    /// `send_received` as they are polled.
    echo: u8,
}

#[derive(Arbitrary, Debug)]
enum Url {
    Fixed(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Setup {
    Client(Url),
    Server,
    Upgraded { client: bool },
    /// Opened by an extended CONNECT (HTTP/2, HTTP/3): the fields pass between
    /// `client_connect`, `accept_connect` and `connect_response` (the other end made
    /// with the same configuration), then no head goes on the stream.
    Connect { client: bool },
}

#[derive(Arbitrary, Debug, Clone)]
enum Payload {
    Bytes(Vec<u8>),
    Text(String),
    /// Copies of `byte`: `len % 4096` of them for `scale < 192`, `len` up to 248, then
    /// `len * (1 + scale % 8)`, up to 512 KiB: past the zero-copy thresholds and the
    /// output's high-water mark.
    Fill {
        byte: u8,
        len: u16,
        scale: u8,
    },
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Bytes(b) => b.clone(),
            Self::Text(s) => s.clone().into_bytes(),
            Self::Fill { byte, len, scale } => {
                let len = usize::from(*len);
                let n = match scale {
                    0..=191 => len % 4096,
                    192..=247 => len,
                    _ => len * (1 + usize::from(*scale % 8)),
                };
                vec![*byte; n]
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Reason {
    Text(String),
    /// "é" (2 bytes) `n % 70` times: up to 138 bytes, around the 123-byte limit.
    Len(u8),
}

impl Reason {
    fn string(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Len(n) => "é".repeat(usize::from(*n % 70)),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Amount {
    /// Exactly `output().len()`.
    All,
    /// `n % (len + 1)`.
    Part(u16),
    /// `len + 1 + n`: refused.
    TooMuch(u16),
}

/// Commands a host gives a connection (both modes).
#[derive(Arbitrary, Debug)]
enum Cmd {
    Send {
        text: bool,
        fin: bool,
        payload: Payload,
    },
    /// `send_received`: the message piece just polled back (mid-drain, after
    /// `PartialDrain`; otherwise it is refused).
    SendReceived,
    /// Payloads of `len % 131` bytes (the limit is 125).
    Ping {
        len: u8,
        byte: u8,
    },
    Pong {
        len: u8,
        byte: u8,
    },
    Close {
        status: Option<u16>,
        reason: Reason,
        dt: u8,
    },
    Accept {
        subprotocol: Option<u8>,
        header: u8,
    },
    Reject {
        status: u16,
        message: String,
    },
    Abort,
    /// The clock moves by `dt`, then `handle_timeout`.
    Timeout {
        dt: u16,
    },
    /// The clock moves to `poll_timeout()`'s deadline; `handle_timeout` until it is
    /// in the future.
    TimeoutDue,
    Advance(Amount),
    /// After the next operation, poll at most `n % 4` events instead of draining: the
    /// operation after that runs mid-drain (`send_received` needs this).
    PartialDrain(u8),
    /// `release_buffers`: the buffers go to the pool when idle, and come back as needed.
    Release,
}

/// A peer frame, built by the target (single mode).
#[derive(Arbitrary, Debug)]
struct FrameSpec {
    /// 0..=5 map to continuation, text, binary, close, ping, pong; others are raw.
    opcode: u8,
    /// Bit 0: FIN clear. `>= 0xF8`: RSV bits; `& 0x0E == 0x0E`: the wrong masking.
    flags: u8,
    key: [u8; 4],
    body: FrameBody,
}

#[derive(Arbitrary, Debug)]
enum FrameBody {
    Payload(Payload),
    Close { status: u16, reason: Reason },
}

/// A peer head: the client's upgrade request (to a server) or the server's response
/// (to a client, answering the key it sent). `defect >= 200` breaks it.
#[derive(Arbitrary, Debug)]
struct HeadSpec {
    protocols: u8,
    defect: u8,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Cmd(Cmd),
    Feed {
        bytes: Vec<u8>,
        dt: u8,
    },
    /// A head (or nothing for an upgraded connection), then frames, fed in `cuts`.
    Head {
        head: HeadSpec,
        frames: Vec<FrameSpec>,
        cuts: Vec<u8>,
        dt: u8,
    },
    Frames {
        frames: Vec<FrameSpec>,
        cuts: Vec<u8>,
        dt: u8,
    },
    /// `read_buffer` + `commit`.
    ReadInto {
        bytes: Vec<u8>,
        dt: u8,
    },
    /// `read_eof`, or `commit(0, now)`.
    Eof {
        commit: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum PairOp {
    Cmd {
        client: bool,
        cmd: Cmd,
    },
    /// Writes part of a side's output onto its wire.
    Write {
        client: bool,
        amount: Amount,
    },
    /// Feeds `n` (0: all) bytes of a side's wire to its peer.
    Deliver {
        client: bool,
        n: u16,
    },
    Tick {
        dt: u8,
    },
    /// The transport under a side fails: `read_eof` while its peer may still write.
    Eof {
        client: bool,
    },
    Settle,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Single { setup: Setup, cfg: Cfg, ops: Vec<Op> },
    /// `opening % 3`: 0 the HTTP/1.1 handshake on the wires, 1 upgraded elsewhere, 2 an
    /// extended CONNECT.
    Pair { client: Cfg, server: Cfg, opening: u8, ops: Vec<PairOp> },
}

fuzz_target!(|input: Input| match input {
    Input::Single { setup, cfg, ops } => single(setup, &cfg, &ops),
    Input::Pair { client, server, opening, ops } => pair(&client, &server, opening % 3, &ops),
});

/// A client and a server opened by an extended CONNECT, the fields passed between them
/// as an HTTP/2 or HTTP/3 stack would; both open, nothing on the stream yet.
fn connected(clock: Millis, client: &Cfg, server: &Cfg) -> (Connection, Connection) {
    let url = ClientRequest::from_url("wss://example.com/chat").expect("a URL");
    let (mut c, request) = Connection::client_connect(clock, options(client, Role::Client), &url).expect("client");
    assert_eq!((c.state(), c.wants_write()), (ConnectionState::Connecting, false));
    assert_eq!(request[..2], [HttpHeader::new(":method", "CONNECT"), HttpHeader::new(":protocol", "websocket")]);
    let (s, response) = Connection::accept_connect(clock, options(server, Role::Server), &request).expect("server");
    assert_eq!(response[0], HttpHeader::new(":status", "200"));
    c.connect_response(200, &response).expect("the server's own response");
    assert_eq!(c.subprotocol(), s.subprotocol());
    (c, s)
}

// ------------------------------------------------------------------ configuration

fn options(c: &Cfg, role: Role) -> Options {
    let (rbs, sbs) = if c.big_buffers {
        (256 + u32::from(c.receive_buffer) % 65281, 16 + u32::from(c.send_buffer) % 65521)
    } else {
        (256 + u32::from(c.receive_buffer) % 1793, 16 + u32::from(c.send_buffer) % 1009)
    };
    let mut properties = vec![Property::ReceiveBufferSize(rbs), Property::SendBufferSize(sbs)];
    if role == Role::Client {
        properties.push(Property::RandomSeed([c.seed; 32]));
    }
    if c.disable_masking {
        properties.push(Property::DisableMasking(true));
    }
    if c.disable_utf8 {
        properties.push(Property::DisableUtf8Verification(true));
    }
    let ms = |v: Option<u8>| v.map(Millis::from);
    let mut o = Options {
        properties,
        subprotocols: protocols(c.protocols),
        defer_accept: c.defer_accept,
        reassemble: c.reassemble,
        ping_interval: ms(c.ping_interval),
        pong_timeout: ms(c.pong_timeout),
        close_timeout: ms(c.close_timeout),
        open_timeout: ms(c.open_timeout),
        ..Options::default()
    };
    if let Some(m) = c.max_message_size {
        o.max_message_size = u64::from(m % 70_000);
    }
    if let Some(f) = c.max_fragments {
        o.max_fragments = u32::from(f);
    }
    if let Some(b) = c.max_buffered_input {
        o.max_buffered_input = usize::from(b);
    }
    if let Some((len, headers)) = c.head_limits {
        o.head_limits = HeadLimits { max_len: 16 + usize::from(len % 4096), max_headers: usize::from(headers % 32) };
    }
    o
}

fn protocols(bits: u8) -> Vec<String> {
    PROTOCOLS.iter().enumerate().filter(|(i, _)| bits >> i & 1 == 1).map(|(_, p)| (*p).to_owned()).collect()
}

// ------------------------------------------------------------------ one side

/// What a side's host saw, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Request(String),
    Open(Option<String>),
    Message { text: bool, data: Vec<u8>, fin: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    CloseReceived(u16, String),
    Failed(Error, Option<u16>),
    Closed { clean: bool, status: u16, reason: String },
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Request { target, .. } => Ev::Request(target.to_owned()),
        Event::Open { subprotocol, .. } => Ev::Open(subprotocol.map(str::to_owned)),
        Event::Message { text, data, fin } => Ev::Message { text, data: data.to_vec(), fin },
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::CloseReceived { status, reason } => Ev::CloseReceived(status.0, reason.to_owned()),
        Event::Failed { error, status_sent } => Ev::Failed(error, status_sent.map(|s| s.0)),
        Event::Closed { clean, status, reason } => Ev::Closed { clean, status: status.0, reason: reason.to_owned() },
    }
}

struct Side {
    conn: Connection,
    role: Role,
    upgraded: bool,
    verify_utf8: bool,
    masking_disabled: bool,
    reassemble: bool,
    max_message_size: u64,
    max_buffered_input: usize,
    defer_accept: bool,
    protocols: Vec<String>,
    // ---- what the host saw
    requested: bool,
    /// The subprotocol `accept` was given.
    accepted_with: Option<String>,
    opened: bool,
    /// The message being received: its kind, its length so far, and for text to
    /// verify its bytes and how far they are UTF-8-checked.
    message: Option<(bool, u64, Vec<u8>, usize)>,
    /// Indications as reference items (pings as `PongSent`).
    items: Vec<Item>,
    close_received: Option<(u16, String)>,
    /// A message was shown and the host has made no call since (its turn to answer).
    host_turn: bool,
    /// The peer's close came during the host's turn: the connection answers it after the
    /// host's next call, and until then it still takes the host's sends.
    close_answer_due: bool,
    failed: Option<Error>,
    closed: bool,
    /// The last `poll_event` returned `None` and nothing ran since.
    drained: bool,
    /// Nothing unobserved may be pending: after a full drain, or a data, ping or pong
    /// event (those come only once nothing is pending), and nothing ran since. Commands
    /// then have one documented outcome.
    settled: bool,
    /// The message piece the last `poll_event` returned, as an index into `items`.
    shown: Option<usize>,
    /// `PartialDrain`: how many events the next drain after an operation polls.
    partial: Option<usize>,
    /// How many more message pieces the host echoes as it polls them.
    echo: u8,
    // ---- what the host did
    /// Bytes `feed` / `commit` took.
    fed: Vec<u8>,
    eof: bool,
    aborted: bool,
    /// Bytes reported written with `advance`.
    written: Vec<u8>,
    /// Accepted data sends, as reference items.
    sends: Vec<Item>,
    /// The open outgoing message: its kind and (text to verify only) its bytes so far.
    out_message: Option<(bool, Vec<u8>)>,
    /// The close `close` accepted: status (1005 for none) and reason.
    our_close: Option<(u16, Vec<u8>)>,
}

impl Side {
    fn new(conn: Connection, c: &Cfg, role: Role, upgraded: bool) -> Self {
        let o = options(c, role);
        Self {
            conn,
            role,
            upgraded,
            verify_utf8: !c.disable_utf8,
            masking_disabled: c.disable_masking,
            reassemble: o.reassemble,
            max_message_size: o.max_message_size,
            max_buffered_input: o.max_buffered_input,
            defer_accept: o.defer_accept,
            protocols: o.subprotocols,
            requested: false,
            accepted_with: None,
            opened: false,
            message: None,
            items: Vec::new(),
            close_received: None,
            host_turn: false,
            close_answer_due: false,
            failed: None,
            closed: false,
            drained: false,
            settled: false,
            shown: None,
            partial: None,
            echo: c.echo % 16,
            fed: Vec::new(),
            eof: false,
            aborted: false,
            written: Vec::new(),
            sends: Vec::new(),
            out_message: None,
            our_close: None,
        }
    }

    /// Something ran that may have changed what a drain would show.
    fn touched(&mut self) {
        self.drained = false;
        self.settled = false;
    }

    /// May a send or close be accepted now (as far as a drained host can tell)?
    fn live(&self) -> bool {
        (self.opened || self.upgraded) && !self.closed && (self.close_received.is_none() || self.close_answer_due)
    }

    fn check_output(&self) {
        let out = self.conn.output();
        let len = out.len();
        assert_eq!(out.slices().map(<[u8]>::len).sum::<usize>(), len);
        assert_eq!(out.io_slices().iter().map(|s| s.len()).sum::<usize>(), len);
        assert_eq!(self.conn.wants_write(), len > 0);
        assert!(self.conn.buffered_amount() >= len, "buffered_amount {} < output {len}", self.conn.buffered_amount());
    }

    /// Polls until `None` (or `limit` events); returns true when it reached `None`.
    fn drain(&mut self, limit: usize) -> bool {
        for _ in 0..limit {
            self.shown = None;
            let Some(e) = self.conn.poll_event() else {
                self.drained = true;
                self.settled = true;
                self.after_drain();
                return true;
            };
            let e = own(e);
            self.drained = false;
            self.settled = matches!(e, Ev::Message { .. } | Ev::Ping(_) | Ev::Pong(_));
            let message = matches!(e, Ev::Message { .. });
            self.on_event(e);
            if message {
                self.host_turn = true;
                self.shown = Some(self.items.len() - 1);
                if self.echo > 0 {
                    self.echo -= 1;
                    self.command(&Cmd::SendReceived, &mut 0);
                }
            }
            self.check_output();
        }
        assert!(limit < 100_000, "poll_event does not run dry");
        false
    }

    fn drain_all(&mut self) {
        self.drain(100_000);
    }

    /// The drain after an operation: until `None`, or as `PartialDrain` asked.
    fn drain_after_op(&mut self) {
        match self.partial.take() {
            Some(n) => {
                self.drain(n);
            }
            None => self.drain_all(),
        }
    }

    fn on_event(&mut self, e: Ev) {
        let role = self.role;
        assert!(!self.closed, "{role:?}: {e:?} after Closed");
        if self.failed.is_some() {
            assert!(matches!(e, Ev::Closed { .. }), "{role:?}: {e:?} after Failed");
        }
        if self.close_received.is_some() {
            assert!(matches!(e, Ev::Failed(..) | Ev::Closed { .. }), "{role:?}: {e:?} after CloseReceived");
        }
        match e {
            Ev::Request(_) => {
                assert!(role == Role::Server && self.defer_accept && !self.upgraded, "unexpected Request");
                assert!(!self.requested && !self.opened, "a second Request, or one after Open");
                self.requested = true;
                assert_eq!(self.conn.state(), ConnectionState::Connecting);
            }
            Ev::Open(subprotocol) => {
                assert!(!self.opened, "{role:?}: a second Open");
                assert_eq!(self.requested, self.defer_accept && role == Role::Server && !self.upgraded);
                if self.requested {
                    // A deferred server speaks what its host accepted with.
                    assert_eq!(subprotocol, self.accepted_with, "{role:?}: Open after accept");
                } else if let Some(p) = &subprotocol {
                    assert!(self.protocols.contains(p), "{role:?} opened with {p:?}, not among {:?}", self.protocols);
                }
                assert_eq!(self.conn.subprotocol(), subprotocol.as_deref());
                self.opened = true;
            }
            Ev::Message { text, data, fin } => {
                assert!(self.opened, "{role:?}: a message before Open");
                if self.reassemble {
                    assert!(fin, "{role:?}: a piece indicated while reassembling");
                }
                let m = self.message.get_or_insert_with(|| (text, 0, Vec::new(), 0));
                assert_eq!(m.0, text, "{role:?}: a piece of the other kind inside a message");
                m.1 += data.len() as u64;
                assert!(
                    m.1 <= self.max_message_size,
                    "{role:?}: a message of {} bytes passed max_message_size {}",
                    m.1,
                    self.max_message_size
                );
                if text && self.verify_utf8 {
                    m.2.extend_from_slice(&data);
                    let ok = if fin { check_complete(&m.2, &mut m.3) } else { check_prefix(&m.2, &mut m.3) };
                    assert!(ok, "{role:?}: invalid UTF-8 indicated (fin {fin})");
                }
                if fin {
                    self.message = None;
                }
                self.items.push(Item::Data { text, bytes: data, end: fin });
            }
            Ev::Ping(p) => {
                assert!(self.opened && p.len() <= 125);
                self.items.push(Item::PongSent(p));
            }
            Ev::Pong(p) => {
                assert!(self.opened && p.len() <= 125);
                self.items.push(Item::Pong(p));
            }
            Ev::CloseReceived(status, reason) => {
                assert!(self.opened);
                assert!(
                    status == 1005 || CloseStatus(status).is_valid_received(),
                    "{role:?}: CloseReceived with status {status}"
                );
                assert!(reason.len() <= 123);
                self.items.push(Item::Close(status, reason.clone().into_bytes()));
                self.close_received = Some((status, reason));
                self.close_answer_due = self.host_turn;
            }
            Ev::Failed(error, status_sent) => {
                assert!(
                    error.is_peer_error() || matches!(error, Error::Rejected(_)),
                    "{role:?}: Failed with a caller error {error:?} ({:?})",
                    error.kind()
                );
                assert!(status_sent.is_none() || status_sent == error.close_status().map(|s| s.0));
                self.failed = Some(error);
            }
            Ev::Closed { clean, status, reason } => {
                match &self.close_received {
                    Some((s, r)) => assert_eq!((status, &reason), (*s, r), "{role:?}: Closed differs from the close"),
                    None => assert_eq!((status, reason.as_str()), (1006, ""), "{role:?}: Closed without a close"),
                }
                if clean {
                    assert!(self.close_received.is_some() && self.failed.is_none(), "{role:?}: clean Closed");
                }
                self.closed = true;
                assert_eq!(self.conn.state(), ConnectionState::Closed);
            }
        }
    }

    fn after_drain(&mut self) {
        let role = self.role;
        assert!(self.failed.is_none() || self.closed, "{role:?}: Failed without Closed");
        let state = self.conn.state();
        assert_eq!(state == ConnectionState::Closed, self.closed, "{role:?}: state {state:?}, closed {}", self.closed);
        if !self.closed {
            if !self.opened {
                assert_eq!(state, ConnectionState::Connecting, "{role:?}");
            } else if self.close_received.is_some() {
                assert_eq!(state, ConnectionState::Closing, "{role:?}");
            } else {
                assert!(matches!(state, ConnectionState::Open | ConnectionState::Closing), "{role:?}: {state:?}");
            }
        }
        if self.closed {
            assert!(self.conn.poll_event().is_none());
            assert_eq!(self.conn.poll_timeout(), None, "{role:?}: a deadline after Closed");
        }
    }

    // ---------------------------------------------------------------- input

    /// `feed` at `now`; true when the bytes were taken.
    fn feed(&mut self, bytes: &[u8], now: Millis) -> bool {
        if self.eof {
            return false; // a transport gives nothing after its end
        }
        self.host_call();
        let (out, buffered) = (self.conn.output().len(), self.conn.buffered_amount());
        // Reads of odd length are handed over whole (`feed_vec`), the others copied in.
        let fed = if bytes.len() % 2 == 1 { self.conn.feed_vec(bytes.to_vec(), now) } else { self.conn.feed(bytes, now) };
        match fed {
            Ok(()) => {
                self.fed.extend_from_slice(bytes);
                self.touched();
                true
            }
            Err(e) => {
                assert_eq!(e, Error::InputBufferFull { limit: self.max_buffered_input }, "feed");
                assert_eq!(e.kind(), ErrorKind::InvalidArgument);
                assert!(!self.closed, "feed refused after Closed");
                assert_eq!((self.conn.output().len(), self.conn.buffered_amount()), (out, buffered));
                false
            }
        }
    }

    /// `read_buffer` + `commit`.
    fn read_into(&mut self, bytes: &[u8], now: Millis) {
        if self.eof || bytes.is_empty() {
            return;
        }
        let Some(buf) = self.conn.read_buffer() else { return };
        assert!(!buf.is_empty(), "read_buffer lent no space");
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        self.conn.commit(n, now);
        self.fed.extend_from_slice(&bytes[..n]);
        self.touched();
    }

    fn read_eof(&mut self, commit: bool, now: Millis) {
        self.host_call();
        if commit {
            self.conn.commit(0, now);
        } else {
            self.conn.read_eof();
        }
        self.eof = true;
        self.touched();
    }

    // ---------------------------------------------------------------- output

    /// `advance` as `amount` says; the bytes written are appended to `written`.
    fn advance(&mut self, amount: &Amount) {
        let len = self.conn.output().len();
        let n = match amount {
            Amount::All => len,
            Amount::Part(k) => usize::from(*k) % (len + 1),
            Amount::TooMuch(k) => {
                let mut bytes = Vec::new();
                self.conn.output().copy_to(&mut bytes);
                let n = len + 1 + usize::from(*k);
                let buffered = self.conn.buffered_amount();
                assert_eq!(self.conn.advance(n), Err(Error::TooManyBytesTransferred { reported: n, max: len }));
                let mut after = Vec::new();
                self.conn.output().copy_to(&mut after);
                assert!(after == bytes, "a refused advance changed the output");
                assert_eq!(self.conn.buffered_amount(), buffered);
                return;
            }
        };
        let mut left = n;
        for part in self.conn.output().slices() {
            let k = left.min(part.len());
            self.written.extend_from_slice(&part[..k]);
            left -= k;
        }
        self.conn.advance(n).expect("advance within the output");
        self.touched();
    }

    /// Writes, drains and handles due deadlines until nothing is left to do at `now`
    /// (a host finishing up).
    fn flush(&mut self, now: Millis) {
        for _ in 0..10_000 {
            self.drain_all();
            if self.conn.poll_timeout().is_some_and(|d| d <= now) {
                self.timeout(now);
                continue;
            }
            if !self.conn.wants_write() {
                return;
            }
            self.advance(&Amount::All);
        }
        panic!("{:?}: the connection does not settle", self.role);
    }

    // ---------------------------------------------------------------- commands

    fn command(&mut self, cmd: &Cmd, clock: &mut Millis) {
        self.command_inner(cmd, clock);
        // Every command but writing output, releasing the buffers (housekeeping a host
        // does between reads, not an answer) and the handshake's accept or reject is a
        // host call that ends the host's turn.
        if !matches!(
            cmd,
            Cmd::Advance(_) | Cmd::PartialDrain(_) | Cmd::Release | Cmd::Accept { .. } | Cmd::Reject { .. }
        ) {
            self.host_call();
        }
    }

    /// The host made a call: its turn to answer a message is over.
    fn host_call(&mut self) {
        self.host_turn = false;
        self.close_answer_due = false;
    }

    fn command_inner(&mut self, cmd: &Cmd, clock: &mut Millis) {
        let exact = self.settled;
        let (out, buffered) = (self.conn.output().len(), self.conn.buffered_amount());
        let unchanged = |s: &Self| (s.conn.output().len(), s.conn.buffered_amount()) == (out, buffered);
        match cmd {
            Cmd::Send { text, fin, payload } => {
                let (text, fin) = (*text, *fin);
                let data = payload.bytes();
                let expected = self.expected_send(text, fin, &data);
                let r = if text {
                    self.conn.send_text(data.clone(), fin)
                } else {
                    self.conn.send_binary(data.clone(), fin)
                };
                match &r {
                    Ok(()) => self.accepted(text, fin, data, buffered, false),
                    Err(e) => {
                        assert!(send_error_ok(e), "send: {e:?}");
                        assert!(unchanged(self), "a refused send changed the output");
                    }
                }
                if exact {
                    assert_eq!(r, expected, "{:?}: send(text {text}, fin {fin})", self.role);
                }
            }
            Cmd::SendReceived => {
                let shown = self.shown.map(|i| match &self.items[i] {
                    Item::Data { text, bytes, end } => (*text, bytes.clone(), *end),
                    other => unreachable!("{other:?} shown"),
                });
                let expected = match &shown {
                    _ if !self.live() => Err(Error::InvalidState { call: "send", state: self.conn.handle_state() }),
                    None => Err(Error::NoReceivedPiece),
                    Some((text, data, fin)) => self.expected_send(*text, *fin, data),
                };
                let r = self.conn.send_received();
                match &r {
                    Ok(()) => {
                        let (text, data, fin) = shown.expect("send_received accepted with nothing shown");
                        self.shown = None;
                        self.accepted(text, fin, data, buffered, true);
                    }
                    Err(e) => {
                        assert!(send_error_ok(e) || *e == Error::NoReceivedPiece, "send_received: {e:?}");
                        assert!(unchanged(self), "a refused send_received changed the output");
                    }
                }
                if exact {
                    assert_eq!(r, expected, "{:?}: send_received", self.role);
                }
            }
            Cmd::Ping { len, byte } | Cmd::Pong { len, byte } => {
                let payload = vec![*byte; usize::from(*len % 131)];
                let r =
                    if matches!(cmd, Cmd::Ping { .. }) { self.conn.ping(&payload) } else { self.conn.pong(&payload) };
                if let Err(e) = &r {
                    assert!(
                        matches!(e, Error::InvalidState { call: "send", .. })
                            || *e == Error::ControlPayloadTooLong(payload.len()),
                        "ping/pong: {e:?}"
                    );
                    assert!(matches!(e.kind(), ErrorKind::InvalidState | ErrorKind::InvalidArgument));
                    assert!(unchanged(self), "a refused ping/pong changed the output");
                }
                if payload.len() > 125 {
                    assert!(r.is_err(), "a control payload of {} bytes was accepted", payload.len());
                }
                if exact {
                    let expected = if !self.live() {
                        Err(Error::InvalidState { call: "send", state: self.conn.handle_state() })
                    } else if payload.len() > 125 {
                        Err(Error::ControlPayloadTooLong(payload.len()))
                    } else {
                        Ok(())
                    };
                    assert_eq!(r, expected, "{:?}: ping/pong", self.role);
                }
            }
            Cmd::Close { status, reason, dt } => {
                *clock = clock.saturating_add(Millis::from(*dt));
                let reason = reason.string();
                let status = status.map(CloseStatus);
                let expected = self.expected_close(status, &reason);
                let r = self.conn.close(*clock, status, &reason);
                match &r {
                    Ok(()) => {
                        assert!(self.our_close.is_none());
                        self.our_close = Some((status.map_or(1005, |s| s.0), reason.clone().into_bytes()));
                    }
                    Err(e) => {
                        assert!(close_error_ok(e), "close: {e:?}");
                        assert!(unchanged(self), "a refused close changed the output");
                    }
                }
                if exact {
                    assert_eq!(r, expected, "{:?}: close({status:?}, {} bytes)", self.role, reason.len());
                }
            }
            Cmd::Accept { subprotocol, header } => {
                let p = subprotocol.map(|i| ["chat", "v1", "v2", "bad token", "other"][usize::from(i % 5)]);
                let headers: Vec<HttpHeader<'_>> = match header % 4 {
                    0 => vec![],
                    1 => vec![HttpHeader::new("X-Served-By", "fuzz")],
                    2 => vec![HttpHeader::new("Bad Name", "v")],
                    _ => vec![HttpHeader::new("X-Bad", "a\r\nb")],
                };
                let r = self.conn.accept(p, &headers);
                match &r {
                    Ok(()) => self.accepted_with = p.map(str::to_owned),
                    Err(e) => assert!(accept_error_ok(e), "accept: {e:?}"),
                }
                if exact && !(self.requested && !self.opened && !self.closed) {
                    assert!(matches!(r, Err(Error::InvalidState { call: "accept", .. })), "accept: {r:?}");
                }
            }
            Cmd::Reject { status, message } => {
                let r = self.conn.reject(*status, message);
                if let Err(e) = &r {
                    assert!(matches!(e, Error::InvalidState { call: "reject", .. }), "reject: {e:?}");
                    assert!(unchanged(self), "a refused reject changed the output");
                }
                if exact {
                    let waiting = self.requested && !self.opened && !self.closed;
                    assert_eq!(r.is_ok(), waiting, "reject: {r:?}");
                }
            }
            Cmd::Abort => {
                self.conn.abort();
                if !self.closed {
                    self.aborted = true;
                    if exact {
                        // Not yet over: nothing more is written.
                        assert_eq!(self.conn.output().len(), 0, "output left after abort");
                        assert_eq!(self.conn.buffered_amount(), 0, "buffered_amount after abort");
                    }
                }
                assert_eq!(self.conn.state(), ConnectionState::Closed);
            }
            Cmd::Release => {
                let before = self.conn.buffered_amount();
                if self.conn.release_buffers() {
                    // Nothing was held: no output, no unpolled piece to echo any more.
                    assert_eq!(self.conn.output().len(), 0, "buffers released with output left");
                    self.shown = None;
                }
                assert_eq!(self.conn.buffered_amount(), before, "release_buffers changed buffered_amount");
            }
            Cmd::Timeout { dt } => {
                *clock = clock.saturating_add(Millis::from(*dt));
                self.timeout(*clock);
            }
            Cmd::TimeoutDue => {
                if let Some(d) = self.conn.poll_timeout() {
                    *clock = (*clock).max(d);
                }
                for i in 0.. {
                    assert!(i < 4, "{:?}: handle_timeout({clock}) keeps a deadline due", self.role);
                    self.timeout(*clock);
                    self.drain_all();
                    if self.conn.poll_timeout().is_none_or(|d| d > *clock) {
                        break;
                    }
                }
            }
            Cmd::Advance(amount) => self.advance(amount),
            Cmd::PartialDrain(n) => {
                self.partial = Some(usize::from(*n % 4));
                return;
            }
        }
        self.check_output();
        self.touched();
    }

    /// `handle_timeout(now)`; before the deadline, on a drained connection, it does
    /// nothing.
    fn timeout(&mut self, now: Millis) {
        let due = self.conn.poll_timeout().is_some_and(|d| d <= now);
        let was_drained = self.drained;
        let mut before = Vec::new();
        if !due && was_drained {
            self.conn.output().copy_to(&mut before);
        }
        self.conn.handle_timeout(now);
        self.host_call();
        self.touched();
        if !due && was_drained {
            let mut after = Vec::new();
            self.conn.output().copy_to(&mut after);
            assert!(after == before, "{:?}: handle_timeout before the deadline wrote", self.role);
            assert!(
                self.conn.poll_event().is_none(),
                "{:?}: handle_timeout before the deadline gave an event",
                self.role
            );
        }
    }

    /// A data send was accepted: it counts in `buffered_amount` and is due on the wire.
    fn accepted(&mut self, text: bool, fin: bool, data: Vec<u8>, buffered_before: usize, echo: bool) {
        let buffered = self.conn.buffered_amount();
        let _ = echo;
        let counted = data.len();
        assert!(
            buffered >= buffered_before + counted,
            "{:?}: buffered_amount {buffered_before} -> {buffered} after a send of {}",
            self.role,
            data.len()
        );
        let m = self.out_message.get_or_insert_with(|| (text, Vec::new()));
        assert_eq!(m.0, text, "a send of the other kind continued a message");
        if text && self.verify_utf8 {
            m.1.extend_from_slice(&data); // only text is checked
        }
        if fin {
            self.out_message = None;
        }
        self.sends.push(Item::Data { text, bytes: data, end: fin });
    }

    fn expected_send(&self, text: bool, fin: bool, data: &[u8]) -> Result<(), Error> {
        if !self.live() {
            return Err(Error::InvalidState { call: "send", state: self.conn.handle_state() });
        }
        if self.our_close.is_some() {
            return Err(Error::SendAfterClose);
        }
        if let Some((open_text, _)) = &self.out_message
            && *open_text != text
        {
            let open =
                if *open_text { wsengine::BufferType::Utf8Fragment } else { wsengine::BufferType::BinaryFragment };
            let sent = match (text, fin) {
                (true, true) => wsengine::BufferType::Utf8Message,
                (true, false) => wsengine::BufferType::Utf8Fragment,
                (false, true) => wsengine::BufferType::BinaryMessage,
                (false, false) => wsengine::BufferType::BinaryFragment,
            };
            return Err(Error::FragmentTypeMismatch { open, sent });
        }
        if text && self.verify_utf8 {
            let mut all = self.out_message.as_ref().map_or(Vec::new(), |m| m.1.clone());
            all.extend_from_slice(data);
            let mut checked = 0;
            let ok = if fin { check_complete(&all, &mut checked) } else { check_prefix(&all, &mut checked) };
            if !ok {
                return Err(Error::InvalidOutgoingUtf8);
            }
        }
        Ok(())
    }

    fn expected_close(&self, status: Option<CloseStatus>, reason: &str) -> Result<(), Error> {
        if !self.live() {
            return Err(Error::InvalidState { call: "close", state: self.conn.handle_state() });
        }
        if self.our_close.is_some() {
            return Err(Error::SendAfterClose);
        }
        match status {
            Some(s) if !s.is_sendable() => Err(Error::ReservedCloseStatus(s.0)),
            Some(_) if reason.len() > 123 => Err(Error::CloseReasonTooLong(reason.len())),
            Some(_) => Ok(()),
            None if reason.is_empty() => Ok(()),
            None => Err(Error::BufferShapeMismatch(wsengine::BufferType::Close)),
        }
    }
}

fn send_error_ok(e: &Error) -> bool {
    let ok = matches!(
        e,
        Error::InvalidState { call: "send", .. }
            | Error::SendAfterClose
            | Error::FragmentTypeMismatch { .. }
            | Error::InvalidOutgoingUtf8
    );
    ok && matches!(
        e.kind(),
        ErrorKind::InvalidState | ErrorKind::InvalidProtocolOperation | ErrorKind::InvalidProtocolFormat
    )
}

fn close_error_ok(e: &Error) -> bool {
    let ok = matches!(
        e,
        Error::InvalidState { call: "close", .. }
            | Error::SendAfterClose
            | Error::ReservedCloseStatus(_)
            | Error::CloseReasonTooLong(_)
            | Error::BufferShapeMismatch(wsengine::BufferType::Close)
    );
    ok && matches!(
        e.kind(),
        ErrorKind::InvalidState
            | ErrorKind::InvalidProtocolOperation
            | ErrorKind::InvalidProtocolFormat
            | ErrorKind::InvalidArgument
    )
}

/// `accept`: no request waiting, a subprotocol the client did not offer, a subprotocol
/// that is not a token, a header that cannot be written.
fn accept_error_ok(e: &Error) -> bool {
    let ok = matches!(
        e,
        Error::InvalidState { call: "accept", .. }
            | Error::SubprotocolNotOffered
            | Error::InvalidToken
            | Error::InvalidHeader
    );
    ok && matches!(
        e.kind(),
        ErrorKind::InvalidState
            | ErrorKind::SubprotocolNotSupported
            | ErrorKind::InvalidArgument
            | ErrorKind::InvalidProtocolFormat
            | ErrorKind::VersionNotSupported
    )
}

/// Errors of a received frame (those the reference decoder names).
fn is_frame_error(e: &Error) -> bool {
    matches!(
        e,
        Error::ReservedBitsSet { .. }
            | Error::ReservedOpcode(_)
            | Error::FragmentedControlFrame
            | Error::ControlFrameTooLong(_)
            | Error::PayloadLengthOverflow
            | Error::MaskedFrameFromServer
            | Error::UnmaskedFrameFromClient
            | Error::InvalidUtf8
            | Error::CloseBodyTooShort
            | Error::InvalidCloseStatus(_)
            | Error::InvalidCloseReason
            | Error::UnexpectedContinuation
            | Error::ExpectedContinuation
    )
}

/// The connection's limits on received messages (the reference knows none).
fn is_limit_error(e: &Error) -> bool {
    matches!(e, Error::MessageTooBig { .. } | Error::TooManyFragments { .. })
}

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// Where the WebSocket stream starts in bytes that begin with an HTTP head.
fn stream_start(bytes: &[u8], upgraded: bool) -> Option<usize> {
    if upgraded {
        return Some(0);
    }
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn data_only(items: &[Item]) -> Vec<Item> {
    items.iter().filter(|i| matches!(i, Item::Data { .. })).cloned().collect()
}

/// What the side received against the reference decoding of what it was fed.
fn check_received(s: &Side) {
    let role = s.role;
    if !s.opened {
        assert!(s.items.is_empty(), "{role:?}: indications before Open");
        return;
    }
    let from = stream_start(&s.fed, s.upgraded).expect("opened without a complete head");
    let cfg =
        RefConfig { role, accept_unmasked: role == Role::Server && s.masking_disabled, verify_utf8: s.verify_utf8 };
    let (mut want, end) = reference(cfg, &s.fed[from..]);
    for it in &mut want {
        // An unverified close reason that is not UTF-8 is shown as "".
        if let Item::Close(_, r) = it
            && std::str::from_utf8(r).is_err()
        {
            r.clear();
        }
    }
    let views = |items: &[Item]| view(items, s.reassemble);
    let (got, want) = (views(&s.items), views(&want));
    let prefix = |a: &[Vec<Item>], b: &[Vec<Item>]| a.iter().zip(b).all(|(a, b)| is_prefix(a, b));
    match &s.failed {
        Some(e) if is_frame_error(e) || is_limit_error(e) => {
            assert!(prefix(&got, &want), "{role:?} failed with {e:?} and indicated\n{got:?}\nbut was fed\n{want:?}");
            match &end {
                End::Error { allowed, min_items } if allowed.contains(e) => {
                    let min = views(min_items);
                    assert!(prefix(&min, &got), "{role:?} failed before indicating\n{min:?}\n(indicated\n{got:?})");
                }
                _ => assert!(is_limit_error(e), "{role:?} failed with {e:?}; the reference ends {end:?}"),
            }
        }
        Some(_) => assert!(prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut was fed\n{want:?}"),
        None if s.aborted => assert!(prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut was fed\n{want:?}"),
        None => {
            assert!(!matches!(end, End::Error { .. }), "{role:?} did not fail; the reference ends {end:?}");
            assert_eq!(got, want, "{role:?} indicated other items than it was fed");
        }
    }
}

/// Indications as they compare: normalized, in order; with reassembly, whole messages
/// (an unfinished one is not shown) and control items each in their own order, since
/// a message is shown after the control frames that arrived inside it.
fn view(items: &[Item], reassemble: bool) -> Vec<Vec<Item>> {
    if !reassemble {
        return vec![normalize(items, true)];
    }
    let mut data = normalize(&data_only(items), true);
    if matches!(data.last(), Some(Item::Data { end: false, .. })) {
        data.pop();
    }
    let control = items.iter().filter(|i| matches!(i, Item::Pong(_) | Item::Close(..))).cloned().collect();
    vec![data, control]
}

/// What the side wrote against what it accepted.
fn check_written(s: &Side) {
    let role = s.role;
    if !s.opened && !s.upgraded {
        assert!(s.sends.is_empty() && s.our_close.is_none(), "{role:?}: sends accepted before Open");
        return;
    }
    let Some(from) = stream_start(&s.written, s.upgraded) else {
        assert!(s.aborted, "{role:?}: its head was never written");
        return;
    };
    let cfg = RefConfig { role: other(role), accept_unmasked: false, verify_utf8: s.verify_utf8 };
    let (items, end) = reference(cfg, &s.written[from..]);
    if let End::Error { allowed, .. } = &end {
        // Sendable statuses the wire does not allow pass through (as websocket.dll does).
        let passes = matches!(s.our_close, Some((st, _)) if !CloseStatus(st).is_valid_received() && st != 1005)
            && matches!(allowed.as_slice(), [Error::InvalidCloseStatus(st)] if Some(*st) == s.our_close.as_ref().map(|c| c.0));
        assert!(passes, "{role:?} wrote an invalid stream: {end:?}");
    }
    let got = normalize(&data_only(&items), true);
    let sent = normalize(&s.sends, true);
    assert!(is_prefix(&got, &sent), "{role:?} wrote\n{got:?}\nbut accepted\n{sent:?}");
    if !s.aborted {
        assert_eq!(got, sent, "{role:?}: accepted sends were not all written");
        if let Some((st, reason)) = &s.our_close {
            let first = items.iter().find(|i| matches!(i, Item::Close(..)));
            let invalid = matches!(end, End::Error { .. });
            assert!(
                invalid || first == Some(&Item::Close(*st, reason.clone())),
                "{role:?}: closed with {st} {reason:?} but wrote {first:?}"
            );
        }
    }
}

// ------------------------------------------------------------------ building peer bytes

/// The peer's head: an upgrade request for a server, the answer to this client's request.
fn peer_head(s: &Side, request: &[u8], h: &HeadSpec) -> Vec<u8> {
    let offered = protocols(h.protocols);
    let defect = h.defect.checked_sub(200).map(|d| d % 5);
    let mut t = String::new();
    match s.role {
        Role::Server => {
            t += if defect == Some(0) { "POST" } else { "GET" };
            t += " /chat HTTP/1.1\r\nHost: example.com\r\n";
            if defect != Some(1) {
                t += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
            }
            if defect != Some(2) {
                t += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
            }
            t += if defect == Some(3) { "Sec-WebSocket-Version: 8\r\n" } else { "Sec-WebSocket-Version: 13\r\n" };
            if !offered.is_empty() {
                t += &format!("Sec-WebSocket-Protocol: {}\r\n", offered.join(", "));
            }
            if defect == Some(4) {
                t += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
            }
        }
        Role::Client => {
            let mut p = HeadParser::new(HeadLimits::default());
            assert!(p.push(request).expect("the client's request parses"), "the client's request is a whole head");
            let req = p.request().expect("the client's request parses");
            let key = req.headers.iter().find(|h| h.is("Sec-WebSocket-Key")).expect("a key").value.to_vec();
            let accept = if defect == Some(0) { accept_key(b"another key") } else { accept_key(&key) };
            t += if defect == Some(1) { "HTTP/1.1 200 OK\r\n" } else { "HTTP/1.1 101 Switching Protocols\r\n" };
            if defect != Some(2) {
                t += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
            }
            t += &format!("Sec-WebSocket-Accept: {accept}\r\n");
            // One protocol, offered by this client or not.
            if let Some(p) = offered.first() {
                t += &format!("Sec-WebSocket-Protocol: {p}\r\n");
            }
            if defect == Some(3) {
                t += "Sec-WebSocket-Extensions: permessage-deflate\r\n";
            }
            if defect == Some(4) {
                t += "Sec-WebSocket-Accept: x\r\n";
            }
        }
    }
    t += "\r\n";
    t.into_bytes()
}

/// Frames from the peer of a `receiver`: masked iff the receiver is a server, unless
/// the spec asks for the wrong masking.
fn encode_frames(frames: &[FrameSpec], receiver: Role, out: &mut Vec<u8>) {
    for f in frames {
        let opcode = if f.opcode < 240 { [0, 1, 2, 8, 9, 10][usize::from(f.opcode % 6)] } else { f.opcode & 0x0F };
        let fin = f.flags & 0x11 != 0x11;
        let rsv = if f.flags >= 0xF8 { f.flags & 7 } else { 0 };
        let wrong = f.flags & 0x0E == 0x0E;
        let masked = (receiver == Role::Server) != wrong;
        let payload = match &f.body {
            FrameBody::Payload(p) => p.bytes(),
            FrameBody::Close { status, reason } => [&status.to_be_bytes()[..], reason.string().as_bytes()].concat(),
        };
        out.push(u8::from(fin) << 7 | rsv << 4 | opcode);
        let m = if masked { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => out.push(m | n as u8),
            n @ 126..=0xFFFF => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            out.extend_from_slice(&f.key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ f.key[i % 4]));
        } else {
            out.extend_from_slice(&payload);
        }
    }
}

/// Feeds `bytes` in the sizes `cuts` gives (the rest at once after 64 cuts), draining
/// between them (the caller drains after the last); stops at a refusal.
fn feed_in_cuts(s: &mut Side, bytes: &[u8], cuts: &[u8], now: Millis) {
    let mut splits = Splits::new(cuts);
    let mut pos = 0;
    for i in 0.. {
        if pos == bytes.len() {
            return;
        }
        if i > 0 {
            s.drain_all();
        }
        let n = if i < 64 { splits.next_size() } else { usize::MAX }.min(bytes.len() - pos);
        if !s.feed(&bytes[pos..pos + n], now) {
            return;
        }
        pos += n;
    }
}

// ------------------------------------------------------------------ single mode

fn single(setup: Setup, cfg: &Cfg, ops: &[Op]) {
    let mut clock: Millis = 0;
    let (role, upgraded) = match &setup {
        Setup::Client(_) => (Role::Client, false),
        Setup::Server => (Role::Server, false),
        Setup::Upgraded { client: true } | Setup::Connect { client: true } => (Role::Client, true),
        Setup::Upgraded { client: false } | Setup::Connect { client: false } => (Role::Server, true),
    };
    let opts = options(cfg, role);
    let conn = match &setup {
        Setup::Client(url) => {
            let url = match url {
                Url::Fixed(i) => URLS[usize::from(*i) % URLS.len()].to_owned(),
                Url::Raw(s) => s.clone(),
            };
            match ClientRequest::from_url(&url) {
                Ok(r) => Connection::client(clock, opts, &r).expect("a client for a valid URL"),
                Err(e) => {
                    assert!(matches!(e, Error::InvalidUrl(_)) && e.kind() == ErrorKind::InvalidArgument, "{e:?}");
                    return;
                }
            }
        }
        Setup::Server => Connection::server(clock, opts).expect("a server"),
        Setup::Upgraded { .. } => Connection::from_upgraded(role, clock, opts).expect("an upgraded connection"),
        Setup::Connect { client } => {
            let (c, s) = connected(clock, cfg, cfg);
            if *client { c } else { s }
        }
    };
    let mut s = Side::new(conn, cfg, role, upgraded);
    let mut request = Vec::new();
    s.conn.output().copy_to(&mut request);
    if role == Role::Client && !upgraded {
        assert!(request.starts_with(b"GET ") && request.ends_with(b"\r\n\r\n"), "the client's first output");
    } else {
        assert!(request.is_empty());
    }
    s.check_output();
    s.drain_all();
    for op in ops {
        match op {
            Op::Cmd(c) => s.command(c, &mut clock),
            Op::Feed { bytes, dt } => {
                clock = clock.saturating_add(Millis::from(*dt));
                s.feed(bytes, clock);
            }
            Op::Head { head, frames, cuts, dt } => {
                clock = clock.saturating_add(Millis::from(*dt));
                let mut bytes = if upgraded { Vec::new() } else { peer_head(&s, &request, head) };
                encode_frames(frames, role, &mut bytes);
                feed_in_cuts(&mut s, &bytes, cuts, clock);
            }
            Op::Frames { frames, cuts, dt } => {
                clock = clock.saturating_add(Millis::from(*dt));
                let mut bytes = Vec::new();
                encode_frames(frames, role, &mut bytes);
                feed_in_cuts(&mut s, &bytes, cuts, clock);
            }
            Op::ReadInto { bytes, dt } => {
                clock = clock.saturating_add(Millis::from(*dt));
                s.read_into(bytes, clock);
            }
            Op::Eof { commit } => s.read_eof(*commit, clock),
        }
        if !matches!(op, Op::Cmd(Cmd::PartialDrain(_))) {
            s.drain_after_op();
        }
    }
    s.flush(clock);
    check_received(&s);
    check_written(&s);
}

// ------------------------------------------------------------------ pair mode

struct Pair {
    /// [client, server].
    sides: [Side; 2],
    /// Bytes of `sides[i].written` delivered to (or lost on the way to) the other.
    delivered: [usize; 2],
    /// The most bytes of `sides[i]`'s wire tried in one feed: twice what the peer last
    /// took after refusing more (odd reads are copied to hand over, so trying the whole
    /// wire every round would make long transfers to a small input limit quadratic).
    step: [usize; 2],
    /// `sides[i]` closed its transport (after `Closed`, its output written).
    hung_up: [bool; 2],
    /// A transport failed under a live connection (`PairOp::Eof`).
    truncated: bool,
}

fn idx(client: bool) -> usize {
    if client { 0 } else { 1 }
}

impl Pair {
    fn both(&mut self, i: usize) -> (&mut Side, &mut Side) {
        let [c, s] = &mut self.sides;
        if i == 0 { (c, s) } else { (s, c) }
    }

    /// Moves up to `n` (0: all) bytes of side `i`'s wire to its peer (the caller drains
    /// it); returns true when anything moved (or the peer learned of the hang-up).
    fn deliver(&mut self, i: usize, n: usize, now: Millis) -> bool {
        let start = self.delivered[i];
        let peer_gone = self.hung_up[1 - i];
        let hung_up = self.hung_up[i];
        let step = self.step[i];
        let (from, to) = self.both(i);
        let wire = &from.written[start..];
        if wire.is_empty() {
            if hung_up && !to.eof {
                to.read_eof(false, now);
                return true;
            }
            return false;
        }
        let k = if n == 0 { wire.len() } else { n.min(wire.len()) };
        if peer_gone || to.eof {
            // Nobody reads these any more.
            self.delivered[i] += k;
            return true;
        }
        let k = k.min(step);
        let taken = if to.feed(&wire[..k], now) {
            k
        } else {
            // Too much at once: what fits once the peer has read (halving, so a large
            // transfer still moves in large steps).
            to.drain_all();
            let mut n = k;
            loop {
                n = (n / 2).max(1);
                if to.feed(&wire[..n], now) {
                    break n;
                }
                if n == 1 {
                    break 0;
                }
            }
        };
        self.step[i] = if taken < k { (2 * taken).max(1) } else { step.saturating_mul(2) };
        self.delivered[i] += taken;
        taken > 0
    }

    /// A side whose connection is over and whose output is written closes its transport.
    fn hang_ups(&mut self) -> bool {
        let mut moved = false;
        for i in 0..2 {
            let s = &self.sides[i];
            if !self.hung_up[i] && s.closed && !s.conn.wants_write() {
                self.hung_up[i] = true;
                moved = true;
            }
        }
        moved
    }

    /// Writes, delivers and drains both ways until nothing moves.
    fn settle(&mut self, now: Millis) {
        for round in 0.. {
            assert!(round < 100_000, "the pair does not settle");
            let mut moved = false;
            for i in 0..2 {
                self.sides[i].drain_all();
                if self.sides[i].conn.wants_write() {
                    self.sides[i].advance(&Amount::All);
                    self.sides[i].drain_all();
                    moved = true;
                }
                moved |= self.deliver(i, 0, now);
                moved |= self.hang_ups();
            }
            if !moved {
                return;
            }
        }
    }
}

fn pair(ccfg: &Cfg, scfg: &Cfg, opening: u8, ops: &[PairOp]) {
    let mut clock: Millis = 0;
    // No head goes on the wires but the HTTP/1.1 handshake's.
    let upgraded = opening != 0;
    let (c, s) = if opening == 2 {
        connected(clock, ccfg, scfg)
    } else if upgraded {
        (
            Connection::from_upgraded(Role::Client, clock, options(ccfg, Role::Client)).expect("client"),
            Connection::from_upgraded(Role::Server, clock, options(scfg, Role::Server)).expect("server"),
        )
    } else {
        let request = ClientRequest::from_url("ws://example.com/chat").expect("a URL");
        (
            Connection::client(clock, options(ccfg, Role::Client), &request).expect("client"),
            Connection::server(clock, options(scfg, Role::Server)).expect("server"),
        )
    };
    let mut p = Pair {
        sides: [Side::new(c, ccfg, Role::Client, upgraded), Side::new(s, scfg, Role::Server, upgraded)],
        delivered: [0; 2],
        step: [usize::MAX; 2],
        hung_up: [false; 2],
        truncated: false,
    };
    p.sides[0].drain_all();
    p.sides[1].drain_all();
    for op in ops {
        match op {
            PairOp::Cmd { client, cmd } => p.sides[idx(*client)].command(cmd, &mut clock),
            PairOp::Write { client, amount } => p.sides[idx(*client)].advance(amount),
            PairOp::Deliver { client, n } => {
                p.deliver(idx(*client), usize::from(*n), clock);
            }
            PairOp::Tick { dt } => clock = clock.saturating_add(Millis::from(*dt)),
            PairOp::Eof { client } => {
                let s = &mut p.sides[idx(*client)];
                if !s.eof {
                    s.read_eof(false, clock);
                    p.truncated = true;
                }
            }
            PairOp::Settle => p.settle(clock),
        }
        if !matches!(op, PairOp::Cmd { cmd: Cmd::PartialDrain(_), .. }) {
            p.sides[0].drain_after_op();
            p.sides[1].drain_after_op();
        }
        p.hang_ups();
    }
    p.settle(clock);
    for s in &mut p.sides {
        s.flush(clock);
    }
    p.settle(clock);
    for s in &p.sides {
        check_received(s);
        check_written(s);
    }
    // Every message sent whole arrives intact and in order; all of them unless
    // something broke the run.
    let clean = !p.truncated && p.sides.iter().all(|s| s.failed.is_none() && !s.aborted);
    for i in 0..2 {
        let (from, to) = (&p.sides[i], &p.sides[1 - i]);
        let got = normalize(&data_only(&to.items), true);
        let mut sent = normalize(&from.sends, true);
        assert!(is_prefix(&got, &sent), "{:?} received\n{got:?}\nbut its peer sent\n{sent:?}", to.role);
        if to.reassemble && matches!(sent.last(), Some(Item::Data { end: false, .. })) {
            sent.pop(); // an unfinished message is not shown
        }
        if clean {
            assert_eq!(got, sent, "{:?} did not receive all its peer sent", to.role);
        }
    }
}
