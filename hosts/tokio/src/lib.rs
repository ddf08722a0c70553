//! wsengine on tokio: the engine's connection over any `AsyncRead + AsyncWrite`.
//!
//! [`WebSocketStream`] is a `futures` [`Stream`](futures_core::Stream) of received
//! [`Message`]s and a [`Sink`](futures_sink::Sink) of messages to send. It runs the
//! opening handshake ([`connect`], [`accept`], [`WebSocketStream::client`],
//! [`WebSocketStream::accept_with_callback`]), takes over a connection an HTTP server
//! upgraded ([`WebSocketStream::from_upgraded`], or [`upgrade`] for hyper and axum with
//! feature `hyper`), keeps it alive and enforces its deadlines on tokio's clock, and
//! splits into a sender and a receiver for two tasks without a lock
//! ([`WebSocketStream::split`]).
//!
//! Everything about the protocol is the engine's ([`wsengine::Connection`]): this
//! crate moves bytes and time. Configure a connection with [`wsengine::Options`]
//! (limits, deadlines, keep-alive, subprotocols, permessage-deflate with feature
//! `deflate`).
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use wsengine_tokio::Message;
//!
//! # async fn run() -> Result<(), wsengine_tokio::Error> {
//! let mut ws = wsengine_tokio::connect("ws://127.0.0.1:9002/").await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.next().await {
//!     match message? {
//!         Message::Text(text) => println!("{text}"),
//!         Message::Close(_) => break,
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod message;
mod split;
mod stream;
#[cfg(feature = "hyper")]
mod upgrade;

pub use error::Error;
pub use message::{CloseFrame, Message, Utf8Bytes};
pub use split::{WebSocketReceiver, WebSocketSender};
pub use stream::{Answer, DEFAULT_SEND_HIGH_WATER, Request, WebSocketStream, accept, connect, connect_with};
#[cfg(feature = "http2")]
pub use upgrade::connect_h2;
#[cfg(feature = "hyper")]
pub use upgrade::{Upgrade, upgrade};
pub use wsengine::{self, CloseStatus, Options, Role};
