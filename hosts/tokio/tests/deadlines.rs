//! Keep-alive and deadlines on tokio's clock, paused so that minutes pass at once: the
//! far end is a raw byte pipe (`tokio::io::duplex`) that says nothing unless told.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use wsengine_tokio::wsengine::{CloseStatus, Deadline};
use wsengine_tokio::{Error, Message, Options, Role, WebSocketStream};

fn options() -> Options {
    Options {
        ping_interval: Some(1_000),
        pong_timeout: Some(500),
        close_timeout: Some(2_000),
        open_timeout: Some(10_000),
        ..Options::default()
    }
}

/// Reads whatever the connection wrote so far.
async fn read_some(peer: &mut DuplexStream) -> Vec<u8> {
    let mut buf = vec![0; 4096];
    let n = peer.read(&mut buf).await.unwrap();
    buf.truncate(n);
    buf
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_ping_goes_out_on_time_and_a_missing_pong_fails_with_1011() {
    let (io, mut peer) = tokio::io::duplex(1 << 16);
    let mut ws = WebSocketStream::from_upgraded(io, Role::Server, options()).unwrap();
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let ping = read_some(&mut peer).await;
        let at = start.elapsed();
        let close = read_some(&mut peer).await;
        (ping, at, close, start.elapsed())
    });
    let failure = ws.next().await.unwrap();
    let Err(Error::WebSocket(e)) = failure else { panic!("{failure:?}") };
    assert_eq!(e.close_status(), Some(CloseStatus::SERVER_ERROR), "{e}");
    let (ping, ping_at, close, close_at) = reader.await.unwrap();
    assert_eq!(ping[0], 0x89, "a server's ping: FIN, opcode 9, unmasked");
    assert_eq!(ping_at, Duration::from_millis(1_000));
    assert_eq!(&close[..4], &[0x88, 2, 0x03, 0xF3], "close 1011");
    assert_eq!(close_at, Duration::from_millis(1_500));
    assert!(ws.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn an_answered_ping_keeps_the_connection_open() {
    let (io, mut peer) = tokio::io::duplex(1 << 16);
    let mut ws = WebSocketStream::from_upgraded(io, Role::Server, options()).unwrap();
    let pinger = tokio::spawn(async move {
        for _ in 0..5 {
            let ping = read_some(&mut peer).await;
            assert_eq!(ping[0], 0x89);
            let len = ping[1] as usize;
            // The masked pong a client sends back (mask 0: the payload as it is).
            let mut pong = vec![0x8A, 0x80 | len as u8, 0, 0, 0, 0];
            pong.extend_from_slice(&ping[2..2 + len]);
            peer.write_all(&pong).await.unwrap();
        }
        peer
    });
    for _ in 0..5 {
        assert!(matches!(ws.next().await, Some(Ok(Message::Pong(_)))));
    }
    let _peer = pinger.await.unwrap();
    assert_eq!(ws.connection().state(), wsengine_tokio::wsengine::ConnectionState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_handshake_at_one_byte_a_second_is_cut_off_at_the_open_deadline() {
    let (io, mut peer) = tokio::io::duplex(1 << 16);
    let start = Instant::now();
    tokio::spawn(async move {
        let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        for b in request {
            if peer.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let result = WebSocketStream::accept_with(io, options()).await;
    assert!(
        matches!(result, Err(Error::WebSocket(wsengine_tokio::wsengine::Error::TimedOut(Deadline::OpeningHandshake)))),
        "{:?}",
        result.err()
    );
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_our_close_is_left_at_the_close_deadline() {
    let (io, mut peer) = tokio::io::duplex(1 << 16);
    let options = Options { ping_interval: None, ..options() };
    let mut ws = WebSocketStream::from_upgraded(io, Role::Client, options).unwrap();
    let start = Instant::now();
    ws.close().await.unwrap();
    let close = read_some(&mut peer).await;
    assert_eq!(close[0], 0x88);
    let end = ws.next().await;
    assert!(matches!(end, Some(Err(Error::WebSocket(_)))), "{end:?}");
    assert!(ws.next().await.is_none());
    assert_eq!(start.elapsed(), Duration::from_millis(2_000));
}
