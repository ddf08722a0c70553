//! An echo server on `std::net`: every message goes back with its type, piece by
//! piece as the engine indicates it; `chat.v2` is chosen when offered.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:9002
//! ```

mod common;

use std::net::TcpListener;

use wsengine::Role;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let mut handle = match common::accept(&mut stream, "chat.v2") {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("handshake failed: {e}");
                    return;
                }
            };
            if let Err(e) = common::run(&mut handle, &mut stream, common::echo) {
                eprintln!("connection failed: {e}");
            }
            common::finish(&mut stream, Role::Server);
        });
    }
    Ok(())
}
