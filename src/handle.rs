//! The handle: the one owner of the action queues.

use rand_chacha::ChaCha12Rng;
use rand_core::{Rng as _, SeedableRng as _};

use crate::action::{Action, ActionContext, ActionQueue, BufferType, Received, SendBuffer, SendBuffers};
use crate::close::{self, CloseStatus};
use crate::error::{Error, Result};
use crate::frame::{self, FrameHeader, HeaderDecoder, MAX_CONTROL_PAYLOAD, Opcode};
use crate::handshake::{self, ClientHandshakeOutcome};
use crate::http::HttpHeader;
use crate::mask;
use crate::property::{Config, Property};

/// The received bytes, `rpos..rend` unconsumed: the receive area, or the pushed bytes
/// while they are parsed where they lie. A macro, not only a method, so that it borrows
/// just those fields beside a mutable borrow of another.
macro_rules! rx {
    ($h:expr) => {
        if $h.from_spill { &$h.spill[..] } else { &$h.buf[..$h.config.receive_buffer_size] }
    };
}
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
    /// For [`SendBuffer::LastReceived`]: where the piece lies in the receive area.
    received: Option<(usize, usize)>,
    /// The masking key of the operation's frame, drawn with its header: a masked
    /// payload larger than the send buffer continues over several actions.
    key: [u8; 4],
}

impl<B: AsRef<[u8]>, C> SendOp<B, C> {
    /// The data payload: the caller's bytes, or the received piece in `receive_area`.
    fn payload<'a>(&'a self, receive_area: &'a [u8]) -> &'a [u8] {
        match (&self.buffer, self.received) {
            (Some(SendBuffer::Data(b)), _) => b.as_ref(),
            (_, Some((start, end))) => &receive_area[start..end],
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
}

/// The handshake's memory, kept until the handshake ends.
#[derive(Debug, Default)]
struct HandshakeData {
    key: String,
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
    buf: Vec<u8>,
    /// True when `buf` came from [`Property::AllocatedBuffer`].
    caller_buffer: bool,
    rng: Option<ChaCha12Rng>,
    handshake: Option<HandshakeData>,
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
    /// `Some(text)` while a received message is open.
    message: Option<bool>,
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

    fn create(role: Role, properties: impl IntoIterator<Item = Property>, session: Session) -> Result<Self> {
        let mut config = Config::from_properties(role, properties)?;
        let needs_rng = role == Role::Client;
        let rng = match (config.seed, needs_rng) {
            (Some(seed), _) => Some(ChaCha12Rng::from_seed(seed)),
            (None, true) => Some(ChaCha12Rng::from_seed(os_seed()?)),
            (None, false) => None,
        };
        let len = config.buffer_len();
        let caller_buffer = config.allocated.is_some();
        let buf = config.allocated.take().unwrap_or_else(|| vec![0; len]);
        Ok(Self {
            role,
            config,
            session,
            buf,
            caller_buffer,
            rng,
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
            message: None,
            receive_utf8: Utf8Validator::new(),
            pong: None,
            last_piece: None,
            last_ping: None,
            last_indicated: (0, 0),
            limits: MessageLimits::NONE,
            message_len: 0,
            message_frames: 0,
        })
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
        self.caller_buffer.then_some(self.buf)
    }

    // ------------------------------------------------------------------ handshake

    /// `WebSocketBeginClientHandshake`: starts the client side of the opening
    /// handshake. Returns the headers to add to the upgrade request (Connection,
    /// Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version, and Sec-WebSocket-Protocol /
    /// Sec-WebSocket-Extensions listing the offers), replacing any the application set
    /// itself. `initial_headers` are the application's own request headers; they are
    /// only checked to be writable. Subprotocols must be tokens; extensions are offers
    /// such as `permessage-deflate; client_max_window_bits`, one per entry.
    ///
    /// The engine implements no extension: negotiating one is header handling only.
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: &[&str],
        extensions: &[&str],
        initial_headers: &[HttpHeader<'_>],
    ) -> Result<&[HttpHeader<'static>]> {
        if self.role != Role::Client {
            return Err(Error::WrongRole { call: "begin_client_handshake", role: self.role });
        }
        let Some(rng) = self.rng.as_mut() else { return Err(Error::NoRandomSource) };
        let mut raw = [0u8; 16];
        rng.fill_bytes(&mut raw);
        let key = handshake::new_key(raw);
        let headers = handshake::client_request_headers(&key, subprotocols, extensions, initial_headers)?;
        self.session.begin_client()?;
        let data = self.handshake.insert(HandshakeData {
            key,
            subprotocols: subprotocols.iter().map(|s| (*s).to_owned()).collect(),
            extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
            headers,
        });
        Ok(&data.headers)
    }

    /// `WebSocketEndClientHandshake`: checks the server's response headers (the host
    /// checked the `101` status itself) and opens the session. Returns the indices of
    /// the subprotocol and extensions the server selected. A bad response leaves the
    /// handle in [`State::HandshakeFailed`].
    pub fn end_client_handshake(&mut self, response_headers: &[HttpHeader<'_>]) -> Result<ClientHandshakeOutcome> {
        self.session.check_end_client()?;
        let data = self.handshake.take().unwrap_or_default();
        match handshake::check_client_response(&data.key, &data.subprotocols, &data.extensions, response_headers) {
            Ok(outcome) => {
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
    /// are checked to be well-formed, not to have been offered.
    ///
    /// A malformed request leaves the handle in [`State::HandshakeFailed`]; answer it
    /// with [`encode_rejection`](crate::encode_rejection).
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
        match handshake::server_response_headers(request_headers, subprotocol, extensions) {
            Ok(headers) => {
                self.session.begin_server()?;
                Ok(&self.handshake.insert(HandshakeData { headers, ..HandshakeData::default() }).headers)
            }
            Err(e @ (Error::InvalidToken | Error::InvalidHeader)) => Err(e),
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

    /// `WebSocketSend`: queues one send operation. Produces no bytes by itself: they
    /// come out of [`get_action`](Self::get_action).
    ///
    /// - Data types take `Some(SendBuffer::Data(payload))` (empty payloads allowed),
    ///   or `Some(SendBuffer::LastReceived)` to send the piece just indicated, from the
    ///   receive buffer. `*Fragment` leaves the message open; the next data send must
    ///   be of the same kind. Text must be UTF-8 (checked across fragments unless UTF-8
    ///   verification is disabled).
    /// - `Close` takes `None` (an empty close body, read by the peer as 1005) or
    ///   `Some(SendBuffer::Close { status, reason })`: a status the wire allows and a
    ///   UTF-8 reason of at most 123 bytes. After it only ping and unsolicited pong.
    /// - `PingPong` (a ping) and `UnsolicitedPong` take `None`.
    ///
    /// One send may be outstanding: until its `IndicateSendComplete` is completed.
    pub fn send(&mut self, buffer_type: BufferType, buffer: Option<SendBuffer<B>>, context: C) -> Result<()> {
        self.queue_send(buffer_type, buffer, context, Sender::Caller)
    }

    /// The connection layer's send: as [`send`](Self::send), as [`Sender::Connection`]
    /// says.
    pub(crate) fn send_from_connection(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<SendBuffer<B>>,
        context: C,
        utf8_after: Option<Utf8Validator>,
    ) -> Result<()> {
        self.queue_send(buffer_type, buffer, context, Sender::Connection { utf8_after })
    }

    fn queue_send(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<SendBuffer<B>>,
        context: C,
        sender: Sender,
    ) -> Result<()> {
        let (continues, received) = self.accept_send(buffer_type, buffer.as_ref(), sender)?;
        self.send_op = Some(SendOp {
            ty: buffer_type,
            buffer,
            context,
            sent: 0,
            started: false,
            continues,
            finished: false,
            cancelled: false,
            received: received.map(|p| (p.start, p.end)),
            key: [0; 4],
        });
        Ok(())
    }

    /// The connection layer's fast path for a data send: accepted exactly as
    /// [`send`](Self::send) accepts it, then its whole frame (header and payload, masked
    /// for a client) is appended to `out` at once, with no action round trip. The send
    /// slot must be free; nothing of the send is kept.
    pub(crate) fn send_into(&mut self, ty: BufferType, buffer: Option<SendBuffer<B>>, out: &mut Vec<u8>) -> Result<()> {
        if !ty.is_data() {
            return Err(Error::InvalidBufferType(ty));
        }
        let (continues, received) = self.accept_send(ty, buffer.as_ref(), Sender::Connection { utf8_after: None })?;
        let opcode = match (continues, ty.is_text()) {
            (true, _) => Opcode::Continuation,
            (false, true) => Opcode::Text,
            (false, false) => Opcode::Binary,
        };
        let key = self.masking_key();
        let payload: &[u8] = match (&buffer, received) {
            (Some(SendBuffer::Data(b)), _) => b.as_ref(),
            (_, Some(p)) => &self.rx()[p.start..p.end],
            _ => &[],
        };
        let start = out.len();
        out.resize(start + frame::MAX_HEADER_LEN, 0);
        let h = frame::encode_header(&mut out[start..], !ty.is_fragment(), 0, opcode, key, payload.len() as u64);
        out.truncate(start + h);
        match key {
            Some(k) if k != [0; 4] => {
                // Copied, then masked in place (safe code cannot mask into the Vec's
                // uninitialised room in one pass; zero-filling it first costs the same).
                let at = out.len();
                out.extend_from_slice(payload);
                mask::mask_in_place(&mut out[at..], k, 0);
            }
            _ => out.extend_from_slice(payload),
        }
        Ok(())
    }

    /// Checks a send and, when it passes, moves the state as accepting it does. Returns
    /// whether its data continues an open message, and the received piece it sends.
    fn accept_send(
        &mut self,
        buffer_type: BufferType,
        buffer: Option<&SendBuffer<B>>,
        sender: Sender,
    ) -> Result<(bool, Option<LastPiece>)> {
        let control_payload = matches!(sender, Sender::Connection { .. });
        self.session.check_session("send")?;
        self.session.check_send(buffer_type)?;
        if self.send_op.is_some() || self.send_flight.is_some() {
            return Err(Error::SendOutstanding);
        }
        match (buffer, buffer_type) {
            (None, t) if t.is_data() => return Err(Error::BufferRequired(t)),
            (Some(SendBuffer::Data(p)), BufferType::PingPong | BufferType::UnsolicitedPong)
                if control_payload && p.as_ref().len() > MAX_CONTROL_PAYLOAD =>
            {
                return Err(Error::ControlPayloadTooLong(p.as_ref().len()));
            }
            (Some(SendBuffer::Data(_)), BufferType::PingPong | BufferType::UnsolicitedPong) if control_payload => {}
            (Some(_), BufferType::PingPong | BufferType::UnsolicitedPong) => {
                return Err(Error::BufferNotAllowed(buffer_type));
            }
            (Some(SendBuffer::Close { .. }), t) if t != BufferType::Close => return Err(Error::BufferShapeMismatch(t)),
            (Some(SendBuffer::Data(_) | SendBuffer::LastReceived), BufferType::Close) => {
                return Err(Error::BufferShapeMismatch(buffer_type));
            }
            (Some(SendBuffer::Close { status, reason }), _) => {
                close::check_outgoing(*status, reason.as_ref(), self.config.verify_utf8)?;
            }
            (Some(SendBuffer::LastReceived), _) if self.last_piece.is_none() => return Err(Error::NoReceivedPiece),
            _ => {}
        }
        let received = match buffer {
            Some(SendBuffer::LastReceived) => self.last_piece,
            _ => None,
        };
        if let Sender::Connection { utf8_after: Some(v) } = sender {
            // Checked by the connection when it queued the send, from the state this one
            // is in now: not a second pass.
            self.send_utf8 = v;
        } else if buffer_type.is_text() && self.config.verify_utf8 {
            // Validate on a copy: a rejected piece must not move the state.
            let mut v = self.send_utf8;
            let ok = match (received, buffer) {
                // A piece the engine validated on receipt, from the state this send is
                // in: its end state is known without a second pass.
                (Some(p), _) if p.validated && p.utf8_before == v => {
                    v = self.receive_utf8;
                    if buffer_type.is_fragment() || v.is_at_boundary() { Ok(()) } else { Err(()) }
                }
                (_, Some(SendBuffer::Data(payload))) => {
                    if buffer_type.is_fragment() {
                        v.feed(payload.as_ref())
                    } else {
                        v.finish(payload.as_ref())
                    }
                }
                (_, _) => {
                    let piece = received.map_or(&[][..], |p| &self.rx()[p.start..p.end]);
                    if buffer_type.is_fragment() { v.feed(piece) } else { v.finish(piece) }
                }
            };
            if ok.is_err() {
                return Err(Error::InvalidOutgoingUtf8);
            }
            if !buffer_type.is_fragment() {
                v = Utf8Validator::new();
            }
            self.send_utf8 = v;
        }
        self.enter_session();
        let continues = self.session.send_accepted(buffer_type);
        Ok((continues, received))
    }

    /// `WebSocketReceive`: queues one receive operation. With `None`, data is indicated
    /// in place in the receive buffer (zero copy); with `Some(buffer)`, it is copied
    /// into `buffer` (up to its capacity, which must be at least 125 bytes; its
    /// contents are replaced) and the buffer comes back in the indication.
    ///
    /// One receive may be outstanding: until its `IndicateReceiveComplete` is completed.
    /// After the receive side failed on the peer's data, a receive fails with
    /// [`Error::ReceiveAfterFailure`] (`E_INVALID_PROTOCOL_OPERATION`, reference §5.8);
    /// `get_action` on the receive queue keeps reporting the failure itself.
    pub fn receive(&mut self, buffer: Option<Vec<u8>>, context: C) -> Result<()> {
        self.session.check_session("receive")?;
        self.session.check_receive()?;
        if self.receive_op.is_some() || self.receive_flight.is_some() {
            return Err(Error::ReceiveOutstanding);
        }
        if let Some(b) = &buffer
            && b.capacity() < MIN_CALLER_RECEIVE_BUFFER
        {
            return Err(Error::ReceiveBufferTooSmall { capacity: b.capacity(), min: MIN_CALLER_RECEIVE_BUFFER });
        }
        self.enter_session();
        // Matching first stores `None` as a constant rather than copying the argument
        // (which the caller wrote narrower than the copy reads: a forwarding stall).
        #[allow(clippy::needless_match, clippy::manual_map)]
        let buffer = match buffer {
            None => None,
            Some(b) => Some(b),
        };
        self.receive_op = Some(ReceiveOp { buffer, context });
        Ok(())
    }

    /// wsengine extension: bytes of the WebSocket stream that the host already read
    /// (typically those behind the HTTP head, see
    /// [`HeadParser::rest`](crate::HeadParser::rest)). They are copied and consumed
    /// before anything is read from the network. Allowed in any state but aborted;
    /// ignored once the receive side is over.
    pub fn push_received(&mut self, bytes: &[u8]) -> Result<()> {
        if self.session.is_aborted() {
            return Err(Error::Aborted);
        }
        if !self.from_spill && self.spill_pos == self.spill.len() {
            self.spill.clear();
            self.spill_pos = 0;
        }
        self.spill.extend_from_slice(bytes);
        if self.from_spill {
            self.rend = self.spill.len();
        }
        Ok(())
    }

    /// [`push_received`](Self::push_received) for bytes in a `Vec`: taken over, not
    /// copied, when the bytes pushed before have been consumed.
    pub fn push_received_vec(&mut self, bytes: Vec<u8>) -> Result<()> {
        if self.session.is_aborted() {
            return Err(Error::Aborted);
        }
        if self.from_spill || self.spill_pos < self.spill.len() {
            return self.push_received(&bytes);
        }
        self.spill = bytes;
        self.spill_pos = 0;
        Ok(())
    }

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

    // ------------------------------------------------------------------ send path

    fn send_start(&self) -> usize {
        self.config.receive_buffer_size
    }

    fn control_start(&self) -> usize {
        self.config.receive_buffer_size + self.config.send_buffer_size
    }

    /// True while the send side is writing: a SEND_TO_NETWORK of the send queue is in
    /// flight, or a data frame is partly written (its payload continues over more
    /// actions). An automatic pong waits meanwhile, and the send queue waits while a pong
    /// is out ([`send_ready`](Self::send_ready)): at most one SEND_TO_NETWORK is
    /// outstanding, so a pong can land neither inside a frame nor beside one, whatever
    /// order the host completes its writes in. (Reference §8.2 allows a pong beside a
    /// frame's last action, for hosts that write whole actions in the order handed out.)
    fn send_writing(&self) -> bool {
        if matches!(self.send_flight, Some(Flight::Frame { .. })) {
            return true;
        }
        let Some(op) = &self.send_op else { return false };
        if op.finished || !op.ty.is_data() || !op.started {
            return false;
        }
        op.sent < op.payload(self.rx()).len()
    }

    /// True when the send queue has an action to hand out now. No frame goes out while
    /// an automatic pong's SEND_TO_NETWORK is outstanding (reference §8.2: the send
    /// queue says NO_ACTION), so a host that writes actions as they come cannot put a
    /// frame beside the pong; and a frame built in the control area (a close, a ping or
    /// pong with a payload) also waits while a pong is built there and not yet handed out.
    fn send_ready(&self) -> bool {
        let Some(op) = &self.send_op else { return false };
        let in_control_area = op.ty == BufferType::Close || (!op.ty.is_data() && op.buffer.is_some());
        let pong_out = matches!(self.receive_flight, Some(Flight::Pong { .. }));
        let frame_waits =
            !op.finished && !self.session.is_aborted() && (pong_out || (in_control_area && self.pong.is_some()));
        self.send_flight.is_none() && !frame_waits
    }

    fn masking_key(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client if self.config.disable_masking => Some([0; 4]),
            Role::Client => Some(self.rng.as_mut().map_or([0; 4], |r| r.next_u32().to_ne_bytes())),
        }
    }

    fn frame_buffers(&self, first: (usize, usize), payload: Payload) -> SendBuffers<'_> {
        let second: &[u8] = match (payload, &self.send_op) {
            (Payload::Caller { start, end }, Some(op)) => &op.payload(self.rx())[start..end],
            _ => &[],
        };
        SendBuffers::new(&self.buf[first.0..first.1], second)
    }

    fn next_send_action(&mut self) -> Action<'_, B, C> {
        let aborted = self.session.is_aborted();
        let Some(op) = self.send_op.as_mut() else { return Action::NoAction };
        if aborted && !op.finished {
            op.finished = true;
            op.cancelled = true;
        }
        if op.finished {
            let serial = self.next_serial();
            self.send_flight = Some(Flight::Indicate { serial });
            let Some(op) = self.send_op.take() else { return Action::NoAction };
            return Action::IndicateSendComplete {
                buffer_type: op.ty,
                buffer: op.buffer,
                context: op.context,
                completed: !op.cancelled,
                action: ActionContext { queue: ActionQueue::Send, serial },
            };
        }
        let ty = op.ty;
        let flight = match ty {
            BufferType::Close => self.build_control_frame(Opcode::Close),
            BufferType::PingPong | BufferType::UnsolicitedPong if op.buffer.is_some() => {
                self.build_control_frame(if ty == BufferType::PingPong { Opcode::Ping } else { Opcode::Pong })
            }
            BufferType::PingPong | BufferType::UnsolicitedPong => {
                let opcode = if ty == BufferType::PingPong { Opcode::Ping } else { Opcode::Pong };
                let key = self.masking_key();
                let s = self.send_start();
                let n = frame::encode_header(&mut self.buf[s..], true, 0, opcode, key, 0);
                Flight::Frame { first: (s, s + n), payload: Payload::None, advance: 0, serial: 0 }
            }
            _ => self.build_data_frame(),
        };
        let serial = self.next_serial();
        let flight = match flight {
            Flight::Frame { first, payload, advance, .. } => Flight::Frame { first, payload, advance, serial },
            other => other,
        };
        self.send_flight = Some(flight);
        let action = ActionContext { queue: ActionQueue::Send, serial };
        let Flight::Frame { first, payload, .. } = flight else { return Action::NoAction };
        Action::SendToNetwork {
            buffer_type: ty,
            buffers: self.frame_buffers(first, payload),
            context: self.send_op.as_ref().map(|op| &op.context),
            action,
        }
    }

    /// Builds the next action of the send operation's data frame. Every data send is
    /// one frame whose header carries the whole length (reference §8.2): a masking
    /// client copies and masks the payload through its send area, the header in front
    /// of the first chunk, so a payload larger than the send buffer continues over
    /// several actions; a server (or a zero key) sends the header, then the caller's
    /// bytes where they are.
    fn build_data_frame(&mut self) -> Flight {
        let sbs = self.config.send_buffer_size;
        let s = self.send_start();
        let fresh = self.send_op.as_ref().is_some_and(|op| !op.started);
        let key = if fresh { self.masking_key() } else { None };
        let Some(op) = self.send_op.as_mut() else { return Flight::Indicate { serial: 0 } };
        // The received bytes (where a LastReceived piece lies) and the send area are
        // disjoint, so the piece can be masked straight into the send area.
        let (received, send_area) =
            rx_and_area(&mut self.buf, &self.spill, self.from_spill, self.config.receive_buffer_size, s);
        let payload = op.payload(received);
        let remaining = payload.len() - op.sent;
        let opcode = if op.continues {
            Opcode::Continuation
        } else if op.ty.is_text() {
            Opcode::Text
        } else {
            Opcode::Binary
        };
        let fin = !op.ty.is_fragment();
        if !fresh {
            // The frame's payload continues: no header, the same key, masked from where
            // the last chunk stopped.
            let chunk = remaining.min(sbs);
            mask::mask_copy(&mut send_area[..chunk], &payload[op.sent..op.sent + chunk], op.key, op.sent);
            return Flight::Frame { first: (s, s + chunk), payload: Payload::None, advance: chunk, serial: 0 };
        }
        match key {
            Some(k) if k != [0; 4] => {
                let h = frame::encode_header(send_area, fin, 0, opcode, key, remaining as u64);
                let chunk = remaining.min(sbs - h);
                mask::mask_copy(&mut send_area[h..h + chunk], &payload[..chunk], k, 0);
                op.key = k;
                Flight::Frame { first: (s, s + h + chunk), payload: Payload::None, advance: chunk, serial: 0 }
            }
            _ => {
                let h = frame::encode_header(send_area, fin, 0, opcode, key, remaining as u64);
                let payload = Payload::Caller { start: op.sent, end: payload.len() };
                Flight::Frame { first: (s, s + h), payload, advance: remaining, serial: 0 }
            }
        }
    }

    /// Builds a close frame, or a ping or pong with a payload, into the control area.
    fn build_control_frame(&mut self, opcode: Opcode) -> Flight {
        let key = self.masking_key();
        let c = self.control_start();
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        let body_len = match self.send_op.as_ref().and_then(|op| op.buffer.as_ref()) {
            Some(SendBuffer::Close { status, reason }) => {
                let reason = reason.as_ref();
                body[..2].copy_from_slice(&status.0.to_be_bytes());
                body[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            Some(SendBuffer::Data(payload)) => {
                let payload = payload.as_ref();
                body[..payload.len()].copy_from_slice(payload);
                payload.len()
            }
            _ => 0,
        };
        let h = frame::encode_header(&mut self.buf[c..], true, 0, opcode, key, body_len as u64);
        let dst = &mut self.buf[c + h..c + h + body_len];
        match key {
            Some(k) => mask::mask_copy(dst, &body[..body_len], k, 0),
            None => dst.copy_from_slice(&body[..body_len]),
        }
        Flight::Frame { first: (c, c + h + body_len), payload: Payload::None, advance: 0, serial: 0 }
    }

    /// A frame of the send operation was written (`whole`) or cut short.
    fn frame_written(&mut self, whole: bool, advance: usize) {
        let Some(op) = self.send_op.as_mut() else { return };
        op.started = true;
        if !whole {
            op.finished = true;
            op.cancelled = true;
            self.session.send_broke();
            return;
        }
        op.sent += advance;
        let len = op.payload(rx!(self)).len();
        if op.sent >= len || !op.ty.is_data() {
            op.finished = true;
        }
    }

    // ------------------------------------------------------------------ receive path

    fn hand_out_pong(&mut self) -> Action<'_, B, C> {
        let Some(len) = self.pong.take() else { return Action::NoAction };
        let serial = self.next_serial();
        self.receive_flight = Some(Flight::Pong { len, serial });
        let c = self.control_start();
        Action::SendToNetwork {
            buffer_type: BufferType::PingPong,
            buffers: SendBuffers::new(&self.buf[c..c + len], &[]),
            context: None,
            action: ActionContext { queue: ActionQueue::Receive, serial },
        }
    }

    /// Drops an automatic pong not yet handed out (the connection layer, once it reads
    /// no more): a close queued behind it can then go.
    pub(crate) fn cancel_pong(&mut self) {
        self.pong = None;
        self.last_ping = None;
    }

    /// The payload of the ping the last automatic pong answers, once: valid until the
    /// receive queue moves on.
    pub(crate) fn take_last_ping(&mut self) -> Option<(usize, usize)> {
        self.last_ping.take()
    }

    /// Received bytes (a range this handle reported).
    pub(crate) fn received(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.rx()[start..end]
    }

    /// Takes back the RECEIVE_FROM_NETWORK action in flight, if any, unread: the
    /// connection layer pushes what it was handed instead.
    pub(crate) fn withdraw_read(&mut self) {
        if matches!(self.receive_flight, Some(Flight::Read { .. })) {
            self.receive_flight = None;
        }
    }

    /// Completes the receive indication in flight, if any: `complete_action` for the
    /// connection layer, which knows the token is its own (a message's fast path).
    pub(crate) fn release_indication(&mut self) {
        if matches!(self.receive_flight, Some(Flight::Indicate { .. })) {
            self.receive_flight = None;
        }
    }

    /// Queues a receive into the handle's own buffer unless one is outstanding or the
    /// receive side is over: `receive(None, ..)` for the connection layer, whose session
    /// is open (a message's fast path).
    pub(crate) fn queue_receive(&mut self, context: C) {
        if self.receive_op.is_none() && self.receive_flight.is_none() && self.session.check_receive().is_ok() {
            self.receive_op = Some(ReceiveOp { buffer: None, context });
        }
    }

    /// The RECEIVE_FROM_NETWORK action in flight, if any.
    pub(crate) fn read_in_flight(&self) -> Option<ActionContext> {
        match self.receive_flight {
            Some(Flight::Read { serial, .. }) => Some(ActionContext { queue: ActionQueue::Receive, serial }),
            _ => None,
        }
    }

    /// The payload bytes of the send operation that the frame action in flight carries.
    pub(crate) fn send_flight_advance(&self) -> usize {
        match self.send_flight {
            Some(Flight::Frame { advance, .. }) => advance,
            _ => 0,
        }
    }

    /// The SEND_TO_NETWORK action in flight on the send queue, if any.
    pub(crate) fn send_flight_token(&self) -> Option<ActionContext> {
        match self.send_flight {
            Some(Flight::Frame { serial, .. }) => Some(ActionContext { queue: ActionQueue::Send, serial }),
            _ => None,
        }
    }

    /// Bytes handed over by `push_received` and not yet consumed (or, for those parsed
    /// where they lie, not yet moved into the receive area).
    pub(crate) fn spilled(&self) -> usize {
        if self.from_spill { self.rend - self.rpos } else { self.spill.len() - self.spill_pos }
    }

    /// The UTF-8 state of outgoing text after the sends accepted so far.
    pub(crate) fn send_utf8_state(&self) -> Utf8Validator {
        self.send_utf8
    }

    /// True when no send operation is queued or in flight.
    pub(crate) fn send_slot_free(&self) -> bool {
        self.send_op.is_none() && self.send_flight.is_none()
    }

    /// True unless UTF-8 verification was disabled.
    pub(crate) fn verifies_utf8(&self) -> bool {
        self.config.verify_utf8
    }

    /// The data of the last zero-copy receive indication, while it is in flight (the
    /// connection layer reads it after the action's borrow has ended).
    pub(crate) fn indicated(&self) -> &[u8] {
        let (start, end) = self.last_indicated;
        &self.rx()[start..end]
    }

    /// The buffers of the SEND_TO_NETWORK action in flight on the send queue.
    pub(crate) fn send_flight_buffers(&self) -> Option<SendBuffers<'_>> {
        match self.send_flight {
            Some(Flight::Frame { first, payload, .. }) => Some(self.frame_buffers(first, payload)),
            _ => None,
        }
    }

    /// Indicates the outstanding receive as over with nothing received.
    fn cancel_receive(&mut self) -> Action<'_, B, C> {
        self.indicate(None, 0, 0, None)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.session.receive_failed(e.clone());
        e
    }

    fn expect_mask(&self) -> Option<bool> {
        match self.role {
            Role::Client => Some(false),
            Role::Server if self.config.disable_masking => None,
            Role::Server => Some(true),
        }
    }

    fn next_receive_action(&mut self) -> Result<Action<'_, B, C>> {
        if self.receive_flight.is_some() || self.receive_op.is_none() {
            return Ok(Action::NoAction);
        }
        if self.session.is_aborted() {
            return Ok(self.cancel_receive());
        }
        match self.session.receive_error() {
            None => {}
            Some(Error::ConnectionClosed) => return Ok(self.cancel_receive()),
            Some(e) => return Err(e.clone()),
        }
        if self.send_op.as_ref().is_some_and(|op| op.received.is_some()) {
            // A send is reading the last piece out of the receive area: wait for it.
            return Ok(Action::NoAction);
        }
        // From here the received bytes may change: the last piece and ping are gone.
        self.last_piece = None;
        self.last_ping = None;
        loop {
            let f = match self.frame {
                Some(f) => f,
                None => match self.decoder.decode(&rx!(self)[self.rpos..self.rend]) {
                    Err(e) => return Err(self.fail(e)),
                    Ok((used, None)) => {
                        self.rpos += used;
                        if !self.refill() {
                            return Ok(self.read_action());
                        }
                        continue;
                    }
                    Ok((used, Some(header))) => {
                        self.rpos += used;
                        self.start_frame(header).map_err(|e| self.fail(e))?;
                        // Built from the header in registers, not read back from
                        // `self.frame` just written (a store-forwarding stall).
                        InFrame { header, remaining: header.len, offset: 0 }
                    }
                },
            };
            if f.header.opcode.is_control() {
                let len = f.header.len as usize;
                if self.rend - self.rpos < len {
                    if !self.refill() {
                        return Ok(self.read_action());
                    }
                    continue;
                }
                let (start, end) = (self.rpos, self.rpos + len);
                self.rpos = end;
                self.frame = None;
                if let Some(key) = f.header.mask {
                    mask::mask_in_place(&mut self.rx_mut()[start..end], key, 0);
                }
                match f.header.opcode {
                    Opcode::Ping => {
                        if !self.session.close_sent() {
                            self.build_pong(start, end);
                            self.last_ping = Some((start, end));
                            if self.send_writing() {
                                return Ok(Action::NoAction);
                            }
                            return Ok(self.hand_out_pong());
                        }
                    }
                    Opcode::Pong => return Ok(self.indicate(Some(BufferType::PingPong), start, end, None)),
                    _ => {
                        let (status, reason_len) =
                            match close::parse_body(&self.rx()[start..end], self.config.verify_utf8) {
                                Ok((status, reason)) => (status, reason.len()),
                                Err(e) => return Err(self.fail(e)),
                            };
                        self.session.close_received();
                        return Ok(self.indicate(Some(BufferType::Close), end - reason_len, end, Some(status)));
                    }
                }
                continue;
            }
            // A data frame: hand over what is here, up to the caller's buffer.
            let cap = match self.receive_op.as_ref().and_then(|op| op.buffer.as_ref()) {
                Some(b) => b.capacity(),
                None => usize::MAX,
            };
            // At most the receive buffer size, also from bytes parsed where they lie.
            let avail = (self.rend - self.rpos).min(cap).min(self.config.receive_buffer_size);
            let n = usize::try_from(f.remaining).map_or(avail, |r| r.min(avail));
            let frame_done = n as u64 == f.remaining;
            let message_done = frame_done && f.header.fin;
            if n == 0 && !message_done {
                if frame_done {
                    // An empty non-final frame: nothing to hand over.
                    self.frame = None;
                    continue;
                }
                if !self.refill() {
                    return Ok(self.read_action());
                }
                continue;
            }
            let (start, end) = (self.rpos, self.rpos + n);
            let text = self.message.unwrap_or(false);
            let check_utf8 = text && self.config.verify_utf8;
            // Unmask in place; for text, learn in the same pass whether it is ASCII, which
            // needs no further validation when no code point is left open before it.
            let ascii = match f.header.mask {
                Some(key) if key != [0; 4] && check_utf8 => {
                    mask::mask_in_place_ascii(&mut self.rx_mut()[start..end], key, f.offset)
                }
                Some(key) if key != [0; 4] => {
                    mask::mask_in_place(&mut self.rx_mut()[start..end], key, f.offset);
                    false
                }
                _ => false,
            };
            let utf8_before = self.receive_utf8;
            if check_utf8 && !(ascii && self.receive_utf8.is_at_boundary()) {
                let piece = &rx!(self)[start..end];
                let r = if message_done { self.receive_utf8.finish(piece) } else { self.receive_utf8.feed(piece) };
                if r.is_err() {
                    return Err(self.fail(Error::InvalidUtf8));
                }
            }
            self.last_piece = Some(LastPiece { start, end, validated: check_utf8, utf8_before });
            self.rpos = end;
            if frame_done {
                self.frame = None;
                if message_done {
                    self.message = None;
                }
            } else {
                self.frame = Some(InFrame { remaining: f.remaining - n as u64, offset: f.offset + n, ..f });
            }
            return Ok(self.indicate(Some(BufferType::data(text, message_done)), start, end, None));
        }
    }

    /// Sets the limits on received messages (connection layer).
    pub(crate) fn set_message_limits(&mut self, limits: MessageLimits) {
        self.limits = limits;
    }

    /// Checks a complete header and makes its frame the current one.
    fn start_frame(&mut self, header: FrameHeader) -> Result<()> {
        frame::check_header(&header, self.allowed_rsv, self.expect_mask())?;
        match (header.opcode, self.message) {
            (Opcode::Text | Opcode::Binary, Some(_)) => return Err(Error::ExpectedContinuation),
            (Opcode::Text | Opcode::Binary, None) => {
                self.message = Some(header.opcode == Opcode::Text);
                self.message_len = 0;
                self.message_frames = 0;
            }
            (Opcode::Continuation, None) => return Err(Error::UnexpectedContinuation),
            _ => {}
        }
        if !header.opcode.is_control() {
            self.message_len = self.message_len.saturating_add(header.len);
            self.message_frames = self.message_frames.saturating_add(1);
            if self.message_len > self.limits.max_size {
                return Err(Error::MessageTooBig { limit: self.limits.max_size });
            }
            if self.message_frames > self.limits.max_frames {
                return Err(Error::TooManyFragments { limit: self.limits.max_frames });
            }
        }
        self.frame = Some(InFrame { header, remaining: header.len, offset: 0 });
        Ok(())
    }

    /// Builds the pong answering the ping whose payload is `buf[start..end]`.
    fn build_pong(&mut self, start: usize, end: usize) {
        let key = self.masking_key();
        let c = self.control_start();
        let len = end - start;
        let h = frame::encode_header(&mut self.buf[c..], true, 0, Opcode::Pong, key, len as u64);
        let (recv, ctrl) = rx_and_area(&mut self.buf, &self.spill, self.from_spill, self.config.receive_buffer_size, c);
        match key {
            Some(k) => mask::mask_copy(&mut ctrl[h..h + len], &recv[start..end], k, 0),
            None => ctrl[h..h + len].copy_from_slice(&recv[start..end]),
        }
        self.pong = Some(h + len);
    }

    /// Completes the receive operation with `buf[start..end]` (a cancelled one with
    /// `ty` `None` and an empty range).
    fn indicate(
        &mut self,
        ty: Option<BufferType>,
        start: usize,
        end: usize,
        close_status: Option<CloseStatus>,
    ) -> Action<'_, B, C> {
        let Some(op) = self.receive_op.take() else { return Action::NoAction };
        let serial = self.next_serial();
        self.receive_flight = Some(Flight::Indicate { serial });
        let data = match op.buffer {
            Some(mut v) => {
                v.clear();
                v.extend_from_slice(&self.rx()[start..end]);
                self.last_piece = None;
                Received::Owned(v)
            }
            None => {
                self.last_indicated = (start, end);
                Received::Borrowed(&self.rx()[start..end])
            }
        };
        Action::IndicateReceiveComplete {
            buffer_type: ty,
            data,
            close_status,
            context: op.context,
            action: ActionContext { queue: ActionQueue::Receive, serial },
        }
    }

    /// The received bytes (see [`rx!`]).
    fn rx(&self) -> &[u8] {
        rx!(self)
    }

    fn rx_mut(&mut self) -> &mut [u8] {
        if self.from_spill { &mut self.spill } else { &mut self.buf[..self.config.receive_buffer_size] }
    }

    /// More bytes are needed: takes them from the pushed bytes if any (returns true:
    /// parse again), else lends free space for a read (returns false; hand out
    /// [`Handle::read_action`]).
    fn refill(&mut self) -> bool {
        let rbs = self.config.receive_buffer_size;
        if self.from_spill {
            // The pushed bytes are consumed but for a partial control frame at most:
            // back to the receive area, with that part moved into it.
            let rest = self.rend - self.rpos;
            self.buf[..rest].copy_from_slice(&self.spill[self.rpos..self.rend]);
            self.spill.clear();
            (self.from_spill, self.rpos, self.rend) = (false, 0, rest);
            return true;
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        } else if self.rend == rbs {
            // Unconsumed bytes are at most a partial control frame: move them down.
            self.buf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        if self.spill_pos < self.spill.len() && self.rend == 0 {
            // The receive area is empty: parse the pushed bytes where they lie.
            (self.from_spill, self.rpos, self.rend, self.spill_pos) = (true, self.spill_pos, self.spill.len(), 0);
            return true;
        }
        if self.spill_pos < self.spill.len() {
            let n = (rbs - self.rend).min(self.spill.len() - self.spill_pos);
            self.buf[self.rend..self.rend + n].copy_from_slice(&self.spill[self.spill_pos..self.spill_pos + n]);
            self.rend += n;
            self.spill_pos += n;
            if self.spill_pos == self.spill.len() {
                // Keep the capacity: a host that pushes every read reuses it.
                self.spill.clear();
                self.spill_pos = 0;
            }
            return true;
        }
        false
    }

    /// Lends the receive buffer's free space for a read.
    fn read_action(&mut self) -> Action<'_, B, C> {
        let serial = self.next_serial();
        let (start, end) = (self.rend, self.config.receive_buffer_size);
        self.receive_flight = Some(Flight::Read { start, end, serial });
        Action::ReceiveFromNetwork {
            buffer: &mut self.buf[start..end],
            action: ActionContext { queue: ActionQueue::Receive, serial },
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

/// A seed from the operating system's random source.
#[cfg(feature = "os-rng")]
fn os_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| Error::RandomSourceFailed)?;
    Ok(seed)
}

#[cfg(not(feature = "os-rng"))]
fn os_seed() -> Result<[u8; 32]> {
    Err(Error::NoRandomSource)
}
