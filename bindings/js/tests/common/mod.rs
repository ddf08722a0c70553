//! The bindings in a JavaScript engine (Node and headless Chromium): js-sys objects,
//! crypto.getRandomValues, views of the engine's memory, errors as JS `Error`s.

/// The checks below as wasm-bindgen tests, for each test binary (Node, the browser).
macro_rules! wasm_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            fn $name() {
                common::$name();
            }
        )*
    };
}

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wsengine_js::{JsHandle as Handle, JsHeadParser as HeadParser, close_reply, encode_request_head};

const UTF8_MESSAGE: u32 = 0x8000_0000;
const SEND: u32 = 1;
const RECEIVE: u32 = 2;
const SEND_TO_NETWORK: u32 = 1;
const INDICATE_SEND_COMPLETE: u32 = 2;
const RECEIVE_FROM_NETWORK: u32 = 3;
const INDICATE_RECEIVE_COMPLETE: u32 = 4;

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap()
}

/// A client and a server with the opening handshake done through the bindings.
pub fn open_pair() -> (Handle, Handle) {
    let mut client = Handle::create_client(JsValue::UNDEFINED).unwrap();
    let mut server = Handle::create_server(JsValue::UNDEFINED).unwrap();
    let host = Array::of2(&"Host".into(), &"example".into());
    let mut request: Vec<JsValue> = vec![host.into()];
    request.extend(client.begin_client_handshake(JsValue::UNDEFINED, JsValue::UNDEFINED, JsValue::UNDEFINED).unwrap());
    let request: Array = request.into_iter().collect();
    let response = server.begin_server_handshake(None, JsValue::UNDEFINED, request.into()).unwrap();
    let outcome = client.end_client_handshake(response.into()).unwrap();
    assert_eq!(get(&outcome, "subprotocol"), JsValue::from(-1.0));
    server.end_server_handshake().unwrap();
    assert_eq!(client.state(), "open");
    (client, server)
}

/// The frames `from` has to write, joined.
fn frames(from: &mut Handle) -> Vec<u8> {
    let mut wire = Vec::new();
    loop {
        match from.get_action(SEND).unwrap() {
            SEND_TO_NETWORK => {
                let data = from.action_data();
                wire.extend(data.to_vec());
                from.complete_action(from.action_token(), data.length()).unwrap();
            }
            INDICATE_SEND_COMPLETE => {
                assert!(from.action_completed());
                assert_eq!(from.action_context(), 7.0);
                from.complete_action(from.action_token(), 0).unwrap();
            }
            _ => return wire,
        }
    }
}

pub fn text_goes_across_through_views() {
    let (mut client, mut server) = open_pair();
    client.send_text(UTF8_MESSAGE, "héllo".into(), Some(7.0)).unwrap();
    let wire = frames(&mut client);
    assert_eq!(wire.len(), 2 + 4 + "héllo".len(), "a masked frame");
    server.receive(None, None).unwrap();
    assert_eq!(server.get_action(RECEIVE).unwrap(), RECEIVE_FROM_NETWORK);
    let token = server.action_token();
    let space = server.read_buffer(token).unwrap();
    assert!(space.length() as usize >= wire.len());
    space.subarray(0, wire.len() as u32).copy_from(&wire);
    server.complete_action(token, wire.len() as u32).unwrap();
    assert_eq!(server.get_action(RECEIVE).unwrap(), INDICATE_RECEIVE_COMPLETE);
    assert_eq!(server.action_buffer_type(), UTF8_MESSAGE);
    assert_eq!(server.action_context(), 0.0, "the receive was given no context");
    assert_eq!(String::from_utf8(server.action_data().to_vec()).unwrap(), "héllo");
    assert_eq!(server.action_view(0).to_vec(), "héllo".as_bytes());
    server.complete_action(server.action_token(), 0).unwrap();
    // Completed: the memory is the engine's again, no view or copy reaches it.
    assert_eq!((server.action_view(0).length(), server.action_data().length()), (0, 0));
}

pub fn errors_are_js_errors_with_the_hresult() {
    let mut fresh = Handle::create_server(JsValue::UNDEFINED).unwrap();
    let e = fresh.send_text(UTF8_MESSAGE, "x".into(), None).unwrap_err();
    let err: js_sys::Error = e.clone().dyn_into().expect("an Error");
    assert_eq!(err.name(), "WebSocketError");
    assert_eq!(get(&e, "hresult"), JsValue::from(0x8007_139F_u32));
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-state"));

    let props = Object::new();
    Reflect::set(&props, &"receiveBufferSize".into(), &JsValue::from(100)).unwrap();
    let e = Handle::create_server(props.into()).err().expect("too small");
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-argument"));
    let props = Object::new();
    Reflect::set(&props, &"recieveBufferSize".into(), &JsValue::from(4096)).unwrap();
    let e = Handle::create_server(props.into()).err().expect("a misspelt property");
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-argument"));

    // A peer's protocol error carries the close status to answer with.
    let (_client, mut server) = open_pair();
    server.push_received(&[0x81, 0x01, b'a']).unwrap(); // unmasked from a client
    server.receive(None, None).unwrap();
    let e = server.get_action(RECEIVE).unwrap_err();
    assert_eq!(get(&e, "closeStatus"), JsValue::from(1002));
    assert_eq!(server.state(), "failed");
    // Bad tokens are errors, not traps.
    assert!(server.complete_action(-1.0, 0).is_err());
    assert!(server.complete_action(1.5, 0).is_err());
    assert!(server.complete_action(f64::NAN, 0).is_err());
}

pub fn helpers() {
    let mut parser = HeadParser::new(None, None);
    assert!(!parser.push(b"GET /chat HTTP/1.1\r\nHost: a\r\n").unwrap());
    assert!(parser.push(b"\r\n\x81").unwrap());
    let request = parser.request().unwrap();
    assert_eq!(get(&request, "target"), JsValue::from_str("/chat"));
    assert_eq!(parser.rest(), vec![0x81]);
    let head = encode_request_head("/x", Array::of1(&Array::of2(&"Host".into(), &"h".into())).into()).unwrap();
    assert!(head.starts_with(b"GET /x HTTP/1.1\r\n"));
    let reply = close_reply(4001, b"bye");
    assert_eq!(get(&reply, "status"), JsValue::from(4001));
    assert_eq!(get(&reply, "reason").dyn_into::<Uint8Array>().unwrap().to_vec(), b"bye");
    assert!(close_reply(1005, b"").is_undefined());
}

/// `sendStep` and `step`: the fused calls the npm driver makes per message, and where they
/// stop when a part fails.
pub fn fused_steps_send_and_stop_at_the_failing_part() {
    const BINARY_MESSAGE: u32 = 0x8000_0002;
    let (mut client, mut server) = open_pair();
    let mut wire = Vec::new();
    let mut indication = None;
    for text in ["one", "two"] {
        // The first message's indication is completed by the second's sendStep.
        assert_eq!(
            client.send_step(indication, UTF8_MESSAGE, Some(text.as_bytes().into()), SEND).unwrap(),
            SEND_TO_NETWORK
        );
        let data = client.action_data();
        wire.extend(data.to_vec());
        assert_eq!(client.step(client.action_token(), data.length(), SEND, None).unwrap(), INDICATE_SEND_COMPLETE);
        assert!(client.action_completed());
        indication = Some(client.action_token());
    }
    let last = indication.unwrap();
    assert_eq!(
        client.send_step(Some(last), BINARY_MESSAGE, Some(vec![1, 2, 3].into()), SEND).unwrap(),
        SEND_TO_NETWORK
    );
    wire.extend(client.action_data().to_vec());
    client.complete_action(client.action_token(), client.action_byte_length()).unwrap();

    server.push_received(&wire).unwrap();
    server.receive(None, None).unwrap();
    let mut got = Vec::new();
    let mut kind = server.get_action(RECEIVE).unwrap();
    while kind == INDICATE_RECEIVE_COMPLETE {
        got.push((server.action_buffer_type(), server.action_data().to_vec()));
        kind = server.step(server.action_token(), 0, RECEIVE, Some(true)).unwrap();
    }
    assert_eq!(kind, RECEIVE_FROM_NETWORK);
    assert_eq!(
        got,
        [(UTF8_MESSAGE, b"one".to_vec()), (UTF8_MESSAGE, b"two".to_vec()), (BINARY_MESSAGE, vec![1, 2, 3])]
    );

    // A completed token: the completion fails, nothing is sent.
    let e = client.send_step(Some(last), UTF8_MESSAGE, Some(b"x"[..].into()), SEND).unwrap_err();
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-argument"));
    assert_eq!(client.get_action(SEND).unwrap(), INDICATE_SEND_COMPLETE, "the binary send is still in flight");
    client.complete_action(client.action_token(), 0).unwrap();
    assert_eq!(client.get_action(SEND).unwrap(), 0, "nothing was sent");
    // Text that is not UTF-8: the send fails after the completion took effect.
    client.send_step(None, UTF8_MESSAGE, Some(vec![0xff].into()), SEND).unwrap_err();
    // An unknown queue: the send took effect, getAction failed.
    assert!(client.send_step(None, BINARY_MESSAGE, Some(vec![4].into()), 9).is_err());
    assert_eq!(client.get_action(SEND).unwrap(), SEND_TO_NETWORK, "the send went in");
}

// ------------------------------------------------------------------ Connection

use wsengine_js::JsConnection as Connection;

/// The report of a connection's last collecting call (see bindings/js/src/connection.rs).
fn report(c: &Connection) -> [u32; 17] {
    // SAFETY: the report is a boxed [u32; 17] in this module's memory, alive with `c`.
    unsafe { *(c.report_address() as usize as *const [u32; 17]) }
}

fn slice(ptr: u32, len: u32) -> Vec<u8> {
    // SAFETY: a range the last report lent, read before the next call.
    unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }.to_vec()
}

/// The output the last report lent, joined.
fn output(c: &Connection) -> Vec<u8> {
    let r = report(c);
    let mut out = Vec::new();
    for i in 0..3 {
        out.extend(slice(r[2 + 2 * i], r[3 + 2 * i]));
    }
    out
}

/// The events of the last batch: (kind, flags, status, bytes).
fn events(c: &Connection, count: u32) -> Vec<(u32, u32, u32, Vec<u8>)> {
    let r = report(c);
    // SAFETY: the records the last report lent.
    let words = unsafe { std::slice::from_raw_parts(r[1] as usize as *const u32, count as usize * 4) };
    words.chunks(4).map(|w| (w[0] & 0xff, w[0] >> 8, w[1], slice(w[2], w[3]))).collect()
}

/// Writes `bytes` into `to`'s inbox and hands them in; returns the batch's events.
fn deliver(to: &mut Connection, bytes: &[u8]) -> Vec<(u32, u32, u32, Vec<u8>)> {
    to.reserve_input(bytes.len() as u32);
    let r = report(to);
    // SAFETY: the inbox the report names, at least `bytes.len()` long.
    unsafe { std::slice::from_raw_parts_mut(r[13] as usize as *mut u8, bytes.len()) }.copy_from_slice(bytes);
    let n = to.read(bytes.len() as u32, 1.0, 0, 0);
    events(to, n)
}

/// Moves `from`'s output to `to` until neither has more; returns `to`'s events.
fn carry(from: &mut Connection, to: &mut Connection) -> Vec<(u32, u32, u32, Vec<u8>)> {
    let out = output(from);
    from.advance(out.len() as u32);
    let mut got = deliver(to, &out);
    // The batch ends after `open`: the rest comes with the next call.
    while report(to)[12] & 1 != 0 {
        let n = to.flush(0, 0);
        got.extend(events(to, n));
    }
    got
}

const EV_OPEN: u32 = 2;
const EV_MESSAGE: u32 = 3;
const EV_CLOSE_RECEIVED: u32 = 6;
const EV_FAILED: u32 = 7;
const EV_CLOSED: u32 = 8;

fn no_timers() -> JsValue {
    let o = Object::new();
    for key in ["pingInterval", "closeTimeout", "openTimeout", "pongTimeout"] {
        Reflect::set(&o, &key.into(), &JsValue::NULL).unwrap();
    }
    Reflect::set(&o, &"protocols".into(), &Array::of1(&"chat".into())).unwrap();
    o.into()
}

/// A client and a server `Connection` through one batch per read: the handshake, staged
/// sends, a message each way, and the close both sides see.
pub fn connections_talk_in_batches() {
    let mut client = Connection::client("ws://example.com/chat", no_timers(), 0.0).unwrap();
    let mut server = Connection::server(no_timers(), 0.0).unwrap();
    let request = output(&client);
    assert!(request.starts_with(b"GET /chat HTTP/1.1\r\n"));
    assert_eq!(carry(&mut client, &mut server)[0].0, EV_OPEN);
    assert_eq!(server.subprotocol().as_deref(), Some("chat"));
    assert_eq!(carry(&mut server, &mut client)[0].0, EV_OPEN);
    assert_eq!(client.state(), "open");

    // Two staged sends ([kind, length, bytes padded to 4]) handed in by one call.
    let r = report(&client);
    let mut staged = Vec::new();
    for (kind, data) in [(1u32, &b"hello"[..]), (2, &[1, 2, 3][..])] {
        staged.extend(kind.to_le_bytes());
        staged.extend((data.len() as u32).to_le_bytes());
        staged.extend(data);
        staged.resize(staged.len().next_multiple_of(4), 0);
    }
    // SAFETY: the send area the report names (64 KiB).
    unsafe { std::slice::from_raw_parts_mut(r[15] as usize as *mut u8, staged.len()) }.copy_from_slice(&staged);
    assert_eq!(client.flush(0, staged.len() as u32), 0);
    let got = carry(&mut client, &mut server);
    assert_eq!(got, [(EV_MESSAGE, 1 | 2, 0, b"hello".to_vec()), (EV_MESSAGE, 2, 0, vec![1, 2, 3])]);

    server.close(Some(4000), Some("bye".into()), 2.0).unwrap();
    server.flush(0, 0);
    let got = carry(&mut server, &mut client);
    assert_eq!(got, [(EV_CLOSE_RECEIVED, 0, 4000, b"bye".to_vec())]);
    let got = carry(&mut client, &mut server);
    assert_eq!(got[0], (EV_CLOSE_RECEIVED, 0, 4000, b"bye".to_vec()));
    assert_eq!(got[1], (EV_CLOSED, 4, 4000, b"bye".to_vec()), "clean, at the server at once");
    // The server closed the transport: the client ends.
    let n = client.read_eof(0, 0);
    assert_eq!(events(&client, n), [(EV_CLOSED, 4, 4000, b"bye".to_vec())]);
}

/// Refusals: a bad option, a ping over 125 bytes, a staged send after the close; a peer's
/// protocol error is a `failed` event with the status sent and the error as a JS Error.
pub fn connection_errors_are_web_socket_errors() {
    let bad = Object::new();
    Reflect::set(&bad, &"maxPayload".into(), &JsValue::from(1)).unwrap();
    let e = Connection::server(bad.into(), 0.0).err().expect("an unknown option");
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-argument"));
    let e = Connection::client("http://x/", JsValue::UNDEFINED, 0.0).err().expect("not ws:");
    assert_eq!(get(&e, "name"), JsValue::from_str("WebSocketError"));

    let mut server = Connection::from_upgraded(false, no_timers(), 0.0).unwrap();
    let n = server.flush(0, 0);
    assert_eq!(events(&server, n)[0].0, EV_OPEN);
    let e = server.ping(Some(vec![0; 126].into())).unwrap_err();
    assert_eq!(get(&e, "kind"), JsValue::from_str("invalid-argument"));
    // An unmasked frame from a client: failed with 1002 sent, then closed.
    let got = deliver(&mut server, b"\x81\x02hi");
    assert_eq!(got[0].0, EV_FAILED);
    assert_eq!(got[0].2, 1002);
    assert_eq!(got[1].0, EV_CLOSED);
    assert_eq!(get(&server.error(), "closeStatus"), JsValue::from(1002));
    assert_eq!(output(&server), b"\x88\x02\x03\xea");
    // A staged send now is refused: the ERROR flag, and takeError() returns it once.
    let r = report(&server);
    let staged = [2u32.to_le_bytes(), 0u32.to_le_bytes()].concat();
    // SAFETY: the send area the report names.
    unsafe { std::slice::from_raw_parts_mut(r[15] as usize as *mut u8, 8) }.copy_from_slice(&staged);
    server.flush(4, 8);
    assert_eq!(report(&server)[12] & 8, 8);
    assert_eq!(get(&server.take_error(), "kind"), JsValue::from_str("invalid-state"));
    assert!(server.take_error().is_undefined());
}
