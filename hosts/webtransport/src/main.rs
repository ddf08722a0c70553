//! `wsengine-wt 127.0.0.1:0`: a WebTransport server on loopback whose every bidirectional
//! stream is a WebSocket connection served by the native engine (echo; subprotocol
//! `chat.v2` when offered). Its certificate is self-signed ECDSA P-256, valid for 14 days,
//! as `serverCertificateHashes` requires; the first line on stdout is
//! `{"port":PORT,"certHash":[32 bytes]}` for the page that connects.

use std::net::SocketAddr;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wsengine::{Connection, Event, Millis, Options, Property};
use wtransport::stream::{RecvStream, SendStream};
use wtransport::tls::Sha256DigestFmt;
use wtransport::{Endpoint, Identity, ServerConfig};

#[tokio::main]
async fn main() -> Result<()> {
    let addr: SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into()).parse()?;
    if !addr.ip().is_loopback() {
        bail!("loopback only, not {}", addr.ip());
    }
    let identity = Identity::self_signed_builder()
        .subject_alt_names(["localhost", "127.0.0.1", "::1"])
        .from_now_utc()
        .validity_days(14)
        .build()?;
    let certificate =
        identity.certificate_chain().as_slice().first().context("a self-signed identity has a certificate")?;
    let hash = certificate.hash().fmt(Sha256DigestFmt::BytesArray);
    let config = ServerConfig::builder().with_bind_address(addr).with_identity(identity).build();
    let server = Endpoint::server(config)?;
    println!("{{\"port\":{},\"certHash\":{}}}", server.local_addr()?.port(), hash.replace(' ', ""));
    loop {
        let incoming = server.accept().await;
        tokio::spawn(async move {
            if let Err(e) = session(incoming).await {
                eprintln!("session: {e:#}");
            }
        });
    }
}

/// One WebTransport session: each bidirectional stream is a WebSocket connection.
async fn session(incoming: wtransport::endpoint::IncomingSession) -> Result<()> {
    let connection = incoming.await?.accept().await?;
    loop {
        let (send, recv) = connection.accept_bi().await?;
        tokio::spawn(async move {
            if let Err(e) = websocket(send, recv).await {
                eprintln!("stream: {e:#}");
            }
        });
    }
}

/// One WebSocket connection over one stream, served by the engine's connection layer:
/// read, hand in, echo every message, write out, sleep until the next deadline.
async fn websocket(mut send: SendStream, mut recv: RecvStream) -> Result<()> {
    let start = Instant::now();
    let now = || Millis::try_from(start.elapsed().as_millis()).unwrap_or(Millis::MAX);
    let options = Options {
        properties: vec![Property::ReceiveBufferSize(65536)],
        subprotocols: vec!["chat.v2".to_owned()],
        ..Options::default()
    };
    let mut conn: Connection = Connection::server(now(), options)?;
    let mut chunk = vec![0u8; 65536];
    let mut closed = false;
    loop {
        closed |= echo(&mut conn)?;
        while conn.wants_write() {
            let mut n = 0;
            for part in conn.output().slices() {
                send.write_all(part).await?;
                n += part.len();
            }
            conn.advance(n)?;
            closed |= echo(&mut conn)?;
        }
        if closed {
            send.finish().await.ok();
            return Ok(());
        }
        let wake = conn.poll_timeout().map(|t| Duration::from_millis(t.saturating_sub(now())));
        tokio::select! {
            read = recv.read(&mut chunk) => match read.ok().flatten() {
                Some(n) => conn.feed(&chunk[..n], now())?,
                None => conn.read_eof(),
            },
            () = tokio::time::sleep(wake.unwrap_or(Duration::MAX)), if wake.is_some() => conn.handle_timeout(now()),
        }
    }
}

/// Polls every event, echoing each message piece; true once the connection is over.
fn echo(conn: &mut Connection) -> Result<bool> {
    let mut closed = false;
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Message { .. } => conn.send_received()?,
            Event::Closed { .. } => closed = true,
            _ => {}
        }
    }
    Ok(closed)
}
