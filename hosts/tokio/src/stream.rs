//! [`WebSocketStream`]: one [`Connection`] over one tokio transport.
//!
//! This file moves bytes and time, nothing else: it reads into the connection's receive
//! buffer, writes its output vectored, sleeps until its next deadline on tokio's clock,
//! and turns its events into owned [`Message`]s. The handshake, close and failure
//! policy, keep-alive, limits and every protocol rule are the engine's.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use wsengine::{ClientRequest, CloseStatus, Connection, ConnectionState, Event, HttpHeader, Millis, Options, Role};

use crate::{CloseFrame, Error, Message, Utf8Bytes};

/// The default most bytes accepted for sending and not yet written: past it the
/// Sink is not ready until the transport has taken them
/// ([`WebSocketStream::set_send_high_water`]).
pub const DEFAULT_SEND_HIGH_WATER: usize = 128 * 1024;

/// What the opening handshake is read through (the head, then anything after it),
/// released once the connection is open: data is read straight into the engine's
/// receive buffer.
const HANDSHAKE_READ: usize = 4096;

/// A WebSocket connection over a tokio transport `S` (a `TcpStream`, a TLS stream, a
/// hyper upgrade, `tokio::io::duplex`): a [`Stream`] of received [`Message`]s and a
/// [`Sink`] of messages to send.
///
/// The stream must be polled for anything to be received, and for the engine's own
/// work: answering pings and closes, keep-alive pings and the deadlines (all on
/// tokio's clock). Sends are written by `Sink::poll_flush` (`SinkExt::send` flushes)
/// and by the stream. To read and write from two tasks, [`split`](Self::split) it.
pub struct WebSocketStream<S> {
    io: S,
    conn: Connection<Bytes>,
    /// Where the connection's milliseconds start.
    epoch: Instant,
    /// The next deadline's sleep, made when there first is one.
    timer: Option<Pin<Box<Sleep>>>,
    incoming: Incoming,
    scratch: Vec<u8>,
    send_high_water: usize,
    /// Bytes were written since the last flush of the transport.
    unflushed: bool,
    /// The connection said `Closed`.
    closed: bool,
    /// The transport was shut down and the stream has ended.
    finished: bool,
}

/// A message being received, and how text is trusted.
pub(crate) struct Incoming {
    /// The open message's bytes. Messages are split off it, so once a message handed
    /// out is dropped its memory is taken back for the next one without allocating.
    buf: BytesMut,
    text: bool,
    /// The engine verifies UTF-8 (the default), so text needs no second check.
    verified: bool,
}

impl Incoming {
    /// An event as the item the stream yields, if it is one.
    fn take(&mut self, event: Event<'_>) -> Option<Result<Message, Error>> {
        match event {
            Event::Message { text, data, fin } => {
                if self.buf.is_empty() {
                    self.text = text;
                }
                self.buf.extend_from_slice(data);
                if !fin {
                    return None;
                }
                let bytes = self.buf.split().freeze();
                Some(if self.text {
                    Utf8Bytes::from_engine(bytes, self.verified)
                        .map(Message::Text)
                        .map_err(|_| Error::WebSocket(wsengine::Error::InvalidUtf8))
                } else {
                    Ok(Message::Binary(bytes))
                })
            }
            Event::Ping(p) => Some(Ok(Message::Ping(Bytes::copy_from_slice(p)))),
            Event::Pong(p) => Some(Ok(Message::Pong(Bytes::copy_from_slice(p)))),
            Event::CloseReceived { status, reason } => Some(Ok(Message::Close(
                (status != CloseStatus::EMPTY).then(|| CloseFrame { code: status, reason: reason.to_owned() }),
            ))),
            Event::Failed { error, .. } => Some(Err(Error::WebSocket(error))),
            Event::Request { .. } | Event::Open { .. } | Event::Closed { .. } => None,
        }
    }
}

/// A server's answer to an upgrade request, from the callback of
/// [`WebSocketStream::accept_with_callback`].
#[derive(Clone, Debug)]
pub enum Answer {
    /// Accept, with a subprotocol the client offered (or none) and extra response
    /// header fields.
    Accept {
        /// The subprotocol, one the client offered.
        subprotocol: Option<String>,
        /// Extra header fields for the 101 response.
        headers: Vec<HttpHeader<'static>>,
    },
    /// Refuse with an HTTP status (400-599) and a message as the body.
    Reject {
        /// The status.
        status: u16,
        /// The body.
        message: String,
    },
}

/// The upgrade request a server is asked about by
/// [`WebSocketStream::accept_with_callback`].
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The request target (`/chat?room=1`).
    pub target: &'a str,
    /// The request's header fields ([`wsengine::offered_subprotocols`] reads the
    /// subprotocols offered).
    pub headers: &'a [HttpHeader<'a>],
}

/// Connects to a `ws://` URL over TCP and runs the client handshake with the default
/// options. For `wss://`, open the TLS stream yourself and use
/// [`WebSocketStream::client`].
pub async fn connect(url: &str) -> Result<WebSocketStream<TcpStream>, Error> {
    connect_with(url, Options::default()).await
}

/// [`connect`] with `options`.
pub async fn connect_with(url: &str, options: Options) -> Result<WebSocketStream<TcpStream>, Error> {
    let request = ClientRequest::from_url(url)?;
    if request.secure {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss: needs a TLS stream: open one and pass it to WebSocketStream::client",
        )));
    }
    let tcp = TcpStream::connect(request.address()).await?;
    tcp.set_nodelay(true)?;
    WebSocketStream::client_request(tcp, &request, options).await
}

/// Runs the server handshake on an accepted transport with the default options.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> Result<WebSocketStream<S>, Error> {
    WebSocketStream::accept_with(io, Options::default()).await
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// The stream of `conn` over `io`, a connection whose opening handshake the host
    /// carried over another protocol: an HTTP/3 extended CONNECT (RFC 9220) made by
    /// [`Connection::client_connect`] and [`Connection::connect_response`], or answered
    /// by [`Connection::accept_connect`]. `epoch` is the instant of `conn`'s time 0 (the
    /// `now` it was made with counts milliseconds since).
    pub fn from_connection(io: S, conn: Connection<Bytes>, epoch: Instant) -> Self {
        let verified = conn.verifies_utf8();
        Self {
            io,
            conn,
            epoch,
            timer: None,
            incoming: Incoming { buf: BytesMut::new(), text: false, verified },
            scratch: Vec::new(),
            send_high_water: DEFAULT_SEND_HIGH_WATER,
            unflushed: false,
            closed: false,
            finished: false,
        }
    }

    /// Runs the server handshake on `io` with `options` (subprotocols chosen from
    /// [`Options::subprotocols`], permessage-deflate as [`Options`] says). A bad
    /// request is answered (400, 426 or 431) and fails.
    pub async fn accept_with(io: S, options: Options) -> Result<Self, Error> {
        let options = Options { defer_accept: false, ..options };
        let epoch = Instant::now();
        let mut ws = Self::from_connection(io, Connection::server(0, options)?, epoch);
        // No request is indicated without defer_accept.
        ws.handshake(|_| None).await?;
        Ok(ws)
    }

    /// Runs the server handshake on `io`, asking `callback` whether to accept the
    /// upgrade request (already checked to be a valid one) and how.
    pub async fn accept_with_callback(
        io: S,
        options: Options,
        callback: impl FnOnce(&Request<'_>) -> Answer,
    ) -> Result<Self, Error> {
        let options = Options { defer_accept: true, ..options };
        let epoch = Instant::now();
        let mut ws = Self::from_connection(io, Connection::server(0, options)?, epoch);
        let mut callback = Some(callback);
        ws.handshake(move |request| callback.take().map(|c| c(request))).await?;
        Ok(ws)
    }

    /// Runs the client handshake for `url` on a transport already connected to its
    /// host (TCP, or TLS for `wss:`).
    pub async fn client(io: S, url: &str, options: Options) -> Result<Self, Error> {
        Self::client_request(io, &ClientRequest::from_url(url)?, options).await
    }

    async fn client_request(io: S, request: &ClientRequest, options: Options) -> Result<Self, Error> {
        let epoch = Instant::now();
        let mut ws = Self::from_connection(io, Connection::client(0, options, request)?, epoch);
        ws.handshake(|_| None).await?;
        Ok(ws)
    }

    /// A connection whose upgrade was done elsewhere (an HTTP server, a proxy), open
    /// at once. No extension is in force; for a hyper or axum server, use
    /// [`upgrade`](crate::upgrade) (feature `hyper`), which negotiates.
    pub fn from_upgraded(io: S, role: Role, options: Options) -> Result<Self, Error> {
        let epoch = Instant::now();
        Ok(Self::from_connection(io, Connection::from_upgraded(role, 0, options)?, epoch))
    }

    /// Drives the opening handshake until the connection is open; a failure is
    /// written (a server's rejection) and the transport shut down before it returns.
    async fn handshake(&mut self, mut on_request: impl FnMut(&Request<'_>) -> Option<Answer>) -> Result<(), Error> {
        enum Step {
            Open,
            Request(String, Vec<HttpHeader<'static>>),
            Failed(wsengine::Error),
        }
        loop {
            let step = poll_fn(|cx| {
                self.poll_drive(cx, |_, event| match event {
                    Event::Open { .. } => Some(Step::Open),
                    Event::Request { target, headers } => Some(Step::Request(
                        target.to_owned(),
                        headers.into_iter().map(HttpHeader::into_owned).collect(),
                    )),
                    Event::Failed { error, .. } => Some(Step::Failed(error)),
                    _ => None,
                })
            })
            .await?;
            match step {
                Some(Step::Open) => return Ok(()),
                Some(Step::Request(target, headers)) => {
                    let answer = on_request(&Request { target: &target, headers: &headers });
                    let done = match answer {
                        Some(Answer::Accept { subprotocol, headers }) => {
                            self.conn.accept(subprotocol.as_deref(), &headers)
                        }
                        Some(Answer::Reject { status, message }) => self.conn.reject(status, &message),
                        None => self.conn.reject(500, "no answer"),
                    };
                    // A bad answer (a subprotocol not offered, an unwritable header)
                    // leaves the request waiting: refuse it rather than hang.
                    if let Err(e) = done {
                        let _ = self.conn.reject(500, "the server's answer was refused");
                        self.finish().await;
                        return Err(e.into());
                    }
                }
                Some(Step::Failed(error)) => {
                    self.finish().await;
                    return Err(error.into());
                }
                None => return Err(Error::Closed),
            }
        }
    }

    /// Runs the connection to its end (writing what it has to say, a server's
    /// rejection say), discarding what it indicates.
    async fn finish(&mut self) {
        let _ = poll_fn(|cx| self.poll_drive(cx, |_, _| None::<()>)).await;
    }

    /// The connection: its state, subprotocol, extensions, buffered amount.
    #[must_use]
    pub fn connection(&self) -> &Connection<Bytes> {
        &self.conn
    }

    /// The transport.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, mutably (reading or writing it would corrupt the stream).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// How many bytes may wait unwritten before the Sink stops being ready
    /// (default [`DEFAULT_SEND_HIGH_WATER`]). One message is always taken whatever
    /// its size: it is sent from its own bytes, not copied.
    pub fn set_send_high_water(&mut self, bytes: usize) {
        self.send_high_water = bytes;
    }

    /// Sends a piece of a message: `fin` false when more of it follows. Text pieces
    /// may split a character; the message must be UTF-8 as a whole. The piece is
    /// queued; flush (or poll the stream) to write it.
    pub fn send_piece(&mut self, text: bool, data: Bytes, fin: bool) -> Result<(), Error> {
        self.check_open()?;
        if text { self.conn.send_text(data, fin) } else { self.conn.send_binary(data, fin) }.map_err(Error::from)
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed { Err(Error::Closed) } else { Ok(()) }
    }

    /// Milliseconds on tokio's clock since the connection was made.
    fn now(&self) -> Millis {
        Millis::try_from(self.epoch.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    /// Queues `message` on the connection.
    pub(crate) fn queue(&mut self, message: Message) -> Result<(), Error> {
        self.check_open()?;
        let now = self.now();
        match message {
            Message::Text(t) => self.conn.send_text(t.into(), true),
            Message::Binary(b) => self.conn.send_binary(b, true),
            Message::Ping(p) => self.conn.ping(&p),
            Message::Pong(p) => self.conn.pong(&p),
            // The closing handshake is already under way (or over): nothing to add.
            Message::Close(_) if self.conn.state() != ConnectionState::Open => Ok(()),
            Message::Close(None) => self.conn.close(now, None, ""),
            Message::Close(Some(f)) => self.conn.close(now, Some(f.code), &f.reason),
        }
        .map_err(Error::from)
    }

    /// True while sends are taken: what waits unwritten is under the high-water mark.
    pub(crate) fn has_send_room(&self) -> bool {
        self.conn.buffered_amount() < self.send_high_water
    }

    /// The transport failed: nothing more can be said to the peer.
    fn io_failed(&mut self, e: io::Error) -> Error {
        self.conn.abort();
        Error::Io(e)
    }

    /// Writes the connection's output and flushes the transport.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match ready!(self.poll_write_inner(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(self.io_failed(e))),
        }
    }

    fn poll_write_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let out = self.conn.output();
            let mut io = Pin::new(&mut self.io);
            let n = if io.is_write_vectored() {
                ready!(io.as_mut().poll_write_vectored(cx, &out.io_slices()))?
            } else {
                let first = out.slices().find(|s| !s.is_empty()).unwrap_or_default();
                ready!(io.as_mut().poll_write(cx, first))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.advance(n).map_err(io::Error::other)?;
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads once: into the engine's receive buffer when open, through `scratch`
    /// otherwise. Ready when bytes (or the end of the stream) were handed in.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let io = Pin::new(&mut self.io);
        let (result, direct) = match self.conn.read_buffer() {
            Some(buffer) => {
                let mut rb = ReadBuf::new(buffer);
                (ready!(io.poll_read(cx, &mut rb)).map(|()| rb.filled().len()), true)
            }
            None => {
                if self.scratch.is_empty() {
                    self.scratch.resize(HANDSHAKE_READ, 0);
                }
                let mut rb = ReadBuf::new(&mut self.scratch);
                (ready!(io.poll_read(cx, &mut rb)).map(|()| rb.filled().len()), false)
            }
        };
        let now = self.now();
        match result {
            Ok(0) => self.conn.read_eof(),
            Ok(n) if direct => self.conn.commit(n, now),
            Ok(n) => {
                self.conn.feed(&self.scratch[..n], now)?;
                if self.conn.state() == ConnectionState::Open {
                    self.scratch = Vec::new();
                }
            }
            Err(e) => {
                // Whatever was read before is still processed; then the connection ends.
                // Once the closing handshake is under way a reset is how many peers
                // hang up: the connection's end says whether it was clean.
                let closing = matches!(self.conn.state(), ConnectionState::Closing | ConnectionState::Closed);
                self.conn.read_eof();
                if !closing {
                    return Poll::Ready(Err(Error::Io(e)));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Sleeps until `deadline`; Ready once it has come.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Millis) -> Poll<()> {
        let at = self.epoch + Duration::from_millis(deadline);
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != at {
                    t.as_mut().reset(at);
                }
                t
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        timer.as_mut().poll(cx)
    }

    /// The loop every call runs: events to `on_event` until it makes an item of one,
    /// output written, the deadline handled, input read. `Ok(None)` once the
    /// connection is over and the transport shut down.
    pub(crate) fn poll_drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut on_event: impl FnMut(&mut Incoming, Event<'_>) -> Option<T>,
    ) -> Poll<Result<Option<T>, Error>> {
        if self.finished {
            return Poll::Ready(Ok(None));
        }
        loop {
            while let Some(event) = self.conn.poll_event() {
                self.closed |= matches!(event, Event::Closed { .. });
                if let Some(item) = on_event(&mut self.incoming, event) {
                    // What the events queued (a pong, a close's answer) leaves now if
                    // the transport takes it; else with the next call.
                    if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Ready(Ok(Some(item)));
                }
            }
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Events wait for output (a large frame, or pongs past their bound): the
                // write wakes this. Otherwise reading goes on.
                Poll::Pending if self.conn.events_wait_for_output() || self.closed => return Poll::Pending,
                Poll::Pending => {}
            }
            if self.closed {
                // A server closes the transport first (RFC 6455 §7.1.1); a client's
                // peer already has. A failing shutdown changes nothing now.
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.finished = true;
                self.scratch = Vec::new();
                return Poll::Ready(Ok(None));
            }
            if let Some(deadline) = self.conn.poll_timeout() {
                let now = self.now();
                if deadline <= now {
                    self.conn.handle_timeout(now);
                    continue;
                }
                if self.poll_timer(cx, deadline).is_ready() {
                    // tokio says the time has come, whatever the milliseconds read.
                    self.conn.handle_timeout(now.max(deadline));
                    continue;
                }
            }
            if !self.conn.wants_input() {
                // Over, at the end of the stream, or the peer is not reading what it is
                // sent (the write above waits for it): a deadline or the write wakes us.
                return Poll::Pending;
            }
            if self.poll_read(cx)?.is_pending() {
                // Waiting for the peer with nothing held: the buffers go back to the
                // thread's pool until bytes arrive (an idle connection then holds
                // about 1 KiB).
                self.conn.release_buffers();
                return Poll::Pending;
            }
        }
    }

    /// The next item of the stream, as `Stream::poll_next` gives it.
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        match ready!(self.poll_drive(cx, Incoming::take)) {
            Ok(item) => Poll::Ready(item),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_message(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    /// Ready while less than the high-water mark waits unwritten; otherwise writes
    /// first.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.check_open()?;
        if !this.has_send_room() {
            ready!(this.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().queue(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx)
    }

    /// Sends a close (1000) unless one was sent or answered, and writes it. The peer's
    /// answer arrives through the stream, which ends when the connection has.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.closed {
            this.queue(Message::Close(Some(CloseFrame { code: CloseStatus::SUCCESS, reason: String::new() })))?;
        }
        this.poll_write_out(cx)
    }
}
