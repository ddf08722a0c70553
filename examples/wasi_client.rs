//! A WebSocket client in a WASI component: it opens a TCP connection with wasi:sockets
//! (through Rust's std on wasm32-wasip2), speaks WebSocket through the engine, sends a few
//! messages to an echo server and prints what comes back. Natively it does the same
//! over the OS's sockets.
//!
//! ```sh
//! cargo build --release --example wasi_client --target wasm32-wasip2
//! # run the .wasm in a WASI host that allows loopback TCP, against echo_server
//! cargo run --release --example wasi_client -- ws://127.0.0.1:9002/
//! ```

mod common;

use std::io;

use common::Session;
use wsengine::Event;

fn main() -> io::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/".to_owned());
    let mut session = Session::connect(&url, common::options())?;
    session.run_until(|e| matches!(e, Event::Open { .. }))?;
    let messages: [(bool, &[u8]); 3] =
        [(true, "hello from wasi ✓".as_bytes()), (false, &[0, 1, 2, 254, 255]), (true, &[b'x'; 70_000])];
    for (text, payload) in messages {
        let sent = if text {
            session.conn.send_text(payload.to_vec(), true)
        } else {
            session.conn.send_binary(payload.to_vec(), true)
        };
        sent.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut echoed = Vec::new();
        let mut echoed_text = None;
        session.run_until(|e| match e {
            Event::Message { text, data, fin } => {
                echoed.extend_from_slice(data);
                echoed_text = Some(*text);
                *fin
            }
            _ => false,
        })?;
        let kind = if text { "text" } else { "binary" };
        let same = echoed == payload;
        if text && echoed.len() < 100 {
            println!(
                "{kind} echoed: {:?} ({})",
                String::from_utf8_lossy(&echoed),
                if same { "same" } else { "DIFFERENT" }
            );
        } else {
            println!("{kind} echoed: {} bytes ({})", echoed.len(), if same { "same" } else { "DIFFERENT" });
        }
        if !same || echoed_text != Some(text) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the echo differs from what was sent"));
        }
    }
    session.close()?;
    println!("closed cleanly");
    Ok(())
}
