//! API misuse through the WIT interface: every bad call answers with an engine error
//! (the right family, a message, the HRESULT) and never traps the instance; after each
//! one the same instance still serves a good call.

mod common;

use std::collections::VecDeque;

use common::{Peer, err, ok, seed, session};
use wsengine_host::{
    Action, ActionQueue, BufferType, CloseFrame, Completion, Operation, Property, ReceiveOperation, Received, Role,
    SendBuffer, SendOperation, Session, State, StepError, Transferred, detail, header, wit,
};

/// A good call on the same instance: it still works after the misuse before it.
#[track_caller]
fn alive(s: &mut Session) {
    let h = ok(s.create(Role::Server, &[]));
    assert_eq!(s.state(h).expect("no trap"), State::Created);
    s.drop_handle(h).expect("no trap");
    assert_eq!(s.accept_key("dGhlIHNhbXBsZSBub25jZQ==").expect("no trap"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/// Checks the family of an error and that it carries its HRESULT and a message.
#[track_caller]
fn expect(e: wit::Error, family: Family, what: &str) {
    assert!(family(&e), "{what}: unexpected {e:?}");
    let d = detail(&e);
    assert!(!d.message.is_empty(), "{what}: no message");
    let hresult = match e {
        wit::Error::InvalidProtocolOperation(_) => 0x8376_0001,
        wit::Error::InvalidProtocolFormat(_) => 0x8376_0002,
        wit::Error::ExtensionsNotSupported(_) => 0x8376_0003,
        wit::Error::SubprotocolNotSupported(_) => 0x8376_0004,
        wit::Error::VersionNotSupported(_) => 0x8376_0005,
        wit::Error::InvalidArgument(_) => 0x8007_0057,
        wit::Error::InvalidState(_) => 0x8007_139F,
        wit::Error::Fail(_) => 0x8000_4005,
        wit::Error::Timeout(_) => 0x8007_05B4,
    };
    assert_eq!(d.hresult, hresult, "{what}");
}

fn invalid_argument(e: &wit::Error) -> bool {
    matches!(e, wit::Error::InvalidArgument(_))
}
fn invalid_state(e: &wit::Error) -> bool {
    matches!(e, wit::Error::InvalidState(_))
}
fn invalid_operation(e: &wit::Error) -> bool {
    matches!(e, wit::Error::InvalidProtocolOperation(_))
}
fn invalid_format(e: &wit::Error) -> bool {
    matches!(e, wit::Error::InvalidProtocolFormat(_))
}
fn any(_: &wit::Error) -> bool {
    true
}

/// Which errors a misuse may answer with.
type Family = fn(&wit::Error) -> bool;

/// A client and a server of one instance with the opening handshake done.
fn open_pair(s: &mut Session) -> (Peer, Peer) {
    let client = ok(s.create(Role::Client, &[Property::RandomSeed(seed(9))]));
    let server = ok(s.create(Role::Server, &[]));
    let mut request = vec![header("Host", "h")];
    request.extend(ok(s.begin_client_handshake(client, &[], &[], &[])));
    let response = ok(s.begin_server_handshake(server, None, &[], &request));
    ok(s.end_client_handshake(client, &response));
    ok(s.end_server_handshake(server));
    (Peer::new(client), Peer::new(server))
}

#[test]
fn bad_properties() {
    let mut s = session();
    let cases: Vec<(Role, Vec<Property>, &str)> = vec![
        (Role::Server, vec![Property::ReceiveBufferSize(255)], "receive buffer too small"),
        (Role::Server, vec![Property::ReceiveBufferSize(65537)], "receive buffer too large"),
        (Role::Server, vec![Property::SendBufferSize(15)], "send buffer too small"),
        (Role::Server, vec![Property::SendBufferSize(1 << 20)], "send buffer too large"),
        (Role::Server, vec![Property::ReceiveBufferSize(4096), Property::ReceiveBufferSize(4096)], "repeated"),
        (Role::Client, vec![Property::RandomSeed(vec![1; 31])], "short seed"),
        (Role::Client, vec![Property::RandomSeed(vec![1; 33])], "long seed"),
        (Role::Client, vec![Property::RandomSeed(Vec::new())], "empty seed"),
        (Role::Client, vec![], "client without a seed"),
        (Role::Client, vec![Property::RandomSeed(seed(1)), Property::RandomSeed(seed(2))], "two seeds"),
    ];
    for (role, props, what) in cases {
        expect(err(s.create(role, &props)), invalid_argument, what);
        expect(err(s.from_upgraded(role, &props)), invalid_argument, what);
        alive(&mut s);
    }
}

#[test]
fn calls_before_the_handshake() {
    let mut s = session();
    for role in [Role::Client, Role::Server] {
        let h = ok(s.create(role, &[Property::RandomSeed(seed(3))]));
        let text = SendBuffer::Data(b"x".to_vec());
        expect(err(s.send(h, BufferType::Utf8Message, Some(&text), 1)), any, "send before the handshake");
        expect(err(s.receive(h, None, 1)), any, "receive before the handshake");
        expect(err(s.get_action(h, ActionQueue::All)), any, "get-action before the handshake");
        expect(err(s.complete_action(h, 1, 0)), any, "complete-action before the handshake");
        expect(err(s.end_server_handshake(h)), invalid_state, "end-server-handshake first");
        expect(err(s.end_client_handshake(h, &[])), invalid_state, "end-client-handshake first");
        assert_eq!(s.state(h).unwrap(), State::Created, "refused calls change nothing");
        alive(&mut s);
        s.drop_handle(h).unwrap();
    }
}

#[test]
fn bad_handshake_calls() {
    let mut s = session();
    let client = ok(s.create(Role::Client, &[Property::RandomSeed(seed(4))]));
    // A subprotocol that is not a token: refused, state unchanged.
    expect(err(s.begin_client_handshake(client, &["a b".into()], &[], &[])), invalid_argument, "bad token");
    assert_eq!(s.state(client).unwrap(), State::Created);
    alive(&mut s);
    // The wrong role's calls.
    expect(err(s.begin_server_handshake(client, None, &[], &[])), any, "server handshake on a client");
    alive(&mut s);
    let mut request = vec![header("Host", "h")];
    request.extend(ok(s.begin_client_handshake(client, &[], &[], &[])));
    expect(err(s.begin_client_handshake(client, &[], &[], &[])), invalid_state, "begin twice");
    alive(&mut s);
    // A response with a wrong accept key fails the handle.
    let server = ok(s.create(Role::Server, &[]));
    let mut response = ok(s.begin_server_handshake(server, None, &[], &request));
    for h in &mut response {
        if h.name.eq_ignore_ascii_case(b"sec-websocket-accept") {
            h.value = b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_vec();
        }
    }
    expect(err(s.end_client_handshake(client, &response)), invalid_format, "bad accept key");
    assert_eq!(s.state(client).unwrap(), State::HandshakeFailed);
    expect(err(s.receive(client, None, 1)), any, "receive after a failed handshake");
    alive(&mut s);
    // A request that is not an upgrade: the rejection comes from the error.
    let other = ok(s.create(Role::Server, &[]));
    let e = err(s.begin_server_handshake(other, None, &[], &[header("Host", "h")]));
    let rejection = String::from_utf8(s.encode_rejection(&e).unwrap()).unwrap();
    assert!(rejection.starts_with("HTTP/1.1 4"), "{rejection}");
    assert_eq!(s.state(other).unwrap(), State::HandshakeFailed);
    // Heads that would break: CR LF in a target or a header.
    expect(err(s.encode_request_head("/a\r\nX: y", &[])), invalid_argument, "target with CR LF");
    expect(err(s.encode_response_head(101, "OK", &[header("X", "a\r\nb")])), invalid_argument, "header with CR LF");
    alive(&mut s);
}

#[test]
fn bad_heads() {
    let mut s = session();
    let p = s.head_parser(64, 4).unwrap();
    expect(err(s.head_request(p)), invalid_state, "request before the head is complete");
    assert!(!ok(s.head_push(p, b"GET / HTTP/1.1\r\n")));
    expect(err(s.head_push(p, &[b'a'; 100])), invalid_format, "head over max-len");
    alive(&mut s);
    let p2 = s.head_parser(8192, 1).unwrap();
    assert!(ok(s.head_push(p2, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n")));
    expect(err(s.head_request(p2)), invalid_format, "over max-headers");
    let p3 = s.head_parser(8192, 8).unwrap();
    assert!(ok(s.head_push(p3, b"\x00\x01garbage\r\n\r\n")));
    expect(err(s.head_request(p3)), invalid_format, "garbage head");
    expect(err(s.head_response(p3)), invalid_format, "garbage head");
    alive(&mut s);
    for p in [p, p2, p3] {
        s.drop_handle(p).unwrap();
    }
}

#[test]
fn wrong_buffer_shapes() {
    let mut s = session();
    let (cli, _srv) = open_pair(&mut s);
    let h = cli.h;
    let data = || SendBuffer::Data(b"abc".to_vec());
    let close = |status: u16, reason: &[u8]| SendBuffer::Close(CloseFrame { status, reason: reason.to_vec() });
    let cases: Vec<(BufferType, Option<SendBuffer>, Family, &str)> = vec![
        (BufferType::Utf8Message, None, invalid_argument, "text without data"),
        (BufferType::BinaryMessage, Some(close(1000, b"")), invalid_argument, "binary with a close buffer"),
        (BufferType::PingPong, Some(data()), invalid_argument, "ping with data"),
        (BufferType::UnsolicitedPong, Some(data()), invalid_argument, "pong with data"),
        (BufferType::Close, Some(data()), invalid_argument, "close with data"),
        (BufferType::Close, Some(close(1005, b"")), invalid_format, "close status 1005"),
        (BufferType::Close, Some(close(999, b"")), invalid_format, "close status 999"),
        (BufferType::Close, Some(close(1000, &[b'r'; 124])), any, "close reason over 123 bytes"),
        (BufferType::Close, Some(close(1000, &[0xFF])), invalid_format, "close reason not UTF-8"),
        (BufferType::Utf8Message, Some(SendBuffer::Data(vec![0xC3])), invalid_format, "text not UTF-8"),
        (BufferType::BinaryMessage, Some(SendBuffer::LastReceived), any, "last-received with nothing received"),
    ];
    for (ty, buffer, family, what) in cases {
        expect(err(s.send(h, ty, buffer.as_ref(), 1)), family, what);
        assert_eq!(s.state(h).unwrap(), State::Open, "{what} moved the state");
        alive(&mut s);
    }
    expect(err(s.receive(h, Some(124), 1)), invalid_argument, "max-piece under 125");
    alive(&mut s);
    // The handle still works for a good send.
    ok(s.send(h, BufferType::BinaryMessage, Some(&data()), 2));
}

#[test]
fn operations_twice() {
    let mut s = session();
    let (cli, _srv) = open_pair(&mut s);
    let h = cli.h;
    ok(s.receive(h, None, 1));
    expect(err(s.receive(h, None, 2)), invalid_operation, "receive twice");
    alive(&mut s);
    ok(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(vec![1])), 3));
    expect(
        err(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(vec![2])), 4)),
        invalid_operation,
        "send twice",
    );
    alive(&mut s);
}

#[test]
fn bad_action_tokens() {
    let mut s = session();
    let (mut cli, mut srv) = open_pair(&mut s);
    let h = cli.h;
    for token in [1, 0x1_0000_0001, 0x3_0000_0000, u64::MAX] {
        expect(err(s.complete_action(h, token, 0)), invalid_argument, "complete-action with a bogus token");
        expect(err(s.complete_receive(h, token, b"x")), invalid_argument, "complete-receive with a bogus token");
        alive(&mut s);
    }
    // 0 is no-action's token: completing it is a no-op, as in Windows; there is no read
    // behind it to complete with bytes.
    ok(s.complete_action(h, 0, 0));
    ok(s.complete_action(h, 0, 5));
    expect(err(s.complete_receive(h, 0, b"x")), invalid_argument, "complete-receive of no-action");
    alive(&mut s);

    // A send-to-network action: too many bytes, the other handle's token, a receive
    // completion: all refused, changing nothing; then the right completion works.
    ok(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(b"payload".to_vec())), 5));
    let Action::SendToNetwork(a) = ok(s.get_action(h, ActionQueue::Send)) else { panic!("expected a send action") };
    let len = a.data.len() as u32;
    expect(err(s.complete_action(h, a.action, len + 1)), invalid_argument, "more bytes than the action has");
    expect(err(s.complete_action(h, a.action, u32::MAX)), invalid_argument, "u32::MAX bytes");
    expect(err(s.complete_action(srv.h, a.action, len)), any, "another handle's token");
    expect(err(s.complete_receive(h, a.action, b"x")), any, "complete-receive of a send action");
    alive(&mut s);
    ok(s.complete_action(h, a.action, len));
    expect(err(s.complete_action(h, a.action, len)), invalid_argument, "the same token twice");
    alive(&mut s);
    srv.inbox.extend(&a.data);
    let Action::IndicateSendComplete(done) = ok(s.get_action(h, ActionQueue::Send)) else { panic!("expected the end") };
    assert!(done.completed);
    ok(s.complete_action(h, done.action, 0));

    // A receive-from-network action: more bytes than max-bytes is refused; a good
    // completion then delivers the message.
    ok(s.receive(srv.h, None, 77));
    let Action::ReceiveFromNetwork(r) = ok(s.get_action(srv.h, ActionQueue::Receive)) else {
        panic!("expected a read")
    };
    let too_many = vec![0u8; r.max_bytes as usize + 1];
    expect(err(s.complete_receive(srv.h, r.action, &too_many)), invalid_argument, "more than max-bytes");
    alive(&mut s);
    let wire: Vec<u8> = srv.inbox.drain(..).collect();
    ok(s.complete_receive(srv.h, r.action, &wire));
    let Action::IndicateReceiveComplete(got) = ok(s.get_action(srv.h, ActionQueue::Receive)) else { panic!() };
    assert_eq!((got.buffer_type, got.data.as_slice()), (Some(BufferType::BinaryMessage), &b"payload"[..]));
    ok(s.complete_action(srv.h, got.action, 0));
    let _ = &mut cli;
}

#[test]
fn get_action_after_abort() {
    let mut s = session();
    let (cli, _srv) = open_pair(&mut s);
    let h = cli.h;
    ok(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(vec![1; 10])), 7));
    ok(s.receive(h, None, 8));
    s.abort(h).unwrap();
    assert_eq!(s.state(h).unwrap(), State::Aborted);
    // The queued operations drain as cancelled indications, then nothing.
    let mut drained = Vec::new();
    loop {
        match ok(s.get_action(h, ActionQueue::All)) {
            Action::NoAction => break,
            Action::IndicateSendComplete(a) => {
                assert!(!a.completed);
                drained.push(("send", a.context));
                ok(s.complete_action(h, a.action, 0));
            }
            Action::IndicateReceiveComplete(a) => {
                assert_eq!(a.buffer_type, None);
                drained.push(("receive", a.context));
                ok(s.complete_action(h, a.action, 0));
            }
            other => panic!("network action after abort: {other:?}"),
        }
        assert!(drained.len() <= 2);
    }
    drained.sort();
    assert_eq!(drained, [("receive", 8), ("send", 7)]);
    for _ in 0..3 {
        assert_eq!(ok(s.get_action(h, ActionQueue::All)), Action::NoAction);
    }
    expect(err(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(vec![1])), 9)), any, "send after abort");
    expect(err(s.receive(h, None, 9)), any, "receive after abort");
    expect(err(s.push_received(h, b"x")), any, "push-received after abort");
    expect(err(s.complete_action(h, 0x1_0000_0001, 0)), invalid_argument, "complete after abort");
    alive(&mut s);

    // Abort before the handshake is a no-op; get-action still refuses.
    let fresh = ok(s.create(Role::Server, &[]));
    s.abort(fresh).unwrap();
    assert_eq!(s.state(fresh).unwrap(), State::Created);
    expect(err(s.get_action(fresh, ActionQueue::All)), any, "get-action on a fresh aborted handle");
    alive(&mut s);
}

#[test]
fn peer_protocol_errors_are_errors_not_traps() {
    let mut s = session();
    let (mut cli, mut srv) = open_pair(&mut s);
    // An unmasked frame from a client, then a text frame with bad UTF-8.
    srv.inbox.extend([0x81, 0x01, b'a']);
    srv.read_chunk = 64;
    let mut wire = VecDeque::new();
    ok(s.receive(srv.h, None, 1));
    let e = loop {
        match s.get_action(srv.h, ActionQueue::Receive).expect("no trap") {
            Ok(Action::ReceiveFromNetwork(r)) => {
                let bytes: Vec<u8> = srv.inbox.drain(..).collect();
                ok(s.complete_receive(srv.h, r.action, &bytes));
            }
            Ok(other) => panic!("expected an error, got {other:?}"),
            Err(e) => break e,
        }
    };
    expect(e.clone(), invalid_format, "unmasked client frame");
    assert_eq!(detail(&e).close_status, Some(1002));
    assert_eq!(s.state(srv.h).unwrap(), State::Failed);
    // Sticky on the receive queue; the send queue still works for the close.
    expect(err(s.get_action(srv.h, ActionQueue::Receive)), invalid_format, "sticky");
    let close = SendBuffer::Close(CloseFrame { status: 1002, reason: Vec::new() });
    ok(s.send(srv.h, BufferType::Close, Some(&close), 2));
    assert_eq!(srv.flush(&mut s, &mut wire).len(), 1);
    alive(&mut s);

    // Invalid UTF-8 to the client: 1007.
    cli.inbox.extend([0x81, 0x02, 0xC3, 0x28]);
    ok(s.receive(cli.h, None, 1));
    let e = loop {
        match s.get_action(cli.h, ActionQueue::Receive).expect("no trap") {
            Ok(Action::ReceiveFromNetwork(r)) => {
                let bytes: Vec<u8> = cli.inbox.drain(..).collect();
                ok(s.complete_receive(cli.h, r.action, &bytes));
            }
            Ok(other) => panic!("expected an error, got {other:?}"),
            Err(e) => break e,
        }
    };
    expect(e.clone(), invalid_format, "bad UTF-8");
    assert_eq!(detail(&e).close_status, Some(1007));
    alive(&mut s);
}

#[test]
fn a_dropped_handle_is_refused_by_the_runtime() {
    // Not an engine call: the component model itself refuses a resource handle that was
    // dropped, before the call enters the component, with a host error rather than an
    // engine answer. Hosts must not do this; wsengine-host gives every connection its
    // own instance, so a host bug stays with one connection.
    let mut s = session();
    let h = ok(s.create(Role::Server, &[]));
    s.drop_handle(h).unwrap();
    assert!(s.state(h).is_err());
    assert!(s.get_action(h, ActionQueue::All).is_err());
    alive(&mut session());
}

/// `step` names the part that failed; the parts before it took effect, those after it
/// did not run.
#[test]
fn step_names_the_part_that_failed() {
    let mut s = session();
    let (cli, mut srv) = open_pair(&mut s);
    let h = cli.h;
    let outcome = |r: anyhow::Result<Result<Action, StepError>>| r.expect("no trap");
    let payload = Operation::Send(SendOperation {
        buffer_type: BufferType::BinaryMessage,
        buffer: Some(SendBuffer::Data(b"step".to_vec())),
        context: 4,
    });

    // A bogus completion: refused, and the send after it is not queued.
    let bogus = Completion::Transferred(Transferred { action: 0x1_0000_0001, bytes: 0 });
    match outcome(s.step(h, Some(&bogus), Some(&payload), ActionQueue::Send)) {
        Err(StepError::Completion(e)) => expect(e, invalid_argument, "step with a bogus token"),
        other => panic!("expected a completion error, got {other:?}"),
    }
    assert_eq!(ok(s.get_action(h, ActionQueue::Send)), Action::NoAction, "the send did not run");
    alive(&mut s);

    // No completion, a good send: the frame comes back from the same call.
    let Ok(Action::SendToNetwork(frame)) = outcome(s.step(h, None, Some(&payload), ActionQueue::Send)) else {
        panic!("expected the frame")
    };
    assert_eq!(frame.context, Some(4));

    // A good completion, a refused operation (a second send while one is outstanding):
    // the completion took effect, get-action did not run.
    let written = Completion::Transferred(Transferred { action: frame.action, bytes: frame.data.len() as u32 });
    match outcome(s.step(h, Some(&written), Some(&payload), ActionQueue::Send)) {
        Err(StepError::Operation(e)) => expect(e, invalid_operation, "a second send through step"),
        other => panic!("expected an operation error, got {other:?}"),
    }
    expect(err(s.complete_action(h, frame.action, 0)), invalid_argument, "the step completed it already");
    let Ok(Action::IndicateSendComplete(sent)) = outcome(s.step(h, None, None, ActionQueue::Send)) else {
        panic!("expected the send's end")
    };
    assert!(sent.completed);
    let ended = Completion::Transferred(Transferred { action: sent.action, bytes: 0 });
    assert_eq!(outcome(s.step(h, Some(&ended), None, ActionQueue::Send)), Ok(Action::NoAction));

    // A read completed through step; the peer's bad frame fails get-action, after the
    // completion and the receive took effect.
    let receive = Operation::Receive(ReceiveOperation { max_piece: None, context: 5 });
    let Ok(Action::ReceiveFromNetwork(read)) = outcome(s.step(srv.h, None, Some(&receive), ActionQueue::Receive))
    else {
        panic!("expected a read")
    };
    srv.inbox.extend(&frame.data);
    srv.inbox.extend([0x82, 0x01, b'x']); // unmasked: a client must mask
    let wire: Vec<u8> = srv.inbox.drain(..).collect();
    let read = Completion::Received(Received { action: read.action, data: wire });
    let Ok(Action::IndicateReceiveComplete(got)) = outcome(s.step(srv.h, Some(&read), None, ActionQueue::Receive))
    else {
        panic!("expected the message")
    };
    assert_eq!((got.data.as_slice(), got.context), (&b"step"[..], 5));
    let consumed = Completion::Transferred(Transferred { action: got.action, bytes: 0 });
    match outcome(s.step(srv.h, Some(&consumed), Some(&receive), ActionQueue::Receive)) {
        Err(StepError::GetAction(e)) => {
            assert_eq!(detail(&e).close_status, Some(1002));
            expect(e, invalid_format, "an unmasked frame, found by step's get-action");
        }
        other => panic!("expected a get-action error, got {other:?}"),
    }
    assert_eq!(s.state(srv.h).unwrap(), State::Failed);
    alive(&mut s);
}

#[test]
fn a_short_write_breaks_the_send_side_and_the_state_says_so() {
    let mut s = session();
    let (cli, _srv) = open_pair(&mut s);
    let h = cli.h;
    ok(s.send(h, BufferType::BinaryMessage, Some(&SendBuffer::Data(b"hello".to_vec())), 1));
    let Action::SendToNetwork(a) = ok(s.get_action(h, ActionQueue::Send)) else { panic!("expected a send action") };
    assert_eq!(s.state(h).unwrap(), State::Open);
    ok(s.complete_action(h, a.action, 3)); // 3 of 11 bytes written
    let Action::IndicateSendComplete(done) = ok(s.get_action(h, ActionQueue::Send)) else { panic!("expected the end") };
    assert!(!done.completed);
    ok(s.complete_action(h, done.action, 0));
    assert_eq!(s.state(h).unwrap(), State::SendBroken);
    let close = SendBuffer::Close(CloseFrame { status: 1000, reason: Vec::new() });
    expect(err(s.send(h, BufferType::Close, Some(&close), 2)), invalid_operation, "a close after a short write");
    assert_eq!(s.state(h).unwrap(), State::SendBroken);
    alive(&mut s);
}

#[test]
fn buffer_sizes_a_lost_action_and_frame_headers_cross_as_in_rust() {
    let mut s = session();
    let props = [Property::RandomSeed(seed(4)), Property::ReceiveBufferSize(1024), Property::SendBufferSize(512)];
    let h = ok(s.create(Role::Client, &props));
    assert_eq!((s.receive_buffer_size(h).unwrap(), s.send_buffer_size(h).unwrap()), (1024, 512));
    let srv = ok(s.create(Role::Server, &[]));
    assert_eq!((s.receive_buffer_size(srv).unwrap(), s.send_buffer_size(srv).unwrap()), (4096, 16));

    // A send-to-network handed out again by its token, while it is in flight only.
    let (cli, _srv) = open_pair(&mut s);
    ok(s.send(cli.h, BufferType::BinaryMessage, Some(&SendBuffer::Data(b"hey".to_vec())), 1));
    let Action::SendToNetwork(a) = ok(s.get_action(cli.h, ActionQueue::Send)) else { panic!("expected a send action") };
    let Action::SendToNetwork(again) = ok(s.action(cli.h, a.action)) else { panic!("expected the same action") };
    assert_eq!((again.action, again.data.as_slice()), (a.action, a.data.as_slice()));
    ok(s.complete_action(cli.h, a.action, a.data.len() as u32));
    expect(err(s.action(cli.h, a.action)), invalid_argument, "an action no longer in flight");

    // The frame written above, read back; a cut header; a forbidden 64-bit length.
    let header = ok(s.read_frame_header(&a.data)).expect("a whole header");
    assert_eq!((header.fin, header.opcode, header.payload_length, header.header_length), (true, 2, 3, 6));
    assert!(header.mask.is_some(), "a client masks");
    assert_eq!(ok(s.read_frame_header(&a.data[..3])), None);
    expect(
        err(s.read_frame_header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0])),
        invalid_format,
        "a 64-bit length with its top bit",
    );
    alive(&mut s);
}
