//! A multi-connection echo server on tokio: a task per connection, every message back
//! with its type; `chat.v2` chosen when offered; permessage-deflate accepted when built
//! with the `deflate` feature. The Autobahn TestSuite's server under test in mode
//! `tokio`, and the server of the load test.
//!
//! ```sh
//! cargo run -p wsengine-tokio --release --features deflate --example tokio_echo_server -- 127.0.0.1:9002
//! ```

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use wsengine_tokio::wsengine::Property;
use wsengine_tokio::{Message, Options, WebSocketStream};

fn options() -> Options {
    Options {
        subprotocols: vec!["chat.v2".to_owned()],
        properties: vec![Property::ReceiveBufferSize(16 * 1024)],
        #[cfg(feature = "deflate")]
        deflate: Some(wsengine_tokio::wsengine::DeflateOptions { threshold: 0, ..Default::default() }),
        ..Options::default()
    }
}

async fn serve(tcp: tokio::net::TcpStream) -> Result<(), wsengine_tokio::Error> {
    tcp.set_nodelay(true)?;
    let mut ws = WebSocketStream::accept_with(tcp, options()).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        // Pings, pongs and closes are the engine's to answer.
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo_server (tokio) listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(tcp).await {
                eprintln!("connection failed: {e}");
            }
        });
    }
}
