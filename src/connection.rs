//! The connection: bytes in, events out, bytes to write, over one [`Handle`].
//!
//! Rules of this file:
//! - Every protocol rule is the handle's: the connection drives a `Handle` through its
//!   action queues and never frames, parses, masks or validates a byte itself.
//! - What lives here is the policy every host used to write by hand: the opening
//!   handshake over raw bytes, answering the peer's close, failing with the mapped
//!   status, keep-alive pings, deadlines, limits, a send queue, and when to close the
//!   transport.
//! - Time is the host's: every deadline is computed from a `now` it passed in.

use std::collections::VecDeque;

use crate::action::{Action, ActionContext, ActionQueue, BufferType, SendBuffer, SendBuffers};
use crate::close::{self, CloseStatus, MAX_CLOSE_REASON_LENGTH};
use crate::error::{Deadline, Error, Result};
use crate::frame::MAX_CONTROL_PAYLOAD;
use crate::handle::{Handle, MessageLimits, Role};
use crate::handshake;
use crate::http::{self, HeadLimits, HeadParser, HttpHeader, RequestHead};
use crate::pool;
use crate::property::{GlobalProperty, Property, PropertyType, global_property};
use crate::state::{Session, State};
use crate::utf8::Utf8Validator;

/// Milliseconds on the host's monotonic clock (any epoch, never going back).
pub type Millis = u64;

/// The default maximum message size: 64 MiB (python-websockets allows 1 MiB, ws 100 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;
/// The default maximum number of frames in one message: Autobahn's case 9.3.1 sends
/// 4 MiB in 65,536 frames of 64 bytes; twice that passes.
pub const DEFAULT_MAX_FRAGMENTS: u32 = 1 << 17;
/// The default time a keep-alive ping waits for its pong: 20 s.
pub const DEFAULT_PONG_TIMEOUT_MS: Millis = 20_000;
/// The default time the closing handshake may take: 10 s.
pub const DEFAULT_CLOSE_TIMEOUT_MS: Millis = 10_000;
/// The default time the opening handshake may take: 10 s.
pub const DEFAULT_OPEN_TIMEOUT_MS: Millis = 10_000;
/// The default most bytes of handed-in input kept unprocessed (see [`Connection::feed`]).
pub const DEFAULT_MAX_BUFFERED_INPUT: usize = 1 << 20;

/// A server's frames of at least this many bytes are written from where they lie (the
/// caller's payload, the receive buffer for an echo); smaller ones are framed into the
/// output buffer, so many small messages leave in one write. Measured
/// (wsengine-bench W3): copying costs more than the frame's own round trip above ~2 KiB.
const SERVER_ZERO_COPY_MIN: usize = 2 * 1024;
/// A client masks every byte into a copy anyway: below this it masks straight into the
/// output buffer; above, through the handle's send area, whose chunks of this size or
/// more are written from there.
const CLIENT_ZERO_COPY_MIN: usize = 16 * 1024;
/// The output buffer stops taking frames at this many unwritten bytes (a large masked
/// message is copied in as it is written, not all at once); and answers to the peer's
/// pings unwritten past it stop the reading.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// A reassembly buffer grown past this is released after its message.
const ASSEMBLY_KEEP: usize = 1 << 20;
/// The output buffer's first size when taken back from the pool.
const OUTPUT_START: usize = 4096;

/// How a [`Connection`] behaves: limits, deadlines and what the handshake offers.
///
/// `Options::default()` is a sensible connection: 64 MiB messages, keep-alive pings at
/// the global keep-alive interval (websocket.dll's `KEEPALIVE_INTERVAL`, 30 s unless
/// [`set_keepalive_interval`](crate::set_keepalive_interval) changed it) answered within
/// 20 s, 10 s for each handshake, data indicated in pieces as it arrives.
#[derive(Clone, Debug)]
pub struct Options {
    /// Properties of the handle underneath (buffer sizes, masking, UTF-8 checks, seed).
    /// Not [`Property::ExtendedConnect`]: the constructor sets the handshake profile
    /// (`DuplicateProperty` when given here).
    pub properties: Vec<Property>,
    /// Client: the subprotocols offered, in preference order. Server: those it speaks,
    /// in preference order; the first one the client offered is selected.
    pub subprotocols: Vec<String>,
    /// Client: extension offers sent as they are, after the permessage-deflate offer
    /// of `deflate` (feature `deflate`); the engine implements none but permessage-deflate, so a
    /// server that accepts another fails the handshake. Server: ignored.
    pub extensions: Vec<String>,
    /// permessage-deflate (feature `deflate`): a client offers it, a server accepts
    /// the first offer it can; `None` (the default) neither offers nor accepts it.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::DeflateOptions>,
    /// Extra headers for the client's request or the server's 101 response.
    pub headers: Vec<HttpHeader<'static>>,
    /// Server: indicate [`Event::Request`] and wait for [`Connection::accept`] or
    /// [`Connection::reject`] instead of answering on its own.
    pub defer_accept: bool,
    /// Limits on the HTTP head of the opening handshake.
    pub head_limits: HeadLimits,
    /// The longest message accepted, in bytes; a longer one fails the connection with
    /// 1009 as soon as a frame header announces it.
    pub max_message_size: u64,
    /// The most frames one message may have; more fail the connection with 1009.
    pub max_fragments: u32,
    /// Deliver whole messages (reassembled, up to `max_message_size`) instead of pieces.
    pub reassemble: bool,
    /// Send a ping after this long; `None` sends none.
    pub ping_interval: Option<Millis>,
    /// Fail the connection (1011) when a keep-alive ping has no pong after this long.
    pub pong_timeout: Option<Millis>,
    /// Give up on the closing handshake after this long and close the transport.
    pub close_timeout: Option<Millis>,
    /// Fail the opening handshake when it takes longer than this.
    pub open_timeout: Option<Millis>,
    /// The most bytes [`Connection::feed`] keeps unprocessed; more is refused.
    pub max_buffered_input: usize,
}

impl Default for Options {
    fn default() -> Self {
        let keepalive = match global_property(PropertyType::KeepaliveInterval) {
            Ok(GlobalProperty::KeepaliveInterval(ms)) => Some(Millis::from(ms)),
            _ => None,
        };
        Self {
            properties: Vec::new(),
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
            headers: Vec::new(),
            defer_accept: false,
            head_limits: HeadLimits::default(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
            reassemble: false,
            ping_interval: keepalive,
            pong_timeout: Some(DEFAULT_PONG_TIMEOUT_MS),
            close_timeout: Some(DEFAULT_CLOSE_TIMEOUT_MS),
            open_timeout: Some(DEFAULT_OPEN_TIMEOUT_MS),
            max_buffered_input: DEFAULT_MAX_BUFFERED_INPUT,
        }
    }
}

/// Where a client connects: the parts of a `ws:` or `wss:` URL the handshake needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    /// The `Host` header: the URL's authority as written (`example.com:8080`).
    pub host: String,
    /// The request target: path and query (`/chat?room=1`), `/` when the URL has none.
    pub target: String,
    /// True for `wss:`: the host runs TLS under the connection.
    pub secure: bool,
}

impl ClientRequest {
    /// Splits a `ws://` or `wss://` URL (RFC 6455 §3). Refuses other schemes, user
    /// information, a fragment and an empty host with `E_INVALIDARG`.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn from_url(url: &str) -> Result<Self> {
        let (secure, rest) = if let Some(r) = strip_prefix_ignore_case(url, "ws://") {
            (false, r)
        } else if let Some(r) = strip_prefix_ignore_case(url, "wss://") {
            (true, r)
        } else {
            return Err(Error::InvalidUrl("the scheme is not ws: or wss:"));
        };
        if rest.contains('#') {
            return Err(Error::InvalidUrl("a WebSocket URL has no fragment"));
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, target) = rest.split_at(end);
        if host.is_empty() {
            return Err(Error::InvalidUrl("the host is empty"));
        }
        if host.contains('@') {
            return Err(Error::InvalidUrl("user information is not allowed"));
        }
        if host.bytes().any(|b| b <= b' ' || b == 0x7F) || target.bytes().any(|b| b <= b' ' || b == 0x7F) {
            return Err(Error::InvalidUrl("the URL has a space or a control character"));
        }
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else if target.is_empty() {
            "/".to_owned()
        } else {
            target.to_owned()
        };
        Ok(Self { host: host.to_owned(), target, secure })
    }

    /// `host:port` to open the transport to: the port from the URL, else 80 or 443.
    #[must_use]
    pub fn address(&self) -> String {
        let has_port = match self.host.rfind(']') {
            Some(i) => self.host[i..].contains(':'),
            None => self.host.contains(':'),
        };
        if has_port { self.host.clone() } else { format!("{}:{}", self.host, if self.secure { 443 } else { 80 }) }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// What the connection tells its host, from [`Connection::poll_event`].
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Server with [`Options::defer_accept`]: the client's upgrade request, checked to
    /// be a WebSocket upgrade. Answer with [`Connection::accept`] or
    /// [`Connection::reject`].
    Request {
        /// The request target (`/chat?room=1`).
        target: &'a str,
        /// The request's header fields ([`offered_subprotocols`](crate::offered_subprotocols)
        /// reads the subprotocols offered).
        headers: Vec<HttpHeader<'a>>,
    },
    /// The opening handshake is done: data may flow.
    Open {
        /// The subprotocol in force, if any.
        subprotocol: Option<&'a str>,
        /// Server: the request target the client asked for (`/chat?room=1`); none for a
        /// client or a connection made with [`Connection::from_upgraded`].
        target: Option<&'a str>,
        /// The peer's head: the client's request, or the server's response (none when
        /// the host's HTTP stack read it: [`Connection::from_upgraded`],
        /// [`Connection::accept_request`], and over HTTP/2 or HTTP/3).
        headers: Vec<HttpHeader<'a>>,
    },
    /// Message data: a piece (`fin` false when more of the message follows) or, with
    /// [`Options::reassemble`], a whole message. Text is valid UTF-8 as a whole; a
    /// piece may end inside a code point.
    Message {
        /// True for a text message.
        text: bool,
        /// The bytes, valid until the next call on the connection.
        data: &'a [u8],
        /// True on the message's last piece.
        fin: bool,
    },
    /// The peer pinged; the pong is already queued.
    Ping(&'a [u8]),
    /// A pong arrived (the answer to a ping, or unsolicited).
    Pong(&'a [u8]),
    /// The peer's close frame; the answer is already queued (unless this side had
    /// closed first).
    CloseReceived {
        /// The peer's status (1005 when its close had no body).
        status: CloseStatus,
        /// The peer's reason.
        reason: &'a str,
    },
    /// The connection failed: a protocol error by the peer, a limit, a deadline, a
    /// refused handshake. `status_sent` is the close status queued to tell the peer,
    /// if any. [`Event::Closed`] follows.
    Failed {
        /// What went wrong.
        error: Error,
        /// The close status sent to the peer.
        status_sent: Option<CloseStatus>,
    },
    /// The connection is over. Write what [`Connection::output`] still holds, then
    /// close the transport: a server closes it first (RFC 6455 §7.1.1); a client gets
    /// this once the server has closed it, or when the close deadline passed.
    Closed {
        /// True when both close frames were exchanged and nothing failed.
        clean: bool,
        /// The peer's close status, or 1006 when none arrived.
        status: CloseStatus,
        /// The peer's close reason.
        reason: &'a str,
    },
}

/// A connection's phase, as its host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The opening handshake is under way.
    Connecting,
    /// Data flows both ways.
    Open,
    /// A close frame went out or came in; the closing handshake is under way.
    Closing,
    /// Over: [`Event::Closed`] was (or is about to be) indicated.
    Closed,
}

/// What the connection sends: the caller's payload, or bytes it copied (a received
/// message it could not send from where it lay, a control payload, a close reason) into
/// a buffer that is reused once sent. Kept small: every action carries one.
#[derive(Debug)]
pub(crate) enum Outgoing<B> {
    App(B),
    Copied(Vec<u8>),
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Outgoing<B> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::App(b) => b.as_ref(),
            Self::Copied(v) => v,
        }
    }
}

impl<B> From<&[u8]> for Outgoing<B> {
    /// A copy (the close that answers a peer's close, once per connection).
    fn from(s: &[u8]) -> Self {
        Self::Copied(s.to_vec())
    }
}

/// A send waiting for the handle's one send slot.
#[derive(Debug)]
struct Queued<B> {
    ty: BufferType,
    buffer: Option<SendBuffer<Outgoing<B>>>,
    /// Text checked when queued: the outgoing UTF-8 state after it.
    utf8_after: Option<Utf8Validator>,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the peer's head (client: the response; server: the request).
    Handshake(Box<HeadParser>),
    /// Server with deferred accept: the request was indicated; waiting for the host.
    AwaitAccept(Box<HeadParser>),
    /// A client's extended CONNECT: waiting for the host to hand in the response
    /// ([`Connection::connect_response`]).
    AwaitResponse,
    /// The handshake is done; `head` holds the peer's head until `Open` is indicated.
    Open,
    /// A client after the closing handshake: waiting for the server to close.
    AwaitEof,
    /// Over.
    Done,
}

/// A pending indication that carries no borrowed data (or data the connection owns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Request,
    Open,
    Failed,
    Closed,
}

/// What a connection reads of its [`Options`] once open.
#[derive(Debug, Clone, Copy)]
struct Policy {
    max_buffered_input: usize,
    ping_interval: Option<Millis>,
    pong_timeout: Option<Millis>,
    close_timeout: Option<Millis>,
    reassemble: bool,
}

/// The pending indications, in order. Each kind is pushed at most once (a failure
/// twice at worst), so a few slots in place hold them all, with no allocation.
#[derive(Debug, Default, Clone, Copy)]
struct PendingQueue {
    slots: [Option<Pending>; 6],
    len: u8,
}

impl PendingQueue {
    fn push_back(&mut self, p: Pending) {
        if let Some(slot) = self.slots.get_mut(usize::from(self.len)) {
            *slot = Some(p);
            self.len += 1;
        }
    }

    fn pop_front(&mut self) -> Option<Pending> {
        let first = self.slots[0].take()?;
        self.slots.rotate_left(1);
        self.len -= 1;
        Some(first)
    }

    fn contains(&self, p: Pending) -> bool {
        self.slots.contains(&Some(p))
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn remove(&mut self, p: Pending) {
        let kept = self.slots.into_iter().flatten().filter(|q| *q != p);
        let mut next = Self::default();
        kept.for_each(|q| next.push_back(q));
        *self = next;
    }
}

/// Keep-alive bookkeeping.
#[derive(Debug, Default, Clone, Copy)]
struct KeepAlive {
    /// When the next ping is due.
    next_ping: Option<Millis>,
    /// The outstanding ping's payload (a counter) and its pong deadline.
    awaiting: Option<(u32, Millis)>,
    counter: u32,
}

/// A sans-IO WebSocket connection: the level of a protocol object (python-websockets'
/// `Protocol`, h11's `Connection`), built on a [`Handle`] so websocket.dll's semantics
/// stay the one protocol truth.
///
/// # The call loop
///
/// ```text
///   feed(read bytes, now) / read_eof()      hand in what the transport read
///   send_* / ping / pong / close(now, ..)   queue commands (sends queue without copying)
///   handle_timeout(now)                     when poll_timeout()'s deadline has passed
///          │
///          ▼
///   poll_event() until None                 open, messages, ping/pong, close, failed, closed
///   output() → write → advance(n)           the bytes to write, vectored, partial writes fine
///   poll_timeout()                          when to call handle_timeout next
///   Closed + output empty                   close the transport
/// ```
///
/// Events borrow the connection: their data is valid until the next call on it.
#[derive(Debug)]
pub struct Connection<B = Vec<u8>> {
    role: Role,
    handle: Handle<Outgoing<B>, ()>,
    /// What the connection reads of its options once open.
    policy: Policy,
    /// The options, until the handshake is over (the rest is only the handshake's).
    setup: Option<Box<Options>>,
    phase: Phase,
    /// The peer's head, kept until `Open` is indicated.
    head: Option<Box<HeadParser>>,
    /// What the handshake agreed on, when it agreed on anything.
    negotiated: Option<Box<Negotiated>>,
    pending: PendingQueue,
    failure: Option<Box<(Error, Option<CloseStatus>)>>,
    /// Sends waiting for the handle's slot, and the send state as of the queue's tail.
    queue: VecDeque<Queued<B>>,
    tail: Session,
    tail_utf8: Utf8Validator,
    /// Payload bytes accepted and not yet framed.
    queued_bytes: usize,
    /// Of `queued_bytes`, the bytes of the handle's send operation not yet framed. They
    /// leave the count as its frames are handed out; whatever is left (a compressed send
    /// frames fewer bytes than it took) leaves when the send completes.
    op_counted: usize,
    /// Frames copied out of the handle, `staging[written..]` unwritten.
    staging: Vec<u8>,
    written: usize,
    /// A large frame written from where it lies: its action, length and bytes written.
    flight: Option<(ActionContext, usize, usize)>,
    /// The automatic answers (pongs) in the output: where the last one staged ends in
    /// `staging`, and the bytes staged since the output was last written past one (at
    /// least those unwritten). Only these stop the reading: the host's own sends never
    /// do, or two peers sending more than they read would each wait for the other.
    answers_end: u32,
    answers: u32,
    /// The data event last shown (its buffer type), while its data is still valid.
    shown: Option<BufferType>,
    /// A buffer a copied send gave back, for the next copy.
    spare: Vec<u8>,
    /// Reassembly: the open message's bytes and kind.
    assembly: Vec<u8>,
    assembling: Option<bool>,
    /// Where a whole message is shown from: the handle's buffer or `assembly`.
    message_in_assembly: bool,
    keepalive: KeepAlive,
    open_deadline: Option<Millis>,
    close_deadline: Option<Millis>,
    peer_close: Option<Box<(CloseStatus, [u8; MAX_CLOSE_REASON_LENGTH], u8)>>,
    /// The transport reached end of stream.
    eof: bool,
    /// The buffers went back to the pool ([`release_buffers`](Self::release_buffers)).
    released: bool,
    /// A message was shown and the host has made no call since: its turn to answer.
    answering: bool,
    /// The peer's close arrived while the host had its turn: the answer waits for it.
    close_answer_due: bool,
    now: Millis,
}

impl<B: AsRef<[u8]>> Connection<B> {
    /// A client connection: queues the upgrade request for `request` (its bytes are in
    /// [`output`](Self::output) at once) and waits for the response.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn client(now: Millis, options: Options, request: &ClientRequest) -> Result<Self> {
        let mut c = Self::create(Role::Client, now, options, Start::Head)?;
        let mut headers = c.begin_client()?;
        headers.insert(0, HttpHeader::new("Host", &request.host));
        c.staging = http::encode_request_head(&request.target, &headers)?;
        Ok(c)
    }

    /// A client connection over HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220): returns it,
    /// waiting for the response, with the header fields of the extended CONNECT request
    /// for the host to send on a new stream: `:method CONNECT`, `:protocol websocket`,
    /// `:scheme` (`https` for `wss:`, else `http`), `:authority`, `:path`, then
    /// `sec-websocket-version 13`, the offers and [`Options::headers`]. Hand the
    /// response to [`connect_response`](Self::connect_response), then the stream's data
    /// to [`feed`](Self::feed); its end (END_STREAM, a FIN) is
    /// [`read_eof`](Self::read_eof), and [`Event::Closed`] says when to end this side of
    /// the stream. The server must have allowed extended CONNECT (HTTP/2's
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL`): the host checks that before.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn client_connect(
        now: Millis,
        options: Options,
        request: &ClientRequest,
    ) -> Result<(Self, Vec<HttpHeader<'static>>)> {
        let mut c = Self::create(Role::Client, now, options, Start::Connect)?;
        let mut fields = c.begin_client()?;
        let scheme = if request.secure { "https" } else { "http" };
        // Pseudo-header fields come first: after the handle's :method and :protocol.
        let rest = fields.split_off(2);
        fields.push(HttpHeader::new(":scheme", scheme));
        fields.push(HttpHeader::field(":authority", request.host.clone()));
        fields.push(HttpHeader::field(":path", request.target.clone()));
        fields.extend(rest);
        Ok((c, fields))
    }

    /// Begins the client handshake with the options' offers: the handle's request
    /// fields, then [`Options::headers`].
    #[cfg_attr(wsengine_size, optimize(size))]
    fn begin_client(&mut self) -> Result<Vec<HttpHeader<'static>>> {
        let Some(setup) = self.setup.as_deref() else { return Err(Error::HeadIncomplete) };
        let subprotocols: Vec<&str> = setup.subprotocols.iter().map(String::as_str).collect();
        #[cfg(feature = "deflate")]
        let offer = setup.deflate.as_ref().map(crate::DeflateOptions::offer).transpose()?;
        #[cfg(not(feature = "deflate"))]
        let offer: Option<String> = None;
        let extensions: Vec<&str> = offer.iter().chain(setup.extensions.iter()).map(String::as_str).collect();
        let mut fields = self.handle.begin_client_handshake(&subprotocols, &extensions, &setup.headers)?.to_vec();
        fields.extend(setup.headers.iter().cloned());
        Ok(fields)
    }

    /// Client made with [`client_connect`](Self::client_connect): the server's response,
    /// its status and header fields. A 2xx whose fields agree with the request opens
    /// the connection ([`Event::Open`] comes next, with no headers: the host has them);
    /// anything else fails it (`UnexpectedStatus`, or the handshake error
    /// [`Handle::end_client_handshake`] gives): [`Event::Failed`] and [`Event::Closed`]
    /// follow, and the error is returned too. Fails with `ERROR_INVALID_STATE`, changing
    /// nothing, when no response is awaited.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn connect_response(&mut self, status: u16, headers: &[HttpHeader<'_>]) -> Result<()> {
        if !matches!(self.phase, Phase::AwaitResponse) {
            return Err(Error::InvalidState { call: "connect_response", state: self.handle.state() });
        }
        self.answering = false;
        let opened = handshake::check_connect_status(status).and_then(|()| self.client_response(headers));
        if let Err(e) = &opened {
            self.fail(*e, None);
        }
        opened
    }

    /// The server's response fields: checked, the handshake's agreement kept, open.
    #[cfg_attr(wsengine_size, optimize(size))]
    fn client_response(&mut self, headers: &[HttpHeader<'_>]) -> Result<()> {
        let outcome = self.handle.end_client_handshake(headers)?;
        let subprotocol =
            outcome.subprotocol.and_then(|i| self.setup.as_deref()?.subprotocols.get(i).map(String::as_str));
        self.negotiated = Negotiated::new(subprotocol, listed_extensions(headers).as_deref());
        self.opened();
        Ok(())
    }

    /// A server connection: waits for the client's upgrade request.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn server(now: Millis, options: Options) -> Result<Self> {
        Self::create(Role::Server, now, options, Start::Head)
    }

    /// A connection whose upgrade was done elsewhere (an HTTP server, a proxy): open at
    /// once; [`Event::Open`] comes first; no extension is in force. Over HTTP/2 or
    /// HTTP/3, [`client_connect`](Self::client_connect) and
    /// [`accept_connect`](Self::accept_connect) negotiate as the HTTP/1.1 handshake does.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn from_upgraded(role: Role, now: Millis, options: Options) -> Result<Self> {
        let mut c = Self::create(role, now, options, Start::Upgraded)?;
        c.opened();
        Ok(c)
    }

    #[cfg_attr(wsengine_size, optimize(size))]
    fn create(role: Role, now: Millis, options: Options, start: Start) -> Result<Self> {
        #[cfg(feature = "deflate")]
        let deflate_props = match &options.deflate {
            Some(d) => {
                d.check()?;
                d.properties().to_vec()
            }
            None => Vec::new(),
        };
        #[cfg(not(feature = "deflate"))]
        let deflate_props = Vec::new();
        // The profile is the constructor's: given among the options, it is given twice.
        let profile = Property::ExtendedConnect(start == Start::Connect);
        let props = options.properties.iter().cloned().chain(deflate_props).chain([profile]);
        let phase = match start {
            Start::Head => Phase::Handshake(Box::new(HeadParser::new(options.head_limits))),
            Start::Connect => Phase::AwaitResponse,
            Start::Upgraded => Phase::Open,
        };
        let mut handle = match (start, role) {
            (Start::Upgraded, _) => Handle::from_upgraded(role, props)?,
            (_, Role::Client) => Handle::new_client(props)?,
            (_, Role::Server) => Handle::new_server(props)?,
        };
        let open_deadline = match start {
            Start::Upgraded => None,
            _ => options.open_timeout.map(|t| now.saturating_add(t)),
        };
        handle.set_message_limits(MessageLimits {
            max_size: options.max_message_size,
            max_frames: options.max_fragments,
        });
        Ok(Self {
            role,
            handle,
            policy: Policy {
                max_buffered_input: options.max_buffered_input,
                ping_interval: options.ping_interval,
                pong_timeout: options.pong_timeout,
                close_timeout: options.close_timeout,
                reassemble: options.reassemble,
            },
            setup: Some(Box::new(options)),
            phase,
            head: None,
            negotiated: None,
            pending: PendingQueue::default(),
            failure: None,
            queue: VecDeque::new(),
            tail: Session::open(),
            tail_utf8: Utf8Validator::new(),
            queued_bytes: 0,
            op_counted: 0,
            staging: Vec::new(),
            written: 0,
            flight: None,
            answers_end: 0,
            answers: 0,
            shown: None,
            spare: Vec::new(),
            assembly: Vec::new(),
            assembling: None,
            message_in_assembly: false,
            keepalive: KeepAlive::default(),
            open_deadline,
            close_deadline: None,
            peer_close: None,
            eof: false,
            released: false,
            answering: false,
            close_answer_due: false,
            now,
        })
    }

    /// The deadline `duration` after the latest `now`, when there is one.
    fn after(&self, duration: Option<Millis>) -> Option<Millis> {
        duration.map(|d| self.now.saturating_add(d))
    }

    /// The handshake finished: start the session's timers and the receive loop.
    fn opened(&mut self) {
        // What only the handshake reads, freed: an open connection holds little.
        self.setup = None;
        self.phase = Phase::Open;
        self.open_deadline = None;
        self.keepalive.next_ping = self.after(self.policy.ping_interval);
        self.pending.push_back(Pending::Open);
    }

    // ------------------------------------------------------------------ getters

    /// The connection's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection's phase.
    #[must_use]
    pub fn state(&self) -> ConnectionState {
        match self.phase {
            Phase::Handshake(_) | Phase::AwaitAccept(_) | Phase::AwaitResponse => ConnectionState::Connecting,
            Phase::Done => ConnectionState::Closed,
            Phase::AwaitEof => ConnectionState::Closing,
            Phase::Open => match self.handle.state() {
                State::Open => ConnectionState::Open,
                _ => ConnectionState::Closing,
            },
        }
    }

    /// The state of the handle underneath (websocket.dll's view).
    #[must_use]
    pub fn handle_state(&self) -> State {
        self.handle.state()
    }

    /// The extensions in force once open, as the server's response lists them (e.g.
    /// `permessage-deflate; client_max_window_bits=15`), or `None`.
    #[must_use]
    pub fn extensions(&self) -> Option<&str> {
        self.negotiated.as_deref()?.extensions.as_deref()
    }

    /// The subprotocol in force, once open.
    #[must_use]
    pub fn subprotocol(&self) -> Option<&str> {
        self.negotiated.as_deref()?.subprotocol.as_deref()
    }

    /// True unless UTF-8 verification was turned off ([`Property::DisableUtf8Verification`]):
    /// then every text message indicated is valid UTF-8 as a whole.
    #[must_use]
    pub fn verifies_utf8(&self) -> bool {
        self.handle.verifies_utf8()
    }

    /// Bytes accepted for sending and not yet written: payloads still queued and
    /// frames built but unwritten (what WebSocket's `bufferedAmount` reports).
    #[must_use]
    pub fn buffered_amount(&self) -> usize {
        self.queued_bytes + self.output_len()
    }

    // ------------------------------------------------------------------ input

    /// Hands in bytes the transport read (any amount, split anywhere) at `now`. They
    /// are copied into the handle's receive buffer (what does not fit waits beside
    /// it); [`poll_event`](Self::poll_event) processes them. Refused with
    /// `E_INVALIDARG`, taking nothing, when more than `max_buffered_input` bytes would
    /// wait unprocessed: process events first.
    pub fn feed(&mut self, mut bytes: &[u8], now: Millis) -> Result<()> {
        self.answering = false;
        self.now = self.now.max(now);
        match &mut self.phase {
            Phase::Handshake(parser) => {
                let head_max = self.setup.as_deref().map_or(0, |o| o.head_limits.max_len);
                if bytes.len() > self.policy.max_buffered_input.saturating_add(head_max) {
                    return Err(Error::InputBufferFull { limit: self.policy.max_buffered_input });
                }
                match parser.push(bytes) {
                    Ok(true) => self.handshake_head(),
                    Ok(false) => {}
                    Err(e) if self.role == Role::Server => self.refuse(&e),
                    Err(e) => self.fail(e, None),
                }
                return Ok(());
            }
            Phase::AwaitAccept(parser) => {
                let waiting = parser.rest().len() + bytes.len();
                if waiting > self.policy.max_buffered_input {
                    return Err(Error::InputBufferFull { limit: self.policy.max_buffered_input });
                }
                let _ = parser.push(bytes);
                return Ok(());
            }
            // Before a response handed in (a stream's data cannot come first): kept.
            Phase::Open | Phase::AwaitResponse => {}
            Phase::AwaitEof | Phase::Done => return Ok(()),
        }
        self.check_input_room(bytes.len())?;
        if let Some(read) = self.read_buffer() {
            let n = bytes.len().min(read.len());
            read[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if n > 0 {
                self.commit(n, now);
            }
        }
        if !bytes.is_empty() {
            self.handle.push_received(bytes)?;
        }
        Ok(())
    }

    /// [`feed`](Self::feed) for bytes the host holds in a `Vec`: taken over rather than
    /// copied when the connection is open and has consumed what it was handed before
    /// (the component hands each transport read in this way).
    pub fn feed_vec(&mut self, bytes: Vec<u8>, now: Millis) -> Result<()> {
        if !matches!(self.phase, Phase::Open) || self.handle.spilled() > 0 {
            return self.feed(&bytes, now);
        }
        self.check_input_room(bytes.len())?;
        self.answering = false;
        self.now = self.now.max(now);
        self.handle.withdraw_read();
        self.handle.push_received_vec(bytes)
    }

    /// Refuses input that would leave more than `max_buffered_input` bytes waiting
    /// beyond the receive buffer.
    fn check_input_room(&self, len: usize) -> Result<()> {
        if self.handle.spilled() + len > self.policy.max_buffered_input + self.handle.receive_buffer_size() {
            return Err(Error::InputBufferFull { limit: self.policy.max_buffered_input });
        }
        Ok(())
    }

    /// True when the host should read from its transport now. False while more than
    /// 256 KiB of answers to the peer's pings wait unwritten (a peer that pings and does
    /// not read what it is sent is not read either; write first), while a
    /// deferred request waits for [`accept`](Self::accept) or [`reject`](Self::reject),
    /// after the end of the stream, and once the connection is over.
    #[must_use]
    pub fn wants_input(&self) -> bool {
        match self.phase {
            Phase::Handshake(_) | Phase::AwaitResponse | Phase::AwaitEof => !self.eof,
            Phase::Open => !self.eof && !self.answers_full(),
            Phase::AwaitAccept(_) | Phase::Done => false,
        }
    }

    /// Zero-copy reads: the handle's free receive space, to read into directly; report
    /// what was read with [`commit`](Self::commit). `None` when the connection cannot
    /// take bytes there now: before it is open, and until [`poll_event`](Self::poll_event)
    /// has processed what it holds (it answers `None` once it needs more).
    pub fn read_buffer(&mut self) -> Option<&mut [u8]> {
        if !matches!(self.phase, Phase::Open) {
            return None;
        }
        let token = self.handle.read_in_flight()?;
        match self.handle.action(token) {
            Ok(Action::ReceiveFromNetwork { buffer, .. }) => Some(buffer),
            _ => None,
        }
    }

    /// Reports `n` bytes read into [`read_buffer`](Self::read_buffer) at `now`.
    /// `n` = 0 is the end of the stream (as [`read_eof`](Self::read_eof)).
    pub fn commit(&mut self, n: usize, now: Millis) {
        self.answering = false;
        self.now = self.now.max(now);
        if n == 0 {
            self.read_eof();
            return;
        }
        if let Some(token) = self.handle.read_in_flight() {
            let _ = self.handle.complete_action(token, n);
        }
    }

    /// The transport reached end of stream (or failed). What was handed in before is
    /// still processed; then the connection ends ([`Event::Closed`]).
    pub fn read_eof(&mut self) {
        self.answering = false;
        match self.phase {
            Phase::Handshake(_) | Phase::AwaitAccept(_) | Phase::AwaitResponse => {
                self.fail(Error::ConnectionClosed, None);
            }
            Phase::Open => {
                self.eof = true;
                if let Some(token) = self.handle.read_in_flight() {
                    let _ = self.handle.complete_action(token, 0);
                }
            }
            Phase::AwaitEof => self.end(),
            Phase::Done => {}
        }
    }

    // ------------------------------------------------------------------ the head

    /// The peer's head is complete (or too large): answer it.
    #[cfg_attr(wsengine_size, optimize(size))]
    fn handshake_head(&mut self) {
        let Phase::Handshake(parser) = std::mem::replace(&mut self.phase, Phase::Done) else { return };
        match self.role {
            Role::Client => self.client_head(parser),
            Role::Server => self.server_head(parser),
        }
    }

    #[cfg_attr(wsengine_size, optimize(size))]
    fn client_head(&mut self, parser: Box<HeadParser>) {
        let opened = parser.response().and_then(|response| {
            if response.status != 101 {
                return Err(Error::UnexpectedStatus(response.status));
            }
            self.client_response(&response.headers)
        });
        match opened {
            Ok(()) => {
                let _ = self.handle.push_received(parser.rest());
                self.head = Some(parser);
            }
            Err(e) => self.fail(e, None),
        }
    }

    #[cfg_attr(wsengine_size, optimize(size))]
    fn server_head(&mut self, parser: Box<HeadParser>) {
        // The whole upgrade is checked before the host is shown it (a deferred accept
        // then fails only on the host's own arguments).
        let checked = parser.request().and_then(|r| {
            handshake::check_request_line(r.method, r.version)?;
            handshake::server_response_headers(&r.headers, None, &[], false).map(|_| ())
        });
        if let Err(e) = checked {
            self.refuse(&e);
            return;
        }
        if self.setup.as_deref().is_some_and(|o| o.defer_accept) {
            self.phase = Phase::AwaitAccept(parser);
            self.pending.push_back(Pending::Request);
            return;
        }
        let chosen = parser.request().ok().and_then(|r| {
            handshake::choose_subprotocol(&r.headers, self.setup.as_deref().map_or(&[][..], |o| &o.subprotocols))
                .map(str::to_owned)
        });
        self.phase = Phase::AwaitAccept(parser);
        if let Err(e) = self.answer(chosen.as_deref(), &[]) {
            self.refuse(&e);
        }
    }

    /// Server with [`Options::defer_accept`], after [`Event::Request`]: accepts the
    /// upgrade with `subprotocol` (one the client offered, or none) and extra response
    /// headers. Fails with `ERROR_INVALID_STATE` when no request waits.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn accept(&mut self, subprotocol: Option<&str>, headers: &[HttpHeader<'_>]) -> Result<()> {
        if !matches!(self.phase, Phase::AwaitAccept(_)) || self.pending.contains(Pending::Request) {
            return Err(Error::InvalidState { call: "accept", state: self.handle.state() });
        }
        if let (Some(p), Phase::AwaitAccept(parser)) = (subprotocol, &self.phase) {
            let offered = parser.request().map(|r| handshake::offered_subprotocols(&r.headers).contains(&p));
            if offered != Ok(true) {
                return Err(Error::SubprotocolNotOffered);
            }
        }
        match self.answer(subprotocol, headers) {
            Err(e @ (Error::InvalidToken | Error::InvalidHeader)) => Err(e),
            Err(e) => {
                self.refuse(&e);
                Err(e)
            }
            Ok(()) => Ok(()),
        }
    }

    /// Server with [`Options::defer_accept`], after [`Event::Request`]: refuses the
    /// upgrade with an HTTP `status` (400-599) and `message` as the body; the
    /// connection then closes.
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn reject(&mut self, status: u16, message: &str) -> Result<()> {
        if !matches!(self.phase, Phase::AwaitAccept(_)) {
            return Err(Error::InvalidState { call: "reject", state: self.handle.state() });
        }
        self.pending.remove(Pending::Request);
        self.staging.extend_from_slice(&http::encode_rejection_status(status, message));
        self.fail(Error::Rejected(status), None);
        Ok(())
    }

    /// Writes the 101 response and opens the session.
    #[cfg_attr(wsengine_size, optimize(size))]
    fn answer(&mut self, subprotocol: Option<&str>, extra: &[HttpHeader<'_>]) -> Result<()> {
        let Phase::AwaitAccept(parser) = &self.phase else { return Err(Error::HeadIncomplete) };
        let request = parser.request()?;
        let Some(setup) = self.setup.as_deref() else { return Err(Error::HeadIncomplete) };
        let (headers, selected) = response(&mut self.handle, setup, &request.headers, subprotocol, extra)?;
        let head = http::encode_response_head(101, "Switching Protocols", &headers)?;
        self.handle.end_server_handshake()?;
        self.handle.push_received(parser.rest())?;
        self.staging.extend_from_slice(&head);
        self.negotiated = Negotiated::new(subprotocol, selected.as_deref());
        let Phase::AwaitAccept(parser) = std::mem::replace(&mut self.phase, Phase::Open) else {
            return Err(Error::HeadIncomplete);
        };
        self.head = Some(parser);
        self.opened();
        Ok(())
    }

    /// A server connection for an upgrade request that an HTTP server (hyper, axum, any
    /// HTTP/1.1 stack) has parsed, so no head passes through the connection: checks the
    /// request as [`server`](Self::server) checks one it reads, selects the subprotocol
    /// (the first of [`Options::subprotocols`] the client offered) and permessage-deflate
    /// as it does, and returns the connection, open ([`Event::Open`] comes first, with
    /// no target or headers: the HTTP server has them), with the header fields of the
    /// `101 Switching Protocols` response that server is to send before handing over the
    /// transport. A request that is no valid upgrade fails with the error that
    /// [`Refusal::upgrade`](crate::Refusal::upgrade) answers (400, 426, 431).
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn accept_request(
        now: Millis,
        options: Options,
        request: &RequestHead<'_>,
    ) -> Result<(Self, Vec<HttpHeader<'static>>)> {
        handshake::check_request_line(request.method, request.version)?;
        Self::accepted(now, options, &request.headers, Start::Head)
    }

    /// A server connection for an HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220) extended
    /// CONNECT request, given by its header fields, pseudo-header fields included
    /// (`:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`, and `:authority`
    /// or `host`; no `sec-websocket-key`, `upgrade` or `connection`). Checked and
    /// answered as [`accept_request`](Self::accept_request) does an HTTP/1.1 upgrade:
    /// returns the connection, open, with the fields of the response to send on the
    /// stream (`:status 200`, the selected subprotocol and extensions,
    /// [`Options::headers`]); then the stream's data goes to [`feed`](Self::feed), its
    /// end to [`read_eof`](Self::read_eof), and [`Event::Closed`] says when to end this
    /// side of it. A request that is no valid WebSocket CONNECT fails with the error
    /// that [`Refusal::connect`](crate::Refusal::connect) answers (400, 426).
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn accept_connect(
        now: Millis,
        options: Options,
        request: &[HttpHeader<'_>],
    ) -> Result<(Self, Vec<HttpHeader<'static>>)> {
        Self::accepted(now, options, request, Start::Connect)
    }

    /// A server connection open on a request its host read: the subprotocol and
    /// permessage-deflate selected as [`server`](Self::server) selects them.
    #[cfg_attr(wsengine_size, optimize(size))]
    fn accepted(
        now: Millis,
        options: Options,
        request: &[HttpHeader<'_>],
        start: Start,
    ) -> Result<(Self, Vec<HttpHeader<'static>>)> {
        let mut c = Self::create(Role::Server, now, options, start)?;
        let Some(setup) = c.setup.as_deref() else { return Err(Error::HeadIncomplete) };
        let chosen = handshake::choose_subprotocol(request, &setup.subprotocols).map(str::to_owned);
        let (headers, selected) = response(&mut c.handle, setup, request, chosen.as_deref(), &[])?;
        c.handle.end_server_handshake()?;
        c.negotiated = Negotiated::new(chosen.as_deref(), selected.as_deref());
        c.opened();
        Ok((c, headers))
    }

    /// Answers a bad upgrade request (400, 426 or 431) and fails.
    #[cfg_attr(wsengine_size, optimize(size))]
    fn refuse(&mut self, e: &Error) {
        self.staging.extend_from_slice(&http::encode_rejection(e));
        self.fail(*e, None);
    }

    // ------------------------------------------------------------------ commands

    /// Queues a text message (`fin`) or a piece of one (`!fin`: more follows with
    /// further calls). Checked at once: state, the open message's kind, UTF-8 across
    /// pieces; nothing is queued when it fails.
    pub fn send_text(&mut self, text: B, fin: bool) -> Result<()> {
        let ty = if fin { BufferType::Utf8Message } else { BufferType::Utf8Fragment };
        self.enqueue_data(ty, text)
    }

    /// Queues a binary message (`fin`) or a piece of one.
    pub fn send_binary(&mut self, data: B, fin: bool) -> Result<()> {
        let ty = if fin { BufferType::BinaryMessage } else { BufferType::BinaryFragment };
        self.enqueue_data(ty, data)
    }

    fn check_command(&self, call: &'static str) -> Result<()> {
        match self.phase {
            Phase::Open if !self.pending.contains(Pending::Failed) => Ok(()),
            _ => Err(Error::InvalidState { call, state: self.handle.state() }),
        }
    }

    fn enqueue_data(&mut self, ty: BufferType, payload: B) -> Result<()> {
        self.answering = false;
        self.reclaim();
        self.check_command("send")?;
        self.tail.check_send(ty)?;
        let len = payload.as_ref().len();
        if self.can_frame_directly(len) {
            // Framed straight into the output: the handle checks it, nothing is kept.
            self.handle.send_into(ty, Some(SendBuffer::Data(Outgoing::App(payload))), &mut self.staging)?;
            self.tail.send_accepted(ty);
            return Ok(());
        }
        // Queued (into the handle's slot at once when it is free): its text is checked
        // now, once, so a refusal is immediate.
        self.tail_utf8 = self.queued_text_state(ty, payload.as_ref())?;
        self.tail.send_accepted(ty);
        self.queued_bytes += len;
        self.push(ty, Some(SendBuffer::Data(Outgoing::App(payload))), ty.is_text().then_some(self.tail_utf8));
        Ok(())
    }

    /// The frame size from which frames are written from where they lie.
    fn zero_copy_min(&self) -> usize {
        match self.role {
            Role::Client => CLIENT_ZERO_COPY_MIN,
            Role::Server => SERVER_ZERO_COPY_MIN,
        }
    }

    /// True when a data send of `len` bytes can be framed straight into the output:
    /// nothing waits before it, the output has room, and it is small enough that a copy
    /// costs less than writing it from where it lies.
    fn can_frame_directly(&self, len: usize) -> bool {
        len < self.zero_copy_min()
            && self.queue.is_empty()
            && self.flight.is_none()
            && self.handle.send_slot_free()
            && self.staging.len() - self.written < OUTPUT_HIGH_WATER
    }

    /// The UTF-8 state after a text send that waits in the queue, checked now from the
    /// state the handle will be in when it gets there (so a refusal is immediate).
    fn queued_text_state(&self, ty: BufferType, data: &[u8]) -> Result<Utf8Validator> {
        let mut v = if self.queue.is_empty() { self.handle.send_utf8_state() } else { self.tail_utf8 };
        if !ty.is_text() || !self.handle.verifies_utf8() {
            return Ok(v);
        }
        let ok = if ty.is_fragment() { v.feed(data) } else { v.finish(data) };
        match ok {
            Err(_) => Err(Error::InvalidOutgoingUtf8),
            Ok(()) if ty.is_fragment() => Ok(v),
            Ok(()) => Ok(Utf8Validator::new()),
        }
    }

    /// Sends the data of the [`Event::Message`] just polled back to the peer, with its
    /// kind and `fin`: the echo a server or a relay makes. Zero copy when nothing else
    /// waits to be sent (the bytes leave from the receive buffer, which then waits for
    /// them, and text is not validated twice); otherwise the piece is copied. Fails
    /// with `E_INVALID_PROTOCOL_OPERATION` when the last event polled was not a message
    /// (`NoReceivedPiece`).
    pub fn send_received(&mut self) -> Result<()> {
        self.answering = false;
        self.reclaim();
        self.check_command("send")?;
        let Some(ty) = self.shown else { return Err(Error::NoReceivedPiece) };
        self.tail.check_send(ty)?;
        if !self.message_in_assembly && self.can_frame_directly(self.handle.indicated().len()) {
            self.handle.send_into(ty, Some(SendBuffer::LastReceived), &mut self.staging)?;
            self.tail.send_accepted(ty);
            self.shown = None;
            return Ok(());
        }
        if !self.message_in_assembly && self.queue.is_empty() && self.handle.send_slot_free() {
            let len = self.handle.indicated().len();
            self.handle.send_from_connection(ty, Some(SendBuffer::LastReceived), (), None)?;
            self.queued_bytes += len;
            self.op_counted = len;
            self.tail.send_accepted(ty);
            self.shown = None;
            self.pump_send();
            return Ok(());
        }
        let data: &[u8] = if self.message_in_assembly { &self.assembly } else { self.handle.indicated() };
        self.tail_utf8 = self.queued_text_state(ty, data)?;
        self.tail.send_accepted(ty);
        // A reassembled message leaves in its own buffer (the assembly takes the spare
        // one); a piece is copied into the spare. Sent buffers come back as the spare, so
        // neither allocates in steady state.
        let mut spare = std::mem::take(&mut self.spare);
        spare.clear();
        let copy = if self.message_in_assembly {
            self.message_in_assembly = false;
            std::mem::replace(&mut self.assembly, spare)
        } else {
            spare.extend_from_slice(self.handle.indicated());
            spare
        };
        let copy = Outgoing::Copied(copy);
        self.queued_bytes += copy.as_ref().len();
        self.shown = None;
        self.push(ty, Some(SendBuffer::Data(copy)), ty.is_text().then_some(self.tail_utf8));
        Ok(())
    }

    /// `bytes` copied into the spare buffer (no allocation once it has grown).
    fn copy(&mut self, bytes: &[u8]) -> Outgoing<B> {
        let mut v = std::mem::take(&mut self.spare);
        if v.capacity() == 0 {
            v = pool::take_empty(bytes.len());
        }
        v.clear();
        v.extend_from_slice(bytes);
        Outgoing::Copied(v)
    }

    /// Queues a ping carrying `payload` (at most 125 bytes; copied).
    pub fn ping(&mut self, payload: &[u8]) -> Result<()> {
        self.enqueue_control(BufferType::PingPong, payload)
    }

    /// Queues an unsolicited pong carrying `payload` (at most 125 bytes; copied).
    pub fn pong(&mut self, payload: &[u8]) -> Result<()> {
        self.enqueue_control(BufferType::UnsolicitedPong, payload)
    }

    fn enqueue_control(&mut self, ty: BufferType, payload: &[u8]) -> Result<()> {
        self.answering = false;
        self.reclaim();
        self.check_command("send")?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlPayloadTooLong(payload.len()));
        }
        self.tail.check_send(ty)?;
        let buffer = if payload.is_empty() { None } else { Some(SendBuffer::Data(self.copy(payload))) };
        self.push(ty, buffer, None);
        Ok(())
    }

    /// Starts the closing handshake at `now`: queues a close with `status` (`None`
    /// sends an empty close, read as 1005) and `reason` (UTF-8, at most 123 bytes).
    /// Data sends fail afterwards; what was queued before still goes out first.
    pub fn close(&mut self, now: Millis, status: Option<CloseStatus>, reason: &str) -> Result<()> {
        self.answering = false;
        self.reclaim();
        self.now = self.now.max(now);
        self.check_command("close")?;
        self.tail.check_send(BufferType::Close)?;
        let buffer = match status {
            Some(status) => {
                close::check_outgoing(status, reason.as_bytes(), true)?;
                Some(SendBuffer::Close { status, reason: self.copy(reason.as_bytes()) })
            }
            None if reason.is_empty() => None,
            None => return Err(Error::BufferShapeMismatch(BufferType::Close)),
        };
        self.tail.send_accepted(BufferType::Close);
        self.push(BufferType::Close, buffer, None);
        self.close_deadline = self.after(self.policy.close_timeout);
        Ok(())
    }

    /// Ends the connection at once, without a closing handshake (websocket.dll's abort):
    /// nothing more is written; [`Event::Closed`] follows, not clean.
    pub fn abort(&mut self) {
        self.answering = false;
        if matches!(self.phase, Phase::Done) {
            return;
        }
        self.handle.abort();
        self.queue.clear();
        self.queued_bytes = 0;
        self.op_counted = 0;
        self.staging.clear();
        self.written = 0;
        self.flight = None;
        self.forget_answers();
        self.end();
    }

    /// Queues a send; `utf8_after` as [`Queued`] has it. Straight into the handle's
    /// send slot when nothing waits before it (the queue's memory is then never taken).
    fn push(&mut self, ty: BufferType, buffer: Option<SendBuffer<Outgoing<B>>>, utf8_after: Option<Utf8Validator>) {
        let next = Queued { ty, buffer, utf8_after };
        if self.queue.is_empty() && self.flight.is_none() && self.handle.send_slot_free() {
            self.hand_to_handle(next);
        } else {
            self.queue.push_back(next);
        }
        self.pump_send();
    }

    /// Gives the handle's free send slot `next`. False when the handle refused what the
    /// tail accepted: the send side broke, and the connection fails.
    fn hand_to_handle(&mut self, next: Queued<B>) -> bool {
        let ty = next.ty;
        self.op_counted = match &next.buffer {
            Some(SendBuffer::Data(d)) if ty.is_data() => d.as_ref().len(),
            _ => 0,
        };
        match self.handle.send_from_connection(ty, next.buffer, (), next.utf8_after) {
            Ok(()) => true,
            Err(e) => {
                self.queue.clear();
                self.queued_bytes = 0;
                self.op_counted = 0;
                self.fail(e, None);
                false
            }
        }
    }

    // ------------------------------------------------------------------ memory

    /// For a host about to wait for its transport with nothing else to do: gives the
    /// connection's buffers (the handle's receive and send areas, the output buffer,
    /// the reassembly buffer) back to this thread's pool, so that an idle connection
    /// holds none; the next call that needs them takes them again from the pool, which
    /// allocates nothing once it has buffers of their size. Returns true when they are
    /// released; false, changing nothing, while the connection holds anything: before
    /// it is open, bytes to write or not yet processed, events not yet polled, a
    /// message being reassembled, a pong or close to send. The message piece polled
    /// last can no longer be sent back with [`send_received`](Self::send_received).
    /// permessage-deflate's windows are kept (context takeover needs them). It is
    /// housekeeping, not an answer: it does not end the host's turn after a message (see
    /// [`poll_event`](Self::poll_event)), so a close that came behind the message still
    /// waits for the host's reply to it.
    pub fn release_buffers(&mut self) -> bool {
        if self.released {
            return true;
        }
        let idle = matches!(self.phase, Phase::Open)
            && !self.wants_write()
            && self.queue.is_empty()
            && self.assembling.is_none()
            && self.pending.is_empty()
            && !self.close_answer_due;
        if !idle || !self.handle.release_idle() {
            return false;
        }
        self.shown = None;
        self.message_in_assembly = false;
        self.written = 0;
        pool::give(std::mem::take(&mut self.staging));
        pool::give(std::mem::take(&mut self.spare));
        pool::give(std::mem::take(&mut self.assembly));
        // Only sends that had to wait took the queue's memory.
        self.queue = VecDeque::new();
        self.released = true;
        true
    }

    /// Takes the output buffer back after [`release_buffers`](Self::release_buffers)
    /// (the handle takes its own back itself, and the spare and reassembly buffers are
    /// taken when first needed).
    #[inline]
    fn reclaim(&mut self) {
        if self.released {
            self.released = false;
            self.staging = pool::take_empty(OUTPUT_START);
        }
    }

    // ------------------------------------------------------------------ output

    fn output_len(&self) -> usize {
        self.staging.len() - self.written + self.flight.map_or(0, |(_, len, done)| len - done)
    }

    /// True while more than the high-water mark of answers to the peer's pings wait
    /// unwritten: nothing more is read until they are written.
    fn answers_full(&self) -> bool {
        self.answers as usize >= OUTPUT_HIGH_WATER
    }

    /// No answer staged so far waits any more (written, or dropped).
    fn forget_answers(&mut self) {
        (self.answers_end, self.answers) = (0, 0);
    }

    /// True when there are bytes to write.
    #[must_use]
    pub fn wants_write(&self) -> bool {
        self.output_len() > 0
    }

    /// True while [`poll_event`](Self::poll_event) gives no event until output is
    /// written, however much input waits: the output ends with a large frame written
    /// from where it lies (an automatic pong must not land inside it), or holds more
    /// than 256 KiB of automatic pongs (see [`wants_input`](Self::wants_input)). A host
    /// that reports writes late (with its next call) calls [`advance`](Self::advance) at
    /// once when this is true.
    #[must_use]
    pub fn events_wait_for_output(&self) -> bool {
        self.flight.is_some() || self.answers_full()
    }

    /// The bytes to write now, in order, as up to three slices (for a vectored
    /// write). Report what was written with [`advance`](Self::advance).
    #[must_use]
    pub fn output(&self) -> Output<'_> {
        let mut parts: [&[u8]; 3] = [&self.staging[self.written..], &[], &[]];
        if let (Some((_, _, done)), Some(buffers)) = (self.flight, self.handle.send_flight_buffers()) {
            let [a, b] = split_off(buffers, done);
            parts[1] = a;
            parts[2] = b;
        }
        Output { parts }
    }

    /// `n` bytes of [`output`](Self::output) were written. More than it holds is
    /// refused with `E_INVALIDARG`.
    pub fn advance(&mut self, mut n: usize) -> Result<()> {
        let max = self.output_len();
        if n > max {
            return Err(Error::TooManyBytesTransferred { reported: n, max });
        }
        let staged = (self.staging.len() - self.written).min(n);
        self.written += staged;
        n -= staged;
        if self.written >= self.answers_end as usize {
            self.forget_answers();
        }
        if self.written == self.staging.len() {
            self.staging.clear();
            self.written = 0;
        }
        if let Some((token, len, done)) = self.flight.as_mut() {
            *done += n;
            if *done == *len {
                let (token, len) = (*token, *len);
                self.flight = None;
                let _ = self.handle.complete_action(token, len);
            }
        }
        self.pump_send();
        Ok(())
    }

    /// Appends all of [`output`](Self::output) to `out` and counts it written, for a
    /// host that hands the bytes on as a buffer (a binding returning a list). When `out`
    /// is empty the output buffer itself is swapped into it, with no copy; `out`'s
    /// old allocation becomes the output buffer.
    pub fn take_output(&mut self, out: &mut Vec<u8>) {
        self.reclaim();
        while self.wants_write() {
            if out.is_empty() && self.written == 0 && self.flight.is_none() {
                std::mem::swap(out, &mut self.staging);
                self.forget_answers();
                self.pump_send();
            } else {
                self.output().copy_to(out);
                let n = self.output_len();
                // Exactly what the output holds, which `advance` never refuses.
                let _ = self.advance(n);
            }
        }
    }

    /// Moves sends from the queue into the handle and frames out of it into the output,
    /// until the handle has nothing to hand out, a large frame waits to be written, or
    /// the output is full. Inline for the common case, nothing to send, which every
    /// poll meets.
    #[inline]
    fn pump_send(&mut self) {
        if self.flight.is_none() && !(self.queue.is_empty() && self.handle.send_slot_free()) {
            self.pump_send_queued();
        }
    }

    fn pump_send_queued(&mut self) {
        let zero_copy_min = self.zero_copy_min();
        while self.flight.is_none() && self.staging.len() - self.written < OUTPUT_HIGH_WATER {
            if self.queue.is_empty() && self.handle.send_slot_free() {
                return;
            }
            match self.handle.get_action(ActionQueue::Send) {
                Ok(Action::SendToNetwork { buffers, action, .. }) => {
                    let len = buffers.len();
                    // A large frame is written from where it lies, after whatever output
                    // is still unwritten (`output` puts the staged bytes first; nothing
                    // is staged while a flight lasts: the send and receive sides wait).
                    let large = len >= zero_copy_min;
                    if !large {
                        buffers.copy_to(&mut self.staging);
                    }
                    // The payload this frame carries leaves the queued count: from here
                    // on it is counted as output.
                    let framed = self.handle.send_flight_advance().min(self.op_counted);
                    self.op_counted -= framed;
                    self.queued_bytes = self.queued_bytes.saturating_sub(framed);
                    if large {
                        // Written from where it lies. The token from the handle's fields
                        // (see poll_event).
                        self.flight = self.handle.send_flight_token().map(|token| (token, len, 0));
                        return;
                    }
                    let _ = self.handle.complete_action(action, len);
                }
                Ok(Action::IndicateSendComplete { buffer, action, .. }) => {
                    self.queued_bytes = self.queued_bytes.saturating_sub(std::mem::take(&mut self.op_counted));
                    match buffer {
                        Some(SendBuffer::Data(data)) => {
                            if let Outgoing::Copied(v) = data
                                && v.capacity() > self.spare.capacity()
                                && v.capacity() <= ASSEMBLY_KEEP
                            {
                                self.spare = v;
                            }
                        }
                        other => drop(other),
                    }
                    let _ = self.handle.complete_action(action, 0);
                }
                Ok(_) | Err(_) => {
                    // Nothing to hand out: when the slot is free (not merely waiting, as
                    // a close does while a pong holds the control area), hand the handle
                    // the next queued send.
                    if !self.handle.send_slot_free() {
                        return;
                    }
                    let Some(next) = self.queue.pop_front() else { return };
                    if !self.hand_to_handle(next) {
                        return;
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ time

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the
    /// earliest deadline (opening or closing handshake, next keep-alive ping, pong), or
    /// the last `now` when a peer failure waits for the host's next call (see
    /// [`poll_event`](Self::poll_event)).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Millis> {
        let waiting = self.close_answer_due || self.handle.state() == State::Failed;
        if self.answering && matches!(self.phase, Phase::Open) && waiting {
            // A failure or the answer to a close waits for the host's next call (see
            // poll_event): make it now.
            return Some(self.now);
        }
        let ping = match self.phase {
            Phase::Open if self.handle.state() == State::Open => match self.keepalive.awaiting {
                Some((_, deadline)) => Some(deadline),
                None => self.keepalive.next_ping,
            },
            _ => None,
        };
        [self.open_deadline, self.close_deadline, ping].into_iter().flatten().min()
    }

    /// Time passed: sends a due keep-alive ping, fails the connection on a deadline.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.reclaim();
        self.answering = false;
        self.now = self.now.max(now);
        let now = self.now;
        if self.open_deadline.is_some_and(|d| now >= d) {
            self.open_deadline = None;
            self.fail(Error::TimedOut(Deadline::OpeningHandshake), None);
            return;
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.close_deadline = None;
            if !matches!(self.phase, Phase::Done) {
                if !matches!(self.phase, Phase::AwaitEof) {
                    self.failure.get_or_insert_with(|| Box::new((Error::TimedOut(Deadline::ClosingHandshake), None)));
                    self.pending.push_back(Pending::Failed);
                }
                self.end();
            }
            return;
        }
        if !matches!(self.phase, Phase::Open) || self.handle.state() != State::Open {
            return;
        }
        if let Some((_, deadline)) = self.keepalive.awaiting {
            if now >= deadline {
                self.keepalive.awaiting = None;
                self.fail_with_close(Error::TimedOut(Deadline::Pong));
            }
            return;
        }
        if self.keepalive.next_ping.is_some_and(|t| now >= t) {
            self.keepalive.counter = self.keepalive.counter.wrapping_add(1);
            let id = self.keepalive.counter;
            if self.enqueue_control(BufferType::PingPong, &id.to_be_bytes()).is_ok() {
                let deadline = self.after(self.policy.pong_timeout).unwrap_or(Millis::MAX);
                self.keepalive.awaiting = Some((id, deadline));
            }
            self.keepalive.next_ping = self.after(self.policy.ping_interval);
        }
    }

    // ------------------------------------------------------------------ events

    fn complete_held(&mut self) {
        self.shown = None;
        // The receive indication shown to the host is completed at its next call.
        self.handle.release_indication();
        if self.message_in_assembly {
            self.message_in_assembly = false;
            self.assembly.clear();
            if self.assembly.capacity() > ASSEMBLY_KEEP {
                self.assembly = Vec::new();
            }
        }
    }

    /// Keeps one receive outstanding on the handle while the session reads.
    fn ensure_receive(&mut self) {
        if matches!(self.phase, Phase::Open) {
            // None once the receive side is over: nothing more is read then.
            self.handle.queue_receive(());
        }
    }

    /// The next event, or `None` when the connection needs input, output written, or
    /// time to pass. Call until `None` after every `feed`, command and `advance`.
    ///
    /// Events come in the order of the stream, and the host's answers keep that order:
    /// when the peer broke the protocol or closed right behind a message, the close this
    /// side sends for it (and `Failed`) waits until the host's next call after that
    /// message (a send, a feed, `handle_timeout`...), so an answer to the message goes
    /// out before the close even from a host that drains every event before answering.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        self.reclaim();
        self.complete_held();
        if !self.answering && self.close_answer_due {
            self.answer_close();
        }
        match self.pending.pop_front() {
            Some(Pending::Request) => return self.request_event(),
            Some(p) => return Some(self.pending_event(p)),
            None => {}
        }
        self.head = None;
        if !matches!(self.phase, Phase::Open) {
            return None;
        }
        loop {
            self.pump_send();
            if self.flight.is_some() {
                // A large frame is being written: the receive side waits for it, so an
                // automatic pong cannot land inside it.
                return None;
            }
            if self.answers_full() {
                // The peer pings and does not read the answers: nothing more is taken
                // from it until they are written.
                return None;
            }
            self.ensure_receive();
            let step = match self.handle.get_action(ActionQueue::Receive) {
                Ok(Action::ReceiveFromNetwork { action, .. }) if self.eof => {
                    let _ = self.handle.complete_action(action, 0);
                    continue;
                }
                Ok(Action::ReceiveFromNetwork { .. }) | Ok(Action::NoAction) => return None,
                Ok(Action::SendToNetwork { buffers, action, .. }) => {
                    // An automatic pong: into the output, then tell the host of the ping.
                    let len = buffers.len();
                    buffers.copy_to(&mut self.staging);
                    // Both stay far below 4 GiB: staging stops at the high-water mark.
                    self.answers_end = self.staging.len() as u32;
                    self.answers = self.answers.saturating_add(len as u32);
                    let _ = self.handle.complete_action(action, len);
                    Step::Ping
                }
                Ok(Action::IndicateReceiveComplete { buffer_type, close_status, .. }) => {
                    Step::Indication(buffer_type, close_status)
                }
                Ok(Action::IndicateSendComplete { .. }) => return None,
                Err(_) if self.answering => {
                    // A message was shown since the host's last call: its answer goes
                    // out before the close this failure sends. The error is sticky in
                    // the handle; it is taken at the first poll after the host's next
                    // call (poll_timeout says now meanwhile).
                    return None;
                }
                Err(e) => {
                    match e.close_status() {
                        Some(_) => self.fail_with_close(e),
                        None => self.fail(e, None),
                    }
                    return self.poll_event();
                }
            };
            match step {
                Step::Ping => {
                    if let Some(range) = self.handle.take_last_ping() {
                        return Some(Event::Ping(self.handle.received(range)));
                    }
                }
                Step::Indication(None, _) => {
                    // The transport closed before the closing handshake finished.
                    self.complete_held();
                    self.end();
                    return self.poll_event();
                }
                Step::Indication(Some(BufferType::Close), status) => {
                    return self.on_peer_close(status.unwrap_or(CloseStatus::EMPTY));
                }
                Step::Indication(Some(BufferType::PingPong), _) => {
                    if let Some((id, _)) = self.keepalive.awaiting
                        && self.handle.indicated() == &id.to_be_bytes()[..]
                    {
                        self.keepalive.awaiting = None;
                    }
                    return Some(Event::Pong(self.handle.indicated()));
                }
                Step::Indication(Some(ty), _) => match self.gather(ty) {
                    Show::Piece { text, fin } => {
                        self.shown = Some(ty);
                        self.answering = true;
                        return Some(Event::Message { text, data: self.handle.indicated(), fin });
                    }
                    Show::Assembled { text } => {
                        self.shown = Some(if text { BufferType::Utf8Message } else { BufferType::BinaryMessage });
                        self.answering = true;
                        return Some(Event::Message { text, data: &self.assembly, fin: true });
                    }
                    Show::Nothing => self.complete_held(),
                },
            }
        }
    }

    /// A data piece arrived: shown as is, or gathered into a whole message.
    fn gather(&mut self, ty: BufferType) -> Show {
        let text = ty.is_text();
        let fin = !ty.is_fragment();
        if !self.policy.reassemble || (self.assembling.is_none() && fin) {
            // Pieces as they come, or a whole message in one piece: shown from the
            // handle's buffer, no copy.
            return Show::Piece { text, fin };
        }
        if self.assembly.capacity() == 0 {
            self.assembly = pool::take_empty(self.handle.indicated().len());
        }
        self.assembly.extend_from_slice(self.handle.indicated());
        self.assembling = Some(text);
        if !fin {
            return Show::Nothing;
        }
        self.assembling = None;
        self.message_in_assembly = true;
        Show::Assembled { text }
    }

    /// The peer's close frame: answer it (unless this side closed first), then end
    /// (a server at once; a client once the server closes the transport).
    fn on_peer_close(&mut self, status: CloseStatus) -> Option<Event<'_>> {
        let reason = self.handle.indicated();
        let mut stored = [0u8; MAX_CLOSE_REASON_LENGTH];
        let n = reason.len().min(MAX_CLOSE_REASON_LENGTH);
        stored[..n].copy_from_slice(&reason[..n]);
        self.peer_close = Some(Box::new((status, stored, n as u8)));
        // Answered at once, or, when a message was shown since the host's last call,
        // after the host's answer to it (see poll_event).
        self.close_answer_due = true;
        if !self.answering {
            self.answer_close();
        }
        let reason = std::str::from_utf8(&self.handle.indicated()[..n]).unwrap_or("");
        Some(Event::CloseReceived { status, reason })
    }

    /// Answers the peer's close (unless this side closed first), then ends: a server at
    /// once, a client once the server closes the transport.
    fn answer_close(&mut self) {
        self.close_answer_due = false;
        if !self.tail.close_sent()
            && let Some(&(status, reason, n)) = self.peer_close.as_deref()
        {
            let reply = status.reply::<Outgoing<B>>(&reason[..usize::from(n)]);
            self.tail.send_accepted(BufferType::Close);
            self.push(BufferType::Close, reply, None);
        }
        match self.role {
            Role::Server => self.pending.push_back(Pending::Closed),
            // The server already closed the transport: nothing to wait for.
            Role::Client if self.eof => self.pending.push_back(Pending::Closed),
            Role::Client => {
                self.phase = Phase::AwaitEof;
                self.close_deadline = self.after(self.policy.close_timeout);
            }
        }
    }

    fn request_event(&mut self) -> Option<Event<'_>> {
        let Phase::AwaitAccept(parser) = &self.phase else { return None };
        let request = parser.request().ok()?;
        Some(Event::Request { target: request.target, headers: request.headers })
    }

    fn pending_event(&mut self, p: Pending) -> Event<'_> {
        match p {
            Pending::Open => {
                let headers = self
                    .head
                    .as_ref()
                    .and_then(|h| {
                        if self.role == Role::Client {
                            h.response().ok().map(|r| r.headers)
                        } else {
                            h.request().ok().map(|r| r.headers)
                        }
                    })
                    .unwrap_or_default();
                let target = match (self.role, &self.head) {
                    (Role::Server, Some(h)) => h.request().ok().map(|r| r.target),
                    _ => None,
                };
                Event::Open { subprotocol: self.subprotocol(), target, headers }
            }
            Pending::Failed => {
                let (error, status_sent) = self.failure.as_deref().cloned().unwrap_or((Error::ConnectionClosed, None));
                Event::Failed { error, status_sent }
            }
            Pending::Closed | Pending::Request => {
                let clean = self.failure.is_none() && self.peer_close.is_some() && self.tail.close_sent();
                self.finish();
                let (status, reason) = match self.peer_close.as_deref() {
                    Some((s, r, n)) => (*s, std::str::from_utf8(&r[..usize::from(*n)]).unwrap_or("")),
                    None => (CloseStatus::ABORTED, ""),
                };
                Event::Closed { clean, status, reason }
            }
        }
    }

    // ------------------------------------------------------------------ ending

    /// Fails with `error`: tells the peer with its close status when the session is
    /// open and no close went out, then ends.
    fn fail_with_close(&mut self, error: Error) {
        let status = error.close_status();
        let mut sent = None;
        if let Some(s) = status
            && matches!(self.phase, Phase::Open)
            && !self.tail.close_sent()
            && self.tail.check_send(BufferType::Close).is_ok()
        {
            self.tail.send_accepted(BufferType::Close);
            let close = SendBuffer::Close { status: s, reason: Outgoing::Copied(Vec::new()) };
            self.push(BufferType::Close, Some(close), None);
            sent = Some(s);
        }
        self.fail(error, sent);
    }

    fn fail(&mut self, error: Error, status_sent: Option<CloseStatus>) {
        if self.failure.is_none() {
            self.failure = Some(Box::new((error, status_sent)));
            self.pending.push_back(Pending::Failed);
        }
        self.end();
    }

    /// The connection is over: `Closed` is indicated after what is pending.
    fn end(&mut self) {
        self.finish();
        if !self.pending.contains(Pending::Closed) {
            self.pending.push_back(Pending::Closed);
        }
    }

    /// Over: no deadline is kept, and nothing is read any more, so an automatic pong
    /// still waiting (for a frame boundary) is dropped rather than left to hold up the
    /// close behind it.
    fn finish(&mut self) {
        self.phase = Phase::Done;
        // Nothing is answered once over (after an abort, say).
        self.close_answer_due = false;
        self.open_deadline = None;
        self.close_deadline = None;
        self.keepalive = KeepAlive::default();
        self.handle.cancel_pong();
        self.pump_send();
    }
}

/// How a connection begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// HTTP/1.1: an upgrade head read or written by the connection, or read by the
    /// host's HTTP server ([`Connection::accept_request`]).
    Head,
    /// An extended CONNECT over HTTP/2 or HTTP/3, the fields passed by the host.
    Connect,
    /// The upgrade was done elsewhere.
    Upgraded,
}

/// What the receive queue produced, read out before the handle is borrowed again.
enum Step {
    Ping,
    Indication(Option<BufferType>, Option<CloseStatus>),
}

/// How a data piece is shown.
enum Show {
    Piece { text: bool, fin: bool },
    Assembled { text: bool },
    Nothing,
}

/// A server's answer to `request`: begins `handle`'s server handshake with `subprotocol`
/// and the permessage-deflate response `options` allow (feature `deflate`), and returns
/// the 101's header fields (the handle's, `options.headers`, then `extra`) and the
/// extensions selected.
#[cfg_attr(wsengine_size, optimize(size))]
fn response<B: AsRef<[u8]>>(
    handle: &mut Handle<Outgoing<B>, ()>,
    options: &Options,
    request: &[HttpHeader<'_>],
    subprotocol: Option<&str>,
    extra: &[HttpHeader<'_>],
) -> Result<(Vec<HttpHeader<'static>>, Option<String>)> {
    if extra.iter().chain(&options.headers).any(|h| !h.is_writable()) {
        return Err(Error::InvalidHeader);
    }
    #[cfg(feature = "deflate")]
    let selected = match &options.deflate {
        Some(d) => crate::accept_deflate(request, d)?,
        None => None,
    };
    #[cfg(not(feature = "deflate"))]
    let selected: Option<String> = None;
    let extensions: Vec<&str> = selected.iter().map(String::as_str).collect();
    let mut headers = handle.begin_server_handshake(subprotocol, &extensions, request)?.to_vec();
    headers.extend(options.headers.iter().cloned());
    headers.extend(extra.iter().map(|h| h.clone().into_owned()));
    Ok((headers, selected))
}

/// The subprotocol and the extensions (as the server's response lists them) a handshake
/// agreed on. Boxed, and only when there is one: most connections agree on neither.
#[derive(Debug)]
struct Negotiated {
    subprotocol: Option<Box<str>>,
    extensions: Option<Box<str>>,
}

impl Negotiated {
    fn new(subprotocol: Option<&str>, extensions: Option<&str>) -> Option<Box<Self>> {
        (subprotocol.is_some() || extensions.is_some()).then(|| {
            Box::new(Self { subprotocol: subprotocol.map(Into::into), extensions: extensions.map(Into::into) })
        })
    }
}

/// The `Sec-WebSocket-Extensions` values of a response, joined, if any.
#[cfg_attr(wsengine_size, optimize(size))]
fn listed_extensions(headers: &[HttpHeader<'_>]) -> Option<String> {
    let mut values = headers.iter().filter(|h| h.is("Sec-WebSocket-Extensions")).peekable();
    values.peek()?;
    Some(handshake::join(values.map(|h| String::from_utf8_lossy(&h.value))))
}

/// `buffers` without their first `skip` bytes.
fn split_off(buffers: SendBuffers<'_>, skip: usize) -> [&[u8]; 2] {
    let [a, b] = match buffers.as_slices() {
        [a, b] => [*a, *b],
        [a] => [*a, &[][..]],
        _ => [&[][..], &[][..]],
    };
    if skip <= a.len() { [&a[skip..], b] } else { [&[][..], &b[(skip - a.len()).min(b.len())..]] }
}

/// The bytes a connection has to write, in order.
#[derive(Clone, Copy, Debug)]
pub struct Output<'a> {
    parts: [&'a [u8]; 3],
}

impl<'a> Output<'a> {
    /// The non-empty slices, in order.
    pub fn slices(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.parts.iter().copied().filter(|p| !p.is_empty())
    }

    /// The three slices, empty ones included.
    #[must_use]
    pub fn as_array(&self) -> [&'a [u8]; 3] {
        self.parts
    }

    /// The slices as `IoSlice`s for `write_vectored`.
    #[must_use]
    pub fn io_slices(&self) -> [std::io::IoSlice<'a>; 3] {
        self.parts.map(std::io::IoSlice::new)
    }

    /// The total length.
    #[must_use]
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// True when there is nothing to write.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends every byte to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        for p in self.parts {
            out.extend_from_slice(p);
        }
    }
}
