//! The misuse matrix: every call in every state, for both roles. No call panics; every
//! failure is a documented error with its HRESULT; a refused call leaves the state as
//! it was (a peer's bad handshake data is the one input that moves it, to
//! HandshakeFailed).

use wsengine::{
    Action, ActionContext, ActionQueue, BufferType, CloseStatus, Error, ErrorKind, Handle, HttpHeader, Property, Role,
    SendBuffer, State,
};

type H = Handle<Vec<u8>, u8>;

const KNOWN_HRESULTS: &[u32] =
    &[0x8376_0001, 0x8376_0002, 0x8376_0003, 0x8376_0004, 0x8376_0005, 0x8007_0057, 0x8007_139F, 0x8000_4005];

fn props(role: Role) -> Vec<Property> {
    match role {
        Role::Client => vec![Property::RandomSeed([3; 32])],
        Role::Server => vec![],
    }
}

fn request() -> Vec<HttpHeader<'static>> {
    vec![
        HttpHeader::new("Host", "x"),
        HttpHeader::new("Upgrade", "websocket"),
        HttpHeader::new("Connection", "Upgrade"),
        HttpHeader::new("Sec-WebSocket-Version", "13"),
        HttpHeader::new("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
}

/// Runs every action of `queue` to completion, feeding `input` to reads.
fn drain(h: &mut H, queue: ActionQueue, input: &mut Vec<u8>) {
    for _ in 0..100 {
        let step = match h.get_action(queue) {
            Ok(Action::NoAction) | Err(_) => return,
            Ok(Action::SendToNetwork { buffers, action, .. }) => (action, buffers.len()),
            Ok(Action::ReceiveFromNetwork { buffer, action }) => {
                if input.is_empty() {
                    return; // leave the read in flight
                }
                let n = input.len().min(buffer.len());
                buffer[..n].copy_from_slice(&input[..n]);
                input.drain(..n);
                (action, n)
            }
            Ok(a) => (a.context().unwrap(), 0),
        };
        h.complete_action(step.0, step.1).unwrap();
    }
}

/// A handle of `role` brought to `state`.
fn make(role: Role, state: State) -> H {
    let mut h: H = match role {
        Role::Client => Handle::new_client(props(role)).unwrap(),
        Role::Server => Handle::new_server(props(role)).unwrap(),
    };
    let open = |h: &mut H| match role {
        Role::Client => {
            let headers = h.begin_client_handshake(&[], &[], &[]).unwrap();
            let key = headers.iter().find(|h| h.is("Sec-WebSocket-Key")).unwrap().value.to_vec();
            let accept = wsengine::accept_key(&key);
            let res = [
                HttpHeader::new("Upgrade", "websocket"),
                HttpHeader::new("Connection", "Upgrade"),
                HttpHeader::new("Sec-WebSocket-Accept", &accept),
            ];
            h.end_client_handshake(&res).unwrap();
        }
        Role::Server => {
            h.begin_server_handshake(None, &[], &request()).unwrap();
            h.end_server_handshake().unwrap();
        }
    };
    // A close frame as the peer would send it (masked when it comes from a client).
    let peer_close: Vec<u8> = match role {
        Role::Client => vec![0x88, 0x02, 0x03, 0xE8],
        Role::Server => vec![0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8],
    };
    match state {
        State::Created => {}
        State::ClientHandshaking => {
            if role == Role::Client {
                h.begin_client_handshake(&[], &[], &[]).unwrap();
            }
        }
        State::ServerHandshaking => {
            if role == Role::Server {
                h.begin_server_handshake(None, &[], &request()).unwrap();
            }
        }
        State::HandshakeFailed => match role {
            Role::Client => {
                h.begin_client_handshake(&[], &[], &[]).unwrap();
                assert!(h.end_client_handshake(&[]).is_err());
            }
            Role::Server => assert!(h.begin_server_handshake(None, &[], &request()[1..]).is_err()),
        },
        State::Open => open(&mut h),
        State::CloseSent => {
            open(&mut h);
            h.send(BufferType::Close, None, 0).unwrap();
            drain(&mut h, ActionQueue::Send, &mut Vec::new());
        }
        State::CloseReceived | State::Closed => {
            open(&mut h);
            if state == State::Closed {
                h.send(BufferType::Close, None, 0).unwrap();
                drain(&mut h, ActionQueue::Send, &mut Vec::new());
            }
            h.receive(None, 0).unwrap();
            drain(&mut h, ActionQueue::Receive, &mut peer_close.clone());
        }
        State::Failed => {
            open(&mut h);
            h.receive(None, 0).unwrap();
            drain(&mut h, ActionQueue::Receive, &mut vec![0xFF, 0x00]);
        }
        State::SendBroken => {
            open(&mut h);
            h.send(BufferType::BinaryMessage, Some(SendBuffer::Data(b"hello".to_vec())), 0).unwrap();
            let Ok(Action::SendToNetwork { action, .. }) = h.get_action(ActionQueue::Send) else { panic!() };
            h.complete_action(action, 1).unwrap(); // a short write
            drain(&mut h, ActionQueue::Send, &mut Vec::new());
        }
        State::Aborted => {
            open(&mut h);
            h.abort();
        }
    }
    h
}

const STATES: &[State] = &[
    State::Created,
    State::ClientHandshaking,
    State::ServerHandshaking,
    State::HandshakeFailed,
    State::Open,
    State::CloseSent,
    State::CloseReceived,
    State::Closed,
    State::Failed,
    State::SendBroken,
    State::Aborted,
];

const TYPES: &[BufferType] = &[
    BufferType::Utf8Message,
    BufferType::Utf8Fragment,
    BufferType::BinaryMessage,
    BufferType::BinaryFragment,
    BufferType::Close,
    BufferType::PingPong,
    BufferType::UnsolicitedPong,
];

fn buffers() -> Vec<Option<SendBuffer<Vec<u8>>>> {
    vec![
        None,
        Some(SendBuffer::Data(b"ok".to_vec())),
        Some(SendBuffer::Data(vec![0xFF])),
        Some(SendBuffer::Close { status: CloseStatus::SUCCESS, reason: b"r".to_vec() }),
        Some(SendBuffer::Close { status: CloseStatus(1005), reason: vec![] }),
        Some(SendBuffer::Close { status: CloseStatus(1000), reason: vec![b'x'; 124] }),
        Some(SendBuffer::LastReceived),
    ]
}

/// Every call, by name, as a closure over a fresh handle.
/// A named call on a handle.
type Call = (String, Box<dyn Fn(&mut H) -> Result<(), Error>>);

fn calls() -> Vec<Call> {
    let mut v: Vec<Call> = vec![
        ("begin_client".into(), Box::new(|h| h.begin_client_handshake(&["p"], &["x"], &[]).map(drop))),
        ("begin_client bad token".into(), Box::new(|h| h.begin_client_handshake(&["a b"], &[], &[]).map(drop))),
        ("end_client empty".into(), Box::new(|h| h.end_client_handshake(&[]).map(drop))),
        ("begin_server".into(), Box::new(|h| h.begin_server_handshake(Some("p"), &[], &request()).map(drop))),
        ("begin_server bad".into(), Box::new(|h| h.begin_server_handshake(None, &[], &[]).map(drop))),
        ("end_server".into(), Box::new(|h| h.end_server_handshake())),
        ("receive none".into(), Box::new(|h| h.receive(None, 1))),
        ("receive small".into(), Box::new(|h| h.receive(Some(Vec::new()), 1))),
        ("receive twice".into(), Box::new(|h| h.receive(None, 1).and_then(|()| h.receive(None, 2)))),
        ("push_received".into(), Box::new(|h| h.push_received(&[0x81]))),
        (
            "abort".into(),
            Box::new(|h| {
                h.abort();
                Ok(())
            }),
        ),
        ("complete bogus".into(), Box::new(|h| h.complete_action(ActionContext::from_raw(0x1_0000_0001)?, 5))),
        ("complete all-queue".into(), Box::new(|h| h.complete_action(ActionContext::from_raw(0x3_0000_0000)?, 0))),
        ("action bogus".into(), Box::new(|h| h.action(ActionContext::from_raw(0x2_0000_0009)?).map(drop))),
        ("from_raw garbage".into(), Box::new(|_| ActionContext::from_raw(u64::MAX).map(drop))),
        ("complete no-action".into(), Box::new(|h| h.complete_action(ActionContext::NO_ACTION, 7))),
    ];
    for q in [ActionQueue::Send, ActionQueue::Receive, ActionQueue::All] {
        v.push((format!("get_action {q:?}"), Box::new(move |h| h.get_action(q).map(drop))));
        v.push((
            format!("get_action {q:?} then over-complete"),
            Box::new(move |h| {
                let ctx = h.get_action(q)?.context();
                match ctx {
                    Some(c) => h.complete_action(c, usize::MAX),
                    None => Ok(()),
                }
            }),
        ));
    }
    for &t in TYPES {
        for (i, b) in buffers().into_iter().enumerate() {
            v.push((
                format!("send {t:?} buffer#{i} twice"),
                Box::new(move |h| h.send(t, b.clone(), 9).and_then(|()| h.send(t, b.clone(), 10))),
            ));
        }
    }
    v
}

#[test]
fn every_call_in_every_state_returns_a_documented_result() {
    let mut checked = 0;
    for role in [Role::Client, Role::Server] {
        for &state in STATES {
            let reached = make(role, state).state();
            for (name, call) in calls() {
                let mut h = make(role, state);
                let before = h.state();
                assert_eq!(before, reached);
                if let Err(e) = call(&mut h) {
                    assert!(KNOWN_HRESULTS.contains(&e.hresult()), "{role:?}/{state:?}/{name}: {e:?}");
                    assert!(!e.to_string().is_empty());
                    let handshake_data =
                        matches!(h.state(), State::HandshakeFailed) && e.kind() != ErrorKind::InvalidArgument;
                    if !handshake_data && !name.contains("twice") && !name.contains("then") {
                        assert_eq!(h.state(), before, "{role:?}/{state:?}/{name}: refused call moved the state ({e})");
                    }
                }
                // Whatever happened, the handle can still be aborted and drained.
                h.abort();
                drain(&mut h, ActionQueue::All, &mut Vec::new());
                checked += 1;
            }
        }
    }
    assert!(checked > 2 * STATES.len() * 50, "{checked}");
}

#[test]
fn completing_no_action_is_a_harmless_no_op_as_in_windows() {
    // The SDK's loop completes every action, NO_ACTION included, with its token.
    assert_eq!(ActionContext::NO_ACTION.to_raw(), 0);
    assert_eq!(ActionContext::from_raw(0), Ok(ActionContext::NO_ACTION));
    assert_eq!(ActionContext::from_raw(0x3_0000_0000), Err(Error::UnknownActionContext), "not a token");
    for role in [Role::Client, Role::Server] {
        for &state in STATES {
            let mut h = make(role, state);
            let before = h.state();
            let mut queued = make(role, state);
            let _ = queued.receive(None, 1);
            for h in [&mut h, &mut queued] {
                let state = h.state();
                assert_eq!(h.complete_action(ActionContext::NO_ACTION, 0), Ok(()), "{role:?}/{state:?}");
                assert_eq!(h.complete_action(ActionContext::from_raw(0).unwrap(), 99), Ok(()), "{role:?}/{state:?}");
                assert_eq!(h.state(), state);
            }
            assert_eq!(h.state(), before);
            // Nothing in flight was touched: the queued receive still hands out its read.
            if let Ok(Action::ReceiveFromNetwork { action, .. }) = queued.get_action(ActionQueue::Receive) {
                assert_eq!(queued.complete_action(ActionContext::NO_ACTION, 0), Ok(()));
                assert_eq!(queued.action(action).map(|a| a.code()), Ok(3), "the read is still in flight");
            }
        }
    }
}

#[test]
fn states_are_reached_as_named() {
    for role in [Role::Client, Role::Server] {
        for &state in STATES {
            let got = make(role, state).state();
            let expected = match (role, state) {
                (Role::Server, State::ClientHandshaking) | (Role::Client, State::ServerHandshaking) => State::Created,
                _ => state,
            };
            assert_eq!(got, expected, "{role:?}");
        }
    }
}

#[test]
fn session_calls_before_the_handshake_are_invalid_state() {
    let mut h = make(Role::Client, State::Created);
    let e = h.send(BufferType::PingPong, None, 0).unwrap_err();
    assert_eq!((e.kind(), e.hresult()), (ErrorKind::InvalidState, 0x8007_139F));
    assert!(matches!(h.get_action(ActionQueue::All), Err(Error::InvalidState { call: "get_action", .. })));
}

#[test]
fn a_second_send_or_receive_is_an_invalid_protocol_operation() {
    let mut h = make(Role::Server, State::Open);
    h.send(BufferType::PingPong, None, 0).unwrap();
    let e = h.send(BufferType::PingPong, None, 0).unwrap_err();
    assert_eq!((e, e_hr(Error::SendOutstanding)), (Error::SendOutstanding, 0x8376_0001));
    h.receive(None, 0).unwrap();
    assert_eq!(h.receive(None, 0), Err(Error::ReceiveOutstanding));
}

fn e_hr(e: Error) -> u32 {
    e.hresult()
}

#[test]
fn buffer_shapes_are_checked_against_their_type() {
    let mut h = make(Role::Server, State::Open);
    assert_eq!(h.send(BufferType::BinaryMessage, None, 0), Err(Error::BufferRequired(BufferType::BinaryMessage)));
    assert_eq!(
        h.send(BufferType::PingPong, Some(SendBuffer::Data(vec![])), 0),
        Err(Error::BufferNotAllowed(BufferType::PingPong))
    );
    assert_eq!(
        h.send(BufferType::Close, Some(SendBuffer::Data(vec![])), 0),
        Err(Error::BufferShapeMismatch(BufferType::Close))
    );
    assert_eq!(
        h.send(BufferType::BinaryMessage, Some(SendBuffer::Close { status: CloseStatus::SUCCESS, reason: vec![] }), 0),
        Err(Error::BufferShapeMismatch(BufferType::BinaryMessage))
    );
    for bad in [0u16, 999, 1005, 1006, 1015] {
        assert_eq!(
            h.send(BufferType::Close, Some(SendBuffer::Close { status: CloseStatus(bad), reason: vec![] }), 0),
            Err(Error::ReservedCloseStatus(bad))
        );
    }
    assert_eq!(
        h.send(BufferType::Close, Some(SendBuffer::Close { status: CloseStatus::SUCCESS, reason: vec![b'a'; 124] }), 0),
        Err(Error::CloseReasonTooLong(124))
    );
    assert_eq!(BufferType::from_u32(7), Err(Error::UnknownBufferType(7)));
    assert_eq!(h.state(), State::Open);
}

#[test]
fn a_lent_buffer_is_checked_and_worked_in() {
    let mut area = vec![0u8; 4096 + 16 + 144];
    let (ptr, len) = (area.as_mut_ptr(), area.len());
    // SAFETY (all three): `area` outlives the handles and is not touched meanwhile.
    let null = unsafe { H::with_lent_buffer(Role::Server, [], std::ptr::null_mut(), len) };
    assert_eq!(null.unwrap_err(), Error::NullAllocatedBuffer);
    let small = unsafe { H::with_lent_buffer(Role::Server, [], ptr, len - 1) };
    assert_eq!(small.unwrap_err(), Error::AllocatedBufferTooSmall { len: len - 1, needed: len });
    let twice = unsafe { H::with_lent_buffer(Role::Server, [Property::AllocatedBuffer(vec![0; len])], ptr, len) };
    assert!(matches!(twice.unwrap_err(), Error::DuplicateProperty(_)));
    // SAFETY: as above.
    let mut h = unsafe { H::with_lent_buffer(Role::Server, [], ptr, len) }.unwrap();
    let mut client = H::new_client(props(Role::Client)).unwrap();
    let mut request = vec![HttpHeader::new("Host", "x")];
    request.extend(client.begin_client_handshake(&[], &[], &[]).unwrap().iter().cloned());
    h.begin_server_handshake(None, &[], &request).unwrap();
    h.receive(None, 0).unwrap();
    match h.get_action(ActionQueue::Receive).unwrap() {
        Action::ReceiveFromNetwork { buffer, .. } => {
            let range = ptr as usize..ptr as usize + len;
            assert!(range.contains(&(buffer.as_ptr() as usize)) && buffer.len() <= 4096);
        }
        other => panic!("{other:?}"),
    }
    drop(h);
    drop(area);
}
