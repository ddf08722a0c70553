//! WebSockets over HTTP/3 (RFC 9114) by the extended CONNECT of RFC 9220, on Cloudflare's
//! quiche: QUIC and HTTP/3 run sans-IO in one tokio task per endpoint (a UDP socket),
//! and every request stream is handed out as a [`Stream`], an `AsyncRead +
//! AsyncWrite` of its body. The engine knows nothing of QUIC: as over HTTP/2, it makes
//! and checks the extended CONNECT ([`Connection::client_connect`],
//! [`Connection::accept_connect`]) and frames the WebSocket on the stream
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

mod endpoint;
mod stream;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use boring::pkey::PKey;
use boring::ssl::{SslContextBuilder, SslMethod, SslVerifyMode};
use boring::x509::X509;
use boring::x509::store::X509StoreBuilder;
use quiche::ConnectionId;
use quiche::h3::{self, NameValue};
use ring::hmac;
use ring::rand::SystemRandom;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use wsengine_tokio::wsengine::{ClientRequest, Connection, HttpHeader, Refusal};
use wsengine_tokio::{Options, WebSocketStream};

use endpoint::{Endpoint, Listening, enlarge_buffers, random_id, transport_config};
pub use stream::Stream;

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
/// [`Server::retry_from`]'s default: a quarter of [`MAX_CONNECTIONS`].
const RETRY_FROM: usize = MAX_CONNECTIONS / 4;
/// The largest UDP payload sent (fits loopback and any Internet path QUIC allows).
const MAX_DATAGRAM: usize = 1350;
/// The UDP socket buffers asked for, each way.
const SOCKET_BUFFER: usize = 4 << 20;
/// HTTP/3 error codes (RFC 9114 §8.1).
const H3_NO_ERROR: u64 = 0x100;
const H3_REQUEST_REJECTED: u64 = 0x10b;
const H3_REQUEST_CANCELLED: u64 = 0x10c;

/// A request a [`Server`] received: its header fields (pseudo-header fields first) and
/// its stream, to answer with [`respond`](Self::respond).
pub struct Request {
    fields: Vec<h3::Header>,
    stream: Stream,
}

impl Request {
    /// The request's header fields as the engine takes them.
    pub fn fields(&self) -> Vec<HttpHeader<'_>> {
        engine_fields(&self.fields)
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

/// Received fields as the engine takes them (borrowed, no copy of their bytes).
fn engine_fields(fields: &[h3::Header]) -> Vec<HttpHeader<'_>> {
    fields.iter().map(|f| HttpHeader::new(f.name(), f.value())).collect()
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
            let refusal = Refusal::connect(&e);
            request.respond_with(refusal.status, &refusal.headers, refusal.body.as_bytes());
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
        engine_fields(&self.fields)
    }
}

/// An HTTP/3 client connection: one QUIC connection to a server, driven by a task of its
/// own; requests (WebSockets) on it are multiplexed, each on a stream. Clones share the
/// connection, which is closed once every clone and every stream are dropped.
#[derive(Clone)]
pub struct Client {
    opens: mpsc::UnboundedSender<Open>,
}

/// A request for the endpoint's task to send (client).
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
        // The system's certificates shared, not parsed again.
        let mut store = X509StoreBuilder::new().map_err(io::Error::other)?;
        for cert in system_roots() {
            store.add_cert(cert).map_err(io::Error::other)?;
        }
        for root in roots {
            store.add_cert(X509::from_der(root).map_err(io::Error::other)?).map_err(io::Error::other)?;
        }
        tls.set_cert_store_builder(store);
        tls.set_verify(SslVerifyMode::PEER);
        let mut config = transport_config(tls)?;
        let scid = random_id()?;
        let quic = quiche::connect(Some(server_name), &ConnectionId::from_ref(&scid), local, peer, &mut config)
            .map_err(io::Error::other)?;
        let (opens, queue) = mpsc::unbounded_channel();
        let (ready, established) = oneshot::channel();
        let mut endpoint = Endpoint::new(socket, local, None)?;
        endpoint.add(scid.to_vec(), quic).ready = Some(ready);
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

/// The system's root certificates (`rustls-native-certs` finds them), read once per
/// process and shared by every connection: a store of references, not parsed certificates
/// (reading the system's bundle for each connection took about a megabyte per client). A
/// certificate that does not parse is left out.
fn system_roots() -> &'static [X509] {
    static ROOTS: OnceLock<Vec<X509>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        found.certs.iter().filter_map(|der| X509::from_der(der).ok()).collect()
    })
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "the HTTP/3 connection is closed")
}

/// An HTTP/3 server on a UDP socket, driven by a task of its own: [`accept`](Self::accept)
/// gives the requests of every connection.
pub struct Server {
    requests: mpsc::Receiver<Request>,
    retry_from: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
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
        let rng = SystemRandom::new();
        let key = || hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| io::Error::other("no randomness"));
        let local = socket.local_addr()?;
        let (accepted, requests) = mpsc::channel(MAX_STREAMS as usize);
        let (retry_from, held) = (Arc::new(AtomicUsize::new(RETRY_FROM)), Arc::default());
        let server = Listening {
            config,
            cid_key: key()?,
            token_key: key()?,
            retry_from: Arc::clone(&retry_from),
            held: Arc::clone(&held),
            accepted,
        };
        tokio::spawn(Endpoint::new(socket, local, Some(server))?.run(None));
        Ok(Self { requests, retry_from, held })
    }

    /// Has new clients prove their address with a QUIC Retry (RFC 9000 §8.1), one more
    /// round trip, before the server keeps any state for them, once it holds
    /// `connections` connections: 0, always; by default 1024, a quarter of the 4096 it
    /// holds at most. Without it, a flood of Initial packets from forged addresses would
    /// take every place until their handshakes time out (30 s); with it, they take
    /// nothing, as no forged address answers a Retry.
    pub fn retry_from(&self, connections: usize) {
        self.retry_from.store(connections, Ordering::Relaxed);
    }

    /// The QUIC connections the server holds, handshakes under way included.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// The next request, from any connection; `None` once the endpoint's task ended (its
    /// socket failed).
    pub async fn accept(&mut self) -> Option<Request> {
        self.requests.recv().await
    }
}
