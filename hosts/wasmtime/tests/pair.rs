//! A client handle and a server handle inside one component instance, talking to each
//! other through the host: the opening handshake with the component's heads, messages
//! both ways (whole, in fragments, echoed with last-received), ping and pong, and the
//! close handshake.

mod common;

use std::collections::VecDeque;

use common::{Peer, SendDone, ok, seed, session};
use wsengine_host::{BufferType, CloseFrame, Property, Role, SendBuffer, Session, State, header, wit};

/// Receives pieces until a whole message has arrived; returns its bytes and the types of
/// its pieces.
fn message(s: &mut Session, peer: &mut Peer, back: &mut VecDeque<u8>) -> (Vec<u8>, Vec<BufferType>) {
    let (mut bytes, mut types) = (Vec::new(), Vec::new());
    loop {
        let piece = peer.poll(s, back).expect("the peer's bytes end inside a message");
        let ty = piece.buffer_type.expect("a data piece");
        bytes.extend(&piece.data);
        types.push(ty);
        if matches!(ty, BufferType::Utf8Message | BufferType::BinaryMessage) {
            return (bytes, types);
        }
        assert!(matches!(ty, BufferType::Utf8Fragment | BufferType::BinaryFragment), "unexpected {ty:?}");
    }
}

fn data(bytes: &[u8]) -> SendBuffer {
    SendBuffer::Data(bytes.to_vec())
}

fn done(buffer_type: BufferType, context: u64) -> Vec<SendDone> {
    vec![SendDone { buffer_type, context, completed: true }]
}

/// Sends one operation from `from` and carries its frames to `to`'s inbox.
fn send(s: &mut Session, from: &mut Peer, to: &mut Peer, ty: BufferType, buffer: Option<SendBuffer>, ctx: u64) {
    ok(s.send(from.h, ty, buffer.as_ref(), ctx));
    assert_eq!(from.flush(s, &mut to.inbox), done(ty, ctx));
}

#[test]
fn client_and_server_in_one_instance() {
    let mut s = session();
    let client = ok(s.create(Role::Client, &[Property::RandomSeed(seed(1))]));
    let server = ok(s.create(Role::Server, &[Property::ReceiveBufferSize(1024)]));
    assert_eq!(s.role(client).unwrap(), Role::Client);
    assert_eq!(s.role(server).unwrap(), Role::Server);
    assert_eq!(s.state(client).unwrap(), State::Created);

    // The request: the component's headers behind the host's Host, encoded and parsed
    // by the component, arriving in small reads.
    let offered = vec!["chat.v1".to_owned(), "chat.v2".to_owned()];
    let mut request_headers = vec![header("Host", "example.com")];
    request_headers.extend(ok(s.begin_client_handshake(client, &offered, &[], &[])));
    assert_eq!(s.state(client).unwrap(), State::ClientHandshaking);
    let request_bytes = ok(s.encode_request_head("/chat", &request_headers));
    let parser = s.head_parser(8192, 128).unwrap();
    let mut complete = false;
    for chunk in request_bytes.chunks(5) {
        assert!(!complete);
        complete = ok(s.head_push(parser, chunk));
    }
    assert!(complete);
    let request = ok(s.head_request(parser));
    assert_eq!((request.method.as_str(), request.target.as_str()), ("GET", "/chat"));
    assert_eq!(request.headers, request_headers);
    assert!(s.head_rest(parser).unwrap().is_empty());
    s.drop_handle(parser).unwrap();
    assert_eq!(s.offered_subprotocols(&request.headers).unwrap(), offered);
    let supported = ["chat.v3".to_owned(), "chat.v2".to_owned(), "chat.v1".to_owned()];
    assert_eq!(s.choose_subprotocol(&request.headers, &supported).unwrap().as_deref(), Some("chat.v2"));

    // The response, with the server's first frame right behind the head.
    let response_headers = ok(s.begin_server_handshake(server, Some("chat.v2"), &[], &request.headers));
    assert_eq!(s.state(server).unwrap(), State::ServerHandshaking);
    ok(s.end_server_handshake(server));
    assert_eq!(s.state(server).unwrap(), State::Open);
    let mut srv = Peer::new(server);
    let mut cli = Peer::new(client);
    ok(s.send(server, BufferType::Utf8Message, Some(&data(b"welcome")), 1));
    let mut response_bytes: VecDeque<u8> =
        ok(s.encode_response_head(101, "Switching Protocols", &response_headers)).into();
    let head_len = response_bytes.len();
    assert_eq!(srv.flush(&mut s, &mut response_bytes), done(BufferType::Utf8Message, 1));
    let response_bytes: Vec<u8> = response_bytes.into();

    let parser = s.head_parser(8192, 128).unwrap();
    assert!(ok(s.head_push(parser, &response_bytes)));
    let response = ok(s.head_response(parser));
    assert_eq!((response.status, response.reason.as_str()), (101, "Switching Protocols"));
    let rest = s.head_rest(parser).unwrap();
    assert_eq!(rest, response_bytes[head_len..]);
    s.drop_handle(parser).unwrap();
    let outcome = ok(s.end_client_handshake(client, &response.headers));
    assert_eq!(outcome, wit::ClientHandshakeOutcome { subprotocol: Some(1), extensions: vec![] });
    assert_eq!(s.state(client).unwrap(), State::Open);
    ok(s.push_received(client, &rest));
    assert_eq!(message(&mut s, &mut cli, &mut srv.inbox), (b"welcome".to_vec(), vec![BufferType::Utf8Message]));

    // Client to server, text.
    send(&mut s, &mut cli, &mut srv, BufferType::Utf8Message, Some(data("héllo server".as_bytes())), 2);
    assert_eq!(message(&mut s, &mut srv, &mut cli.inbox).0, "héllo server".as_bytes());

    // Server to client, 100 000 bytes of binary: pieces of at most the client's 4096.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    send(&mut s, &mut srv, &mut cli, BufferType::BinaryMessage, Some(data(&big)), 3);
    cli.read_chunk = 10_000;
    let (got, types) = message(&mut s, &mut cli, &mut srv.inbox);
    assert_eq!(got, big);
    assert_eq!(types.len(), 100_000usize.div_ceil(4096));
    assert!(types[..types.len() - 1].iter().all(|t| *t == BufferType::BinaryFragment));

    // Fragments, text and binary, client to server.
    for (i, piece) in ["frag", "ment", "ed ✓"].iter().enumerate() {
        let ty = if i == 2 { BufferType::Utf8Message } else { BufferType::Utf8Fragment };
        send(&mut s, &mut cli, &mut srv, ty, Some(data(piece.as_bytes())), 10 + i as u64);
    }
    let (got, types) = message(&mut s, &mut srv, &mut cli.inbox);
    assert_eq!(got, "fragmented ✓".as_bytes());
    assert_eq!(types.last(), Some(&BufferType::Utf8Message));
    assert!(types[..types.len() - 1].iter().all(|t| *t == BufferType::Utf8Fragment));
    send(&mut s, &mut cli, &mut srv, BufferType::BinaryFragment, Some(data(&[1, 2, 3])), 20);
    send(&mut s, &mut cli, &mut srv, BufferType::BinaryMessage, Some(data(&[4, 5])), 21);
    assert_eq!(message(&mut s, &mut srv, &mut cli.inbox).0, [1, 2, 3, 4, 5]);

    // An echo from the server's receive buffer (last-received), piece by piece: the
    // server's pieces are at most its 1024-byte receive buffer.
    let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    send(&mut s, &mut cli, &mut srv, BufferType::BinaryMessage, Some(data(&payload)), 30);
    srv.read_chunk = 4096;
    loop {
        let piece = srv.poll(&mut s, &mut cli.inbox).expect("a piece");
        let ty = piece.buffer_type.unwrap();
        assert!(piece.data.len() <= 1024);
        send(&mut s, &mut srv, &mut cli, ty, Some(SendBuffer::LastReceived), 31);
        if ty == BufferType::BinaryMessage {
            break;
        }
    }
    assert_eq!(message(&mut s, &mut cli, &mut srv.inbox).0, payload);

    // Ping: the server answers by itself (on its receive queue); the client sees the pong.
    send(&mut s, &mut cli, &mut srv, BufferType::PingPong, None, 40);
    assert!(srv.poll(&mut s, &mut cli.inbox).is_none(), "a ping is not indicated");
    let pong = cli.poll(&mut s, &mut srv.inbox).expect("the pong");
    assert_eq!(pong.buffer_type, Some(BufferType::PingPong));
    assert!(pong.data.is_empty());
    send(&mut s, &mut srv, &mut cli, BufferType::UnsolicitedPong, None, 41);
    assert_eq!(cli.poll(&mut s, &mut srv.inbox).expect("the pong").buffer_type, Some(BufferType::PingPong));

    // The close handshake, started by the client.
    let close = SendBuffer::Close(CloseFrame { status: 1000, reason: b"bye".to_vec() });
    send(&mut s, &mut cli, &mut srv, BufferType::Close, Some(close.clone()), 50);
    assert_eq!(s.state(client).unwrap(), State::CloseSent);
    let got = srv.poll(&mut s, &mut cli.inbox).expect("the close");
    assert_eq!(
        (got.buffer_type, got.close_status, got.data.as_slice()),
        (Some(BufferType::Close), Some(1000), &b"bye"[..])
    );
    assert_eq!(s.state(server).unwrap(), State::CloseReceived);
    send(&mut s, &mut srv, &mut cli, BufferType::Close, Some(close), 51);
    assert_eq!(s.state(server).unwrap(), State::Closed);
    let got = cli.poll(&mut s, &mut srv.inbox).expect("the close");
    assert_eq!((got.buffer_type, got.close_status), (Some(BufferType::Close), Some(1000)));
    assert_eq!(s.state(client).unwrap(), State::Closed);
    assert!(cli.inbox.is_empty() && srv.inbox.is_empty());

    // Data after the close is refused, without a trap.
    assert!(s.send(client, BufferType::BinaryMessage, Some(&data(b"late")), 60).unwrap().is_err());
    s.drop_handle(client).unwrap();
    s.drop_handle(server).unwrap();
}

#[test]
fn pieces_of_at_most_max_piece_bytes() {
    let mut s = session();
    let mut client = Peer::new(ok(s.from_upgraded(Role::Client, &[Property::RandomSeed(seed(3))])));
    let mut server = Peer::new(ok(s.from_upgraded(Role::Server, &[])));
    server.max_piece = Some(128);
    server.read_chunk = 1000;
    let mut back = VecDeque::new();
    for round in 0..3u8 {
        let payload: Vec<u8> = (0..300u32).map(|i| (i as u8).wrapping_mul(round + 1)).collect();
        send(&mut s, &mut client, &mut server, BufferType::BinaryMessage, Some(data(&payload)), 1);
        let (got, types) = message(&mut s, &mut server, &mut back);
        assert_eq!(got, payload);
        assert_eq!(types, [BufferType::BinaryFragment, BufferType::BinaryFragment, BufferType::BinaryMessage]);
    }
}

#[test]
fn free_functions() {
    let mut s = session();
    assert_eq!(s.accept_key("dGhlIHNhbXBsZSBub25jZQ==").unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(s.supported_versions().unwrap(), [13]);
    assert_eq!(s.keepalive_interval().unwrap(), 30000);
    assert_eq!(s.set_keepalive_interval(1000).unwrap(), 15000);
    assert_eq!(s.set_keepalive_interval(60000).unwrap(), 60000);
    assert_eq!(s.keepalive_interval().unwrap(), 60000);
    // Per instance: a fresh one starts from the default.
    assert_eq!(session().keepalive_interval().unwrap(), 30000);
    // A peer's close is answered with its status and reason; one without a body, empty.
    assert_eq!(
        s.close_reply(4001, b"bye").unwrap(),
        Some(wsengine_host::CloseFrame { status: 4001, reason: b"bye".to_vec() })
    );
    assert_eq!(s.close_reply(1005, b"").unwrap(), None);
}

#[test]
fn upgraded_handles_talk_at_once() {
    let mut s = session();
    let client = ok(s.from_upgraded(Role::Client, &[Property::RandomSeed(seed(2))]));
    let server = ok(s.from_upgraded(Role::Server, &[]));
    assert_eq!(s.state(client).unwrap(), State::Open);
    let (mut cli, mut srv) = (Peer::new(client), Peer::new(server));
    send(&mut s, &mut cli, &mut srv, BufferType::Utf8Message, Some(data(b"hi")), 1);
    assert_eq!(message(&mut s, &mut srv, &mut cli.inbox).0, b"hi");
    send(&mut s, &mut srv, &mut cli, BufferType::BinaryMessage, Some(data(b"yo")), 2);
    assert_eq!(message(&mut s, &mut cli, &mut srv.inbox).0, b"yo");
}
