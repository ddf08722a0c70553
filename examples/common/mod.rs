//! A blocking host for the examples: one engine handle over one `std::net::TcpStream`.
//!
//! Everything here is I/O and policy (what to answer); the protocol work happens in
//! the engine. The loop follows websocket.dll's SDK sample: ask the ALL queue for
//! actions until there are none, do the I/O each asks for, complete it.

#![allow(dead_code)]

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wsengine::{
    Action, ActionQueue, BufferType, CloseStatus, Error, Handle, HeadLimits, HeadParser, HttpHeader, Property, Role,
    SendBuffer, State,
};

/// Buffer sizes for the examples: the largest the engine allows, for throughput.
pub fn properties() -> Vec<Property> {
    vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)]
}

fn io_err(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads an HTTP head from `stream`; returns the parser holding it.
fn read_head(stream: &mut TcpStream) -> io::Result<HeadParser> {
    let mut parser = HeadParser::new(HeadLimits::default());
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match parser.push(&chunk[..n]) {
            Ok(true) => return Ok(parser),
            Ok(false) => {}
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// The server side of the opening handshake: reads the request, answers 101 (choosing
/// `preferred` when the client offers it) or an error response.
pub fn accept(stream: &mut TcpStream, preferred: &str) -> io::Result<Handle> {
    let parser = read_head(stream)?;
    let mut handle: Handle = Handle::new_server(properties()).map_err(io_err)?;
    let request = match parser.request() {
        Ok(r) => r,
        Err(e) => {
            stream.write_all(&wsengine::encode_rejection(&e))?;
            return Err(io_err(e));
        }
    };
    let chosen = wsengine::offered_subprotocols(&request.headers).into_iter().find(|p| *p == preferred);
    match handle.begin_server_handshake(chosen, &[], &request.headers) {
        Ok(headers) => {
            let head = wsengine::encode_response_head(101, "Switching Protocols", headers).map_err(io_err)?;
            stream.write_all(&head)?;
        }
        Err(e) => {
            stream.write_all(&wsengine::encode_rejection(&e))?;
            return Err(io_err(e));
        }
    }
    handle.end_server_handshake().map_err(io_err)?;
    handle.push_received(parser.rest()).map_err(io_err)?;
    Ok(handle)
}

/// Splits `ws://host:port/path` into `(host:port, /path)`.
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest =
        url.strip_prefix("ws://").ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "expected ws://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((authority.to_owned(), path.to_owned()))
}

/// The client side of the opening handshake over a fresh connection to `url`.
pub fn connect(url: &str) -> io::Result<(Handle, TcpStream)> {
    let (authority, path) = split_url(url)?;
    let mut stream = TcpStream::connect(&authority)?;
    let _ = stream.set_nodelay(true); // not every platform has it (wasi:sockets 0.2 does not)
    let mut handle: Handle = Handle::new_client(properties()).map_err(io_err)?;
    let mut headers = vec![HttpHeader::new("Host", &authority)];
    headers.extend(handle.begin_client_handshake(&[], &[], &[]).map_err(io_err)?.iter().cloned());
    stream.write_all(&wsengine::encode_request_head(&path, &headers).map_err(io_err)?)?;
    let parser = read_head(&mut stream)?;
    let response = parser.response().map_err(io_err)?;
    if response.status != 101 {
        return Err(io_err(Error::UnexpectedStatus(response.status)));
    }
    handle.end_client_handshake(&response.headers).map_err(io_err)?;
    handle.push_received(parser.rest()).map_err(io_err)?;
    Ok((handle, stream))
}

fn write_all_vectored(stream: &mut TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    let (mut i, mut off) = (0, 0);
    while i < parts.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(&parts[i][off..]))
            .chain(parts[i + 1..].iter().map(|p| IoSlice::new(p)))
            .collect();
        let mut n = stream.write_vectored(&slices)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while i < parts.len() && n >= parts[i].len() - off {
            n -= parts[i].len() - off;
            i += 1;
            off = 0;
        }
        off += n;
    }
    Ok(())
}

/// What the application wants sent after a piece arrived.
pub type Reply = Option<(BufferType, Option<SendBuffer<Vec<u8>>>)>;

/// Runs one connection until the close handshake is over or the transport fails.
/// `on_data` sees each received data piece (type, bytes) and may answer; pongs are
/// ignored, a close is echoed, and a peer protocol error is answered with the close
/// code the engine names. Returns the peer's close status, if one arrived.
pub fn run(
    handle: &mut Handle,
    stream: &mut TcpStream,
    mut on_data: impl FnMut(BufferType, &[u8]) -> Reply,
) -> io::Result<Option<CloseStatus>> {
    let mut queued: Reply = None;
    let mut sending = false;
    let mut receiving = false;
    let mut receive_failed = false;
    let mut peer_close = None;
    loop {
        if !sending && let Some((ty, buf)) = queued.take() {
            match handle.send(ty, buf, ()) {
                Ok(()) => sending = true,
                Err(e) => eprintln!("send refused: {e}"),
            }
        }
        if !receiving && !sending && !receive_failed && queued.is_none() && handle.receive(None, ()).is_ok() {
            receiving = true;
        }
        // After a receive-side failure the receive queue only repeats the error.
        let queue = if receive_failed { ActionQueue::Send } else { ActionQueue::All };
        let action = match handle.get_action(queue) {
            Ok(a) => a,
            Err(e) => {
                // The peer broke the protocol: answer once with the code the engine
                // names, then drop the connection.
                receive_failed = true;
                receiving = false;
                if let Some(status) = e.close_status()
                    && handle.state() == State::Failed
                    && queued.is_none()
                {
                    queued = Some((BufferType::Close, Some(SendBuffer::Close { status, reason: Vec::new() })));
                }
                continue;
            }
        };
        match action {
            // Idle: the receive side is over and nothing is left to send.
            Action::NoAction => return Ok(peer_close),
            Action::IndicateReceiveComplete { buffer_type, data, close_status, action, .. } => {
                receiving = false;
                match buffer_type {
                    None => {
                        // The transport closed.
                        handle.complete_action(action, 0).map_err(io_err)?;
                        return Ok(peer_close);
                    }
                    Some(BufferType::Close) => {
                        peer_close = close_status;
                        let reply = close_status.and_then(|s| s.reply(data.as_slice()));
                        handle.complete_action(action, 0).map_err(io_err)?;
                        if handle.state() == State::CloseReceived {
                            queued = Some((BufferType::Close, reply));
                        }
                    }
                    Some(BufferType::PingPong) => handle.complete_action(action, 0).map_err(io_err)?,
                    Some(ty) => {
                        queued = on_data(ty, data.as_slice());
                        handle.complete_action(action, 0).map_err(io_err)?;
                    }
                }
            }
            a => {
                if let Some((ctx, n, done)) = carry_out(a, stream) {
                    if done {
                        sending = false;
                    }
                    handle.complete_action(ctx, n).map_err(io_err)?;
                }
            }
        }
    }
}

/// Does the I/O of a network action. Returns the token, the byte count to complete
/// with, and whether a send operation ended; `None` for `NoAction` (nothing to complete).
fn carry_out(
    action: Action<'_, Vec<u8>, ()>,
    stream: &mut TcpStream,
) -> Option<(wsengine::ActionContext, usize, bool)> {
    Some(match action {
        Action::SendToNetwork { buffers, action, .. } => {
            let n = match write_all_vectored(stream, buffers.as_slices()) {
                Ok(()) => buffers.len(),
                Err(_) => 0,
            };
            (action, n, false)
        }
        Action::ReceiveFromNetwork { buffer, action } => {
            let n = loop {
                match stream.read(buffer) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break 0,
                }
            };
            (action, n, false)
        }
        Action::IndicateSendComplete { action, .. } => (action, 0, true),
        Action::IndicateReceiveComplete { action, .. } => (action, 0, false),
        Action::NoAction => return None,
    })
}

/// After the close handshake: a client waits (up to a second) for the server to close
/// the TCP connection first (RFC 6455 §7.1.1); a server closes it at once.
pub fn finish(stream: &mut TcpStream, role: Role) {
    if role == Role::Client {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut sink = [0u8; 512];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// The echo policy: every data piece goes back with its type, sent straight from the
/// engine's receive buffer (no copy).
pub fn echo(ty: BufferType, _data: &[u8]) -> Reply {
    Some((ty, Some(SendBuffer::LastReceived)))
}

/// An indication [`pump`] hands to its caller.
enum Indication<'a> {
    /// A send operation ended (`completed`: every byte written).
    Sent { completed: bool },
    /// A receive operation ended: its type (none when cancelled) and bytes.
    Received(Option<BufferType>, &'a [u8]),
}

/// Runs `handle`'s actions, doing their I/O, until `on_indication` returns true.
fn pump(
    handle: &mut Handle,
    stream: &mut TcpStream,
    mut on_indication: impl FnMut(Indication<'_>) -> bool,
) -> io::Result<()> {
    loop {
        let (ctx, n, stop) = match handle.get_action(ActionQueue::All).map_err(io_err)? {
            Action::NoAction => return Err(io::Error::other("the engine has nothing to do")),
            Action::IndicateReceiveComplete { buffer_type, data, action, .. } => {
                (action, 0, on_indication(Indication::Received(buffer_type, data.as_slice())))
            }
            Action::IndicateSendComplete { completed, action, .. } => {
                (action, 0, on_indication(Indication::Sent { completed }))
            }
            a => match carry_out(a, stream) {
                Some((ctx, n, _)) => (ctx, n, false),
                None => return Err(io::Error::other("the engine has nothing to do")),
            },
        };
        handle.complete_action(ctx, n).map_err(io_err)?;
        if stop {
            return Ok(());
        }
    }
}

fn sent(i: Indication<'_>) -> bool {
    matches!(i, Indication::Sent { .. })
}

/// Sends one message and receives the answer (an echo), piece by piece into `on_piece`.
pub fn exchange(
    handle: &mut Handle,
    stream: &mut TcpStream,
    ty: BufferType,
    payload: &[u8],
    mut on_piece: impl FnMut(BufferType, &[u8]),
) -> io::Result<()> {
    handle.send(ty, Some(SendBuffer::Data(payload.to_vec())), ()).map_err(io_err)?;
    pump(handle, stream, sent)?;
    let mut last = false;
    while !last {
        handle.receive(None, ()).map_err(io_err)?;
        pump(handle, stream, |i| {
            if let Indication::Received(Some(t), data) = i
                && t.is_data()
            {
                on_piece(t, data);
                last = !t.is_fragment();
            }
            true
        })?;
    }
    Ok(())
}

/// The close handshake from this side: sends 1000 and waits for the peer's close.
pub fn close(handle: &mut Handle, stream: &mut TcpStream) -> io::Result<()> {
    let status = SendBuffer::Close { status: CloseStatus::SUCCESS, reason: Vec::new() };
    handle.send(BufferType::Close, Some(status), ()).map_err(io_err)?;
    pump(handle, stream, sent)?;
    while handle.state() != State::Closed {
        handle.receive(None, ()).map_err(io_err)?;
        pump(handle, stream, |_| true)?;
    }
    Ok(())
}
