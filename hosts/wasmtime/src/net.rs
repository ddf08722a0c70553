//! One component `connection` over one `std::net::TcpStream`, blocking. The host reads,
//! hands the bytes in with one call, writes what comes back and sleeps until the
//! socket is readable or the wake-up comes (the socket's read timeout); it closes the
//! stream once the connection says `closed` and its output is written. Every protocol
//! rule (the opening handshake, framing, ping and close replies, failing with the right
//! status, deadlines) is the component's.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wasmtime::component::ResourceAny;

use crate::{DeflateOptions, Event, Options, Outgoing, Progress, Property, Session, engine, os_seed, wit};

/// The most bytes one read takes (and hands to the component in one call).
const READ_SIZE: usize = 64 * 1024;

/// The connection options of the host's commands: the component's defaults with the
/// largest buffers the engine allows (for throughput), these subprotocols, and
/// permessage-deflate offered and accepted, every message compressed (threshold 0) so
/// that peers see compression on every message.
pub fn options(session: &mut Session, subprotocols: &[&str]) -> Result<Options> {
    let mut o = session.default_options()?;
    o.properties = vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)];
    o.subprotocols = subprotocols.iter().map(|s| (*s).to_owned()).collect();
    o.deflate = Some(DeflateOptions { threshold: 0, ..session.default_deflate_options()? });
    Ok(o)
}

/// How a connection ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// The `closed` event.
    pub closed: Option<wit::Closed>,
    /// The `failed` event, if the connection failed.
    pub failure: Option<wit::Failure>,
}

/// A component `connection` on a TCP stream.
pub struct Connection {
    /// The store and instance the connection lives in.
    pub session: Session,
    /// The `connection` resource.
    pub conn: ResourceAny,
    /// The transport.
    pub stream: TcpStream,
    /// The clock behind every `now`: milliseconds since the connection was made.
    start: Instant,
    wake_up: Option<u64>,
    ended: Ended,
}

/// A server connection on an accepted stream: the component reads the upgrade request
/// and answers it (101 with the first of `options.subprotocols` the client offered, or
/// 400/426/431).
pub fn accept(mut session: Session, stream: TcpStream, options: &Options) -> Result<Connection> {
    let start = Instant::now();
    let conn = engine(session.connection_server(0, options)?)?;
    Ok(Connection { session, conn, stream, start, wake_up: None, ended: Ended::default() })
}

/// A client connection to `url` over a fresh TCP connection; `options` gets a
/// random-seed of 32 bytes from the OS. The upgrade request goes out with the first
/// call of [`Connection::run`].
pub fn connect(mut session: Session, url: &str, options: &Options) -> Result<Connection> {
    // Where to connect: the core's reading of the URL (the component reads it again
    // for the request it writes).
    let request = wsengine::ClientRequest::from_url(url)?;
    if request.secure {
        bail!("wss: needs TLS, which this host lacks: {url}");
    }
    let address = request.address();
    let stream = TcpStream::connect(&address).with_context(|| format!("connecting to {address}"))?;
    stream.set_nodelay(true)?;
    let mut options = options.clone();
    options.properties.push(Property::RandomSeed(os_seed()?));
    let start = Instant::now();
    let conn = engine(session.connection_client(0, &options, url)?)?;
    Ok(Connection { session, conn, stream, start, wake_up: None, ended: Ended::default() })
}

impl Connection {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs the connection to its end: one call into the component per read, per
    /// wake-up and per batch of replies. With `echo`, reads go through `read-echo`: every
    /// message piece goes back as it came, inside that call. `on_event` sees every event
    /// and may push sends, which go out in one batch after the events of that call.
    /// Returns how it ended; the stream is then shut down.
    pub fn run(&mut self, echo: bool, mut on_event: impl FnMut(Event, &mut Vec<Outgoing>)) -> Result<Ended> {
        let first = self.session.connection_handle_timeout(self.conn, self.now())?;
        self.apply(first, &mut on_event)?;
        let mut buf = vec![0u8; READ_SIZE];
        while self.ended.closed.is_none() {
            let now = self.now();
            let wait = match self.wake_up {
                Some(at) if at <= now => {
                    let p = self.session.connection_handle_timeout(self.conn, now)?;
                    self.apply(p, &mut on_event)?;
                    continue;
                }
                Some(at) => Some(Duration::from_millis(at - now)),
                None => None,
            };
            self.stream.set_read_timeout(wait)?;
            let p = match self.stream.read(&mut buf) {
                Ok(0) => self.session.connection_read_eof(self.conn)?,
                Ok(n) => {
                    let now = self.now();
                    let read = if echo {
                        self.session.connection_read_echo(self.conn, &buf[..n], now)?
                    } else {
                        self.session.connection_read(self.conn, &buf[..n], now)?
                    };
                    match read {
                        Ok(p) => p,
                        Err(e) => {
                            // Only a read larger than max-buffered-input is refused.
                            let _ = self.session.connection_abort(self.conn)?;
                            bail!(crate::EngineError(e));
                        }
                    }
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    self.session.connection_handle_timeout(self.conn, self.now())?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The transport failed: as the end of the stream.
                Err(_) => self.session.connection_read_eof(self.conn)?,
            };
            self.apply(p, &mut on_event)?;
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(std::mem::take(&mut self.ended))
    }

    /// Acts on what a call handed back: writes the output, shows the events, sends what
    /// they asked for (and acts on that call's progress in turn).
    fn apply(&mut self, mut p: Progress, on_event: &mut impl FnMut(Event, &mut Vec<Outgoing>)) -> Result<()> {
        loop {
            if !p.output.is_empty() && self.stream.write_all(&p.output).is_err() {
                // The peer is gone: nothing more can be written.
                let aborted = self.session.connection_abort(self.conn)?;
                p.events.extend(aborted.events);
            }
            self.wake_up = p.wake_up;
            let mut sends = Vec::new();
            for e in p.events {
                match &e {
                    Event::Failed(f) => self.ended.failure = Some(f.clone()),
                    Event::Closed(c) => self.ended.closed = Some(c.clone()),
                    _ => {}
                }
                on_event(e, &mut sends);
            }
            if sends.is_empty() || self.ended.closed.is_some() {
                return Ok(());
            }
            // A refused entry (data behind the peer's close, which arrived in the same
            // read) stops the batch; what went before still goes out.
            p = match self.session.connection_send(self.conn, &sends, self.now())? {
                Ok(p) => p,
                Err(refused) => refused.progress,
            };
        }
    }
}
