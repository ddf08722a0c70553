//! An HTTP/3 server (`wsengine_https::h3`, in this process) under a flood of QUIC Initial
//! packets from a client that never answers (as from forged addresses): past
//! `Server::retry_from` connections, they get a Retry and take no place, and a real
//! client still gets in, through the Retry, and runs a WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quiche::ConnectionId;
use tokio::net::UdpSocket;
use wsengine_https::h3;
use wsengine_tokio::{Message, Options};

struct Served {
    server: h3::Server,
    addr: SocketAddr,
    cert: Vec<u8>,
}

async fn serve() -> Served {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (der, key) = (cert.cert.der().to_vec(), cert.signing_key.serialize_der());
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let server = h3::Server::bind(socket, &[&der], &key).unwrap();
    Served { server, addr, cert: der }
}

/// Sends `n` clients' first Initial packets (real ones, a ClientHello each) from one
/// socket that never reads what comes back.
async fn flood(addr: SocketAddr, n: usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut config = quiche::Config::new(quiche::PROTOCOL_VERSION).unwrap();
    config.set_application_protos(quiche::h3::APPLICATION_PROTOCOL).unwrap();
    let mut out = [0; 1500];
    for i in 0..n {
        let scid = [(i >> 8) as u8, i as u8, 0xf1, 0x00, 0xd0, 0xc0, 0xff, 0xee];
        let mut client =
            quiche::connect(Some("localhost"), &ConnectionId::from_ref(&scid), local, addr, &mut config).unwrap();
        let (len, _) = client.send(&mut out).unwrap();
        socket.send_to(&out[..len], addr).await.unwrap();
        if i % 32 == 31 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The server's count once it stopped changing.
async fn settled(server: &h3::Server) -> usize {
    let mut last = usize::MAX;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = server.connections();
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the server's connections never settled");
}

/// A WebSocket from a new client, its handshake through the server's `accept`, and one
/// message echoed.
async fn websocket(served: &mut Served) {
    let client =
        tokio::time::timeout(Duration::from_secs(10), h3::Client::connect(served.addr, "localhost", &[&served.cert]))
            .await
            .expect("the client got no answer")
            .unwrap();
    let url = format!("wss://localhost:{}/", served.addr.port());
    let accept = async { h3::accept_websocket(served.server.accept().await.unwrap(), Options::default()).unwrap() };
    let (mut server_ws, ws) = tokio::join!(accept, h3::connect_websocket(&client, &url, Options::default()));
    let mut ws = ws.unwrap();
    ws.send(Message::text("through the Retry")).await.unwrap();
    let received = server_ws.next().await.unwrap().unwrap();
    server_ws.send(received).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("through the Retry"));
}

/// A server asking for a Retry from `retry_from` connections on, flooded with `initials`
/// Initials that are never followed up: `held` of them take a place, and a real client
/// still gets in (one more place).
async fn flood_then_a_client(retry_from: usize, initials: usize, held: usize) {
    let mut served = serve().await;
    served.server.retry_from(retry_from);
    flood(served.addr, initials).await;
    assert_eq!(settled(&served.server).await, held);
    websocket(&mut served).await;
    assert_eq!(served.server.connections(), held + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initials_past_retry_from_take_no_place_and_a_real_client_gets_in() {
    // Sixteen handshakes wait for a client that never answers; the other 184 Initials
    // got a Retry, which that client does not answer either.
    flood_then_a_client(16, 200, 16).await;
}

#[tokio::test]
async fn every_client_proves_its_address_when_retry_is_always_asked() {
    flood_then_a_client(0, 20, 0).await;
}
