//! One component handle over one `std::net::TcpStream`, blocking: the loop and policy of
//! `examples/common/mod.rs`, with the engine inside the component. The host reads and
//! writes bytes; the component frames, masks, validates and builds the HTTP heads.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::ResourceAny;

use crate::{
    Action, ActionQueue, BufferType, CloseFrame, Completion, Operation, Property, ReceiveOperation, Role, SendBuffer,
    SendOperation, Session, State, StepError, Transferred, detail, engine, header, os_seed, wit,
};

/// Buffer sizes: the largest the engine allows, for throughput (as the examples).
pub fn properties() -> Vec<Property> {
    vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)]
}

/// A session's handle on a TCP connection after the opening handshake.
pub struct Connection {
    /// The store and instance the handle lives in.
    pub session: Session,
    /// The `handle` resource.
    pub handle: ResourceAny,
    /// The transport.
    pub stream: TcpStream,
    role: Role,
}

/// Reads an HTTP head from `stream` into a component `head-parser`; returns the parser.
fn read_head(session: &mut Session, stream: &mut TcpStream) -> Result<ResourceAny> {
    let parser = session.head_parser(8 * 1024, 128)?;
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        if engine(session.head_push(parser, &chunk[..n])?)? {
            return Ok(parser);
        }
    }
}

/// The server side of the opening handshake: reads the request, answers 101 (choosing
/// `preferred` when the client offers it) or the rejection the component encodes.
pub fn accept(mut session: Session, mut stream: TcpStream, preferred: &str) -> Result<Connection> {
    let parser = read_head(&mut session, &mut stream)?;
    let handle = engine(session.create(Role::Server, &properties())?)?;
    let request = match session.head_request(parser)? {
        Ok(r) => r,
        Err(e) => {
            stream.write_all(&session.encode_rejection(&e)?)?;
            return Err(crate::EngineError(e).into());
        }
    };
    let offered = session.offered_subprotocols(&request.headers)?;
    let chosen = offered.iter().find(|p| *p == preferred).map(String::as_str);
    match session.begin_server_handshake(handle, chosen, &[], &request.headers)? {
        Ok(headers) => {
            let head = engine(session.encode_response_head(101, "Switching Protocols", &headers)?)?;
            stream.write_all(&head)?;
        }
        Err(e) => {
            stream.write_all(&session.encode_rejection(&e)?)?;
            return Err(crate::EngineError(e).into());
        }
    }
    engine(session.end_server_handshake(handle)?)?;
    let rest = session.head_rest(parser)?;
    engine(session.push_received(handle, &rest)?)?;
    session.drop_handle(parser)?;
    Ok(Connection { session, handle, stream, role: Role::Server })
}

/// Splits `ws://host:port/path` into `(host:port, /path)`.
pub fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| anyhow!("expected a ws:// URL, got {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((authority.to_owned(), path.to_owned()))
}

/// The client side of the opening handshake over a fresh connection to `url`; the handle
/// is seeded with 32 bytes from the OS.
pub fn connect(mut session: Session, url: &str) -> Result<Connection> {
    let (authority, path) = split_url(url)?;
    let mut stream = TcpStream::connect(&authority).with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let mut props = properties();
    props.push(Property::RandomSeed(os_seed()?));
    let handle = engine(session.create(Role::Client, &props)?)?;
    let mut headers = vec![header("Host", &authority)];
    headers.extend(engine(session.begin_client_handshake(handle, &[], &[], &[])?)?);
    stream.write_all(&engine(session.encode_request_head(&path, &headers)?)?)?;
    let parser = read_head(&mut session, &mut stream)?;
    let response = engine(session.head_response(parser)?)?;
    if response.status != 101 {
        bail!("the server answered {} {} instead of 101", response.status, response.reason);
    }
    engine(session.end_client_handshake(handle, &response.headers)?)?;
    let rest = session.head_rest(parser)?;
    engine(session.push_received(handle, &rest)?)?;
    session.drop_handle(parser)?;
    Ok(Connection { session, handle, stream, role: Role::Client })
}

/// What the application wants sent after a piece arrived.
pub type Reply = Option<(BufferType, Option<SendBuffer>)>;

impl Connection {
    /// Runs the connection until the close handshake is over or the transport fails.
    /// `on_data` sees each received data piece (type, bytes) and may answer; pongs are
    /// ignored, a close is echoed, and a peer protocol error is answered with the close
    /// status the component names. Returns the peer's close status, if one arrived.
    pub fn run(&mut self, mut on_data: impl FnMut(BufferType, &[u8]) -> Reply) -> Result<Option<u16>> {
        let Connection { session, handle, stream, .. } = self;
        let h = *handle;
        let mut queued: Reply = None;
        let mut sending = false;
        let mut receiving = false;
        let mut receive_over = false;
        let mut receive_failed = false;
        let mut peer_close = None;
        let mut read_buf = vec![0u8; 65536];
        // The completion of the last action, carried into the next step: one call into the
        // component per action.
        let mut done: Option<Completion> = None;
        loop {
            let then = if !sending && let Some((ty, buffer)) = queued.take() {
                sending = true;
                Some(Operation::Send(SendOperation { buffer_type: ty, buffer, context: 0 }))
            } else if !receiving && !sending && !receive_over && queued.is_none() {
                receiving = true;
                Some(Operation::Receive(ReceiveOperation { max_piece: None, context: 0 }))
            } else {
                None
            };
            // After a receive-side failure the receive queue only repeats the error.
            let queue = if receive_failed { ActionQueue::Send } else { ActionQueue::All };
            let action = match session.step(h, done.take().as_ref(), then.as_ref(), queue)? {
                Ok(a) => a,
                Err(StepError::Completion(e)) => return Err(crate::EngineError(e).into()),
                Err(StepError::Operation(e)) => {
                    if matches!(then, Some(Operation::Send(_))) {
                        sending = false;
                        eprintln!("send refused: {}", crate::EngineError(e));
                    } else {
                        // Refused for good: the peer's close arrived, or the handle failed.
                        receiving = false;
                        receive_over = true;
                    }
                    continue;
                }
                Err(StepError::GetAction(e)) => {
                    // The peer broke the protocol: answer once with the status the
                    // component names, then drop the connection.
                    receive_failed = true;
                    receiving = false;
                    if let Some(status) = detail(&e).close_status
                        && session.state(h)? == State::Failed
                        && queued.is_none()
                    {
                        queued =
                            Some((BufferType::Close, Some(SendBuffer::Close(CloseFrame { status, reason: vec![] }))));
                    }
                    continue;
                }
            };
            match action {
                // Idle: the receive side is over and nothing is left to send.
                Action::NoAction => return Ok(peer_close),
                Action::IndicateReceiveComplete(r) => {
                    receiving = false;
                    done = Some(Completion::Transferred(Transferred { action: r.action, bytes: 0 }));
                    match r.buffer_type {
                        None => {
                            // The transport closed.
                            engine(session.complete_action(h, r.action, 0)?)?;
                            return Ok(peer_close);
                        }
                        Some(BufferType::Close) => {
                            peer_close = r.close_status;
                            if let Some(status) = r.close_status
                                && session.state(h)? == State::CloseReceived
                            {
                                let reply = session.close_reply(status, &r.data)?.map(SendBuffer::Close);
                                queued = Some((BufferType::Close, reply));
                            }
                        }
                        Some(BufferType::PingPong) => {}
                        Some(ty) => queued = on_data(ty, &r.data),
                    }
                }
                Action::SendToNetwork(s) => {
                    // A failed write completes with 0: the engine cancels the send.
                    let n = match stream.write_all(&s.data) {
                        Ok(()) => s.data.len() as u32,
                        Err(_) => 0,
                    };
                    done = Some(Completion::Transferred(Transferred { action: s.action, bytes: n }));
                }
                Action::ReceiveFromNetwork(r) => {
                    let max = (r.max_bytes as usize).min(read_buf.len());
                    let n = loop {
                        match stream.read(&mut read_buf[..max]) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => break 0,
                        }
                    };
                    // Its own call: the bytes go straight from the read buffer.
                    engine(session.complete_receive(h, r.action, &read_buf[..n])?)?;
                }
                Action::IndicateSendComplete(s) => {
                    sending = false;
                    done = Some(Completion::Transferred(Transferred { action: s.action, bytes: 0 }));
                }
            }
        }
    }

    /// After the close handshake: a client waits (up to a second) for the server to close
    /// the TCP connection first (RFC 6455 §7.1.1); a server closes it at once.
    pub fn finish(&mut self) {
        if self.role == Role::Client {
            let _ = self.stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut sink = [0u8; 512];
            while matches!(self.stream.read(&mut sink), Ok(n) if n > 0) {}
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The echo policy: every data piece goes back with its type, sent from the component's
/// receive buffer (`last-received`: the piece does not cross the boundary again).
pub fn echo(ty: BufferType, _data: &[u8]) -> Reply {
    Some((ty, Some(SendBuffer::LastReceived)))
}

/// An engine error's name and message, for logs.
pub fn describe(e: &wit::Error) -> String {
    crate::EngineError(e.clone()).to_string()
}
