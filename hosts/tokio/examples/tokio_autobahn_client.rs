//! The Autobahn TestSuite's client loop (for `wstest -m fuzzingserver`) on
//! wsengine-tokio: asks for the number of cases, runs each one as an echo client, then
//! asks for the reports. Built with the `deflate` feature it offers permessage-deflate
//! and compresses every message.
//!
//! ```sh
//! cargo run -p wsengine-tokio --release --features deflate --example tokio_autobahn_client -- ws://127.0.0.1:9001 wsengine-tokio
//! ```

use futures_util::{SinkExt, StreamExt};
use wsengine_tokio::wsengine::Property;
use wsengine_tokio::{Error, Message, Options};

fn options() -> Options {
    Options {
        properties: vec![Property::ReceiveBufferSize(16 * 1024)],
        #[cfg(feature = "deflate")]
        deflate: Some(wsengine_tokio::wsengine::DeflateOptions { threshold: 0, ..Default::default() }),
        ..Options::default()
    }
}

/// Runs one connection to its end, echoing text and binary messages; returns the
/// text received.
async fn run(url: &str) -> Result<String, Error> {
    let mut ws = wsengine_tokio::connect_with(url, options()).await?;
    let mut text = String::new();
    while let Some(message) = ws.next().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if let Message::Text(t) = &m {
                    text.push_str(t);
                }
                ws.send(m).await?;
            }
            Ok(_) => {}
            // The engine failed the connection (the case expects that of it) and
            // closes it; the stream ends next.
            Err(Error::WebSocket(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(text)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "wsengine-tokio".to_owned());
    let base = base.trim_end_matches('/');
    let count: u32 = run(&format!("{base}/getCaseCount")).await?.trim().parse().unwrap_or(0);
    eprintln!("autobahn_client (tokio): {count} cases");
    for case in 1..=count {
        if let Err(e) = run(&format!("{base}/runCase?case={case}&agent={agent}")).await {
            eprintln!("case {case}: {e}");
        }
    }
    run(&format!("{base}/updateReports?agent={agent}")).await?;
    eprintln!("autobahn_client (tokio): reports updated");
    Ok(())
}
