//! The one error type of the crate.

use std::{fmt, io};

/// What went wrong: the transport, the engine, or a call after the end.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (a read or a write). The connection is over.
    Io(io::Error),
    /// The engine's error: the connection failed (a protocol error by the peer, a
    /// limit, a deadline, a refused handshake; the close status it sent is in the
    /// error's [`close_status`](wsengine::Error::close_status)), or it refused a call
    /// (a ping payload over 125 bytes, say), which changed nothing.
    WebSocket(wsengine::Error),
    /// The connection is closed: nothing more can be sent.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport: {e}"),
            Self::WebSocket(e) => write!(f, "websocket: {e}"),
            Self::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::WebSocket(e) => Some(e),
            Self::Closed => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<wsengine::Error> for Error {
    fn from(e: wsengine::Error) -> Self {
        Self::WebSocket(e)
    }
}
