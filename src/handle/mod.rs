//! The handle: the one owner of the action queues.

use crate::action::{Action, ActionContext, ActionQueue, BufferType, Received, SendBuffer, SendBuffers};
use crate::close::{self, CloseStatus};
use crate::deflate::{self, Agreed, Streams};
use crate::error::{Error, Result};
use crate::frame::{self, FrameHeader, HeaderDecoder, MAX_CONTROL_PAYLOAD, Opcode};
use crate::handshake::{self, ClientHandshakeOutcome};
use crate::http::HttpHeader;
use crate::keys::KeySource;
use crate::lent::Region;
use crate::mask;
use crate::property::{Config, Property};

/// The received bytes, `rpos..rend` unconsumed: the receive area, or the pushed bytes
/// while they are parsed where they lie. A macro, not only a method, so that it borrows
/// just those fields beside a mutable borrow of another.
macro_rules! rx {
    ($h:expr) => {
        // Empty while the buffer is released (nothing is indicated from it then).
        if $h.from_spill { &$h.spill[..] } else { $h.buf.get(..$h.config.receive_buffer_size).unwrap_or_default() }
    };
}
mod receive;
mod send;

use crate::state::{Session, State};
use crate::utf8::Utf8Validator;

/// Which end of the connection a handle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the upgrade request; it masks what it sends.
    Client,
    /// The end that answered it; it sends unmasked, zero-copy.
    Server,
}

/// The smallest buffer [`Handle::receive`] accepts: a whole control payload fits.
pub const MIN_CALLER_RECEIVE_BUFFER: usize = MAX_CONTROL_PAYLOAD;

/// A queued send operation.
#[derive(Debug)]
struct SendOp<B, C> {
    ty: BufferType,
    buffer: Option<SendBuffer<B>>,
    context: C,
    /// Payload bytes already framed and written.
    sent: usize,
    /// True once a frame of this operation went out.
    started: bool,
    /// True when the first frame continues a message opened by an earlier send.
    continues: bool,
    /// Over: every byte written, or cancelled.
    finished: bool,
    /// True when cancelled (short write or abort).
    cancelled: bool,
    /// Where the payload lies.
    source: Source,
    /// The RSV bits of its frame: RSV1 on a compressed message's first frame.
    rsv: u8,
    /// The masking key of the operation's frame, drawn with its header: a masked
    /// payload larger than the send buffer continues over several actions.
    key: [u8; 4],
}

/// Where a send's payload lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The operation's own buffer (or nothing).
    Buffer,
    /// A received piece sent back ([`SendBuffer::LastReceived`]), `start..end` of the
    /// received bytes.
    Received { start: usize, end: usize },
    /// The compression state's staging buffer (compressed, or a copy of an inflated
    /// piece).
    Staged,
}

impl<B: AsRef<[u8]>, C> SendOp<B, C> {
    /// The payload as it goes on the wire: the caller's bytes, the received piece in
    /// `received`, or the `staged` bytes.
    fn payload<'a>(&'a self, received: &'a [u8], staged: &'a [u8]) -> &'a [u8] {
        match (self.source, &self.buffer) {
            (Source::Buffer, Some(SendBuffer::Data(b))) => b.as_ref(),
            (Source::Received { start, end }, _) => &received[start..end],
            (Source::Staged, _) => staged,
            _ => &[],
        }
    }
}

/// The last data piece indicated zero-copy, for [`SendBuffer::LastReceived`].
#[derive(Clone, Copy, Debug)]
struct LastPiece {
    start: usize,
    end: usize,
    /// True for text validated on receipt.
    validated: bool,
    /// The receive validator's state before the piece; its state after it is
    /// `Handle::receive_utf8`, unchanged while the piece is the last one.
    utf8_before: Utf8Validator,
    /// True when the piece lies in the inflate area, not in the received bytes.
    inflated: bool,
}

/// A queued receive operation.
#[derive(Debug)]
struct ReceiveOp<C> {
    buffer: Option<Vec<u8>>,
    context: C,
}

/// Where the bytes of a SEND_TO_NETWORK action live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload {
    /// Nothing beyond the first buffer.
    None,
    /// `start..end` of the send operation's own buffer (zero copy).
    Caller { start: usize, end: usize },
}

/// The action a queue has handed out and not seen completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flight {
    /// A frame: `first` is a range of the handle's buffer (header, or header and a
    /// masked copy), then `payload`. `advance` payload bytes of the operation are done
    /// when it completes.
    Frame { first: (usize, usize), payload: Payload, advance: usize, serial: u32 },
    /// An automatic pong in the control area.
    Pong { len: usize, serial: u32 },
    /// Free space of the receive buffer lent for reading.
    Read { start: usize, end: usize, serial: u32 },
    /// An INDICATE_* action; nothing to do at completion but free the queue.
    Indicate { serial: u32 },
}

impl Flight {
    fn serial(self) -> u32 {
        match self {
            Self::Frame { serial, .. }
            | Self::Pong { serial, .. }
            | Self::Read { serial, .. }
            | Self::Indicate { serial } => serial,
        }
    }
}

/// The frame being received, once its header is in.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: FrameHeader,
    /// Payload bytes not yet delivered.
    remaining: u64,
    /// Payload bytes already delivered (the masking key's position).
    offset: usize,
    /// Of the bytes at `rpos`, how many are unmasked already (a compressed frame's
    /// payload the inflater has not taken yet).
    unmasked: usize,
}

/// The handshake's memory, kept until the handshake ends.
#[derive(Debug, Default)]
struct HandshakeData {
    /// The client's key; none for an extended CONNECT, which has none.
    key: Option<String>,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    headers: Vec<HttpHeader<'static>>,
}

/// A WebSocket session: websocket.dll's `WEB_SOCKET_HANDLE`.
///
/// `B` is the type of send payloads (anything that derefs to bytes: `Vec<u8>`,
/// `Box<[u8]>`, `bytes::Bytes`, `&'static [u8]`...), held by the handle from
/// [`send`](Self::send) until its [`Action::IndicateSendComplete`] gives it back. `C`
/// is the application context carried from [`send`](Self::send) and
/// [`receive`](Self::receive) to their indications.
///
/// # The action loop
///
/// After any command or completion, call [`get_action`](Self::get_action) until it
/// answers [`Action::NoAction`]; carry out each action (write the bytes, read into the
/// buffer, consume the indication) and report it with
/// [`complete_action`](Self::complete_action):
///
/// ```text
///   send(..) / receive(..)          queue operations (at most one of each)
///          │
///          ▼
///   get_action(queue) ──► SendToNetwork       write buffers   ─┐
///          ▲          ──► ReceiveFromNetwork  read into buffer ─┤
///          │          ──► IndicateSendComplete / IndicateReceiveComplete
///          │                                 take the result  ─┤
///          └──────────── complete_action(action, bytes) ◄──────┘
/// ```
#[derive(Debug)]
pub struct Handle<B = Vec<u8>, C = ()> {
    role: Role,
    config: Config,
    session: Session,
    /// receive area | send area | control area.
    buf: Region,
    /// A client's masking keys and nonces.
    keys: Option<KeySource>,
    /// The handshake's memory, while it lasts.
    handshake: Option<Box<HandshakeData>>,
    allowed_rsv: u8,
    serial: u32,

    send_op: Option<SendOp<B, C>>,
    send_flight: Option<Flight>,
    send_utf8: Utf8Validator,

    receive_op: Option<ReceiveOp<C>>,
    receive_flight: Option<Flight>,
    /// Unconsumed received bytes are `buf[rpos..rend]`.
    rpos: usize,
    rend: usize,
    /// Bytes handed over by [`Handle::push_received`], not yet in the receive area
    /// (`spill[spill_pos..]`), or, while `from_spill`, the received bytes themselves.
    spill: Vec<u8>,
    spill_pos: usize,
    /// True while the pushed bytes are parsed where they lie, with `rpos` and `rend`
    /// counting in `spill`: they reached an empty receive area, so moving them into
    /// it would be a copy for nothing.
    from_spill: bool,
    decoder: HeaderDecoder,
    frame: Option<InFrame>,
    receive_utf8: Utf8Validator,
    /// An automatic pong built in the control area, waiting to be handed out.
    pong: Option<usize>,
    /// The last data piece indicated zero-copy, while it is still in the receive area.
    last_piece: Option<LastPiece>,
    /// The payload of the last ping answered automatically, in the receive area, for
    /// the connection layer to report.
    last_ping: Option<(usize, usize)>,
    /// Where the last zero-copy indication's data lies.
    last_indicated: (usize, usize),
    /// The connection layer's limits on received messages, checked on frame headers.
    limits: MessageLimits,
    /// The open received message's announced length so far and its frame count.
    message_len: u64,
    message_frames: u32,
    /// permessage-deflate's state, once a handshake agreed on it.
    deflate: Option<Box<Streams>>,
    /// True when the last indicated piece lies in the inflate area.
    indicated_inflated: bool,
}

/// Who makes a send, and what it checked already.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sender {
    /// websocket.dll's caller: every rule, and a ping or pong carries no payload.
    Caller,
    /// The connection layer: a ping or unsolicited pong may carry up to 125 bytes; with
    /// `utf8_after`, the send's text was checked when it was queued, from the state the
    /// handle is in now, and this is the state after it.
    Connection {
        /// The outgoing UTF-8 state after the send.
        utf8_after: Option<Utf8Validator>,
    },
}

/// Limits on a received message, checked as its frame headers arrive (connection layer;
/// websocket.dll has none).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MessageLimits {
    /// The most payload bytes a message may announce.
    pub(crate) max_size: u64,
    /// The most frames a message may have.
    pub(crate) max_frames: u32,
}

impl MessageLimits {
    pub(crate) const NONE: Self = Self { max_size: u64::MAX, max_frames: u32::MAX };
}

impl<B: AsRef<[u8]>, C> Handle<B, C> {
    /// `WebSocketCreateClientHandle`: a client handle configured by `properties`.
    pub fn new_client(properties: impl IntoIterator<Item = Property>) -> Result<Self> {
        Self::create(Role::Client, properties, Session::new())
    }

    /// `WebSocketCreateServerHandle`: a server handle configured by `properties`.
    pub fn new_server(properties: impl IntoIterator<Item = Property>) -> Result<Self> {
        Self::create(Role::Server, properties, Session::new())
    }

    /// wsengine extension: a handle for a connection whose upgrade was done elsewhere
    /// (by an HTTP server, a proxy, an HTTP/2 or HTTP/3 extended CONNECT), open for
    /// data at once. websocket.dll has no such call; .NET fakes a handshake to get
    /// there. No extension is in force, whatever the upgrade negotiated.
    pub fn from_upgraded(role: Role, properties: impl IntoIterator<Item = Property>) -> Result<Self> {
        Self::create(role, properties, Session::open())
    }

    /// wsengine extension for C ABI bindings: `WebSocketCreateClientHandle` or
    /// `WebSocketCreateServerHandle` with `WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE` as
    /// websocket.dll takes it, memory lent by address: the handle works in `len` bytes at
    /// `buffer` (at least receive + send + 144; `AllocatedBufferTooSmall` otherwise), so
    /// every buffer an action lends lies inside them (save a send's own payload), and
    /// never frees them. `properties` must not also hold [`Property::AllocatedBuffer`]
    /// (`DuplicateProperty`). A null `buffer` is `E_INVALIDARG`.
    ///
    /// # Safety
    ///
    /// `buffer` is valid for reads and writes of `len` bytes until the handle is dropped,
    /// and nothing else reads or writes them meanwhile except through the slices the
    /// handle's actions lend (websocket.dll's rule: only the engine writes to it).
    #[allow(unsafe_code)]
    pub unsafe fn with_lent_buffer(
        role: Role,
        properties: impl IntoIterator<Item = Property>,
        buffer: *mut u8,
        len: usize,
    ) -> Result<Self> {
        // SAFETY: this function's contract.
        let lent = unsafe { Region::lent(buffer, len) }.ok_or(Error::NullAllocatedBuffer)?;
        Self::create_in(role, properties, Session::new(), Some(lent))
    }

    fn create(role: Role, properties: impl IntoIterator<Item = Property>, session: Session) -> Result<Self> {
        Self::create_in(role, properties, session, None)
    }

    fn create_in(
        role: Role,
        properties: impl IntoIterator<Item = Property>,
        session: Session,
        lent: Option<Region>,
    ) -> Result<Self> {
        let (config, setup) = Config::with_setup(role, properties)?;
        let keys = match role {
            Role::Server => None,
            Role::Client => Some(KeySource::new(setup.seed)?),
        };
        let len = config.buffer_len();
        let buf = match (setup.allocated, lent) {
            (Some(_), Some(_)) => return Err(Error::DuplicateProperty(crate::PropertyType::AllocatedBuffer.name())),
            (Some(given), None) => Region::given(given),
            (None, Some(lent)) if lent.len() < len => {
                return Err(Error::AllocatedBufferTooSmall { len: lent.len(), needed: len });
            }
            (None, Some(lent)) => lent,
            (None, None) => Region::own(len),
        };
        Ok(Self {
            role,
            config,
            session,
            buf,
            keys,
            handshake: None,
            allowed_rsv: 0,
            serial: 0,
            send_op: None,
            send_flight: None,
            send_utf8: Utf8Validator::new(),
            receive_op: None,
            receive_flight: None,
            rpos: 0,
            rend: 0,
            spill: Vec::new(),
            spill_pos: 0,
            from_spill: false,
            decoder: HeaderDecoder::new(),
            frame: None,
            receive_utf8: Utf8Validator::new(),
            pong: None,
            last_piece: None,
            last_ping: None,
            last_indicated: (0, 0),
            limits: MessageLimits::NONE,
            message_len: 0,
            message_frames: 0,
            deflate: None,
            indicated_inflated: false,
        })
    }

    /// permessage-deflate was agreed: RSV1 is allowed and messages may be compressed.
    #[cfg_attr(not(feature = "deflate"), allow(unreachable_code))]
    fn enable_deflate(&mut self, agreed: Agreed) {
        self.deflate = Some(Box::new(Streams::new(
            agreed,
            self.config.deflate_level,
            self.config.deflate_mem_level,
            self.config.deflate_threshold,
        )));
        self.allowed_rsv = 0b100;
    }

    /// The bytes being sent from the staging buffer, if any.
    pub(super) fn staged(&self) -> &[u8] {
        self.deflate.as_deref().map_or(&[], Streams::staged)
    }

    /// The handle's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The handle's state.
    #[must_use]
    pub fn state(&self) -> State {
        self.session.state()
    }

    /// The receive buffer size in force.
    #[must_use]
    pub fn receive_buffer_size(&self) -> usize {
        self.config.receive_buffer_size
    }

    /// The send buffer size in force.
    #[must_use]
    pub fn send_buffer_size(&self) -> usize {
        self.config.send_buffer_size
    }

    /// `WebSocketDeleteHandle` for a handle created with
    /// [`Property::AllocatedBuffer`]: drops the handle and gives the buffer back
    /// (`None` when the handle allocated its own). Dropping a handle is the plain
    /// `WebSocketDeleteHandle`.
    #[must_use]
    pub fn into_allocated_buffer(self) -> Option<Vec<u8>> {
        self.buf.into_given()
    }

    // ------------------------------------------------------------------ handshake

    /// wsengine extension: gives the handle's buffer (receive, send and control areas)
    /// back to its thread's pool while the handle is idle, so that a connection waiting
    /// for its peer holds no buffer; the next call that needs it takes one again from
    /// the pool (no allocation once the pool has buffers of that size). Returns false,
    /// changing nothing, unless it is idle: no action in flight (a
    /// RECEIVE_FROM_NETWORK included: complete or abort it first), no received bytes
    /// unprocessed, no frame or pong waiting to go out, and the buffer is the handle's
    /// own (not an `AllocatedBuffer`). The last piece indicated can no longer be sent
    /// back ([`SendBuffer::LastReceived`]).
    pub fn release_buffer(&mut self) -> bool {
        self.receive_flight.is_none() && self.release_idle()
    }

    /// [`release_buffer`](Self::release_buffer) for the connection layer, whose
    /// RECEIVE_FROM_NETWORK may stay in flight: its free space is the same range of the
    /// buffer taken again, and nothing can hold it between the connection's calls.
    pub(crate) fn release_idle(&mut self) -> bool {
        let idle = self.rpos == self.rend
            && !self.from_spill
            && self.spill_pos == self.spill.len()
            && self.pong.is_none()
            && self.send_op.is_none()
            && self.send_flight.is_none()
            && matches!(self.receive_flight, None | Some(Flight::Read { .. }));
        if !idle || !self.buf.release() {
            return false;
        }
        self.last_piece = None;
        self.last_ping = None;
        self.last_indicated = (0, 0);
        self.indicated_inflated = false;
        crate::pool::give(std::mem::take(&mut self.spill));
        self.spill_pos = 0;
        true
    }

    /// `WebSocketBeginClientHandshake`: starts the client side of the opening
    /// handshake. Returns the headers to add to the upgrade request (Connection,
    /// Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version, and Sec-WebSocket-Protocol /
    /// Sec-WebSocket-Extensions listing the offers), replacing any the application set
    /// itself. `initial_headers` are the application's own request headers; they are
    /// only checked to be writable. Subprotocols must be tokens; extensions are offers
    /// such as `permessage-deflate; client_max_window_bits`, one per entry.
    ///
    /// With [`Property::ExtendedConnect`], the fields of an HTTP/2 or HTTP/3 extended
    /// CONNECT instead: `:method CONNECT`, `:protocol websocket`,
    /// `sec-websocket-version 13` and the offers; the host adds `:scheme`,
    /// `:authority` and `:path` as it adds `Host` to an HTTP/1.1 request.
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: &[&str],
        extensions: &[&str],
        initial_headers: &[HttpHeader<'_>],
    ) -> Result<&[HttpHeader<'static>]> {
        if self.role != Role::Client {
            return Err(Error::WrongRole { call: "begin_client_handshake", role: self.role });
        }
        let Some(keys) = self.keys.as_mut() else { return Err(Error::NoRandomSource) };
        // An extended CONNECT has no key (RFC 8441 §5).
        let key = (!self.config.extended_connect).then(|| {
            let mut raw = [0u8; 16];
            keys.fill(&mut raw);
            handshake::new_key(raw)
        });
        let headers = handshake::client_request_headers(key.as_deref(), subprotocols, extensions, initial_headers)?;
        self.session.begin_client()?;
        let data = self.handshake.insert(Box::new(HandshakeData {
            key,
            subprotocols: subprotocols.iter().map(|s| (*s).to_owned()).collect(),
            extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
            headers,
        }));
        Ok(&data.headers)
    }

    /// `WebSocketEndClientHandshake`: checks the server's response headers (the host
    /// checked the `101` status itself) and opens the session. With
    /// [`Property::ExtendedConnect`], the response has no Upgrade fields or accept key;
    /// a `:status` among the headers must be 2xx (`UnexpectedStatus` otherwise). Returns the indices of
    /// the subprotocol and extensions the server selected. A bad response leaves the
    /// handle in [`State::HandshakeFailed`].
    ///
    /// With the `deflate` feature, a permessage-deflate response is checked against the
    /// offers (RFC 7692 §7.1: a malformed one, or one that answers none, fails with
    /// `E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED`) and compression is then in force.
    pub fn end_client_handshake(&mut self, response_headers: &[HttpHeader<'_>]) -> Result<ClientHandshakeOutcome> {
        self.session.check_end_client()?;
        // Always there while ClientHandshaking; were it not, no accept key would match.
        let data = self
            .handshake
            .take()
            .map_or_else(|| HandshakeData { key: Some(String::new()), ..HandshakeData::default() }, |d| *d);
        match handshake::check_client_response(
            data.key.as_deref(),
            &data.subprotocols,
            &data.extensions,
            response_headers,
        ) {
            Ok((outcome, agreed)) => {
                if let Some(agreed) = agreed {
                    self.enable_deflate(agreed);
                }
                self.session.handshake_done();
                Ok(outcome)
            }
            Err(e) => {
                self.session.handshake_failed();
                Err(e)
            }
        }
    }

    /// `WebSocketBeginServerHandshake`: checks the client's request headers and returns
    /// the response headers to send after `HTTP/1.1 101 Switching Protocols`
    /// (Connection, Upgrade, Sec-WebSocket-Accept, and the selections). The
    /// application chose `subprotocol` and `extensions` from the offers itself; they
    /// are checked to be well-formed, not to have been offered, except a
    /// permessage-deflate selection (feature `deflate`; `accept_deflate` makes one),
    /// which must answer one of the request's offers and puts compression in force.
    ///
    /// With [`Property::ExtendedConnect`], the request is an HTTP/2 or HTTP/3 extended
    /// CONNECT, its pseudo-header fields among `request_headers` (`:method CONNECT`,
    /// `:protocol websocket`, `:scheme`, `:path`, and `:authority` or `Host`) and no
    /// `Sec-WebSocket-Key`, `Upgrade` or `Connection` (`UnexpectedHeader`); the
    /// response is `:status 200` and the selections, names in lower case.
    ///
    /// A malformed request leaves the handle in [`State::HandshakeFailed`]; answer it
    /// with [`encode_rejection`](crate::encode_rejection) (over HTTP/2 or HTTP/3, with
    /// [`Refusal::connect`](crate::Refusal::connect)'s status, fields and body).
    pub fn begin_server_handshake(
        &mut self,
        subprotocol: Option<&str>,
        extensions: &[&str],
        request_headers: &[HttpHeader<'_>],
    ) -> Result<&[HttpHeader<'static>]> {
        if self.role != Role::Server {
            return Err(Error::WrongRole { call: "begin_server_handshake", role: self.role });
        }
        if self.state() != State::Created {
            return Err(Error::InvalidState { call: "begin_server_handshake", state: self.state() });
        }
        match handshake::server_response_headers(request_headers, subprotocol, extensions, self.config.extended_connect)
        {
            Ok((headers, agreed)) => {
                self.session.begin_server()?;
                if let Some(agreed) = agreed {
                    self.enable_deflate(agreed);
                }
                Ok(&self.handshake.insert(Box::new(HandshakeData { headers, ..HandshakeData::default() })).headers)
            }
            Err(e @ (Error::InvalidToken | Error::InvalidHeader | Error::InvalidExtensionParameters(_))) => Err(e),
            Err(e) => {
                self.session.handshake_failed();
                Err(e)
            }
        }
    }

    /// `WebSocketEndServerHandshake`: opens the session and frees the response headers
    /// (copy or write them first). Optional: the first session call does the same.
    pub fn end_server_handshake(&mut self) -> Result<()> {
        self.session.end_server()?;
        self.handshake = None;
        Ok(())
    }

    /// A session call passed its checks: end a server handshake in progress.
    fn enter_session(&mut self) {
        if self.session.enter_session() {
            self.handshake = None;
        }
    }

    // ------------------------------------------------------------------ commands

    /// `WebSocketAbortHandle`: fails every later send and receive. Queued operations
    /// drain: `get_action` indicates each as complete (cancelled), an action in flight
    /// still takes its completion, and no new network action appears. A no-op before
    /// the handshake.
    pub fn abort(&mut self) {
        self.session.abort();
        if self.session.is_aborted() {
            self.pong = None;
        }
    }

    // ------------------------------------------------------------------ actions

    fn next_serial(&mut self) -> u32 {
        self.serial = self.serial.wrapping_add(1);
        self.serial
    }

    /// `WebSocketGetAction`: the next action of `queue`. Protocol errors in received
    /// data surface here (`E_INVALID_PROTOCOL_FORMAT` / `_OPERATION`), and again on
    /// every later call for the receive queue until the handle is aborted; the send
    /// queue keeps working so the host can send a close.
    ///
    /// With [`ActionQueue::All`], a pending automatic pong comes first, then send
    /// actions, then receive actions.
    pub fn get_action(&mut self, queue: ActionQueue) -> Result<Action<'_, B, C>> {
        self.session.check_session("get_action")?;
        self.buf.ensure();
        self.enter_session();
        if queue.has_receive() && self.pong.is_some() {
            // An automatic pong goes out at a frame boundary only; the receive side
            // waits with it (it holds the control area and the ping's slot).
            if self.receive_flight.is_none() && !self.send_writing() {
                return Ok(self.hand_out_pong());
            }
            if !queue.has_send() || !self.send_ready() {
                return Ok(Action::NoAction);
            }
        }
        if queue.has_send() && self.send_ready() {
            return Ok(self.next_send_action());
        }
        if queue.has_receive() {
            return self.next_receive_action();
        }
        Ok(Action::NoAction)
    }

    /// `WebSocketCompleteAction`: reports an action carried out. `bytes_transferred`
    /// counts the bytes written (SEND_TO_NETWORK: fewer than all cancels the send and
    /// breaks the outgoing stream) or read (RECEIVE_FROM_NETWORK: 0 means end of
    /// stream and cancels the receive); it is ignored for indications.
    ///
    /// Unlike websocket.dll, whose call returns nothing, this one refuses a token that
    /// names no action in flight, or a count larger than the action's buffers, with
    /// `E_INVALIDARG` and changes nothing, so the host can complete correctly.
    /// [`ActionContext::NO_ACTION`] (NO_ACTION's token) completes as a no-op.
    pub fn complete_action(&mut self, action: ActionContext, bytes_transferred: usize) -> Result<()> {
        if action == ActionContext::NO_ACTION {
            return Ok(());
        }
        self.buf.ensure();
        /// What completing the action does, read out of the flight field by field (a
        /// copy of the whole `Option<Flight>` just after it was written stalls on
        /// store forwarding, measurably on small messages).
        enum Effect {
            Frame { advance: usize },
            Pong,
            Read,
            Indicate,
        }
        let slot = match action.queue {
            ActionQueue::Send => &self.send_flight,
            ActionQueue::Receive => &self.receive_flight,
            ActionQueue::All => &None,
        };
        let (max, effect) = match *slot {
            Some(Flight::Frame { first, payload, advance, serial }) if serial == action.serial => {
                (first.1 - first.0 + payload_len(payload), Effect::Frame { advance })
            }
            Some(Flight::Pong { len, serial }) if serial == action.serial => (len, Effect::Pong),
            Some(Flight::Read { start, end, serial }) if serial == action.serial => (end - start, Effect::Read),
            Some(Flight::Indicate { serial }) if serial == action.serial => (usize::MAX, Effect::Indicate),
            _ => return Err(Error::UnknownActionContext),
        };
        if bytes_transferred > max {
            return Err(Error::TooManyBytesTransferred { reported: bytes_transferred, max });
        }
        match action.queue {
            ActionQueue::Send => self.send_flight = None,
            _ => self.receive_flight = None,
        }
        match effect {
            Effect::Frame { advance } => self.frame_written(bytes_transferred == max, advance),
            Effect::Pong => {
                // 0 cancels the pong (nothing written); a part of it corrupts the stream.
                if bytes_transferred != 0 && bytes_transferred != max {
                    self.session.send_broke();
                }
            }
            Effect::Read => {
                if bytes_transferred == 0 {
                    self.session.receive_failed(Error::ConnectionClosed);
                } else {
                    self.rend += bytes_transferred;
                }
            }
            Effect::Indicate => {}
        }
        Ok(())
    }

    /// The network action `action` names, again, while it is in flight: for a host
    /// that could not finish its I/O while it held the borrow `get_action` returned
    /// (a non-blocking socket that accepted part of a write, say). Indications are
    /// not returned again: their data was handed over.
    pub fn action(&mut self, action: ActionContext) -> Result<Action<'_, B, C>> {
        let slot = match action.queue {
            ActionQueue::Send => self.send_flight,
            ActionQueue::Receive => self.receive_flight,
            ActionQueue::All => None,
        };
        let flight = slot.filter(|f| f.serial() == action.serial).ok_or(Error::UnknownActionContext)?;
        self.buf.ensure();
        match flight {
            Flight::Frame { first, payload, .. } => {
                let op = self.send_op.as_ref();
                Ok(Action::SendToNetwork {
                    buffer_type: op.map_or(BufferType::PingPong, |op| op.ty),
                    buffers: self.frame_buffers(first, payload),
                    context: op.map(|op| &op.context),
                    action,
                })
            }
            Flight::Pong { len, .. } => Ok(Action::SendToNetwork {
                buffer_type: BufferType::PingPong,
                buffers: SendBuffers::new(&self.buf[self.control_start()..self.control_start() + len], &[]),
                context: None,
                action,
            }),
            Flight::Read { start, end, .. } => {
                Ok(Action::ReceiveFromNetwork { buffer: &mut self.buf[start..end], action })
            }
            Flight::Indicate { .. } => Err(Error::UnknownActionContext),
        }
    }
}

/// The received bytes (the receive area, or the pushed bytes parsed where they lie) and
/// the handle's buffer from `at` on, borrowed together.
fn rx_and_area<'a>(
    buf: &'a mut [u8],
    spill: &'a [u8],
    from_spill: bool,
    receive_buffer_size: usize,
    at: usize,
) -> (&'a [u8], &'a mut [u8]) {
    if from_spill {
        (spill, &mut buf[at..])
    } else {
        let (received, area) = buf.split_at_mut(at);
        (&received[..receive_buffer_size], area)
    }
}

fn payload_len(p: Payload) -> usize {
    match p {
        Payload::None => 0,
        Payload::Caller { start, end } => end - start,
    }
}
