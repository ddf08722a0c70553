//! What crosses the Stream and the Sink: whole messages, owning their bytes.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use wsengine::CloseStatus;

/// Bytes that are valid UTF-8: a text message's payload, cheap to clone and to turn
/// into [`Bytes`].
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Text from a static string, without copying.
    #[must_use]
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks the bytes or takes them from a `str`, or,
        // in `from_verified`, from the engine, which verified them as UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A text message's payload as the engine indicated it: checked here only when the
    /// connection does not verify UTF-8 itself.
    pub(crate) fn from_engine(bytes: Bytes, verified: bool) -> Result<Self, std::str::Utf8Error> {
        if !verified {
            std::str::from_utf8(&bytes)?;
        }
        Ok(Self(bytes))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A close frame's status and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status (1000 for a normal close).
    pub code: CloseStatus,
    /// The reason: UTF-8, at most 123 bytes when sent.
    pub reason: String,
}

/// A WebSocket message.
///
/// Received: `Text` and `Binary` are whole messages (however many frames they came
/// in); `Ping` and `Pong` are the peer's (the engine has already answered a ping);
/// `Close` is the peer's close frame (`None` when it had no status), already answered
/// unless this side closed first. The stream ends after the transport is closed.
///
/// Sent: `Text` and `Binary` leave from the bytes given, without a copy; `Ping` and
/// `Pong` carry at most 125 bytes; `Close` starts the closing handshake (keep reading
/// until the stream ends to see it finish). Sending `Close` when a close was already
/// sent or answered does nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping and its payload.
    Ping(Bytes),
    /// A pong and its payload.
    Pong(Bytes),
    /// A close frame.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// True for a text message.
    #[must_use]
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// True for a binary message.
    #[must_use]
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// True for a close frame.
    #[must_use]
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }

    /// The payload's length in bytes (a close frame's reason's).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b.len(),
            Self::Close(f) => f.as_ref().map_or(0, |f| f.reason.len()),
        }
    }

    /// True when the payload is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload (a close frame's reason).
    #[must_use]
    pub fn into_data(self) -> Bytes {
        match self {
            Self::Text(t) => t.into(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(f) => f.map_or_else(Bytes::new, |f| Bytes::from(f.reason)),
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Self::binary(v)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}
