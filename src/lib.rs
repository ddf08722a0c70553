//! # wsengine
//!
//! A sans-IO RFC 6455 WebSocket protocol engine with the shape of the Windows WebSocket
//! Protocol Component API (websocket.dll).
//!
//! It does no I/O, owns no clock and no socket: the host moves bytes between the
//! engine and whatever transport it has (TCP, a WebTransport stream, a pipe), driven by
//! *actions*. It frames and parses the byte stream, masks and unmasks, validates UTF-8,
//! answers pings, checks the close handshake, and builds and checks the opening
//! handshake's headers. It does **not** open connections, speak TLS, follow redirects or
//! read a clock.
//!
//! ## Two levels
//!
//! - [`Connection`]: bytes in, events out, bytes to write. It adds the policy every host
//!   needs over [`Handle`]: the opening handshake over raw HTTP/1.1 bytes, answering the
//!   peer's close, failing with the right status, keep-alive pings, deadlines computed
//!   from the `now` the host passes, limits, a send queue, and when to close the
//!   transport. Use it unless you port websocket.dll code.
//! - [`Handle`]: websocket.dll's API, one call per action, below. Keep-alives, timeouts
//!   and closing the transport are then the host's.
//!
//! ```text
//!   feed(bytes, now) / read_eof()   →  poll_event() until None  →  output() / advance(n)
//!   send_* / ping / close(now, ..)  ↗   poll_timeout() → handle_timeout(now)
//! ```
//!
//! ## The action loop
//!
//! ```text
//!   send(..) / receive(..)          queue operations (at most one of each)
//!          │
//!          ▼
//!   get_action(queue) ──► SendToNetwork       write the buffers ─┐
//!          ▲          ──► ReceiveFromNetwork  read into buffer  ─┤
//!          │          ──► IndicateSendComplete / IndicateReceiveComplete
//!          │                                 take the result   ─┤
//!          └──────────── complete_action(action, bytes) ◄───────┘
//! ```
//!
//! ## Example: a client and a server joined in memory
//!
//! ```
//! use wsengine::{Action, ActionQueue, BufferType, Handle, HttpHeader, SendBuffer};
//!
//! let mut client: Handle = Handle::new_client([])?;
//! let mut server: Handle = Handle::new_server([])?;
//!
//! // Opening handshake: the host writes and reads the HTTP heads itself.
//! let mut request = vec![HttpHeader::new("Host", "example.com")];
//! request.extend(client.begin_client_handshake(&[], &[], &[])?.iter().cloned());
//! let response = server.begin_server_handshake(None, &[], &request)?.to_vec();
//! client.end_client_handshake(&response)?;
//!
//! // The client sends a text message; its bytes go over the "network" (a Vec here).
//! client.send(BufferType::Utf8Message, Some(SendBuffer::Data(b"hello".to_vec())), ())?;
//! let mut wire = Vec::new();
//! loop {
//!     let done = match client.get_action(ActionQueue::Send)? {
//!         Action::SendToNetwork { buffers, action, .. } => {
//!             buffers.copy_to(&mut wire);
//!             Some((action, buffers.len()))
//!         }
//!         Action::IndicateSendComplete { action, .. } => Some((action, 0)),
//!         _ => None,
//!     };
//!     let Some((action, n)) = done else { break };
//!     client.complete_action(action, n)?;
//! }
//!
//! // The server receives it, zero copy from its receive buffer.
//! server.receive(None, ())?;
//! loop {
//!     match server.get_action(ActionQueue::Receive)? {
//!         Action::ReceiveFromNetwork { buffer, action } => {
//!             let n = wire.len().min(buffer.len());
//!             buffer[..n].copy_from_slice(&wire[..n]);
//!             wire.drain(..n);
//!             server.complete_action(action, n)?;
//!         }
//!         Action::IndicateReceiveComplete { buffer_type, data, action, .. } => {
//!             assert_eq!(buffer_type, Some(BufferType::Utf8Message));
//!             assert_eq!(data.as_slice(), b"hello");
//!             server.complete_action(action, 0)?;
//!             break;
//!         }
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! # Ok::<(), wsengine::Error>(())
//! ```
//!
//! ## Features
//!
//! - `os-rng` (default): seed client handles' ChaCha generator from the operating
//!   system (`getrandom`). Without it, pass [`Property::RandomSeed`].
//! - `deflate`: permessage-deflate (RFC 7692), negotiated through the handshake's
//!   extension arguments (see `DeflateOptions` and `accept_deflate`). Without it,
//!   extensions are header handling only and a frame with an RSV bit fails.

#![deny(unsafe_code)]
// The npm build (./dev, nightly) sets `--cfg wsengine_size`: the opening handshake and
// the constructors, once per connection, are then built for size (bench/README.md).
#![cfg_attr(wsengine_size, feature(optimize_attribute))]
#![warn(missing_docs, unreachable_pub)]

mod action;
mod close;
mod connection;
#[cfg(feature = "deflate")]
mod deflate;
#[cfg(not(feature = "deflate"))]
#[path = "no_deflate.rs"]
mod deflate;
mod error;
mod frame;
mod handle;
mod handshake;
mod http;
mod keys;
#[allow(unsafe_code)]
mod lent;
#[allow(unsafe_code)]
mod mask;
mod pool;
mod property;
mod state;
mod utf8;

pub use action::{Action, ActionContext, ActionQueue, ActionType, BufferType, Received, SendBuffer, SendBuffers};
pub use close::{CloseStatus, MAX_CLOSE_REASON_LENGTH};
pub use connection::{
    ClientRequest, Connection, ConnectionState, DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_MAX_BUFFERED_INPUT,
    DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_OPEN_TIMEOUT_MS, DEFAULT_PONG_TIMEOUT_MS, Event, Millis,
    Options, Output,
};
#[cfg(feature = "deflate")]
pub use deflate::{DeflateOptions, PERMESSAGE_DEFLATE, accept_deflate};
pub use error::{Deadline, Error, ErrorKind, Result};
pub use frame::{WireFrameHeader, inspect_frame_header};
pub use handle::{Handle, MIN_CALLER_RECEIVE_BUFFER, Role};
pub use handshake::{ClientHandshakeOutcome, accept_key, choose_subprotocol, offered_subprotocols};
pub use http::{
    DEFAULT_MAX_HEAD_LEN, DEFAULT_MAX_HEADERS, HeadLimits, HeadParser, HttpHeader, Refusal, RequestHead, ResponseHead,
    encode_rejection, encode_rejection_status, encode_request_head, encode_response_head,
};
pub use property::{
    CONTROL_AREA_SIZE, DEFAULT_CLIENT_SEND_BUFFER_SIZE, DEFAULT_DEFLATE_LEVEL, DEFAULT_DEFLATE_MEM_LEVEL,
    DEFAULT_DEFLATE_THRESHOLD, DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_RECEIVE_BUFFER_SIZE,
    DEFAULT_SERVER_SEND_BUFFER_SIZE, GlobalProperty, MAX_BUFFER_SIZE, MIN_KEEPALIVE_INTERVAL_MS,
    MIN_RECEIVE_BUFFER_SIZE, MIN_SEND_BUFFER_SIZE, Property, PropertyType, SUPPORTED_VERSIONS, global_property,
    set_keepalive_interval,
};
pub use state::State;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
