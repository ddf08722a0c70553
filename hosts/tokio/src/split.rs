//! Read and write halves for two tasks, without a lock.
//!
//! [`WebSocketStream::split`] hands the stream to a task of its own, the driver, which
//! alone touches the connection and the transport. The halves talk to it through
//! tokio's channels (atomic operations, no mutex on the way of a message): the sender
//! queues messages, the receiver takes them. The driver takes sends only while the
//! output is under the high-water mark and reads only while the receiver has room, so
//! both directions keep their backpressure.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use atomic_waker::AtomicWaker;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use crate::{CloseFrame, Error, Message, WebSocketStream};

/// Messages waiting in each direction between a half and the driver.
const CHANNEL: usize = 16;

/// What the halves and the driver share.
#[derive(Default)]
struct Shared {
    /// Sends the driver has written (counted in the order they were sent).
    written: AtomicU64,
    /// The connection is over.
    closed: AtomicBool,
    /// The sender waiting in `poll_flush`.
    flush: AtomicWaker,
}

/// The sending half: a [`Sink`] of messages (`SinkExt::send` waits until the message
/// is written to the transport).
pub struct WebSocketSender {
    tx: PollSender<Message>,
    /// Messages handed to the driver.
    sent: u64,
    shared: Arc<Shared>,
}

/// The receiving half: a [`Stream`] of messages, as [`WebSocketStream`] yields them.
/// A message the driver could not send (a ping payload over 125 bytes, say) comes out
/// of it as an error; the connection goes on.
pub struct WebSocketReceiver {
    rx: mpsc::Receiver<Result<Message, Error>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> WebSocketStream<S> {
    /// Splits the connection into a sender and a receiver that two tasks can use at
    /// once, with no lock between them: the connection moves to a task of its own
    /// (spawned on the current tokio runtime) that writes what the sender queues and
    /// reads what the receiver takes. Dropping both halves closes the connection
    /// (1001, going away) and ends the task once the closing handshake is over.
    #[must_use]
    pub fn split(self) -> (WebSocketSender, WebSocketReceiver) {
        let (command_tx, commands) = mpsc::channel(CHANNEL);
        let (incoming, rx) = mpsc::channel(CHANNEL);
        let shared = Arc::new(Shared::default());
        tokio::spawn(drive(self, commands, incoming, shared.clone()));
        (WebSocketSender { tx: PollSender::new(command_tx), sent: 0, shared }, WebSocketReceiver { rx })
    }
}

/// The driver: the connection's one owner once it is split.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    mut commands: mpsc::Receiver<Message>,
    incoming: mpsc::Sender<Result<Message, Error>>,
    shared: Arc<Shared>,
) {
    let mut incoming = Some(PollSender::new(incoming));
    let mut commands_open = true;
    let mut taken: u64 = 0;
    // Sends the connection refused, for the receiver.
    let mut refused: Option<Error> = None;
    poll_fn(|cx: &mut Context<'_>| {
        loop {
            while commands_open && refused.is_none() && ws.has_send_room() {
                match commands.poll_recv(cx) {
                    Poll::Ready(Some(message)) => {
                        taken += 1;
                        refused = ws.queue(message).err().filter(|_| incoming.is_some());
                    }
                    Poll::Ready(None) => commands_open = false,
                    Poll::Pending => break,
                }
            }
            if !commands_open && incoming.is_none() {
                // Nobody is left to use the connection: close it, going away.
                let _ = ws.queue(Message::Close(Some(CloseFrame {
                    code: wsengine::CloseStatus::ENDPOINT_UNAVAILABLE,
                    reason: String::new(),
                })));
            }
            let item = match incoming.as_mut().map(|tx| tx.poll_reserve(cx)) {
                Some(Poll::Ready(Ok(()))) => match refused.take() {
                    Some(e) => Poll::Ready(Some(Err(e))),
                    None => ws.poll_message(cx),
                },
                Some(Poll::Ready(Err(_))) => {
                    incoming = None;
                    refused = None;
                    continue;
                }
                // The receiver is full: take no input, but write what is queued (a
                // failed write ends the connection, which the receiver sees later).
                Some(Poll::Pending) => {
                    let _ = ws.poll_write_out(cx);
                    Poll::Pending
                }
                None => ws.poll_message(cx),
            };
            if ws.connection().buffered_amount() == 0 {
                shared.written.store(taken, Ordering::Release);
                shared.flush.wake();
            }
            match item {
                Poll::Ready(Some(item)) => {
                    if let Some(tx) = incoming.as_mut() {
                        let _ = tx.send_item(item);
                    }
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    shared.closed.store(true, Ordering::Release);
    shared.flush.wake();
}

impl WebSocketSender {
    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl Sink<Message> for WebSocketSender {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.closed() {
            return Poll::Ready(Err(Error::Closed));
        }
        this.tx.poll_reserve(cx).map_err(|_| Error::Closed)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        this.tx.send_item(message).map_err(|_| Error::Closed)?;
        this.sent += 1;
        Ok(())
    }

    /// Ready once the driver has written every message sent so far to the transport.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        let done = |this: &Self| {
            if this.shared.written.load(Ordering::Acquire) >= this.sent {
                Some(Ok(()))
            } else if this.closed() {
                Some(Err(Error::Closed))
            } else {
                None
            }
        };
        if let Some(result) = done(this) {
            return Poll::Ready(result);
        }
        // Registered, then checked again: a wake between the two is not lost.
        this.shared.flush.register(cx.waker());
        done(this).map_or(Poll::Pending, Poll::Ready)
    }

    /// Sends a close (1000) and waits until it is written; the peer's answer ends the
    /// receiver.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.tx.is_closed() {
            if this.closed() {
                return Poll::Ready(Ok(()));
            }
            ready!(this.tx.poll_reserve(cx)).map_err(|_| Error::Closed)?;
            let close = CloseFrame { code: wsengine::CloseStatus::SUCCESS, reason: String::new() };
            this.tx.send_item(Message::Close(Some(close))).map_err(|_| Error::Closed)?;
            this.sent += 1;
            this.tx.close();
        }
        match ready!(Pin::new(this).poll_flush(cx)) {
            Err(Error::Closed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }
}

impl Stream for WebSocketReceiver {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
