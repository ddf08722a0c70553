//! A request stream as `AsyncRead + AsyncWrite`: what the application and the endpoint's
//! task share, and how the task moves its bytes to and from quiche.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BufMut, BytesMut};
use quiche::Shutdown;
use quiche::h3;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::endpoint::ConnWake;
use super::{H3_NO_ERROR, H3_REQUEST_CANCELLED, STREAM_BUFFER};

/// One request stream's body, both ways: read what the peer sends, write what to send;
/// shutting down the writing ends the stream our way (QUIC FIN). Dropping it before both
/// ways ended cancels the stream (`H3_REQUEST_CANCELLED`).
pub struct Stream {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    state: Mutex<StreamState>,
    /// Has the endpoint's task service its connection: there is something to send, or
    /// room to receive.
    driver: Arc<ConnWake>,
}

#[derive(Default)]
pub(super) struct StreamState {
    /// Received, not yet read.
    pub(super) inbound: BytesMut,
    /// The peer's end of the stream (FIN) came; `inbound` is all there is.
    pub(super) eof: bool,
    /// quiche has body bytes that did not fit `inbound` (its `Data` event comes once).
    pub(super) unread: bool,
    /// Written, not yet taken by QUIC.
    pub(super) outbound: BytesMut,
    /// A response's header fields to send before the body (server).
    pub(super) head: Option<Vec<h3::Header>>,
    /// The writer shut down: FIN once `outbound` is sent.
    pub(super) finish: bool,
    /// FIN handed to QUIC.
    pub(super) finished: bool,
    /// Why the stream can no longer be used (reset by the peer, the connection closed).
    pub(super) failed: Option<(io::ErrorKind, String)>,
    /// The [`Stream`] was dropped.
    pub(super) dropped: bool,
    pub(super) reader: Option<Waker>,
    pub(super) writer: Option<Waker>,
}

impl StreamState {
    pub(super) fn fail(&mut self, kind: io::ErrorKind, why: impl Into<String>) {
        if self.failed.is_none() {
            self.failed = Some((kind, why.into()));
        }
        self.wake();
    }

    pub(super) fn wake(&mut self) {
        self.wake_reader();
        self.wake_writer();
    }

    pub(super) fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }

    pub(super) fn wake_writer(&mut self) {
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }

    pub(super) fn error(&self) -> Option<io::Error> {
        self.failed.as_ref().map(|(kind, why)| io::Error::new(*kind, why.clone()))
    }
}

impl Shared {
    pub(super) fn new(driver: &Arc<ConnWake>) -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(StreamState::default()), driver: driver.clone() })
    }

    /// Has the endpoint's task service this stream's connection.
    pub(super) fn wake_driver(&self) {
        self.driver.wake();
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, StreamState> {
        // A panic while locked leaves plain buffers behind: still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.lock();
        if !s.inbound.is_empty() {
            let n = s.inbound.len().min(buf.remaining());
            buf.put_slice(&s.inbound[..n]);
            s.inbound.advance(n);
            if s.unread {
                self.shared.wake_driver();
            }
            return Poll::Ready(Ok(()));
        }
        if s.eof {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.shared.lock();
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if s.finish {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the stream was shut down")));
        }
        let room = STREAM_BUFFER.saturating_sub(s.outbound.len());
        if room == 0 {
            s.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.outbound.extend_from_slice(&data[..n]);
        self.shared.wake_driver();
        Poll::Ready(Ok(n))
    }

    /// Ready once QUIC has taken every byte written (it then retransmits as needed).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.lock();
        if s.outbound.is_empty() && s.head.is_none() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        s.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Ends the stream our way (FIN after what was written); ready once QUIC took it.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.lock();
        if s.finished {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = s.error() {
            return Poll::Ready(Err(e));
        }
        if !s.finish {
            s.finish = true;
            self.shared.wake_driver();
        }
        s.writer = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.shared.lock().dropped = true;
        self.shared.wake_driver();
    }
}

/// One stream's bytes: received into its buffer as room allows, its head and written
/// bytes to QUIC as credit allows, its FIN. A dropped stream is cancelled, but for a
/// response still to send in full ([`Request::respond_with`]). False once the stream is
/// done with.
pub(super) fn move_bytes(h3: &mut h3::Connection, quic: &mut quiche::Connection, id: u64, s: &mut StreamState) -> bool {
    if s.dropped {
        // Nobody reads any more: the peer may stop sending (no error once we ended ours).
        let code = if s.finished || s.finish { H3_NO_ERROR } else { H3_REQUEST_CANCELLED };
        if !s.eof {
            let _ = quic.stream_shutdown(id, Shutdown::Read, code);
            s.eof = true;
        }
        // `Request::respond_with`: the body and its FIN still to go, then the stream ends.
        let sending = s.finish && !s.finished && s.failed.is_none();
        if !sending {
            if !s.finished {
                let _ = quic.stream_shutdown(id, Shutdown::Write, H3_REQUEST_CANCELLED);
            }
            return false;
        }
    }
    if s.failed.is_some() {
        return true;
    }
    let received = s.inbound.len();
    while s.unread && s.inbound.len() < STREAM_BUFFER && !s.dropped {
        let room = STREAM_BUFFER - s.inbound.len();
        match h3.recv_body_buf(quic, id, (&mut s.inbound).limit(room)) {
            Ok(n) if n > 0 => {}
            Ok(_) | Err(h3::Error::Done) => s.unread = false,
            Err(e) => {
                s.unread = false;
                s.fail(io::ErrorKind::InvalidData, format!("the stream failed: {e}"));
                return true;
            }
        }
    }
    if s.inbound.len() > received {
        s.wake_reader();
    }
    // What a flush waits for: the head and the bytes written.
    let unsent = |s: &StreamState| s.outbound.len() + usize::from(s.head.is_some());
    let before = unsent(s);
    if let Some(head) = &s.head {
        match h3.send_response(quic, id, head, false) {
            Ok(()) => s.head = None,
            Err(h3::Error::StreamBlocked) => return true,
            Err(e) => {
                s.fail(io::ErrorKind::BrokenPipe, format!("the response was not sent: {e}"));
                return true;
            }
        }
    }
    while !s.outbound.is_empty() {
        match h3.send_body(quic, id, &s.outbound, false) {
            Ok(n) if n > 0 => s.outbound.advance(n),
            Ok(_) | Err(h3::Error::Done) => break,
            Err(e) => {
                s.fail(io::ErrorKind::BrokenPipe, format!("the stream failed: {e}"));
                return true;
            }
        }
    }
    if s.finish && !s.finished && s.outbound.is_empty() {
        match h3.send_body(quic, id, &[], true) {
            Ok(_) => s.finished = true,
            Err(h3::Error::Done) => {}
            // The peer stopped reading (as a server may once its response is complete,
            // RFC 9114 §4.1.1), and quiche may have let the stream go: every byte
            // written was taken, there is nothing left to end.
            Err(h3::Error::TransportError(quiche::Error::StreamStopped(_) | quiche::Error::InvalidStreamState(_))) => {
                s.finished = true;
            }
            Err(e) => s.fail(io::ErrorKind::BrokenPipe, format!("the stream failed: {e}")),
        }
    }
    if unsent(s) < before || s.finished {
        s.wake_writer();
    }
    true
}
