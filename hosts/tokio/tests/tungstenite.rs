//! wsengine-tokio against tokio-tungstenite, an independent implementation, over
//! loopback TCP: each side as client and as server, whole and split.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame as TgCloseFrame};
use wsengine_tokio::wsengine::{CloseStatus, HttpHeader, offered_subprotocols};
use wsengine_tokio::{Answer, CloseFrame, Error, Message, Options, WebSocketStream};

/// A listener on a free loopback port, and the port.
async fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A tokio-tungstenite echo server on a free port; echoes text and binary messages.
async fn tungstenite_echo() -> u16 {
    let (listener, port) = listen().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let config = tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(64 << 20));
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else { return };
                while let Some(Ok(m)) = ws.next().await {
                    if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

const SIZES: [usize; 8] = [0, 1, 125, 126, 65_535, 65_536, 300_000, 4 << 20];

#[tokio::test]
async fn a_client_exchanges_every_size_with_a_tungstenite_server_and_closes_cleanly() {
    let port = tungstenite_echo().await;
    let mut ws = wsengine_tokio::connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    for len in SIZES {
        let data = payload(len);
        ws.send(Message::binary(data.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(Bytes::from(data)), "{len} B binary");
        let text: String = "é✓ab".chars().cycle().take(len / 2).collect();
        ws.send(Message::text(text.clone())).await.unwrap();
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => assert_eq!(t, text.as_str()),
            other => panic!("{other:?}"),
        }
    }
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::Pong(Bytes::from_static(b"are you there")));
    // Sending past 125 bytes of ping is refused at once and changes nothing.
    assert!(matches!(ws.send(Message::Ping(Bytes::from(vec![0; 126]))).await, Err(Error::WebSocket(_))));

    ws.close().await.unwrap();
    let close = ws.next().await.unwrap().unwrap();
    assert_eq!(close, Message::Close(Some(CloseFrame { code: CloseStatus::SUCCESS, reason: String::new() })));
    assert!(ws.next().await.is_none(), "the stream ends once the server has closed the transport");
    assert!(matches!(ws.send(Message::text("late")).await, Err(Error::Closed)));
}

#[tokio::test]
async fn a_server_answers_a_tungstenite_client_and_closes_with_its_own_status() {
    let (listener, port) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept_with_callback(tcp, Options::default(), |request| {
            assert_eq!(request.target, "/room/7");
            assert!(offered_subprotocols(request.headers).contains(&"chat.v2"));
            Answer::Accept {
                subprotocol: Some("chat.v2".into()),
                headers: vec![HttpHeader::owned("X-Served-By", "wsengine-tokio")],
            }
        })
        .await
        .unwrap();
        assert_eq!(ws.connection().subprotocol(), Some("chat.v2"));
        let mut got = Vec::new();
        while let Some(m) = ws.next().await {
            match m.unwrap() {
                m @ (Message::Text(_) | Message::Binary(_)) => {
                    got.push(m.clone());
                    ws.send(m).await.unwrap();
                    if got.len() == SIZES.len() {
                        let bye = CloseFrame { code: CloseStatus(4000), reason: "bye".into() };
                        ws.send(Message::Close(Some(bye))).await.unwrap();
                    }
                }
                Message::Close(frame) => {
                    // The client's answer to ours: no status of its own here.
                    assert_eq!(frame.map(|f| f.code), Some(CloseStatus(4000)));
                }
                _ => {}
            }
        }
        got
    });

    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://127.0.0.1:{port}/room/7")).unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "chat.v1, chat.v2".parse().unwrap());
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut client, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    assert_eq!(response.headers()["x-served-by"], "wsengine-tokio");
    for len in SIZES {
        client.send(tungstenite::Message::binary(payload(len))).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap().into_data(), payload(len));
    }
    match client.next().await.unwrap().unwrap() {
        tungstenite::Message::Close(Some(TgCloseFrame { code, reason })) => {
            assert_eq!(u16::from(code), 4000);
            assert_eq!(reason.as_str(), "bye");
        }
        other => panic!("{other:?}"),
    }
    // tungstenite answers the close; the server then closes the transport.
    assert!(client.next().await.is_none());
    assert_eq!(server.await.unwrap().len(), SIZES.len());
}

#[tokio::test]
async fn split_halves_send_and_receive_at_once_and_flush_means_written() {
    let port = tungstenite_echo().await;
    let ws = wsengine_tokio::connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let (mut sender, mut receiver) = ws.split();
    const N: usize = 3000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            let len = [3, 200, 70_000][i % 3];
            let mut data = payload(len);
            data[0] = (i % 256) as u8;
            // feed: queued without waiting for the write; a flush now and then.
            sender.feed(Message::binary(data)).await.unwrap();
            if i % 100 == 99 {
                sender.flush().await.unwrap();
            }
        }
        sender.close().await.unwrap();
        sender
    });
    let mut received = 0;
    while let Some(m) = receiver.next().await {
        match m.unwrap() {
            Message::Binary(b) => {
                assert_eq!(b.len(), [3, 200, 70_000][received % 3]);
                assert_eq!(b[0], (received % 256) as u8, "message {received} out of order");
                received += 1;
            }
            Message::Close(frame) => assert_eq!(frame.map(|f| f.code), Some(CloseStatus::SUCCESS)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, N);
    let mut sender = writer.await.unwrap();
    assert!(matches!(sender.send(Message::text("after the end")).await, Err(Error::Closed)));
}

#[tokio::test]
async fn dropping_both_halves_closes_the_connection_going_away() {
    let (listener, port) = listen().await;
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    });
    let ws = wsengine_tokio::connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let (sender, receiver) = ws.split();
    drop(sender);
    drop(receiver);
    let status = tokio::time::timeout(Duration::from_secs(10), peer).await.unwrap().unwrap();
    assert_eq!(status, Some(1001));
}

#[tokio::test]
async fn a_bad_upgrade_request_is_answered_and_fails_the_accept() {
    let (listener, port) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        wsengine_tokio::accept(tcp).await.map(|_| ())
    });
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(response.contains("Sec-WebSocket-Version: 13"), "{response}");
    assert!(matches!(server.await.unwrap(), Err(Error::WebSocket(e)) if e.http_status() == Some(426)));
}
