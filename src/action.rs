//! Actions: what [`Handle::get_action`](crate::Handle::get_action) asks the host to do,
//! and the buffer types and queues they are named by.

use crate::close::CloseStatus;
use crate::error::{Error, Result};

/// `WEB_SOCKET_ACTION_QUEUE`: which operations' actions to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ActionQueue {
    /// `WEB_SOCKET_SEND_ACTION_QUEUE` (0x1): actions of [`Handle::send`](crate::Handle::send) operations.
    Send = 0x1,
    /// `WEB_SOCKET_RECEIVE_ACTION_QUEUE` (0x2): actions of
    /// [`Handle::receive`](crate::Handle::receive) operations, plus automatic pongs.
    Receive = 0x2,
    /// `WEB_SOCKET_ALL_ACTION_QUEUE` (0x3): either.
    All = 0x3,
}

impl ActionQueue {
    /// The queue with this Windows value.
    pub fn from_u32(v: u32) -> Result<Self> {
        match v {
            0x1 => Ok(Self::Send),
            0x2 => Ok(Self::Receive),
            0x3 => Ok(Self::All),
            _ => Err(Error::UnknownActionQueue(v)),
        }
    }

    pub(crate) const fn has_send(self) -> bool {
        (self as u32) & 0x1 != 0
    }

    pub(crate) const fn has_receive(self) -> bool {
        (self as u32) & 0x2 != 0
    }
}

/// `WEB_SOCKET_ACTION`: the kind of an [`Action`], with its Windows value
/// ([`Action::action_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ActionType {
    /// `WEB_SOCKET_NO_ACTION` (0).
    NoAction = 0,
    /// `WEB_SOCKET_SEND_TO_NETWORK_ACTION` (1).
    SendToNetwork = 1,
    /// `WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION` (2).
    IndicateSendComplete = 2,
    /// `WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION` (3).
    ReceiveFromNetwork = 3,
    /// `WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION` (4).
    IndicateReceiveComplete = 4,
}

/// `WEB_SOCKET_BUFFER_TYPE`: what a buffer holds.
///
/// `*Fragment` and `*Message` say how the engine hands data over, not how it was
/// framed on the wire: a message may be indicated as several fragments then a message
/// piece, whatever its frames were.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BufferType {
    /// `WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE`: the last (or only) piece of a text message.
    Utf8Message = 0x8000_0000,
    /// `WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE`: a piece of a text message, more follows.
    Utf8Fragment = 0x8000_0001,
    /// `WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE`: the last (or only) piece of a binary message.
    BinaryMessage = 0x8000_0002,
    /// `WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE`: a piece of a binary message, more follows.
    BinaryFragment = 0x8000_0003,
    /// `WEB_SOCKET_CLOSE_BUFFER_TYPE`: a close frame, with a status and a reason.
    Close = 0x8000_0004,
    /// `WEB_SOCKET_PING_PONG_BUFFER_TYPE`: on send a ping, on receive a pong (and the
    /// type of the automatic pong that answers a ping).
    PingPong = 0x8000_0005,
    /// `WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE`: a pong sent unasked, as a keep-alive.
    UnsolicitedPong = 0x8000_0006,
}

impl BufferType {
    /// The buffer type with this Windows value.
    pub fn from_u32(v: u32) -> Result<Self> {
        Ok(match v {
            0x8000_0000 => Self::Utf8Message,
            0x8000_0001 => Self::Utf8Fragment,
            0x8000_0002 => Self::BinaryMessage,
            0x8000_0003 => Self::BinaryFragment,
            0x8000_0004 => Self::Close,
            0x8000_0005 => Self::PingPong,
            0x8000_0006 => Self::UnsolicitedPong,
            _ => return Err(Error::UnknownBufferType(v)),
        })
    }

    /// True for the four data types.
    #[must_use]
    pub const fn is_data(self) -> bool {
        matches!(self, Self::Utf8Message | Self::Utf8Fragment | Self::BinaryMessage | Self::BinaryFragment)
    }

    /// True for `Utf8Message` and `Utf8Fragment`.
    #[must_use]
    pub const fn is_text(self) -> bool {
        matches!(self, Self::Utf8Message | Self::Utf8Fragment)
    }

    /// True for the `*Fragment` types: more of the message follows.
    #[must_use]
    pub const fn is_fragment(self) -> bool {
        matches!(self, Self::Utf8Fragment | Self::BinaryFragment)
    }

    /// The data type for a piece of a text or binary message.
    pub(crate) const fn data(text: bool, last: bool) -> Self {
        match (text, last) {
            (true, true) => Self::Utf8Message,
            (true, false) => Self::Utf8Fragment,
            (false, true) => Self::BinaryMessage,
            (false, false) => Self::BinaryFragment,
        }
    }
}

/// A send operation's buffer (`WEB_SOCKET_BUFFER`): the union's two arms.
///
/// The engine owns it from [`Handle::send`](crate::Handle::send) until the
/// operation's [`Action::IndicateSendComplete`], which gives it back. Meanwhile it
/// may send straight from it (zero copy); it never writes to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendBuffer<B> {
    /// The `Data` arm: a message payload or a piece of one.
    Data(B),
    /// The `CloseStatus` arm: a status and a UTF-8 reason of at most 123 bytes.
    Close {
        /// The status code.
        status: CloseStatus,
        /// The reason, UTF-8; may be empty.
        reason: B,
    },
    /// wsengine extension: the data piece of this handle's last
    /// [`Action::IndicateReceiveComplete`], sent from the receive buffer where it lies,
    /// without a copy (an echo, or a relay inside one connection). Only for data types,
    /// and only while that piece is still there: it was indicated zero-copy
    /// (`receive(None, ..)`) and the receive queue has not run since. Until the send
    /// is indicated complete, the receive queue hands out nothing, so the piece stays
    /// intact. Text the engine validated on receipt is not validated again.
    LastReceived,
}

/// The token of one action in flight, to pass to
/// [`Handle::complete_action`](crate::Handle::complete_action) (`pvActionContext`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionContext {
    pub(crate) queue: ActionQueue,
    pub(crate) serial: u32,
}

impl ActionContext {
    /// The token of [`Action::NoAction`], which has none of its own: completing it is
    /// a no-op that succeeds, as `WebSocketCompleteAction` is for NO_ACTION in Windows,
    /// so an action loop written after the SDK's (complete every action) works as is.
    /// Its raw form ([`to_raw`](Self::to_raw)) is 0.
    pub const NO_ACTION: ActionContext = ActionContext { queue: ActionQueue::All, serial: 0 };

    /// The queue the action came from ([`ActionQueue::Send`] or [`ActionQueue::Receive`];
    /// [`ActionQueue::All`] for [`NO_ACTION`](Self::NO_ACTION)).
    #[must_use]
    pub fn queue(self) -> ActionQueue {
        self.queue
    }

    /// A number unique to this action within its handle, for bindings that pass the
    /// token through a foreign interface; [`ActionContext::from_raw`] reverses it.
    #[must_use]
    pub fn to_raw(self) -> u64 {
        if self == Self::NO_ACTION {
            return 0;
        }
        (u64::from(self.queue as u32) << 32) | u64::from(self.serial)
    }

    /// The token [`ActionContext::to_raw`] encoded. A value no handle produced is
    /// rejected by `complete_action` with `E_INVALIDARG`, never trusted.
    pub fn from_raw(raw: u64) -> Result<Self> {
        if raw == 0 {
            return Ok(Self::NO_ACTION);
        }
        let queue = match ActionQueue::from_u32((raw >> 32) as u32) {
            Ok(q @ (ActionQueue::Send | ActionQueue::Receive)) => q,
            _ => return Err(Error::UnknownActionContext),
        };
        Ok(Self { queue, serial: raw as u32 })
    }
}

/// The bytes of one SEND_TO_NETWORK action: one or two buffers (a frame header, then
/// a payload), to be written in order, whole.
#[derive(Clone, Copy, Debug)]
pub struct SendBuffers<'a> {
    /// The header (or a whole frame), then the payload, empty when there is none.
    parts: [&'a [u8]; 2],
}

impl<'a> SendBuffers<'a> {
    pub(crate) fn new(first: &'a [u8], second: &'a [u8]) -> Self {
        Self { parts: [first, second] }
    }

    /// The buffers, in the order they must be written: one or two.
    #[must_use]
    pub fn as_slices(&self) -> &[&'a [u8]] {
        if self.parts[1].is_empty() { &self.parts[..1] } else { &self.parts }
    }

    /// The total number of bytes: what `complete_action` expects when all were written.
    #[must_use]
    pub fn len(&self) -> usize {
        self.parts[0].len() + self.parts[1].len()
    }

    /// Always false: a SEND_TO_NETWORK action has at least a frame header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffers as `IoSlice`s for `Write::write_vectored`.
    #[must_use]
    pub fn io_slices(&self) -> [std::io::IoSlice<'a>; 2] {
        [std::io::IoSlice::new(self.parts[0]), std::io::IoSlice::new(self.parts[1])]
    }

    /// Appends all bytes to `out`; for hosts that need one contiguous buffer.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.parts[0]);
        out.extend_from_slice(self.parts[1]);
    }
}

/// The data of an INDICATE_RECEIVE_COMPLETE action.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// Bytes inside the handle's receive buffer (`WebSocketReceive` with no buffer:
    /// zero copy), valid until the action is completed.
    Borrowed(&'a [u8]),
    /// The buffer passed to [`Handle::receive`](crate::Handle::receive), given back
    /// holding the bytes (its length is the byte count).
    Owned(Vec<u8>),
}

impl Received<'_> {
    /// The received bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Self::Borrowed(b) => b,
            Self::Owned(v) => v,
        }
    }
}

/// What the host must do next (`WEB_SOCKET_ACTION` and its buffers).
///
/// Every action but [`Action::NoAction`] carries an [`ActionContext`] that MUST be
/// handed to [`Handle::complete_action`](crate::Handle::complete_action) before the
/// next action of the same queue appears. Buffers lent by an action stay valid and
/// unchanged until then: a host that cannot finish its I/O while it holds the borrow
/// gets them again from [`Handle::action`](crate::Handle::action).
#[must_use = "every action must be carried out and completed"]
#[derive(Debug)]
pub enum Action<'a, B, C> {
    /// `WEB_SOCKET_NO_ACTION`: nothing to do on this queue now. Not an end: more work
    /// appears after a send, receive or completion.
    NoAction,
    /// `WEB_SOCKET_SEND_TO_NETWORK_ACTION`: write `buffers` to the transport, in
    /// order, then complete with the number of bytes written. Fewer than
    /// `buffers.len()` cancels the send operation and breaks the outgoing stream.
    SendToNetwork {
        /// The frame's buffer type: the operation's, or `PingPong` for an automatic pong.
        buffer_type: BufferType,
        /// The bytes to write.
        buffers: SendBuffers<'a>,
        /// The send operation's context; `None` for an automatic pong.
        context: Option<&'a C>,
        /// Pass to `complete_action`.
        action: ActionContext,
    },
    /// `WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION`: the send operation is over (done, or
    /// cancelled by a short write or an abort). Its buffer and context come back.
    /// Complete with 0.
    IndicateSendComplete {
        /// The operation's buffer type.
        buffer_type: BufferType,
        /// The buffer passed to `send`, given back.
        buffer: Option<SendBuffer<B>>,
        /// The context passed to `send`.
        context: C,
        /// True when every byte of the operation was written.
        completed: bool,
        /// Pass to `complete_action`.
        action: ActionContext,
    },
    /// `WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION`: read from the transport into `buffer`,
    /// then complete with the number of bytes read; 0 means end of stream or error and
    /// cancels the receive.
    ReceiveFromNetwork {
        /// Free space in the receive buffer.
        buffer: &'a mut [u8],
        /// Pass to `complete_action`.
        action: ActionContext,
    },
    /// `WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION`: the receive operation is over.
    /// Use the data before completing (with any count; it is ignored).
    IndicateReceiveComplete {
        /// What arrived: a data piece, `PingPong` for a pong, `Close` for a close
        /// frame; `None` when the receive was cancelled (end of stream or abort).
        buffer_type: Option<BufferType>,
        /// The data piece, the pong's payload or the close reason.
        data: Received<'a>,
        /// For `Close`: the status, 1005 (`EMPTY`) when the frame had no body.
        close_status: Option<CloseStatus>,
        /// The context passed to `receive`.
        context: C,
        /// Pass to `complete_action`.
        action: ActionContext,
    },
}

impl<B, C> Action<'_, B, C> {
    /// The token to complete this action with; `None` for `NoAction`.
    #[must_use]
    pub fn context(&self) -> Option<ActionContext> {
        match self {
            Self::NoAction => None,
            Self::SendToNetwork { action, .. }
            | Self::IndicateSendComplete { action, .. }
            | Self::ReceiveFromNetwork { action, .. }
            | Self::IndicateReceiveComplete { action, .. } => Some(*action),
        }
    }

    /// The kind of action (`WEB_SOCKET_ACTION`).
    #[must_use]
    pub fn action_type(&self) -> ActionType {
        match self {
            Self::NoAction => ActionType::NoAction,
            Self::SendToNetwork { .. } => ActionType::SendToNetwork,
            Self::IndicateSendComplete { .. } => ActionType::IndicateSendComplete,
            Self::ReceiveFromNetwork { .. } => ActionType::ReceiveFromNetwork,
            Self::IndicateReceiveComplete { .. } => ActionType::IndicateReceiveComplete,
        }
    }

    /// The `WEB_SOCKET_ACTION` value: 0 to 4 (`self.action_type() as u32`).
    #[must_use]
    pub fn code(&self) -> u32 {
        self.action_type() as u32
    }
}
