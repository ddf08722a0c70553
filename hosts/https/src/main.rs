//! `wsengine-https 127.0.0.1:0`: an example WebSocket server on loopback. One TCP port
//! serves HTTP/1.1 and HTTP/2 over TLS (ALPN `h2`, `http/1.1`), and the UDP port of the
//! same number HTTP/3 (QUIC, ALPN `h3`). `/echo` takes a WebSocket by an HTTP/1.1
//! upgrade, an HTTP/2 extended CONNECT (RFC 8441, hyper's HTTP/2 with the connect
//! protocol enabled) or an HTTP/3 one (RFC 9220, [`wsengine_https::h3`] on quiche) and
//! echoes every message through the engine (subprotocol `chat.v2` when offered,
//! permessage-deflate when offered). `/stats` counts the WebSockets taken over each HTTP
//! version; `/` is a page to open first, so that a browser has an HTTP/2 connection to
//! carry its WebSockets.
//!
//! Its certificate is self-signed (`localhost`, `127.0.0.1`, `::1`), made at start. The
//! first line on stdout is `{"port":PORT,"spki":"...","cert":"..."}`: the base64 SHA-256
//! of the key's SubjectPublicKeyInfo (Chromium's `--ignore-certificate-errors-spki-list`)
//! and the certificate's DER in base64 (a client's trust root).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{Html, Response};
use axum::routing::{any, get};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::{SinkExt, StreamExt};
use hyper::Version;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::PublicKeyData;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;
use wsengine_https::h3;
use wsengine_tokio::wsengine::DeflateOptions;
use wsengine_tokio::wsengine::HttpHeader;
use wsengine_tokio::{Message, Options, WebSocketStream};

/// The WebSockets taken, by HTTP version.
#[derive(Default)]
struct Stats {
    http1: AtomicU64,
    http2: AtomicU64,
    http3: AtomicU64,
}

impl Stats {
    /// `/stats`: `{"http1":N,"http2":N,"http3":N}`.
    fn json(&self) -> String {
        let [http1, http2, http3] = [&self.http1, &self.http2, &self.http3].map(|n| n.load(Ordering::Relaxed));
        format!("{{\"http1\":{http1},\"http2\":{http2},\"http3\":{http3}}}")
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let addr: SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into()).parse()?;
    if !addr.ip().is_loopback() {
        bail!("loopback only, not {}", addr.ip());
    }
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let spki = BASE64.encode(Sha256::digest(certified.signing_key.subject_public_key_info()));
    let cert = certified.cert.der().clone();
    let key_der = certified.signing_key.serialize_der();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .context("the self-signed certificate")?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));

    let (listener, udp) = bind(addr).await?;
    let port = listener.local_addr()?.port();
    let stats = Arc::new(Stats::default());
    let h3 = h3::Server::bind(udp, &[&cert], &key_der)?;
    tokio::spawn(serve_h3(h3, stats.clone()));
    println!("{{\"port\":{port},\"spki\":\"{spki}\",\"cert\":\"{}\"}}", BASE64.encode(&cert));

    let app = Router::new()
        // GET for HTTP/1.1 upgrades, CONNECT for HTTP/2's.
        .route("/echo", any(websocket))
        .route("/stats", get(|State(stats): State<Arc<Stats>>| async move { stats.json() }))
        .route("/", get(|| async { Html("<!doctype html><title>wsengine-https</title><p>wsengine over TLS") }))
        .with_state(stats);
    loop {
        let (tcp, _) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let mut http = auto::Builder::new(TokioExecutor::new());
            http.http2().enable_connect_protocol();
            let _ = http.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(app)).await;
        });
    }
}

/// A TCP listener and a UDP socket on the same port: `addr`'s, or (port 0) one free for
/// both.
async fn bind(addr: SocketAddr) -> Result<(TcpListener, UdpSocket)> {
    for _ in 0..16 {
        let listener = TcpListener::bind(addr).await?;
        let same = SocketAddr::new(addr.ip(), listener.local_addr()?.port());
        match UdpSocket::bind(same).await {
            Ok(udp) => return Ok((listener, udp)),
            Err(e) if addr.port() != 0 => return Err(e.into()),
            Err(_) => {}
        }
    }
    bail!("no port free for both TCP and UDP on {}", addr.ip())
}

/// HTTP/3: `/echo` takes a WebSocket by an extended CONNECT (RFC 9220), `/stats` as over
/// TCP.
async fn serve_h3(mut server: h3::Server, stats: Arc<Stats>) {
    while let Some(request) = server.accept().await {
        match request.field(":path") {
            Some(b"/echo") => {
                if let Ok(ws) = h3::accept_websocket(request, options()) {
                    stats.http3.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(echo(ws));
                }
            }
            Some(b"/stats") => {
                let json = [HttpHeader::new("content-type", "application/json")];
                request.respond_with(200, &json, stats.json().as_bytes());
            }
            _ => request.respond_with(404, &[], b"not found"),
        }
    }
}

fn options() -> Options {
    Options { subprotocols: vec!["chat.v2".to_owned()], deflate: Some(DeflateOptions::default()), ..Options::default() }
}

/// `/echo`: the engine checks the upgrade (HTTP/1.1) or the extended CONNECT (HTTP/2)
/// and makes the response; the WebSocket echoes in a task of its own.
async fn websocket(State(stats): State<Arc<Stats>>, mut request: Request) -> Response {
    let version = request.version();
    match wsengine_tokio::upgrade(&mut request, options()) {
        Ok((response, upgrade)) => {
            let counter = if version == Version::HTTP_2 { &stats.http2 } else { &stats.http1 };
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                if let Ok(ws) = upgrade.await {
                    echo(ws).await;
                }
            });
            response
        }
        Err(refusal) => refusal,
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    while let Some(Ok(message)) = ws.next().await {
        if matches!(message, Message::Text(_) | Message::Binary(_)) && ws.send(message).await.is_err() {
            return;
        }
    }
}
