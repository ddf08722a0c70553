//! Rust clients against wsengine-https: several WebSockets multiplexed on one HTTP/2
//! connection (`wsengine_tokio::connect_h2`, extended CONNECT), one over an HTTP/1.1
//! upgrade on the same port, several on one HTTP/3 connection (`wsengine_https::h3`, on
//! the UDP port of the same number), and extended CONNECTs the server refuses.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper::{Method, Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use wsengine_https::h3;
use wsengine_tokio::wsengine::{DeflateOptions, HttpHeader};
use wsengine_tokio::{CloseFrame, CloseStatus, Message, Options, WebSocketStream};

/// The server, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    cert: CertificateDer<'static>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsengine-https"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("wsengine-https starts");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let first: serde_json::Value = serde_json::from_str(&line).unwrap();
    let cert = BASE64.decode(first["cert"].as_str().unwrap()).unwrap();
    Server { child, port: first["port"].as_u64().unwrap() as u16, cert: CertificateDer::from(cert) }
}

/// A TLS connection to the server offering `alpn`, trusting its certificate only.
async fn tls(server: &Server, alpn: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let tls =
        TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
    tls
}

/// An HTTP/2 connection over TLS, driven in a task of its own.
async fn h2(server: &Server) -> SendRequest<Empty<Bytes>> {
    let io = TokioIo::new(tls(server, b"h2").await);
    let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
    tokio::spawn(connection);
    sender
}

fn options() -> Options {
    Options {
        subprotocols: vec!["chat.v1".into(), "chat.v2".into()],
        deflate: Some(DeflateOptions::default()),
        ..Options::default()
    }
}

const SIZES: [usize; 7] = [0, 1, 125, 126, 65_535, 65_536, 1 << 20];

/// Text and binary messages of every size through the echo, then a clean close.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>, tag: u8) {
    assert_eq!(ws.connection().subprotocol(), Some("chat.v2"));
    assert!(ws.connection().extensions().is_some_and(|e| e.starts_with("permessage-deflate")));
    for size in SIZES {
        let text: String = "aé€".chars().cycle().take(size).collect();
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31) as u8 ^ tag).collect();
        ws.send(Message::text(text.clone())).await.unwrap();
        ws.send(Message::binary(bytes.clone())).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), text, "text of {size} chars"),
            other => panic!("{other:?}"),
        }
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(b, bytes, "binary of {size} bytes"),
            other => panic!("{other:?}"),
        }
    }
    ws.send(Message::Close(Some(CloseFrame { code: CloseStatus::SUCCESS, reason: "done".into() }))).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseStatus::SUCCESS),
        other => panic!("{other:?}"),
    }
    assert!(ws.next().await.is_none());
}

/// `/stats` over an HTTP/2 connection.
async fn stats(sender: &mut SendRequest<Empty<Bytes>>, port: u16) -> serde_json::Value {
    let request = Request::get(format!("https://localhost:{port}/stats")).version(Version::HTTP_2);
    let response = sender.send_request(request.body(Empty::new()).unwrap()).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_multiplexed_on_one_http2_connection_and_one_over_http1() {
    let server = server();
    let mut sender = h2(&server).await;
    let url = format!("wss://localhost:{}/echo", server.port);
    // Four WebSockets at once, each on its own stream of the one connection.
    let mut tasks = Vec::new();
    for tag in 0..4u8 {
        let (mut sender, url) = (sender.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let ws = wsengine_tokio::connect_h2(&mut sender, &url, options()).await.unwrap();
            exchange(ws, tag).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(stats(&mut sender, server.port).await, serde_json::json!({ "http1": 0, "http2": 4, "http3": 0 }));

    // HTTP/1.1 on the same port: the upgrade, through the same engine.
    let ws = WebSocketStream::client(tls(&server, b"http/1.1").await, &url, options()).await.unwrap();
    exchange(ws, 9).await;
    assert_eq!(stats(&mut sender, server.port).await, serde_json::json!({ "http1": 1, "http2": 4, "http3": 0 }));
}

#[tokio::test]
async fn a_bad_extended_connect_is_refused_with_its_status_and_the_client_fails() {
    let server = server();
    let mut sender = h2(&server).await;
    let url = format!("https://localhost:{}/echo", server.port);
    // Requests no engine client makes, refused by the server's engine.
    let connect = |version: &'static str, key: Option<&'static str>| {
        let mut request = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri(&url)
            .extension(hyper::ext::Protocol::from_static("websocket"))
            .header("sec-websocket-version", version);
        if let Some(key) = key {
            request = request.header("sec-websocket-key", key);
        }
        request.body(Empty::<Bytes>::new()).unwrap()
    };
    let response = sender.send_request(connect("8", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    // A plain-text reason, and no connection-specific field (RFC 9113 §8.2.2).
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(response.headers().get("connection").is_none(), "{:?}", response.headers());
    let response = sender.send_request(connect("13", Some("dGhlIHNhbXBsZSBub25jZQ=="))).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("Sec-WebSocket-Key"), "{body:?}");

    // A path with no WebSocket behind it: the client fails on the status.
    let wrong = format!("wss://localhost:{}/stats", server.port);
    match wsengine_tokio::connect_h2(&mut sender, &wrong, options()).await {
        Err(wsengine_tokio::Error::WebSocket(e)) => {
            assert!(matches!(e, wsengine_tokio::wsengine::Error::UnexpectedStatus(405)), "{e}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// An HTTP/3 connection to the server (UDP, the TCP port's number), trusting its
/// certificate.
async fn h3(server: &Server) -> h3::Client {
    h3::Client::connect(([127, 0, 0, 1], server.port).into(), "localhost", &[server.cert.as_ref()]).await.unwrap()
}

/// A request over HTTP/3 with `fields` after the pseudo-header fields of `method` on
/// `path`, our side ended: the status, the fields and the whole body.
async fn h3_request(
    client: &h3::Client,
    port: u16,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let authority = format!("localhost:{port}");
    let mut request = vec![HttpHeader::new(":method", method)];
    if method == "CONNECT" {
        request.push(HttpHeader::new(":protocol", "websocket"));
    }
    request.extend([
        HttpHeader::new(":scheme", "https"),
        HttpHeader::new(":authority", &authority),
        HttpHeader::new(":path", path),
    ]);
    request.extend(fields.iter().map(|(name, value)| HttpHeader::new(*name, *value)));
    let mut response = client.request(&request).await.unwrap();
    let named = response
        .fields()
        .iter()
        .map(|f| (String::from_utf8_lossy(&f.name).into_owned(), String::from_utf8_lossy(&f.value).into_owned()))
        .collect();
    response.stream.shutdown().await.unwrap();
    let mut body = String::new();
    response.stream.read_to_string(&mut body).await.unwrap();
    (response.status, named, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_multiplexed_on_one_http3_connection() {
    let server = server();
    let client = h3(&server).await;
    let url = format!("wss://localhost:{}/echo", server.port);
    // Four WebSockets at once, each on its own request stream of the one QUIC connection.
    let mut tasks = Vec::new();
    for tag in 0..4u8 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let ws = h3::connect_websocket(&client, &url, options()).await.unwrap();
            exchange(ws, tag).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (status, _, body) = h3_request(&client, server.port, "GET", "/stats", &[]).await;
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats, serde_json::json!({ "http1": 0, "http2": 0, "http3": 4 }));
}

#[tokio::test]
async fn a_bad_extended_connect_over_http3_is_refused_with_its_status_and_the_client_fails() {
    let server = server();
    let client = h3(&server).await;
    let port = server.port;
    let (status, fields, _) = h3_request(&client, port, "CONNECT", "/echo", &[("sec-websocket-version", "8")]).await;
    assert_eq!(status, 426);
    assert!(fields.contains(&("sec-websocket-version".into(), "13".into())), "{fields:?}");
    // A plain-text reason, and no connection-specific field (RFC 9114 §4.2).
    assert!(fields.contains(&("content-type".into(), "text/plain; charset=utf-8".into())), "{fields:?}");
    assert!(fields.iter().all(|(name, _)| name != "connection"), "{fields:?}");
    let key = [("sec-websocket-version", "13"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")];
    let (status, _, body) = h3_request(&client, port, "CONNECT", "/echo", &key).await;
    assert_eq!(status, 400);
    assert!(body.contains("Sec-WebSocket-Key"), "{body}");
    // A GET, no `:protocol`: no extended CONNECT, which the engine refuses.
    let (status, _, body) = h3_request(&client, port, "GET", "/echo", &[("sec-websocket-version", "13")]).await;
    assert_eq!(status, 400, "{body}");

    // A path with no WebSocket behind it: the client fails on the status.
    let wrong = format!("wss://localhost:{port}/nothing");
    match h3::connect_websocket(&client, &wrong, options()).await {
        Err(wsengine_tokio::Error::WebSocket(e)) => {
            assert!(matches!(e, wsengine_tokio::wsengine::Error::UnexpectedStatus(404)), "{e}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The server's certificate is checked: untrusted, or for another name, no connection.
    let addr = ([127, 0, 0, 1], port).into();
    let untrusted = h3::Client::connect(addr, "localhost", &[]).await.err().expect("an untrusted certificate fails");
    assert_eq!(untrusted.kind(), std::io::ErrorKind::ConnectionAborted, "{untrusted}");
    assert!(h3::Client::connect(addr, "example.com", &[server.cert.as_ref()]).await.is_err());

    // Datagrams that are no QUIC (or a long header claiming an unknown version) are
    // dropped or answered with a version negotiation; the server goes on.
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut initial = vec![0xc0, 0x0a, 0x0a, 0x0a, 0x0a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    initial.resize(1200, 0);
    for datagram in [&b""[..], b"\x40", &[0xff; 1500], &initial] {
        junk.send_to(datagram, addr).await.unwrap();
    }
    let mut answer = [0; 1500];
    let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(5), junk.recv_from(&mut answer))
        .await
        .expect("a version negotiation")
        .unwrap();
    assert_eq!(&answer[1..5], &[0, 0, 0, 0], "version 0: a version negotiation packet ({n} bytes)");

    // The connection carried them all and still opens WebSockets.
    let ws = h3::connect_websocket(&client, &format!("wss://localhost:{port}/echo"), options()).await.unwrap();
    exchange(ws, 1).await;
}
