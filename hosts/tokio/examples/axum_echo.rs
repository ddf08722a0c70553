//! An echo server on an axum route: `GET /echo` upgrades to a WebSocket through
//! `wsengine_tokio::upgrade`, and every message goes back. Other routes stay plain
//! HTTP.
//!
//! ```sh
//! cargo run -p wsengine-tokio --features hyper,deflate --example axum_echo -- 127.0.0.1:9003
//! ```

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use wsengine_tokio::{Message, Options, WebSocketStream};

fn options() -> Options {
    Options {
        subprotocols: vec!["chat.v2".to_owned()],
        #[cfg(feature = "deflate")]
        deflate: Some(wsengine_tokio::wsengine::DeflateOptions::default()),
        ..Options::default()
    }
}

async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    while let Some(Ok(message)) = ws.next().await {
        if matches!(message, Message::Text(_) | Message::Binary(_)) && ws.send(message).await.is_err() {
            return;
        }
    }
}

async fn upgrade(mut request: Request) -> Response {
    match wsengine_tokio::upgrade(&mut request, options()) {
        Ok((response, upgrade)) => {
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let app = Router::new().route("/echo", get(upgrade)).route("/", get(|| async { "wsengine on axum\n" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("axum_echo listening on ws://{}/echo", listener.local_addr()?);
    axum::serve(listener, app).await
}
