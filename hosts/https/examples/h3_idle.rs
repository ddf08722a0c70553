//! How an HTTP/3 server's idle connections weigh on its busy ones: one WebSocket echoes
//! small messages over HTTP/3 while more and more other QUIC connections sit idle on
//! the same server (all in this process, on loopback). Prints a markdown table; the
//! numbers are in bench/README.md.
//!
//!     cargo run --release -p wsengine-https --example h3_idle -- [ROUND_TRIPS] [IDLE...]
//!
//! (defaults: 2000 round trips at 0, 1000, 2000 and 3000 idle connections, at most 4096.
//! The idle connections send nothing, so they close at QUIC's 30-second idle timeout: the
//! example stops with an error rather than measure a row past 25 seconds.)

use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use futures_util::{SinkExt, StreamExt};
use tokio::net::UdpSocket;
use wsengine_https::h3;
use wsengine_tokio::{Message, Options, WebSocketStream};

/// Under the server's QUIC idle timeout (30 s), with a margin.
const IDLE_TIMEOUT: Duration = Duration::from_secs(25);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let round_trips = args.first().copied().unwrap_or(2000);
    let idle = if args.len() > 1 { args[1..].to_vec() } else { vec![0, 1000, 2000, 3000] };

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let (der, key) = (cert.cert.der().to_vec(), cert.signing_key.serialize_der());
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let addr = socket.local_addr()?;
    let mut server = h3::Server::bind(socket, &[&der], &key)?;
    tokio::spawn(async move {
        while let Some(request) = server.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = h3::accept_websocket(request, Options::default()) else { return };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() || ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });

    let client = h3::Client::connect(addr, "localhost", &[&der]).await?;
    let mut ws =
        h3::connect_websocket(&client, &format!("wss://localhost:{}/", addr.port()), Options::default()).await?;
    let mut idlers = Vec::new();
    let began = Instant::now();
    println!("| idle QUIC connections | round trips | round trips/s | µs each |\n|---:|---:|---:|---:|");
    for target in idle {
        while idlers.len() < target {
            // Opened 100 at a time, the WebSocket kept busy in between: nothing may idle
            // out meanwhile.
            let batch = (target - idlers.len()).min(100);
            let roots: &[&[u8]] = &[&der];
            let connects = (0..batch).map(|_| h3::Client::connect(addr, "localhost", roots));
            idlers.extend(try_join_all(connects).await?);
            round_trip(&mut ws, 0).await?;
        }
        if began.elapsed() > IDLE_TIMEOUT {
            anyhow::bail!("{IDLE_TIMEOUT:?} passed: the first idle connections may be closing; ask for fewer");
        }
        let start = Instant::now();
        for i in 0..round_trips {
            round_trip(&mut ws, i as u8).await?;
        }
        let took = start.elapsed();
        println!(
            "| {} | {round_trips} | {:.0} | {:.0} |",
            idlers.len(),
            round_trips as f64 / took.as_secs_f64(),
            took.as_micros() as f64 / round_trips as f64
        );
    }
    ws.close().await?;
    Ok(())
}

/// 16 bytes out and back.
async fn round_trip(ws: &mut WebSocketStream<h3::Stream>, byte: u8) -> anyhow::Result<()> {
    ws.send(Message::binary(vec![byte; 16])).await?;
    match ws.next().await {
        Some(Ok(Message::Binary(echo))) if echo[..] == [byte; 16] => Ok(()),
        other => anyhow::bail!("no echo: {other:?}"),
    }
}
