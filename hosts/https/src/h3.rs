//! WebSockets over HTTP/3 (RFC 9114) by the extended CONNECT of RFC 9220, on Cloudflare's
//! quiche: QUIC and HTTP/3 run sans-IO in one tokio task per endpoint (a UDP socket),
//! and every request stream is handed out as a [`Stream`], an `AsyncRead +
//! AsyncWrite` of its body. The engine knows nothing of QUIC: as over HTTP/2, it makes
//! and checks the extended CONNECT ([`wsengine::Connection::client_connect`],
//! [`wsengine::Connection::accept_connect`]) and frames the WebSocket on the stream
//! ([`WebSocketStream::from_connection`]).
//!
//! Server: [`Server::bind`] on a UDP socket with a certificate, [`Server::accept`] the
//! requests, [`accept_websocket`] those that open a WebSocket (answered `200`, or refused
//! with the engine's status). Client: [`Client::connect`] to a server, then
//! [`connect_websocket`] as many times as the server allows streams, all multiplexed on
//! the one QUIC connection.
//!
//! Each stream buffers at most [`STREAM_BUFFER`] bytes each way; beyond that, QUIC's flow
//! control holds the peer back (what is not read stays unacknowledged in quiche's window)
//! and writes wait.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use boring::pkey::PKey;
use boring::ssl::{SslContextBuilder, SslMethod, SslVerifyMode};
use boring::x509::X509;
use bytes::{Buf, BufMut, BytesMut};
use quiche::h3::{self, NameValue};
use quiche::{ConnectionId, Shutdown};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use wsengine_tokio::wsengine::{ClientRequest, Connection, HttpHeader, rejection_headers};
use wsengine_tokio::{Options, WebSocketStream};

/// The most a [`Stream`] holds each way: received bytes not yet read, written bytes not
/// yet taken by QUIC.
pub const STREAM_BUFFER: usize = 256 * 1024;

/// A QUIC connection's idle timeout: a WebSocket's keep-alive pings
/// ([`Options::keep_alive`](wsengine_tokio::wsengine::Options)) keep it open longer.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent request streams a peer may open (WebSockets per connection, for a server).
const MAX_STREAMS: u64 = 128;
/// QUIC connections a server holds at once; new ones past it are ignored.
const MAX_CONNECTIONS: usize = 4096;
/// The largest UDP payload sent (fits loopback and any Internet path QUIC allows).
const MAX_DATAGRAM: usize = 1350;
/// The UDP socket buffers asked for, each way.
const SOCKET_BUFFER: usize = 4 << 20;
/// HTTP/3 error codes (RFC 9114 §8.1).
const H3_NO_ERROR: u64 = 0x100;
const H3_REQUEST_REJECTED: u64 = 0x10b;
const H3_REQUEST_CANCELLED: u64 = 0x10c;

/// One request stream's body, both ways: read what the peer sends, write what to send;
/// shutting down the writing ends the stream our way (QUIC FIN). Dropping it before both
/// ways ended cancels the stream (`H3_REQUEST_CANCELLED`).
pub struct Stream {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<StreamState>,
    /// Wakes the endpoint's task: there is something to send, or room to receive.
    driver: Arc<Notify>,
    /// Its connection's [`Conn::woken`]: which connection the wake-up is for.
    woken: Arc<AtomicBool>,
}

#[derive(Default)]
struct StreamState {
    /// Received, not yet read.
    inbound: BytesMut,
    /// The peer's end of the stream (FIN) came; `inbound` is all there is.
    eof: bool,
    /// quiche has body bytes that did not fit `inbound` (its `Data` event comes once).
    unread: bool,
    /// Written, not yet taken by QUIC.
    outbound: BytesMut,
    /// A response's header fields to send before the body (server).
    head: Option<Vec<h3::Header>>,
    /// The writer shut down: FIN once `outbound` is sent.
    finish: bool,
    /// FIN handed to QUIC.
    finished: bool,
    /// Why the stream can no longer be used (reset by the peer, the connection closed).
    failed: Option<(io::ErrorKind, String)>,
    /// The [`Stream`] was dropped.
    dropped: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl StreamState {
    fn fail(&mut self, kind: io::ErrorKind, why: impl Into<String>) {
        if self.failed.is_none() {
            self.failed = Some((kind, why.into()));
        }
        self.wake();
    }

    fn wake(&mut self) {
        self.wake_reader();
        self.wake_writer();
    }

    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }

    fn error(&self) -> Option<io::Error> {
        self.failed.as_ref().map(|(kind, why)| io::Error::new(*kind, why.clone()))
    }
}

impl Shared {
    fn new(driver: &Arc<Notify>, woken: &Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(StreamState::default()), driver: driver.clone(), woken: woken.clone() })
    }

    /// Has the endpoint's task service this stream's connection.
    fn wake_driver(&self) {
        self.woken.store(true, Ordering::Release);
        self.driver.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, StreamState> {
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

/// A request a [`Server`] received: its header fields (pseudo-header fields first) and
/// its stream, to answer with [`respond`](Self::respond).
pub struct Request {
    fields: Vec<h3::Header>,
    stream: Stream,
}

impl Request {
    /// The request's header fields as the engine takes them.
    pub fn fields(&self) -> Vec<HttpHeader<'_>> {
        self.fields.iter().map(|f| HttpHeader::new(f.name(), f.value())).collect()
    }

    /// The value of the first field named `name` (lower case, as HTTP/3 sends them).
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|f| f.name() == name.as_bytes()).map(NameValue::value)
    }

    /// Answers with `status` and `fields` (connection-specific ones, which HTTP/3
    /// forbids, left out) and returns the stream for the body both ways.
    pub fn respond(self, status: u16, fields: &[HttpHeader<'_>]) -> Stream {
        let mut head = vec![h3::Header::new(b":status", status.to_string().as_bytes())];
        head.extend(h3_fields(fields));
        let mut s = self.stream.shared.lock();
        s.head = Some(head);
        drop(s);
        self.stream.shared.wake_driver();
        self.stream
    }

    /// Answers with `status`, `fields` and the whole `body`, and ends the stream.
    pub fn respond_with(self, status: u16, fields: &[HttpHeader<'_>], body: &[u8]) {
        let stream = self.respond(status, fields);
        let mut s = stream.shared.lock();
        s.outbound.extend_from_slice(body);
        s.finish = true;
    }
}

/// The fields HTTP/3 carries: lower-case names, without the pseudo-header fields a
/// message carries apart, nor the connection-specific ones (RFC 9114 §4.2).
fn h3_fields<'a>(fields: &'a [HttpHeader<'_>]) -> impl Iterator<Item = h3::Header> + 'a {
    const CONNECTION_SPECIFIC: [&[u8]; 5] =
        [b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"];
    fields.iter().filter_map(|f| {
        let name = f.name.to_ascii_lowercase();
        let specific = CONNECTION_SPECIFIC.contains(&name.as_slice()) || name.starts_with(b":");
        (!specific).then(|| h3::Header::new(&name, &f.value))
    })
}

/// Answers a request that opens a WebSocket (RFC 9220's extended CONNECT): the engine
/// checks it and makes the `200`'s fields (subprotocol, permessage-deflate as `options`
/// allow); the WebSocket then runs on the request's stream. A request that is no valid
/// WebSocket CONNECT is refused (400, or 426 with `sec-websocket-version: 13`, the
/// reason in the body) and its error returned.
pub fn accept_websocket(request: Request, options: Options) -> Result<WebSocketStream<Stream>, wsengine_tokio::Error> {
    let epoch = Instant::now();
    match Connection::accept_connect(0, options, &request.fields()) {
        Ok((conn, fields)) => {
            let stream = request.respond(200, &fields);
            Ok(WebSocketStream::from_connection(stream, conn, epoch))
        }
        Err(e) => {
            let status = e.http_status().unwrap_or(400);
            request.respond_with(status, &rejection_headers(status), e.to_string().as_bytes());
            Err(e.into())
        }
    }
}

/// Opens a WebSocket for `url` (`wss:`, or `https:`) on a stream of `client`'s HTTP/3
/// connection: the engine makes the extended CONNECT and checks the response (a 2xx,
/// the subprotocol and extensions agreed).
pub async fn connect_websocket(
    client: &Client,
    url: &str,
    options: Options,
) -> Result<WebSocketStream<Stream>, wsengine_tokio::Error> {
    let epoch = Instant::now();
    let (mut conn, fields) = Connection::client_connect(0, options, &ClientRequest::from_url(url)?)?;
    let response = client.request(&fields).await?;
    conn.connect_response(response.status, &response.fields())?;
    Ok(WebSocketStream::from_connection(response.stream, conn, epoch))
}

/// The response to a [`Client::request`]: its status, fields and the stream.
pub struct Response {
    /// The status code.
    pub status: u16,
    fields: Vec<h3::Header>,
    /// The response's body, and the request's to write.
    pub stream: Stream,
}

impl Response {
    /// The response's header fields (without `:status`) as the engine takes them.
    pub fn fields(&self) -> Vec<HttpHeader<'_>> {
        self.fields.iter().map(|f| HttpHeader::new(f.name(), f.value())).collect()
    }
}

/// An HTTP/3 client connection: one QUIC connection to a server, driven by a task of its
/// own; requests (WebSockets) on it are multiplexed, each on a stream. Clones share the
/// connection, which is closed once every clone and every stream are dropped.
#[derive(Clone)]
pub struct Client {
    opens: mpsc::UnboundedSender<Open>,
}

struct Open {
    fields: Vec<h3::Header>,
    reply: oneshot::Sender<io::Result<Response>>,
}

impl Client {
    /// Connects to an HTTP/3 server at `peer`, checking its certificate for
    /// `server_name` against the system's roots and `roots` (DER certificates). Returns
    /// once the QUIC handshake is done and the server's HTTP/3 settings came.
    pub async fn connect(peer: SocketAddr, server_name: &str, roots: &[&[u8]]) -> io::Result<Self> {
        // A loopback server is reached from loopback: nothing listens beyond.
        let local: SocketAddr = match peer {
            SocketAddr::V4(a) if a.ip().is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(a) if a.ip().is_loopback() => (Ipv6Addr::LOCALHOST, 0).into(),
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await?;
        enlarge_buffers(&socket);
        let local = socket.local_addr()?;
        let mut tls = SslContextBuilder::new(SslMethod::tls()).map_err(io::Error::other)?;
        tls.set_default_verify_paths().map_err(io::Error::other)?;
        for root in roots {
            tls.cert_store_mut().add_cert(X509::from_der(root).map_err(io::Error::other)?).map_err(io::Error::other)?;
        }
        tls.set_verify(SslVerifyMode::PEER);
        let mut config = transport_config(tls)?;
        let scid = random_id()?;
        let quic = quiche::connect(Some(server_name), &ConnectionId::from_ref(&scid), local, peer, &mut config)
            .map_err(io::Error::other)?;
        let (opens, queue) = mpsc::unbounded_channel();
        let (ready, established) = oneshot::channel();
        let mut endpoint = Endpoint::new(socket, local, None)?;
        let mut conn = Conn::new(quic);
        conn.ready = Some(ready);
        endpoint.conns.insert(scid.to_vec(), conn);
        tokio::spawn(endpoint.run(Some(queue)));
        established.await.map_err(|_| gone())??;
        Ok(Self { opens })
    }

    /// Sends a request with `fields` (pseudo-header fields first; connection-specific
    /// ones left out) and no end, so that its stream can carry a body both ways; resolves
    /// with the final response.
    pub async fn request(&self, fields: &[HttpHeader<'_>]) -> io::Result<Response> {
        let mut head: Vec<h3::Header> =
            fields.iter().filter(|f| f.name.starts_with(b":")).map(|f| h3::Header::new(&f.name, &f.value)).collect();
        head.extend(h3_fields(fields));
        let (reply, response) = oneshot::channel();
        self.opens.send(Open { fields: head, reply }).map_err(|_| gone())?;
        response.await.map_err(|_| gone())?
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the HTTP/3 connection is closed")
}

/// An HTTP/3 server on a UDP socket, driven by a task of its own: [`accept`](Self::accept)
/// gives the requests of every connection.
pub struct Server {
    requests: mpsc::Receiver<Request>,
}

impl Server {
    /// Serves HTTP/3 on `socket` with a certificate chain (DER, the leaf first) and its
    /// PKCS #8 key, extended CONNECT enabled (`SETTINGS_ENABLE_CONNECT_PROTOCOL`).
    pub fn bind(socket: UdpSocket, chain: &[&[u8]], key: &[u8]) -> io::Result<Self> {
        enlarge_buffers(&socket);
        let mut tls = SslContextBuilder::new(SslMethod::tls()).map_err(io::Error::other)?;
        let mut certs = chain.iter();
        let leaf = certs.next().ok_or_else(|| io::Error::other("no certificate"))?;
        let leaf = X509::from_der(leaf).map_err(io::Error::other)?;
        tls.set_certificate(&leaf).map_err(io::Error::other)?;
        for cert in certs {
            tls.add_extra_chain_cert(X509::from_der(cert).map_err(io::Error::other)?).map_err(io::Error::other)?;
        }
        let key = PKey::private_key_from_der(key).map_err(io::Error::other)?;
        tls.set_private_key(&key).map_err(io::Error::other)?;
        let config = transport_config(tls)?;
        let mut secret = [0; 32];
        SystemRandom::new().fill(&mut secret).map_err(|_| io::Error::other("no randomness"))?;
        let local = socket.local_addr()?;
        let (accepted, requests) = mpsc::channel(MAX_STREAMS as usize);
        let server = Listening { config, cid_key: hmac::Key::new(hmac::HMAC_SHA256, &secret), accepted };
        tokio::spawn(Endpoint::new(socket, local, Some(server))?.run(None));
        Ok(Self { requests })
    }

    /// The next request, from any connection; `None` once the endpoint's task ended (its
    /// socket failed).
    pub async fn accept(&mut self) -> Option<Request> {
        self.requests.recv().await
    }
}

/// Asks for socket buffers of [`SOCKET_BUFFER`] (the kernel may grant less:
/// `net.core.rmem_max`): a task that falls behind must not lose datagrams to a full
/// queue, which QUIC would take for congestion.
fn enlarge_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
}

/// QUIC and HTTP/3 settings, both roles: ALPN `h3`, flow control windows a few stream
/// buffers wide, [`MAX_STREAMS`] request streams. Congestion control is quiche's BBRv2
/// (gcongestion): with its default CUBIC recovery, a connection whose probe timeouts
/// fired spuriously (a loopback round trip of 250 ms on a starved machine) now and then
/// counted bytes in flight with no timer left to clear them and stopped sending for
/// good (1 to 2 runs in 50 of the multiplexing test on 2 loaded cores; none in 75 with
/// BBRv2).
fn transport_config(tls: SslContextBuilder) -> io::Result<quiche::Config> {
    let mut config =
        quiche::Config::with_boring_ssl_ctx_builder(quiche::PROTOCOL_VERSION, tls).map_err(io::Error::other)?;
    config.set_application_protos(h3::APPLICATION_PROTOCOL).map_err(io::Error::other)?;
    config.set_max_idle_timeout(IDLE_TIMEOUT.as_millis() as u64);
    config.set_max_recv_udp_payload_size(65_527);
    config.set_max_send_udp_payload_size(MAX_DATAGRAM);
    config.set_initial_max_data(16 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_bidi_local(4 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_bidi_remote(4 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_uni(STREAM_BUFFER as u64);
    config.set_initial_max_streams_bidi(MAX_STREAMS);
    config.set_initial_max_streams_uni(16);
    config.set_disable_active_migration(true);
    config.set_cc_algorithm(quiche::CongestionControlAlgorithm::Bbr2Gcongestion);
    Ok(config)
}

fn random_id() -> io::Result<[u8; quiche::MAX_CONN_ID_LEN]> {
    let mut id = [0; quiche::MAX_CONN_ID_LEN];
    SystemRandom::new().fill(&mut id).map_err(|_| io::Error::other("no randomness"))?;
    Ok(id)
}

/// A server's part of an endpoint.
struct Listening {
    config: quiche::Config,
    /// Makes a connection's id from the id the client chose, so that all its Initial
    /// packets find the connection (no state kept per unknown id).
    cid_key: hmac::Key,
    accepted: mpsc::Sender<Request>,
}

/// One UDP socket's QUIC connections (a client's one, or a server's many) and their
/// task.
struct Endpoint {
    socket: UdpSocket,
    local: SocketAddr,
    /// By the connection id we gave (a server also finds one by its client's original
    /// id, through `Listening::cid_key`).
    conns: HashMap<Vec<u8>, Conn>,
    server: Option<Listening>,
    h3_config: h3::Config,
    notify: Arc<Notify>,
}

/// One QUIC connection and its HTTP/3 streams.
struct Conn {
    quic: quiche::Connection,
    h3: Option<h3::Connection>,
    streams: HashMap<u64, Arc<Shared>>,
    /// A client's requests not yet sent (HTTP/3 not up, or no stream credit).
    queued: VecDeque<Open>,
    /// A client's requests sent, awaiting their response.
    awaiting: HashMap<u64, oneshot::Sender<io::Result<Response>>>,
    /// A client's connect, told once the server's settings came.
    ready: Option<oneshot::Sender<io::Result<()>>>,
    /// To service on the next turn: a packet came, a timer fired, a request was queued.
    due: bool,
    /// Set by its streams when they have something to send or room to receive.
    woken: Arc<AtomicBool>,
}

impl Conn {
    fn new(quic: quiche::Connection) -> Self {
        Self {
            quic,
            h3: None,
            streams: HashMap::new(),
            queued: VecDeque::new(),
            awaiting: HashMap::new(),
            ready: None,
            due: true,
            woken: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Why the connection ended, for the streams and requests it leaves.
    fn end_reason(&self) -> String {
        match (self.quic.peer_error(), self.quic.local_error()) {
            (Some(e), _) => format!(
                "the peer closed the HTTP/3 connection ({:#x}: {})",
                e.error_code,
                String::from_utf8_lossy(&e.reason)
            ),
            (None, Some(e)) => {
                format!("the HTTP/3 connection failed ({:#x}: {})", e.error_code, String::from_utf8_lossy(&e.reason))
            }
            _ if self.quic.is_timed_out() => "the HTTP/3 connection timed out".to_owned(),
            _ => "the HTTP/3 connection is closed".to_owned(),
        }
    }

    /// Fails everything the connection still holds; it is closed.
    fn fail_all(&mut self) {
        let why = self.end_reason();
        for shared in self.streams.values() {
            shared.lock().fail(io::ErrorKind::ConnectionAborted, why.clone());
        }
        self.streams.clear();
        let error = || io::Error::new(io::ErrorKind::ConnectionAborted, why.clone());
        for open in self.queued.drain(..) {
            let _ = open.reply.send(Err(error()));
        }
        for (_, reply) in self.awaiting.drain() {
            let _ = reply.send(Err(error()));
        }
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(error()));
        }
    }
}

impl Endpoint {
    fn new(socket: UdpSocket, local: SocketAddr, server: Option<Listening>) -> io::Result<Self> {
        let mut h3_config = h3::Config::new().map_err(io::Error::other)?;
        h3_config.enable_extended_connect(true);
        h3_config.set_max_field_section_size(16 * 1024);
        Ok(Self { socket, local, conns: HashMap::new(), server, h3_config, notify: Arc::new(Notify::new()) })
    }

    /// The endpoint's loop: packets in, timers, streams' and requests' wake-ups; then
    /// the connections they concern serviced and their packets sent. A client's ends
    /// with its connection; a server's when its socket fails or nobody accepts.
    async fn run(mut self, mut opens: Option<mpsc::UnboundedReceiver<Open>>) {
        let mut buf = vec![0; 65_535];
        let mut out = vec![0; MAX_DATAGRAM];
        loop {
            let client_gone = self.server.is_none() && opens.is_none();
            let accepted = self.server.as_ref().map(|s| s.accepted.clone());
            for conn in self.conns.values_mut() {
                // `|`, not `||`: both flags are taken.
                if !(std::mem::take(&mut conn.due) | conn.woken.swap(false, Ordering::AcqRel) | client_gone) {
                    continue;
                }
                service(conn, &self.h3_config, accepted.as_ref(), &self.notify);
                if client_gone && conn.streams.is_empty() && conn.awaiting.is_empty() && !conn.quic.is_closed() {
                    let _ = conn.quic.close(true, H3_NO_ERROR, b"");
                }
                flush(conn, &self.socket, &mut out).await;
            }
            self.conns.retain(|_, conn| {
                if conn.quic.is_closed() {
                    conn.fail_all();
                }
                !conn.quic.is_closed()
            });
            if self.server.is_none() && self.conns.is_empty() {
                break;
            }
            if self.server.as_ref().is_some_and(|s| s.accepted.is_closed()) {
                break;
            }
            let timeout = self.conns.values().filter_map(|c| c.quic.timeout()).min();
            let sleep = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(3600)));
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        self.receive(&mut buf[..n], from, &mut out).await;
                        // Whatever else came meanwhile, before servicing.
                        while let Ok((n, from)) = self.socket.try_recv_from(&mut buf) {
                            self.receive(&mut buf[..n], from, &mut out).await;
                        }
                    }
                    // An earlier datagram's ICMP error, reported here: that peer's loss.
                    Err(e) if about_a_datagram(&e) => {}
                    Err(_) => break,
                },
                () = sleep, if timeout.is_some() => {
                    for conn in self.conns.values_mut().filter(|c| c.quic.timeout().is_some_and(|t| t.is_zero())) {
                        conn.quic.on_timeout();
                        conn.due = true;
                    }
                }
                () = self.notify.notified() => {}
                open = async { opens.as_mut()?.recv().await }, if opens.is_some() => match open {
                    // A client's endpoint has its one connection.
                    Some(open) => match self.conns.values_mut().next() {
                        Some(conn) => {
                            conn.queued.push_back(open);
                            conn.due = true;
                        }
                        None => { let _ = open.reply.send(Err(gone())); }
                    },
                    None => opens = None,
                },
            }
        }
        for conn in self.conns.values_mut() {
            conn.fail_all();
        }
    }

    /// One datagram: to its connection, or a new one (server).
    async fn receive(&mut self, packet: &mut [u8], from: SocketAddr, out: &mut [u8]) {
        let Ok(header) = quiche::Header::from_slice(packet, quiche::MAX_CONN_ID_LEN) else { return };
        let info = quiche::RecvInfo { from, to: self.local };
        let mut id = header.dcid.to_vec();
        if !self.conns.contains_key(&id) {
            let Some(server) = &mut self.server else { return };
            let derived = hmac::sign(&server.cid_key, &header.dcid);
            id = derived.as_ref()[..quiche::MAX_CONN_ID_LEN].to_vec();
            if !self.conns.contains_key(&id) {
                if header.ty != quiche::Type::Initial || self.conns.len() >= MAX_CONNECTIONS {
                    return;
                }
                if !quiche::version_is_supported(header.version) {
                    if let Ok(n) = quiche::negotiate_version(&header.scid, &header.dcid, out) {
                        let _ = self.socket.send_to(&out[..n], from).await;
                    }
                    return;
                }
                let scid = ConnectionId::from_ref(&id);
                let Ok(quic) = quiche::accept(&scid, None, self.local, from, &mut server.config) else { return };
                self.conns.insert(id.clone(), Conn::new(quic));
            }
        }
        if let Some(conn) = self.conns.get_mut(&id) {
            let _ = conn.quic.recv(packet, info);
            conn.due = true;
        }
    }
}

/// Sends what QUIC has to send.
/// A datagram that cannot be sent is lost, as on the network: QUIC sends it again, and
/// ends the connection at its idle timeout if nothing gets through. (On a server's
/// socket, the error may even be about another peer's earlier datagram.)
async fn flush(conn: &mut Conn, socket: &UdpSocket, out: &mut [u8]) {
    while let Ok((n, info)) = conn.quic.send(out) {
        let _ = socket.send_to(&out[..n], info.to).await;
    }
}

/// Errors a UDP socket reports for one datagram (ICMP unreachable, mostly), not for the
/// socket.
fn about_a_datagram(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable | Interrupted)
}

/// Moves a connection along: HTTP/3 set up once QUIC is, its events handled, requests
/// sent, every stream's bytes moved both ways.
fn service(conn: &mut Conn, h3_config: &h3::Config, accepted: Option<&mpsc::Sender<Request>>, notify: &Arc<Notify>) {
    if conn.h3.is_none() && (conn.quic.is_established() || conn.quic.is_in_early_data()) {
        match h3::Connection::with_transport(&mut conn.quic, h3_config) {
            Ok(h3) => conn.h3 = Some(h3),
            Err(_) => return,
        }
    }
    let Some(h3) = conn.h3.as_mut() else { return };
    let woken = conn.woken.clone();
    loop {
        match h3.poll(&mut conn.quic) {
            Ok((id, h3::Event::Headers { list, .. })) => {
                if let Some(reply) = conn.awaiting.remove(&id) {
                    let status = list
                        .iter()
                        .find(|f| f.name() == b":status")
                        .and_then(|f| std::str::from_utf8(f.value()).ok()?.parse::<u16>().ok());
                    match status {
                        // An interim response: the final one follows.
                        Some(100..=199) => {
                            conn.awaiting.insert(id, reply);
                        }
                        Some(status) => {
                            let shared = Shared::new(notify, &woken);
                            conn.streams.insert(id, shared.clone());
                            let fields = list.into_iter().filter(|f| f.name() != b":status").collect();
                            let _ = reply.send(Ok(Response { status, fields, stream: Stream { shared } }));
                        }
                        None => {
                            let _ = conn.quic.stream_shutdown(id, Shutdown::Read, H3_REQUEST_CANCELLED);
                            let _ = conn.quic.stream_shutdown(id, Shutdown::Write, H3_REQUEST_CANCELLED);
                            let _ = reply
                                .send(Err(io::Error::new(io::ErrorKind::InvalidData, "a response without :status")));
                        }
                    }
                } else if let Some(accepted) = accepted.filter(|_| !conn.streams.contains_key(&id)) {
                    let shared = Shared::new(notify, &woken);
                    let request = Request { fields: list, stream: Stream { shared: shared.clone() } };
                    if accepted.try_send(request).is_ok() {
                        conn.streams.insert(id, shared);
                    } else {
                        // The application is not keeping up: refuse the stream.
                        let _ = conn.quic.stream_shutdown(id, Shutdown::Read, H3_REQUEST_REJECTED);
                        let _ = conn.quic.stream_shutdown(id, Shutdown::Write, H3_REQUEST_REJECTED);
                    }
                }
            }
            Ok((id, h3::Event::Data)) => {
                if let Some(shared) = conn.streams.get(&id) {
                    shared.lock().unread = true;
                }
            }
            Ok((id, h3::Event::Finished)) => {
                if let Some(shared) = conn.streams.get(&id) {
                    let mut s = shared.lock();
                    s.eof = true;
                    s.wake();
                }
            }
            Ok((id, h3::Event::Reset(code))) => {
                if let Some(shared) = conn.streams.get(&id) {
                    shared
                        .lock()
                        .fail(io::ErrorKind::ConnectionReset, format!("the peer reset the stream ({code:#x})"));
                }
                if let Some(reply) = conn.awaiting.remove(&id) {
                    let _ = reply.send(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        format!("the server reset the request ({code:#x})"),
                    )));
                }
            }
            Ok((_, h3::Event::GoAway)) => {
                for open in conn.queued.drain(..) {
                    let _ = open
                        .reply
                        .send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the server is going away")));
                }
            }
            Ok((_, h3::Event::PriorityUpdate)) => {}
            Err(h3::Error::Done) => break,
            // quiche closed the connection: what the streams hold fails with it.
            Err(_) => break,
        }
    }
    if conn.h3.as_ref().is_some_and(|h3| h3.peer_settings_raw().is_some()) {
        if let Some(ready) = conn.ready.take() {
            let _ = ready.send(Ok(()));
        }
        send_requests(conn);
    }
    let Some(h3) = conn.h3.as_mut() else { return };
    conn.streams.retain(|&id, shared| move_bytes(h3, &mut conn.quic, id, &mut shared.lock()));
}

/// Sends a client's queued requests, as stream credit allows. RFC 9220 §3 sends an
/// extended CONNECT only to a server whose settings enabled it; the engine's requests
/// all are one.
fn send_requests(conn: &mut Conn) {
    let Some(h3) = conn.h3.as_mut() else { return };
    while let Some(open) = conn.queued.pop_front() {
        if !h3.extended_connect_enabled_by_peer() {
            let _ = open.reply.send(Err(io::Error::other("the server did not enable extended CONNECT (RFC 9220)")));
            continue;
        }
        match h3.send_request(&mut conn.quic, &open.fields, false) {
            Ok(id) => {
                conn.awaiting.insert(id, open.reply);
            }
            Err(h3::Error::StreamBlocked | h3::Error::TransportError(quiche::Error::StreamLimit)) => {
                conn.queued.push_front(open);
                return;
            }
            Err(e) => {
                let _ = open.reply.send(Err(io::Error::other(format!("the request was not sent: {e}"))));
            }
        }
    }
}

/// One stream's bytes: received into its buffer as room allows, its head and written
/// bytes to QUIC as credit allows, its FIN. A dropped stream is cancelled, but for a
/// response still to send in full ([`Request::respond_with`]). False once the stream is
/// done with.
fn move_bytes(h3: &mut h3::Connection, quic: &mut quiche::Connection, id: u64, s: &mut StreamState) -> bool {
    if s.dropped {
        // Nobody reads any more: the peer may stop sending (no error once we ended ours).
        let code = if s.finished || s.finish { H3_NO_ERROR } else { H3_REQUEST_CANCELLED };
        if !s.eof {
            let _ = quic.stream_shutdown(id, Shutdown::Read, code);
            s.eof = true;
        }
        if !(s.finish && !s.finished && s.failed.is_none()) {
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
