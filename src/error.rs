//! Errors, named as Windows names them.
//!
//! Every failure is an [`Error`]: one variant per cause, each with the HRESULT that
//! websocket.dll (or WinError.h, where the DLL's docs only say "a system error code")
//! would return, and a message that says what was wrong.
//!
//! Errors fall on two sides (see [`Error::is_peer_error`]):
//! - the **peer** broke the protocol (bad frames, a bad handshake response): these are
//!   sticky on the receive side and map, in [`Error::close_status`], to the close code an
//!   RFC-polite host sends before it drops the connection;
//! - the **caller** misused the API (bad arguments, wrong state): the call fails, the
//!   handle is unchanged, and nothing already accepted is lost.

use core::fmt;

use crate::action::BufferType;
use crate::close::CloseStatus;
use crate::state::State;

/// The deadlines the connection layer keeps (see [`Error::TimedOut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deadline {
    /// The opening handshake did not finish in time.
    OpeningHandshake,
    /// No pong answered a keep-alive ping in time.
    Pong,
    /// The peer did not finish the closing handshake (its close frame, or for a client
    /// the server's closing of the transport) in time.
    ClosingHandshake,
}

/// The HRESULT family of an [`Error`]: what websocket.dll would return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `E_INVALID_PROTOCOL_OPERATION` (0x83760001): an operation out of sequence, by the
    /// peer (a continuation with no message started) or by the caller (a second send).
    InvalidProtocolOperation,
    /// `E_INVALID_PROTOCOL_FORMAT` (0x83760002): malformed protocol data.
    InvalidProtocolFormat,
    /// `E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED` (0x83760003): the server accepted an
    /// extension that was not offered.
    ExtensionsNotSupported,
    /// `E_SUBPROTOCOL_NOT_SUPPORTED` (0x83760004): the server selected a subprotocol that
    /// was not offered.
    SubprotocolNotSupported,
    /// `E_PROTOCOL_VERSION_NOT_SUPPORTED` (0x83760005): a well-formed request for a
    /// WebSocket version other than 13.
    VersionNotSupported,
    /// `E_INVALIDARG` (0x80070057): a bad argument.
    InvalidArgument,
    /// `HRESULT_FROM_WIN32(ERROR_INVALID_STATE)` (0x8007139F): a call made in a handle
    /// state that does not allow it.
    InvalidState,
    /// `E_FAIL` (0x80004005): the operating system's random source failed.
    Fail,
    /// `HRESULT_FROM_WIN32(ERROR_TIMEOUT)` (0x800705B4): a deadline of the connection
    /// layer passed (wsengine extension; websocket.dll keeps no time).
    Timeout,
}

impl ErrorKind {
    /// The HRESULT value, as the unsigned 32-bit pattern Windows headers print.
    #[must_use]
    pub const fn hresult(self) -> u32 {
        match self {
            Self::InvalidProtocolOperation => 0x8376_0001,
            Self::InvalidProtocolFormat => 0x8376_0002,
            Self::ExtensionsNotSupported => 0x8376_0003,
            Self::SubprotocolNotSupported => 0x8376_0004,
            Self::VersionNotSupported => 0x8376_0005,
            Self::InvalidArgument => 0x8007_0057,
            Self::InvalidState => 0x8007_139F,
            Self::Fail => 0x8000_4005,
            Self::Timeout => 0x8007_05B4,
        }
    }

    /// The Windows symbol, e.g. `"E_INVALID_PROTOCOL_FORMAT"`.
    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::InvalidProtocolOperation => "E_INVALID_PROTOCOL_OPERATION",
            Self::InvalidProtocolFormat => "E_INVALID_PROTOCOL_FORMAT",
            Self::ExtensionsNotSupported => "E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED",
            Self::SubprotocolNotSupported => "E_SUBPROTOCOL_NOT_SUPPORTED",
            Self::VersionNotSupported => "E_PROTOCOL_VERSION_NOT_SUPPORTED",
            Self::InvalidArgument => "E_INVALIDARG",
            Self::InvalidState => "HRESULT_FROM_WIN32(ERROR_INVALID_STATE)",
            Self::Fail => "E_FAIL",
            Self::Timeout => "HRESULT_FROM_WIN32(ERROR_TIMEOUT)",
        }
    }
}

/// Everything that can go wrong, one variant per cause.
///
/// [`Error::kind`] gives the HRESULT family, [`Error::close_status`] the close code a host
/// should send for a peer error, and `Display` a message that says what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // ---- the peer broke RFC 6455 (receive side; sticky) ----
    /// A frame set RSV bits that no negotiated extension defines (RFC 6455 §5.2).
    ReservedBitsSet {
        /// The three RSV bits as `0b0000_0RRR` (RSV1 is 0b100).
        rsv: u8,
    },
    /// A frame used a reserved opcode (3-7, 0xB-0xF) (RFC 6455 §5.2).
    ReservedOpcode(u8),
    /// A control frame had FIN clear (RFC 6455 §5.5).
    FragmentedControlFrame,
    /// A control frame carried more than 125 bytes of payload (RFC 6455 §5.5).
    ControlFrameTooLong(u64),
    /// A 64-bit payload length had its most significant bit set (RFC 6455 §5.2).
    PayloadLengthOverflow,
    /// A server sent a masked frame to this client (RFC 6455 §5.1).
    MaskedFrameFromServer,
    /// A client sent an unmasked frame to this server (RFC 6455 §5.1), and masking was
    /// not disabled.
    UnmaskedFrameFromClient,
    /// A text message (or its last piece) was not valid UTF-8 (RFC 6455 §8.1).
    InvalidUtf8,
    /// A close frame had a 1-byte body (RFC 6455 §5.5.1).
    CloseBodyTooShort,
    /// A close frame carried a status code that may not appear on the wire (RFC 6455 §7.4).
    InvalidCloseStatus(u16),
    /// A close frame's reason was not valid UTF-8 (RFC 6455 §5.5.1).
    InvalidCloseReason,
    /// A continuation frame arrived with no fragmented message open (RFC 6455 §5.4).
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was still open
    /// (RFC 6455 §5.4).
    ExpectedContinuation,
    /// A compressed message (permessage-deflate) was not valid DEFLATE data (RFC 7692
    /// §7.2.2), or went on after a final block.
    InvalidCompressedData,
    /// The transport reached end of stream, or failed: a RECEIVE_FROM_NETWORK action was
    /// completed with 0 bytes.
    ConnectionClosed,
    /// A message longer than the connection's maximum message size (its frame headers
    /// announced more; nothing past the limit was buffered).
    MessageTooBig {
        /// The limit in bytes.
        limit: u64,
    },
    /// A fragmented message with more frames than the connection allows.
    TooManyFragments {
        /// The most frames a message may have.
        limit: u32,
    },
    /// The peer did not answer in time (connection layer).
    TimedOut(Deadline),

    // ---- the peer's handshake was wrong ----
    /// A required handshake header was absent.
    MissingHeader(&'static str),
    /// A handshake header that must appear once appeared more than once.
    DuplicateHeader(&'static str),
    /// A handshake header had a value that is not allowed.
    InvalidHeaderValue(&'static str),
    /// A header the handshake profile does not allow: `Sec-WebSocket-Key`, `Upgrade` or
    /// `Connection` in an extended CONNECT (RFC 8441 §5 replaces them with
    /// `:protocol`; HTTP/2 and HTTP/3 forbid connection-specific fields).
    UnexpectedHeader(&'static str),
    /// `Sec-WebSocket-Accept` did not match the key this client sent.
    AcceptMismatch,
    /// The request asked for a WebSocket version other than 13.
    UnsupportedVersion,
    /// The server selected a subprotocol the client did not offer.
    SubprotocolNotOffered,
    /// The server accepted an extension the client did not offer.
    ExtensionNotOffered,
    /// The server's permessage-deflate response is malformed or answers none of the
    /// offers (RFC 7692 §7.1: the client fails the connection); the text says why.
    UnacceptableExtensionResponse(&'static str),
    /// The response status was not `101 Switching Protocols` (2xx for an extended
    /// CONNECT).
    UnexpectedStatus(u16),
    /// An HTTP head was longer than the limit.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// An HTTP head had more header fields than the limit.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// An HTTP head was not well-formed.
    MalformedHead(&'static str),

    // ---- the caller misused the API ----
    /// The call is not allowed in the handle's current state.
    InvalidState {
        /// The call that was made.
        call: &'static str,
        /// The state the handle was in.
        state: State,
    },
    /// A handshake call of the other role: a client cannot begin a server handshake,
    /// nor a server a client one.
    WrongRole {
        /// The call that was made.
        call: &'static str,
        /// The handle's role.
        role: crate::handle::Role,
    },
    /// A send operation is already outstanding (one at a time).
    SendOutstanding,
    /// A receive operation is already outstanding (one at a time).
    ReceiveOutstanding,
    /// The handle was aborted; no new operations are accepted.
    Aborted,
    /// A data send after this handle sent a close frame; only ping and unsolicited pong
    /// may follow a close.
    SendAfterClose,
    /// A receive after the peer's close frame was indicated (or the transport closed).
    ReceiveAfterClose,
    /// A receive after the receive side failed on the peer's data (reference §5.8:
    /// `E_INVALID_PROTOCOL_OPERATION`); `get_action` on the receive queue still reports
    /// the failure itself.
    ReceiveAfterFailure,
    /// A data send whose type does not continue the open fragmented message (a
    /// `BinaryFragment` after a `Utf8Fragment`, say).
    FragmentTypeMismatch {
        /// The type of the open message's pieces.
        open: BufferType,
        /// The type that was passed.
        sent: BufferType,
    },
    /// `SendBuffer::LastReceived` with no received piece to send: none was indicated
    /// zero-copy, or the receive queue ran since.
    NoReceivedPiece,
    /// An earlier SEND_TO_NETWORK action was completed short, so a frame is half
    /// written and the outgoing stream is corrupt: nothing more can be sent.
    SendSideBroken,
    /// The buffer type cannot be used with this call.
    InvalidBufferType(BufferType),
    /// The raw value is not a `WEB_SOCKET_BUFFER_TYPE`.
    UnknownBufferType(u32),
    /// The raw value is not a `WEB_SOCKET_ACTION_QUEUE`.
    UnknownActionQueue(u32),
    /// This buffer type needs a buffer (a data payload), and none was passed.
    BufferRequired(BufferType),
    /// This buffer type takes no buffer (ping and unsolicited pong carry no payload).
    BufferNotAllowed(BufferType),
    /// A close buffer was passed with a data type, or a data buffer with the close type.
    BufferShapeMismatch(BufferType),
    /// A close reason longer than 123 bytes.
    CloseReasonTooLong(usize),
    /// A ping or pong payload longer than 125 bytes (RFC 6455 §5.5).
    ControlPayloadTooLong(usize),
    /// A close status that may not be sent (below 1000, or 1005, 1006, 1015).
    ReservedCloseStatus(u16),
    /// Outgoing text (a UTF-8 message, fragment or close reason) that is not valid UTF-8.
    InvalidOutgoingUtf8,
    /// A caller-supplied receive buffer smaller than the minimum.
    ReceiveBufferTooSmall {
        /// The capacity passed.
        capacity: usize,
        /// The least capacity accepted.
        min: usize,
    },
    /// A property value out of its range.
    PropertyOutOfRange {
        /// The property's Windows name.
        property: &'static str,
        /// The value passed.
        value: u64,
        /// The least value accepted.
        min: u64,
        /// The greatest value accepted.
        max: u64,
    },
    /// A property given twice in one create call.
    DuplicateProperty(&'static str),
    /// A global-only property (keep-alive interval, supported versions) given to create.
    GlobalOnlyProperty(&'static str),
    /// A handle-only property asked of the global properties.
    NotAGlobalProperty(&'static str),
    /// The raw value is not a `WEB_SOCKET_PROPERTY_TYPE`.
    UnknownPropertyType(u32),
    /// A raw property value of the wrong size.
    PropertySize {
        /// The property's Windows name.
        property: &'static str,
        /// The size passed.
        size: usize,
        /// The size required.
        expected: usize,
    },
    /// The caller-supplied buffer (ALLOCATED_BUFFER) is smaller than
    /// receive size + send size + 144.
    AllocatedBufferTooSmall {
        /// Its length.
        len: usize,
        /// The length needed.
        needed: usize,
    },
    /// The caller-supplied buffer (ALLOCATED_BUFFER) lent by address is a null pointer.
    NullAllocatedBuffer,
    /// A subprotocol or extension name that is not an RFC 7230 token, or an extension
    /// offer that is not well-formed.
    InvalidToken,
    /// A permessage-deflate offer, selection or option the engine cannot use: an unknown
    /// or repeated parameter, a bad value, or a server's selection that answers none of
    /// the request's offers; the text says which.
    InvalidExtensionParameters(&'static str),
    /// A header name or value that cannot be written in an HTTP/1.1 head (empty name, a
    /// colon, CR, LF or another control byte).
    InvalidHeader,
    /// The action context names no action in flight on this handle.
    UnknownActionContext,
    /// More bytes reported transferred than the action's buffers hold.
    TooManyBytesTransferred {
        /// The bytes reported.
        reported: usize,
        /// The action's buffer size.
        max: usize,
    },
    /// The HTTP head is not complete yet.
    HeadIncomplete,
    /// A URL that is not a usable `ws:` or `wss:` URL (RFC 6455 §3).
    InvalidUrl(&'static str),
    /// More input than the connection keeps unprocessed was handed in.
    InputBufferFull {
        /// The most bytes kept.
        limit: usize,
    },
    /// The server's host refused the upgrade with this HTTP status.
    Rejected(u16),
    /// The client handle needs random numbers, no random seed was given, and this build
    /// has no operating-system random source (the `os-rng` feature is off).
    NoRandomSource,
    /// The operating system's random source failed.
    RandomSourceFailed,
}

impl Error {
    /// The HRESULT family of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Self::ReservedBitsSet { .. }
            | Self::ReservedOpcode(_)
            | Self::FragmentedControlFrame
            | Self::ControlFrameTooLong(_)
            | Self::PayloadLengthOverflow
            | Self::MaskedFrameFromServer
            | Self::UnmaskedFrameFromClient
            | Self::InvalidUtf8
            | Self::InvalidCompressedData
            | Self::CloseBodyTooShort
            | Self::InvalidCloseStatus(_)
            | Self::InvalidCloseReason
            | Self::MessageTooBig { .. }
            | Self::TooManyFragments { .. }
            | Self::MissingHeader(_)
            | Self::DuplicateHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::UnexpectedHeader(_)
            | Self::AcceptMismatch
            | Self::UnexpectedStatus(_)
            | Self::HeadTooLarge { .. }
            | Self::TooManyHeaders { .. }
            | Self::MalformedHead(_)
            | Self::ReservedCloseStatus(_)
            | Self::InvalidOutgoingUtf8 => K::InvalidProtocolFormat,
            Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::ConnectionClosed
            | Self::SendOutstanding
            | Self::ReceiveOutstanding
            | Self::Aborted
            | Self::SendAfterClose
            | Self::ReceiveAfterClose
            | Self::ReceiveAfterFailure
            | Self::FragmentTypeMismatch { .. }
            | Self::SendSideBroken
            | Self::NoReceivedPiece => K::InvalidProtocolOperation,
            Self::UnsupportedVersion => K::VersionNotSupported,
            Self::SubprotocolNotOffered => K::SubprotocolNotSupported,
            Self::ExtensionNotOffered | Self::UnacceptableExtensionResponse(_) => K::ExtensionsNotSupported,
            Self::InvalidState { .. } | Self::WrongRole { .. } | Self::HeadIncomplete => K::InvalidState,
            Self::InvalidBufferType(_)
            | Self::UnknownBufferType(_)
            | Self::UnknownActionQueue(_)
            | Self::BufferRequired(_)
            | Self::BufferNotAllowed(_)
            | Self::BufferShapeMismatch(_)
            | Self::CloseReasonTooLong(_)
            | Self::ControlPayloadTooLong(_)
            | Self::ReceiveBufferTooSmall { .. }
            | Self::PropertyOutOfRange { .. }
            | Self::DuplicateProperty(_)
            | Self::GlobalOnlyProperty(_)
            | Self::NotAGlobalProperty(_)
            | Self::UnknownPropertyType(_)
            | Self::PropertySize { .. }
            | Self::AllocatedBufferTooSmall { .. }
            | Self::NullAllocatedBuffer
            | Self::InvalidToken
            | Self::InvalidExtensionParameters(_)
            | Self::InvalidHeader
            | Self::UnknownActionContext
            | Self::TooManyBytesTransferred { .. }
            | Self::InvalidUrl(_)
            | Self::InputBufferFull { .. }
            | Self::Rejected(_)
            | Self::NoRandomSource => K::InvalidArgument,
            Self::RandomSourceFailed => K::Fail,
            Self::TimedOut(_) => K::Timeout,
        }
    }

    /// The HRESULT value (`self.kind().hresult()`).
    #[must_use]
    pub fn hresult(&self) -> u32 {
        self.kind().hresult()
    }

    /// True when the peer caused this error (bad frames or a bad handshake), false when
    /// the caller did.
    #[must_use]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn is_peer_error(&self) -> bool {
        self.close_status().is_some()
            || matches!(
                self,
                Self::ConnectionClosed
                    | Self::TimedOut(_)
                    | Self::MissingHeader(_)
                    | Self::DuplicateHeader(_)
                    | Self::InvalidHeaderValue(_)
                    | Self::UnexpectedHeader(_)
                    | Self::AcceptMismatch
                    | Self::UnsupportedVersion
                    | Self::SubprotocolNotOffered
                    | Self::ExtensionNotOffered
                    | Self::UnacceptableExtensionResponse(_)
                    | Self::UnexpectedStatus(_)
                    | Self::HeadTooLarge { .. }
                    | Self::TooManyHeaders { .. }
                    | Self::MalformedHead(_)
            )
    }

    /// The close status an RFC-polite host sends before dropping the connection after
    /// this error: 1002 for a protocol error, 1007 for invalid UTF-8 in a text message
    /// or close reason or compressed data that does not inflate, 1009 for a message over
    /// the limits (counted in inflated bytes when compressed), 1011 for an unanswered
    /// keep-alive ping. `None` for caller errors, handshake errors (there is no
    /// WebSocket connection to close yet) and a transport that already closed.
    ///
    /// This is the only place that maps peer errors to close codes.
    #[must_use]
    pub fn close_status(&self) -> Option<CloseStatus> {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                Some(CloseStatus::INVALID_PAYLOAD)
            }
            Self::MessageTooBig { .. } | Self::TooManyFragments { .. } => Some(CloseStatus::MESSAGE_TOO_BIG),
            // A keep-alive ping went unanswered: the peer may be alive but stuck.
            Self::TimedOut(Deadline::Pong) => Some(CloseStatus::SERVER_ERROR),
            Self::ReservedBitsSet { .. }
            | Self::ReservedOpcode(_)
            | Self::FragmentedControlFrame
            | Self::ControlFrameTooLong(_)
            | Self::PayloadLengthOverflow
            | Self::MaskedFrameFromServer
            | Self::UnmaskedFrameFromClient
            | Self::CloseBodyTooShort
            | Self::InvalidCloseStatus(_)
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation => Some(CloseStatus::PROTOCOL_ERROR),
            _ => None,
        }
    }

    /// The HTTP status a server answers a failed upgrade request with (RFC 6455 §4.2.2):
    /// 426 Upgrade Required for a version it does not speak, 400 Bad Request for any
    /// other malformed request, 431 for a head over the limits. `None` for errors that
    /// are not about a request.
    #[must_use]
    #[cfg_attr(wsengine_size, optimize(size))]
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::UnsupportedVersion => Some(426),
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => Some(431),
            Self::MissingHeader(_)
            | Self::DuplicateHeader(_)
            | Self::InvalidHeaderValue(_)
            | Self::UnexpectedHeader(_)
            | Self::MalformedHead(_) => Some(400),
            Self::Rejected(status) => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    #[cfg_attr(wsengine_size, optimize(size))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBitsSet { rsv } => {
                write!(f, "frame sets reserved bits {rsv:#05b} that no negotiated extension defines")
            }
            Self::ReservedOpcode(op) => write!(f, "frame uses reserved opcode {op:#x}"),
            Self::FragmentedControlFrame => {
                f.write_str("control frame has FIN clear (control frames cannot be fragmented)")
            }
            Self::ControlFrameTooLong(n) => write!(f, "control frame carries {n} bytes (at most 125 allowed)"),
            Self::PayloadLengthOverflow => f.write_str("64-bit payload length has its most significant bit set"),
            Self::MaskedFrameFromServer => f.write_str("server sent a masked frame"),
            Self::UnmaskedFrameFromClient => f.write_str("client sent an unmasked frame"),
            Self::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            Self::CloseBodyTooShort => f.write_str("close frame has a 1-byte body"),
            Self::InvalidCloseStatus(code) => {
                write!(f, "close frame carries status {code}, which may not appear on the wire")
            }
            Self::InvalidCloseReason => f.write_str("close frame reason is not valid UTF-8"),
            Self::InvalidCompressedData => f.write_str("compressed message does not inflate (invalid DEFLATE data)"),
            Self::UnexpectedContinuation => f.write_str("continuation frame without a fragmented message to continue"),
            Self::ExpectedContinuation => f.write_str("new data frame while a fragmented message is still open"),
            Self::ConnectionClosed => {
                f.write_str("the transport closed (a receive from the network completed with 0 bytes)")
            }
            Self::MessageTooBig { limit } => write!(f, "message is longer than the limit of {limit} bytes"),
            Self::TooManyFragments { limit } => write!(f, "message has more than {limit} frames"),
            Self::TimedOut(Deadline::OpeningHandshake) => f.write_str("the opening handshake did not finish in time"),
            Self::TimedOut(Deadline::Pong) => f.write_str("no pong answered the keep-alive ping in time"),
            Self::TimedOut(Deadline::ClosingHandshake) => f.write_str("the closing handshake did not finish in time"),
            Self::MissingHeader(h) => write!(f, "handshake header {h} is missing"),
            Self::DuplicateHeader(h) => write!(f, "handshake header {h} appears more than once"),
            Self::InvalidHeaderValue(h) => write!(f, "handshake header {h} has an invalid value"),
            Self::UnexpectedHeader(h) => write!(f, "handshake header {h} is not allowed in this handshake"),
            Self::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key sent"),
            Self::UnsupportedVersion => f.write_str("request asks for a WebSocket version other than 13"),
            Self::SubprotocolNotOffered => f.write_str("server selected a subprotocol that was not offered"),
            Self::ExtensionNotOffered => f.write_str("server accepted an extension that was not offered"),
            Self::UnacceptableExtensionResponse(why) => {
                write!(f, "server's permessage-deflate response is not acceptable: {why}")
            }
            Self::UnexpectedStatus(s) => write!(f, "response status {s} does not accept the WebSocket"),
            Self::HeadTooLarge { limit } => write!(f, "HTTP head is longer than {limit} bytes"),
            Self::TooManyHeaders { limit } => write!(f, "HTTP head has more than {limit} header fields"),
            Self::MalformedHead(why) => write!(f, "HTTP head is malformed: {why}"),
            Self::InvalidState { call, state } => write!(f, "{call} is not allowed in state {state:?}"),
            Self::WrongRole { call, role } => write!(f, "{call} cannot be called on a {role:?} handle"),
            Self::SendOutstanding => f.write_str("a send operation is already outstanding"),
            Self::ReceiveOutstanding => f.write_str("a receive operation is already outstanding"),
            Self::Aborted => f.write_str("the handle was aborted"),
            Self::SendAfterClose => {
                f.write_str("a close frame was already sent: only ping and unsolicited pong may follow")
            }
            Self::ReceiveAfterClose => {
                f.write_str("the peer's close frame was already received (or the transport closed)")
            }
            Self::ReceiveAfterFailure => {
                f.write_str("the receive side failed on the peer's data: get_action reports why")
            }
            Self::FragmentTypeMismatch { open, sent } => {
                write!(f, "{sent:?} cannot continue a message sent as {open:?} pieces")
            }
            Self::NoReceivedPiece => {
                f.write_str("no received piece to send: none was indicated zero-copy, or the receive queue ran since")
            }
            Self::SendSideBroken => {
                f.write_str("a SEND_TO_NETWORK action was completed short: the outgoing stream is corrupt")
            }
            Self::InvalidBufferType(t) => write!(f, "buffer type {t:?} cannot be used here"),
            Self::UnknownBufferType(v) => write!(f, "{v:#010x} is not a WEB_SOCKET_BUFFER_TYPE"),
            Self::UnknownActionQueue(v) => write!(f, "{v:#x} is not a WEB_SOCKET_ACTION_QUEUE"),
            Self::BufferRequired(t) => write!(f, "buffer type {t:?} needs a buffer"),
            Self::BufferNotAllowed(t) => write!(f, "buffer type {t:?} takes no buffer"),
            Self::BufferShapeMismatch(t) => write!(f, "buffer does not match buffer type {t:?} (data vs close)"),
            Self::CloseReasonTooLong(n) => write!(f, "close reason is {n} bytes (at most 123 allowed)"),
            Self::ControlPayloadTooLong(n) => write!(f, "ping or pong payload is {n} bytes (at most 125 allowed)"),
            Self::ReservedCloseStatus(c) => write!(f, "close status {c} may not be sent"),
            Self::InvalidOutgoingUtf8 => f.write_str("outgoing text is not valid UTF-8"),
            Self::ReceiveBufferTooSmall { capacity, min } => {
                write!(f, "receive buffer holds {capacity} bytes; at least {min} needed")
            }
            Self::PropertyOutOfRange { property, value, min, max } => {
                write!(f, "{property} = {value} is out of range {min}..={max}")
            }
            Self::DuplicateProperty(p) => write!(f, "{p} given twice"),
            Self::GlobalOnlyProperty(p) => write!(f, "{p} is a global property and cannot be set on a handle"),
            Self::NotAGlobalProperty(p) => write!(f, "{p} is not a global property"),
            Self::UnknownPropertyType(t) => write!(f, "{t} is not a WEB_SOCKET_PROPERTY_TYPE"),
            Self::PropertySize { property, size, expected } => {
                write!(f, "{property} value is {size} bytes; {expected} expected")
            }
            Self::AllocatedBufferTooSmall { len, needed } => {
                write!(f, "allocated buffer is {len} bytes; at least {needed} needed")
            }
            Self::NullAllocatedBuffer => f.write_str("allocated buffer is a null pointer"),
            Self::InvalidToken => f.write_str("subprotocol or extension is not a valid token"),
            Self::InvalidExtensionParameters(why) => write!(f, "permessage-deflate parameters: {why}"),
            Self::InvalidHeader => f.write_str("header name or value cannot be written in an HTTP/1.1 head"),
            Self::UnknownActionContext => f.write_str("the action context names no action in flight"),
            Self::TooManyBytesTransferred { reported, max } => {
                write!(f, "{reported} bytes reported transferred; the action's buffers hold {max}")
            }
            Self::HeadIncomplete => f.write_str("the HTTP head is not complete yet"),
            Self::InvalidUrl(why) => write!(f, "not a WebSocket URL: {why}"),
            Self::InputBufferFull { limit } => {
                write!(f, "more than {limit} bytes of input wait unprocessed: poll events first")
            }
            Self::Rejected(status) => write!(f, "the upgrade was refused with HTTP status {status}"),
            Self::NoRandomSource => {
                f.write_str("no random seed given and no OS random source in this build (feature os-rng)")
            }
            Self::RandomSourceFailed => f.write_str("the operating system's random source failed"),
        }?;
        write!(f, " ({})", self.kind().symbol())
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
