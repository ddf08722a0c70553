//! The load generator: many WebSocket connections to one echo server on loopback, each
//! sending a message and waiting for its echo in a loop, bounded in time and count.
//! A raw client (its handshake written here, its one message framed once at the start by
//! the workload helper of examples/echo_speed, no WebSocket library on the way), so that
//! every server meets the same peer at the same cost.
//!
//! ```sh
//! load ws://127.0.0.1:9002/ --connections 10000 --seconds 10 --size 32 --pid SERVER_PID
//! ```
//!
//! Phases: connect every connection (500 handshakes at a time); idle for a second, then
//! read the server's resident memory; echo for `--seconds` (or `--messages` per
//! connection); read it again. Prints one line of `key=value` figures: messages per
//! second, latency percentiles (from sending a message to its echo's last byte), and
//! the server's resident memory per connection when idle and under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// `wire`: masked client text frames, as examples/echo_speed builds them.
#[allow(dead_code)]
#[path = "../../../examples/echo_speed/workload.rs"]
mod workload;

struct Args {
    host: String,
    connections: usize,
    seconds: u64,
    messages: u64,
    size: usize,
    /// Milliseconds between one connection's messages (0: the next as soon as the echo is in).
    interval: u64,
    pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        host: String::new(),
        connections: 1000,
        seconds: 10,
        messages: u64::MAX,
        size: 32,
        interval: 0,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--connections" => a.connections = value().parse().unwrap_or(a.connections),
            "--seconds" => a.seconds = value().parse().unwrap_or(a.seconds),
            "--messages" => a.messages = value().parse().unwrap_or(a.messages),
            "--size" => a.size = value().parse().unwrap_or(a.size),
            "--pid" => a.pid = value().parse().ok(),
            "--interval" => a.interval = value().parse().unwrap_or(0),
            url => a.host = url.trim_start_matches("ws://").trim_end_matches('/').to_owned(),
        }
    }
    a
}

/// The server's resident memory (VmRSS), in bytes.
fn rss(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn handshake(host: &str) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(host).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(String::from_utf8_lossy(&head).into_owned()));
    }
    Ok(tcp)
}

/// Echoes until `stop` or `limit` messages; returns the latencies in microseconds.
async fn echo(
    mut tcp: TcpStream,
    frame: Arc<Vec<u8>>,
    limit: u64,
    interval: u64,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Histogram<u64>> {
    let mut latencies = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
    // The echo is the same frame unmasked: four bytes of masking key fewer.
    let mut reply = vec![0u8; frame.len() - 4];
    let mut sent = 0;
    // Paced connections start at spread-out moments, not all at once.
    let mut ticks = (interval > 0).then(|| {
        let first = tokio::time::Instant::now() + Duration::from_micros(fastrand_below(interval * 1000));
        tokio::time::interval_at(first, Duration::from_millis(interval))
    });
    while sent < limit && !stop.load(Ordering::Relaxed) {
        if let Some(t) = ticks.as_mut() {
            t.tick().await;
        }
        let start = Instant::now();
        tcp.write_all(&frame).await?;
        tcp.read_exact(&mut reply).await?;
        if reply[0] != 0x81 {
            return Err(std::io::Error::other(format!("unexpected frame {:02x}", reply[0])));
        }
        let _ = latencies.record(start.elapsed().as_micros() as u64);
        sent += 1;
    }
    // A close, and the server's answer; then the end of the stream.
    let _ = tcp.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    Ok(latencies)
}

/// A number below `n` that differs from call to call (spreading start times needs
/// nothing better).
fn fastrand_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) % n.max(1)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let a = args();
    let base = rss(a.pid);
    let gate = Arc::new(Semaphore::new(500));
    let mut connecting = Vec::with_capacity(a.connections);
    for _ in 0..a.connections {
        let (host, gate) = (a.host.clone(), gate.clone());
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            handshake(&host).await
        }));
    }
    let mut streams = Vec::with_capacity(a.connections);
    for c in connecting {
        streams.push(c.await.map_err(std::io::Error::other)??);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss(a.pid);

    let stop = Arc::new(AtomicBool::new(false));
    let frame = Arc::new(workload::wire(a.size, 1).map_err(std::io::Error::other)?);
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|tcp| tokio::spawn(echo(tcp, frame.clone(), a.messages, a.interval, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let busy = rss(a.pid);
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().min(Duration::from_secs(a.seconds)).as_secs_f64();
    let mut all = Histogram::<u64>::new(3).map_err(std::io::Error::other)?;
    let mut failed = 0;
    for t in tasks {
        match t.await.map_err(std::io::Error::other)? {
            Ok(h) => all.add(&h).map_err(std::io::Error::other)?,
            Err(_) => failed += 1,
        }
    }
    let per = |rss: u64| rss.saturating_sub(base) as f64 / a.connections as f64 / 1024.0;
    println!(
        "connections={} interval_ms={} size={} seconds={:.1} messages={} msg_per_s={:.0} p50_us={} p99_us={} p999_us={} \
         rss_idle_kib_per_conn={:.2} rss_busy_kib_per_conn={:.2} rss_base_mib={:.1} failed={}",
        a.connections,
        a.interval,
        a.size,
        elapsed,
        all.len(),
        all.len() as f64 / elapsed,
        all.value_at_quantile(0.5),
        all.value_at_quantile(0.99),
        all.value_at_quantile(0.999),
        per(idle),
        per(busy),
        base as f64 / 1048576.0,
        failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
