//! A blocking host for the examples: one [`Connection`] over one `std::net::TcpStream`.
//!
//! It only moves bytes and time: read, hand in, poll events, write out, sleep until the
//! connection's next deadline. Every protocol rule and every policy (the handshake,
//! answering a close, failing with the right status, keep-alive) is the connection's.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wsengine::{ClientRequest, CloseStatus, Connection, Event, Millis, Options, Property};

/// Options for the examples: the largest buffers the engine allows, for throughput, and
/// room for Autobahn's 16 MiB messages. Built with the `deflate` feature, they offer and
/// accept permessage-deflate and compress every message (threshold 0), so that the
/// peers' tests see compression on every message.
pub fn options() -> Options {
    Options {
        properties: vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)],
        #[cfg(feature = "deflate")]
        deflate: Some(wsengine::DeflateOptions { threshold: 0, ..wsengine::DeflateOptions::default() }),
        ..Options::default()
    }
}

fn io_err(e: wsengine::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The host's clock: milliseconds since the connection began.
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Self {
        Self(Instant::now())
    }
    pub fn now(&self) -> Millis {
        Millis::try_from(self.0.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }
}

/// A connection and its transport.
pub struct Session {
    pub conn: Connection,
    pub stream: TcpStream,
    pub clock: Clock,
    /// True once the connection said `Closed`.
    pub closed: bool,
    /// Whether it said so after a clean closing handshake.
    pub clean: bool,
    /// Bytes read from the transport so far.
    pub read_bytes: u64,
}

/// What the application does after an event.
pub enum Reply {
    /// Nothing.
    None,
    /// Send the message data just received back (zero copy when possible).
    Echo,
}

impl Session {
    /// A server session on an accepted stream: the handshake is read from it.
    pub fn accept(stream: TcpStream, options: Options) -> io::Result<Self> {
        let clock = Clock::new();
        let conn = Connection::server(clock.now(), options).map_err(io_err)?;
        Ok(Self { conn, stream, clock, closed: false, clean: false, read_bytes: 0 })
    }

    /// A client session to `url` (`ws://` only: TLS is not these examples' business).
    pub fn connect(url: &str, options: Options) -> io::Result<Self> {
        let request = ClientRequest::from_url(url).map_err(io_err)?;
        if request.secure {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "wss: needs TLS, which these examples lack"));
        }
        let stream = TcpStream::connect(request.address())?;
        let _ = stream.set_nodelay(true); // not every platform has it (wasi:sockets 0.2 does not)
        let clock = Clock::new();
        let conn = Connection::client(clock.now(), options, &request).map_err(io_err)?;
        Ok(Self { conn, stream, clock, closed: false, clean: false, read_bytes: 0 })
    }

    /// Polls every event into `on_event`, carrying out its replies, then writes what
    /// the connection has to write. Returns false once the connection is over.
    pub fn turn(&mut self, on_event: &mut impl FnMut(&Event<'_>) -> Reply) -> io::Result<bool> {
        self.events(on_event)?;
        while self.conn.wants_write() {
            let n = match self.stream.write_vectored(&self.conn.output().io_slices()) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            match n {
                Ok(n) => self.conn.advance(n).map_err(io_err)?,
                Err(e) => {
                    // The transport is gone: nothing more can be said to the peer.
                    self.conn.abort();
                    return Err(e);
                }
            }
            // Writing can free the receive side: let it run before writing more.
            self.events(on_event)?;
        }
        Ok(!self.closed)
    }

    fn events(&mut self, on_event: &mut impl FnMut(&Event<'_>) -> Reply) -> io::Result<()> {
        while let Some(event) = self.conn.poll_event() {
            if let Event::Closed { clean, .. } = event {
                self.closed = true;
                self.clean = clean;
            }
            if let Reply::Echo = on_event(&event) {
                self.conn.send_received().map_err(io_err)?;
            }
        }
        Ok(())
    }

    /// Waits for bytes (or the next deadline) and hands them to the connection.
    pub fn read(&mut self) -> io::Result<()> {
        let timeout =
            self.conn.poll_timeout().map(|t| Duration::from_millis(t.saturating_sub(self.clock.now()).max(1)));
        let _ = self.stream.set_read_timeout(timeout); // unsupported on some platforms: reads then block
        let mut chunk = [0u8; 16 * 1024];
        let result = match self.conn.read_buffer() {
            Some(buffer) => self.stream.read(buffer).map(|n| (n, true)),
            None => self.stream.read(&mut chunk).map(|n| (n, false)),
        };
        let now = self.clock.now();
        if let Ok((n, _)) = result {
            self.read_bytes += n as u64;
        }
        match result {
            Ok((0, _)) => self.conn.read_eof(),
            Ok((n, true)) => self.conn.commit(n, now),
            Ok((n, false)) => self.conn.feed(&chunk[..n], now).map_err(io_err)?,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.conn.handle_timeout(now);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.conn.read_eof(),
        }
        Ok(())
    }

    /// Runs the connection until it is over; `on_event` sees every event.
    pub fn run(&mut self, mut on_event: impl FnMut(&Event<'_>) -> Reply) -> io::Result<()> {
        while self.turn(&mut on_event)? {
            self.read()?;
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        Ok(())
    }

    /// Runs until `done` says so after an event (or the connection ends).
    pub fn run_until(&mut self, mut done: impl FnMut(&Event<'_>) -> bool) -> io::Result<()> {
        loop {
            let mut finished = false;
            let open = self.turn(&mut |e| {
                finished |= done(e);
                Reply::None
            })?;
            if finished || !open {
                return Ok(());
            }
            self.read()?;
        }
    }

    /// Starts the closing handshake with 1000 and runs until it is over; fails unless
    /// it ended cleanly.
    pub fn close(&mut self) -> io::Result<()> {
        let now = self.clock.now();
        self.conn.close(now, Some(CloseStatus::SUCCESS), "").map_err(io_err)?;
        self.run(|_| Reply::None)?;
        if !self.clean {
            return Err(io::Error::other("the closing handshake did not finish cleanly"));
        }
        Ok(())
    }
}

/// The echo policy: every data piece goes back with its type.
pub fn echo(event: &Event<'_>) -> Reply {
    match event {
        Event::Message { .. } => Reply::Echo,
        _ => Reply::None,
    }
}
