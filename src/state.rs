//! Every state transition of a handle, in one place.
//!
//! Rules of this file:
//! - Each method is one input (a call, or an event the receive path found) and decides,
//!   from the current state alone, whether it is allowed and what the state becomes.
//! - Nothing here depends on the role: client and server differ in parameters (mask
//!   direction, handshake side), never in transitions.
//! - A rejected input leaves the state exactly as it was.
//! - The public [`State`] is derived from the fields, never stored beside them.

use crate::action::BufferType;
use crate::error::{Error, Result};
use crate::frame::Opcode;

/// A handle's state (`handle.state()`), after websocket.dll's state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Created; no handshake begun.
    Created,
    /// `begin_client_handshake` succeeded; waiting for `end_client_handshake`.
    ClientHandshaking,
    /// `begin_server_handshake` succeeded; `end_server_handshake` or any session call
    /// opens the session.
    ServerHandshaking,
    /// A handshake call failed on the peer's data; the handle is unusable.
    HandshakeFailed,
    /// The session is open: data flows both ways.
    Open,
    /// This handle's close was accepted; only ping and unsolicited pong may be sent.
    CloseSent,
    /// The peer's close was indicated; the application should send its own.
    CloseReceived,
    /// Both closes are done: the host closes the transport (the server first, per
    /// RFC 6455 §7.1.1).
    Closed,
    /// The receive side failed (a peer protocol error, or the transport closed before
    /// the close handshake finished). Sends still work, so a host can send a close.
    Failed,
    /// wsengine extension: the send side broke. A SEND_TO_NETWORK was completed with
    /// fewer bytes than it held, so the outgoing stream is corrupt: every send fails
    /// with [`Error::SendSideBroken`] and the host should close the transport. Received
    /// data is still indicated until the receive side ends or fails.
    SendBroken,
    /// Aborted: queued operations drain through indications; new ones fail.
    Aborted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Created,
    ClientHandshake,
    ServerHandshake,
    HandshakeFailed,
    Session,
}

/// The session state of one handle.
#[derive(Debug)]
pub(crate) struct Session {
    phase: Phase,
    aborted: bool,
    close_sent: bool,
    close_received: bool,
    /// Boxed: rare, and an `Error` is 48 bytes every idle connection would carry.
    receive_error: Option<Box<Error>>,
    send_broken: bool,
    /// The open outgoing message: `Some(text)` after a `*Fragment` send.
    sending_fragmented: Option<bool>,
    /// The open incoming message: `Some(text)` from its first frame's header until its
    /// last piece is indicated.
    receiving: Option<bool>,
}

impl Session {
    pub(crate) const fn new() -> Self {
        Self {
            phase: Phase::Created,
            aborted: false,
            close_sent: false,
            close_received: false,
            receive_error: None,
            send_broken: false,
            sending_fragmented: None,
            receiving: None,
        }
    }

    /// A session opened without a handshake ([`crate::Handle::from_upgraded`]).
    pub(crate) const fn open() -> Self {
        let mut s = Self::new();
        s.phase = Phase::Session;
        s
    }

    pub(crate) fn state(&self) -> State {
        match (self.aborted, self.phase) {
            (true, _) => State::Aborted,
            (_, Phase::Created) => State::Created,
            (_, Phase::ClientHandshake) => State::ClientHandshaking,
            (_, Phase::ServerHandshake) => State::ServerHandshaking,
            (_, Phase::HandshakeFailed) => State::HandshakeFailed,
            (_, Phase::Session) => match (self.close_sent, self.close_received, &self.receive_error) {
                (true, true, _) => State::Closed,
                _ if self.send_broken => State::SendBroken,
                (_, _, Some(_)) => State::Failed,
                (true, false, None) => State::CloseSent,
                (false, true, None) => State::CloseReceived,
                (false, false, None) => State::Open,
            },
        }
    }

    fn wrong(&self, call: &'static str) -> Error {
        Error::InvalidState { call, state: self.state() }
    }

    pub(crate) fn begin_client(&mut self) -> Result<()> {
        match (self.aborted, self.phase) {
            (false, Phase::Created) => {
                self.phase = Phase::ClientHandshake;
                Ok(())
            }
            _ => Err(self.wrong("begin_client_handshake")),
        }
    }

    /// Checks that `end_client_handshake` may run; the caller then reports the result.
    pub(crate) fn check_end_client(&self) -> Result<()> {
        match (self.aborted, self.phase) {
            (false, Phase::ClientHandshake) => Ok(()),
            _ => Err(self.wrong("end_client_handshake")),
        }
    }

    pub(crate) fn begin_server(&mut self) -> Result<()> {
        match (self.aborted, self.phase) {
            (false, Phase::Created) => {
                self.phase = Phase::ServerHandshake;
                Ok(())
            }
            _ => Err(self.wrong("begin_server_handshake")),
        }
    }

    /// The peer's handshake data was bad: the handle is unusable.
    pub(crate) fn handshake_failed(&mut self) {
        self.phase = Phase::HandshakeFailed;
    }

    /// The handshake finished: the session opens.
    pub(crate) fn handshake_done(&mut self) {
        self.phase = Phase::Session;
    }

    pub(crate) fn end_server(&mut self) -> Result<()> {
        match (self.aborted, self.phase) {
            (false, Phase::ServerHandshake) => {
                self.phase = Phase::Session;
                Ok(())
            }
            _ => Err(self.wrong("end_server_handshake")),
        }
    }

    /// May a session call (send, receive, get_action) be made? After a server's
    /// begin it may: the call finishes the handshake implicitly (see
    /// [`Session::enter_session`]), as websocket.dll documents.
    pub(crate) fn check_session(&self, call: &'static str) -> Result<()> {
        match self.phase {
            // After an abort, get_action drains; send and receive fail as aborted.
            Phase::Session | Phase::ServerHandshake if self.aborted && call != "get_action" => Err(Error::Aborted),
            Phase::Session | Phase::ServerHandshake => Ok(()),
            _ => Err(self.wrong(call)),
        }
    }

    /// A session call passed its checks: a server handshake in progress ends here.
    /// Returns true when it did.
    pub(crate) fn enter_session(&mut self) -> bool {
        if self.phase == Phase::ServerHandshake && !self.aborted {
            self.phase = Phase::Session;
            return true;
        }
        false
    }

    /// May a send of this type be queued now? (The one-outstanding-send rule is the
    /// handle's, which owns the queue.)
    pub(crate) fn check_send(&self, ty: BufferType) -> Result<()> {
        if self.aborted {
            return Err(Error::Aborted);
        }
        if self.send_broken {
            return Err(Error::SendSideBroken);
        }
        match ty {
            BufferType::PingPong | BufferType::UnsolicitedPong => Ok(()),
            BufferType::Close if self.close_sent => Err(Error::SendAfterClose),
            BufferType::Close => Ok(()),
            _ if self.close_sent => Err(Error::SendAfterClose),
            _ => match self.sending_fragmented {
                Some(text) if text != ty.is_text() => {
                    Err(Error::FragmentTypeMismatch { open: BufferType::data(text, false), sent: ty })
                }
                _ => Ok(()),
            },
        }
    }

    /// True when a data send of this type would continue a message opened by an
    /// earlier fragment (what [`Session::send_accepted`] will return).
    pub(crate) fn continues_message(&self, ty: BufferType) -> bool {
        ty.is_data() && self.sending_fragmented.is_some()
    }

    /// A send was accepted (after [`Session::check_send`]). Returns true when its data
    /// continues a message opened by an earlier fragment.
    pub(crate) fn send_accepted(&mut self, ty: BufferType) -> bool {
        match ty {
            BufferType::Close => {
                self.close_sent = true;
                false
            }
            t if t.is_data() => {
                let continues = self.sending_fragmented.is_some();
                self.sending_fragmented = t.is_fragment().then_some(t.is_text());
                continues
            }
            _ => false,
        }
    }

    /// A frame header arrived: a text or binary frame opens a message (true: its counters
    /// restart), a continuation continues the open one (RFC 6455 §5.4), a control frame
    /// changes nothing. The incoming twin of [`Session::check_send`]'s fragment rule.
    pub(crate) fn frame_started(&mut self, opcode: Opcode) -> Result<bool> {
        match (opcode, self.receiving) {
            (Opcode::Text | Opcode::Binary, Some(_)) => Err(Error::ExpectedContinuation),
            (Opcode::Text | Opcode::Binary, None) => {
                self.receiving = Some(opcode == Opcode::Text);
                Ok(true)
            }
            (Opcode::Continuation, None) => Err(Error::UnexpectedContinuation),
            _ => Ok(false),
        }
    }

    /// True while the open incoming message is text.
    pub(crate) fn receiving_text(&self) -> bool {
        self.receiving == Some(true)
    }

    /// The open incoming message's last piece was indicated.
    pub(crate) fn message_received(&mut self) {
        self.receiving = None;
    }

    /// True once this handle's close was accepted: automatic pongs stop.
    pub(crate) fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// A SEND_TO_NETWORK was completed short: the outgoing stream is corrupt.
    pub(crate) fn send_broke(&mut self) {
        self.send_broken = true;
    }

    /// May a receive be queued now?
    pub(crate) fn check_receive(&self) -> Result<()> {
        if self.aborted {
            return Err(Error::Aborted);
        }
        if self.close_received {
            return Err(Error::ReceiveAfterClose);
        }
        // After the transport's end, that end again; after a failure on the peer's data,
        // E_INVALID_PROTOCOL_OPERATION (reference §5.8).
        match self.receive_error.as_deref() {
            Some(Error::ConnectionClosed) => Err(Error::ConnectionClosed),
            Some(_) => Err(Error::ReceiveAfterFailure),
            None => Ok(()),
        }
    }

    /// The receive side's sticky error, if it failed.
    pub(crate) fn receive_error(&self) -> Option<&Error> {
        self.receive_error.as_deref()
    }

    /// The peer's close frame was indicated.
    pub(crate) fn close_received(&mut self) {
        self.close_received = true;
    }

    /// The receive side failed: on a peer protocol error, or at end of stream.
    pub(crate) fn receive_failed(&mut self, e: Error) {
        if self.receive_error.is_none() {
            self.receive_error = Some(Box::new(e));
        }
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// Abort: a no-op before the session exists (websocket.dll documents this).
    pub(crate) fn abort(&mut self) {
        if self.phase == Phase::Session || self.phase == Phase::ServerHandshake {
            self.aborted = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_states_combine() {
        let mut s = Session::open();
        assert_eq!(s.state(), State::Open);
        s.check_send(BufferType::Close).unwrap();
        s.send_accepted(BufferType::Close);
        assert_eq!(s.state(), State::CloseSent);
        assert_eq!(s.check_send(BufferType::BinaryMessage), Err(Error::SendAfterClose));
        assert_eq!(s.check_send(BufferType::Close), Err(Error::SendAfterClose));
        assert_eq!(s.check_send(BufferType::PingPong), Ok(()));
        s.close_received();
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.check_receive(), Err(Error::ReceiveAfterClose));
    }

    #[test]
    fn data_may_follow_a_received_close() {
        let mut s = Session::open();
        s.close_received();
        assert_eq!(s.state(), State::CloseReceived);
        assert_eq!(s.check_send(BufferType::Utf8Message), Ok(()));
    }

    #[test]
    fn fragments_must_keep_their_type() {
        let mut s = Session::open();
        assert!(!s.send_accepted(BufferType::Utf8Fragment));
        assert_eq!(
            s.check_send(BufferType::BinaryMessage),
            Err(Error::FragmentTypeMismatch { open: BufferType::Utf8Fragment, sent: BufferType::BinaryMessage })
        );
        assert!(s.send_accepted(BufferType::Utf8Message));
        assert_eq!(s.check_send(BufferType::BinaryMessage), Ok(()));
    }

    #[test]
    fn received_frames_open_and_continue_messages_as_rfc_6455_5_4_says() {
        let mut s = Session::open();
        assert_eq!(s.frame_started(Opcode::Continuation), Err(Error::UnexpectedContinuation));
        assert_eq!(s.frame_started(Opcode::Text), Ok(true));
        assert!(s.receiving_text());
        assert_eq!(s.frame_started(Opcode::Ping), Ok(false), "a control frame between fragments");
        assert_eq!(s.frame_started(Opcode::Binary), Err(Error::ExpectedContinuation));
        assert_eq!(s.frame_started(Opcode::Continuation), Ok(false));
        s.message_received();
        assert_eq!(s.frame_started(Opcode::Binary), Ok(true));
        assert!(!s.receiving_text());
    }

    #[test]
    fn a_failed_receive_side_still_sends() {
        let mut s = Session::open();
        s.receive_failed(Error::InvalidUtf8);
        assert_eq!(s.state(), State::Failed);
        // §5.8: a receive after a protocol failure is E_INVALID_PROTOCOL_OPERATION
        // (InvalidUtf8 itself is E_INVALID_PROTOCOL_FORMAT).
        assert_eq!(s.check_receive(), Err(Error::ReceiveAfterFailure));
        assert_eq!(Error::ReceiveAfterFailure.hresult(), 0x8376_0001);
        assert_eq!(s.check_send(BufferType::Close), Ok(()));
        let mut s = Session::open();
        s.receive_failed(Error::ConnectionClosed);
        assert_eq!(s.check_receive(), Err(Error::ConnectionClosed), "after the transport's end, that end");
    }

    #[test]
    fn abort_is_a_no_op_before_the_session() {
        let mut s = Session::new();
        s.abort();
        assert_eq!(s.state(), State::Created);
        s.begin_server().unwrap();
        s.abort();
        assert_eq!(s.state(), State::Aborted);
        assert_eq!(s.check_send(BufferType::PingPong), Err(Error::Aborted));
    }

    #[test]
    fn an_aborted_server_handshake_fails_sends_as_aborted_and_still_drains() {
        let mut s = Session::new();
        s.begin_server().unwrap();
        s.abort();
        assert_eq!(s.check_session("send"), Err(Error::Aborted));
        assert_eq!(s.check_session("receive"), Err(Error::Aborted));
        assert_eq!(s.check_session("get_action"), Ok(()));
        assert!(!s.enter_session());
    }

    #[test]
    fn the_first_session_call_ends_a_server_handshake() {
        let mut s = Session::new();
        assert!(matches!(s.check_session("send"), Err(Error::InvalidState { state: State::Created, .. })));
        s.begin_server().unwrap();
        assert_eq!(s.check_session("receive"), Ok(()));
        assert_eq!(s.state(), State::ServerHandshaking);
        assert!(s.enter_session());
        assert_eq!(s.state(), State::Open);
        assert!(s.end_server().is_err());
    }
}
