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

use wsengine::{BufferType, Role};

fn main() -> io::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9002/".to_owned());
    let (mut handle, mut stream) = common::connect(&url)?;
    let messages: [(BufferType, &[u8]); 3] = [
        (BufferType::Utf8Message, "hello from wasi ✓".as_bytes()),
        (BufferType::BinaryMessage, &[0, 1, 2, 254, 255]),
        (BufferType::Utf8Message, &[b'x'; 70_000]),
    ];
    for (ty, payload) in messages {
        let mut echoed = Vec::new();
        let mut echoed_type = None;
        common::exchange(&mut handle, &mut stream, ty, payload, |t, piece| {
            echoed.extend_from_slice(piece);
            echoed_type = Some(t);
        })?;
        let same = echoed == payload;
        match ty {
            BufferType::Utf8Message if echoed.len() < 100 => {
                println!(
                    "{ty:?} echoed: {:?} ({})",
                    String::from_utf8_lossy(&echoed),
                    if same { "same" } else { "DIFFERENT" }
                );
            }
            _ => println!("{ty:?} echoed: {} bytes ({})", echoed.len(), if same { "same" } else { "DIFFERENT" }),
        }
        if !same || echoed_type != Some(ty) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the echo differs from what was sent"));
        }
    }
    common::close(&mut handle, &mut stream)?;
    common::finish(&mut stream, Role::Client);
    println!("closed cleanly");
    Ok(())
}
