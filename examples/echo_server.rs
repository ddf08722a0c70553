//! An echo server on `std::net`: every message goes back with its type, piece by
//! piece as the engine indicates it, straight from its receive buffer; `chat.v2` is
//! chosen when offered. Built with the `deflate` feature it accepts permessage-deflate;
//! `no-context-takeover` as the second argument asks both ends to empty their windows
//! after every message.
//!
//! ```sh
//! cargo run --release --features deflate --example echo_server -- 127.0.0.1:9002
//! ```

mod common;

use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let no_context_takeover = std::env::args().nth(2).as_deref() == Some("no-context-takeover");
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            #[allow(unused_mut)]
            let mut options = wsengine::Options { subprotocols: vec!["chat.v2".to_owned()], ..common::options() };
            #[cfg(feature = "deflate")]
            if let Some(d) = options.deflate.as_mut() {
                d.server_no_context_takeover = no_context_takeover;
                d.client_no_context_takeover = no_context_takeover;
            }
            let _ = no_context_takeover;
            let result = common::Session::accept(stream, options).and_then(|mut s| s.run(common::echo));
            if let Err(e) = result {
                eprintln!("connection failed: {e}");
            }
        });
    }
    Ok(())
}
