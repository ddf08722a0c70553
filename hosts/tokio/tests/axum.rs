//! `upgrade` on an axum route, with independent clients: Node's `ws` with
//! permessage-deflate, tokio-tungstenite, and plain HTTP for what is no upgrade.

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;
use wsengine_tokio::wsengine::DeflateOptions;
use wsengine_tokio::{Message, Options};

async fn echo_route(mut request: Request) -> Response {
    let options = Options {
        subprotocols: vec!["chat.v2".into()],
        deflate: Some(DeflateOptions::default()),
        ..Options::default()
    };
    match wsengine_tokio::upgrade(&mut request, options) {
        Ok((response, upgrade)) => {
            tokio::spawn(async move {
                let mut ws = upgrade.await.unwrap();
                while let Some(Ok(m)) = ws.next().await {
                    if matches!(m, Message::Text(_) | Message::Binary(_)) {
                        ws.send(m).await.unwrap();
                    }
                }
            });
            response
        }
        Err(refusal) => refusal,
    }
}

async fn serve() -> u16 {
    let app = Router::new().route("/echo", get(echo_route));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test]
async fn node_ws_negotiates_deflate_and_a_subprotocol_through_axum_and_every_echo_matches() {
    let port = serve().await;
    let url = format!("ws://127.0.0.1:{port}/echo");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_client.mjs");
    let out = tokio::process::Command::new("node").arg(script).arg(&url).output().await.expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(r#""extensions":"permessage-deflate"#), "{stdout}");
    assert!(stdout.contains(r#""protocol":"chat.v2""#), "{stdout}");
}

#[tokio::test]
async fn tungstenite_talks_through_axum_uncompressed() {
    let port = serve().await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/echo")).await.unwrap();
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    for len in [0, 125, 70_000] {
        ws.send(tungstenite::Message::binary(vec![7u8; len])).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap().into_data().len(), len);
    }
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn what_is_no_upgrade_gets_400_or_426_from_the_route() {
    let port = serve().await;
    for (request, status, extra) in [
        ("GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "400", None),
        (
            "GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            "426",
            Some("sec-websocket-version: 13"),
        ),
    ] {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with(&format!("HTTP/1.1 {status} ")), "{response}");
        if let Some(extra) = extra {
            assert!(response.to_ascii_lowercase().contains(extra), "{response}");
        }
    }
}
