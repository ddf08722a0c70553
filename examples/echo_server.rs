//! An echo server on `std::net`: every message goes back with its type, piece by
//! piece as the engine indicates it, straight from its receive buffer; `chat.v2` is
//! chosen when offered.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9002
//! ```

mod common;

use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let options = wsengine::Options { subprotocols: vec!["chat.v2".to_owned()], ..common::options() };
            let result = common::Session::accept(stream, options).and_then(|mut s| s.run(common::echo));
            if let Err(e) = result {
                eprintln!("connection failed: {e}");
            }
        });
    }
    Ok(())
}
