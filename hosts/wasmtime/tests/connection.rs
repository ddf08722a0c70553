//! The `connection` resource through WIT: a client and a server connection inside one
//! instance, the host carrying each call's output to the other side's `read` in cuts of
//! varying size, and its end of stream as `read-eof`. The opening handshake, messages of
//! 0 B to 1 MiB both ways, ping and pong payloads, the close handshake from either side,
//! a limit failing with 1009, deadlines, permessage-deflate negotiated and in force, and
//! misuse answered with errors, never a trap.

mod common;

use common::{err, ok, seed, session};
use wasmtime::component::ResourceAny;
use wsengine_host::{
    CloseFrame, ConnectionState, Event, Options, Outgoing, Piece, Progress, Property, Role, SendError, Session, detail,
    header, wit,
};

/// A small deterministic generator (xorshift) for the cuts.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One end: its connection, the events it handed out, the bytes it wrote and the other
/// end has not read yet.
struct Side {
    c: ResourceAny,
    events: Vec<Event>,
    unread: Vec<u8>,
    /// This side closed its transport (after `closed`, its output written).
    hung_up: bool,
    /// Every byte this side wrote.
    wire: Vec<u8>,
    /// When the connection last asked to be woken (the clock stands at 0 here).
    wake_up: Option<u64>,
}

impl Side {
    fn new(c: ResourceAny) -> Self {
        Side { c, events: Vec::new(), unread: Vec::new(), hung_up: false, wire: Vec::new(), wake_up: None }
    }

    fn take(&mut self, p: Progress) {
        self.wake_up = p.wake_up;
        self.wire.extend_from_slice(&p.output);
        self.unread.extend(p.output);
        self.events.extend(p.events);
    }

    fn closed(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Closed(_)))
    }
}

struct Pair {
    s: Session,
    client: Side,
    server: Side,
    rng: Rng,
}

/// Options with no deadline and no keep-alive, so nothing depends on the clock.
fn no_timers(s: &mut Session) -> Options {
    let mut o = s.default_options().unwrap();
    o.ping_interval = None;
    o.pong_timeout = None;
    o.close_timeout = None;
    o.open_timeout = None;
    o
}

fn seeded(mut o: Options) -> Options {
    o.properties.push(Property::RandomSeed(seed(7)));
    o
}

/// Carries `from`'s unread bytes to `to` in cuts of 1 byte to 64 KiB, one `read` each,
/// and `from`'s hang-up as `read-eof`. True when anything moved.
fn transfer(s: &mut Session, from: &mut Side, to: &mut Side, rng: &mut Rng) -> bool {
    let mut moved = false;
    if from.wake_up == Some(0) && !from.closed() {
        // Due now (a failure waiting for this host's turn to end): the host's timer fires.
        from.take(s.connection_handle_timeout(from.c, 0).unwrap());
        moved = true;
    }
    while !from.unread.is_empty() {
        let n = (1 + rng.below(64 * 1024)).min(from.unread.len());
        let bytes: Vec<u8> = from.unread.drain(..n).collect();
        if !to.hung_up {
            to.take(ok(s.connection_read(to.c, &bytes, 0)));
        }
        moved = true;
    }
    if from.closed() && !from.hung_up {
        from.hung_up = true;
        if !to.hung_up {
            to.take(s.connection_read_eof(to.c).unwrap());
        }
        moved = true;
    }
    moved
}

impl Pair {
    /// A client for ws://example.com/chat and a server, in one instance, before the
    /// request went out.
    fn new(client: Options, server: Options, seed: u64) -> Self {
        let mut s = session();
        let c = ok(s.connection_client(0, &seeded(client), "ws://example.com/chat"));
        let v = ok(s.connection_server(0, &server));
        let mut p = Pair { s, client: Side::new(c), server: Side::new(v), rng: Rng(seed | 1) };
        let first = p.s.connection_handle_timeout(c, 0).unwrap();
        p.client.take(first);
        p
    }

    /// Both ends open, their `open` events checked.
    fn open(client: Options, server: Options, seed: u64) -> Self {
        let mut p = Self::new(client, server, seed);
        p.run();
        assert!(matches!(p.client.events.first(), Some(Event::Open(_))), "{:?}", p.client.events);
        assert!(matches!(p.server.events.first(), Some(Event::Open(_))), "{:?}", p.server.events);
        assert_eq!(p.s.connection_state(p.client.c).unwrap(), ConnectionState::Open);
        p
    }

    /// Moves bytes both ways until nothing moves.
    fn run(&mut self) {
        loop {
            let a = transfer(&mut self.s, &mut self.client, &mut self.server, &mut self.rng);
            let b = transfer(&mut self.s, &mut self.server, &mut self.client, &mut self.rng);
            if !a && !b {
                return;
            }
        }
    }

    fn send(&mut self, client: bool, batch: &[Outgoing]) {
        let side = if client { &mut self.client } else { &mut self.server };
        let p = self.s.connection_send(side.c, batch, 0).unwrap().unwrap_or_else(|e| panic!("refused: {e:?}"));
        side.take(p);
    }

    fn refused(&mut self, client: bool, batch: &[Outgoing]) -> SendError {
        let side = if client { &mut self.client } else { &mut self.server };
        let e = self.s.connection_send(side.c, batch, 0).expect("no trap").expect_err("refused");
        side.take(e.progress.clone());
        e
    }
}

fn text(data: &[u8], fin: bool) -> Outgoing {
    Outgoing::Text(Piece { data: data.to_vec(), fin })
}

fn binary(data: &[u8], fin: bool) -> Outgoing {
    Outgoing::Binary(Piece { data: data.to_vec(), fin })
}

/// The messages in `events`, pieces joined: (text, bytes).
fn messages(events: &[Event]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut open: Option<(bool, Vec<u8>)> = None;
    for e in events {
        if let Event::Message(m) = e {
            let msg = open.get_or_insert_with(|| (m.text, Vec::new()));
            msg.1.extend_from_slice(&m.data);
            if m.fin {
                out.extend(open.take());
            }
        }
    }
    out
}

fn closed(clean: bool, status: u16, reason: &str) -> Event {
    Event::Closed(wit::Closed { clean, status, reason: reason.to_owned() })
}

fn close_received(status: u16, reason: &str) -> Event {
    Event::CloseReceived(wit::CloseReceived { status, reason: reason.to_owned() })
}

#[test]
fn the_opening_handshake_selects_a_subprotocol_and_shows_the_peers_head() {
    let mut s = session();
    let mut client = no_timers(&mut s);
    client.subprotocols = vec!["chat.v1".into(), "chat.v2".into()];
    client.headers = vec![header("X-Client", "test")];
    let mut server = no_timers(&mut s);
    server.subprotocols = vec!["chat.v2".into()];
    server.headers = vec![header("X-Server", "test")];
    let mut p = Pair::new(client, server, 1);
    assert!(p.client.unread.starts_with(b"GET /chat HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&p.client.unread));
    assert_eq!(p.s.connection_state(p.client.c).unwrap(), ConnectionState::Connecting);
    p.run();
    assert!(p.server.wire.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    let (Some(Event::Open(at_client)), Some(Event::Open(at_server))) =
        (p.client.events.first(), p.server.events.first())
    else {
        panic!("{:?} {:?}", p.client.events, p.server.events)
    };
    assert_eq!(at_client.subprotocol.as_deref(), Some("chat.v2"));
    assert_eq!(at_server.subprotocol.as_deref(), Some("chat.v2"));
    assert!(at_server.headers.contains(&header("X-Client", "test")));
    assert!(at_server.headers.contains(&header("Host", "example.com")));
    assert!(at_client.headers.contains(&header("X-Server", "test")));
    assert_eq!(p.s.connection_subprotocol(p.client.c).unwrap().as_deref(), Some("chat.v2"));
    assert_eq!(p.s.connection_subprotocol(p.server.c).unwrap().as_deref(), Some("chat.v2"));
    assert_eq!(p.s.connection_state(p.server.c).unwrap(), ConnectionState::Open);
}

#[test]
fn messages_of_0_bytes_to_1_mib_cross_both_ways_in_one_batch_each() {
    let lens = [0usize, 1, 125, 126, 127, 4096, 65535, 65536, 65537, 300_000, 1 << 20];
    for reassemble in [false, true] {
        let mut s = session();
        let o = Options { reassemble, ..no_timers(&mut s) };
        let mut p = Pair::open(o.clone(), o, 2 + reassemble as u64);
        let payload = |i: usize, len: usize| -> Vec<u8> { (0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect() };
        let from_client: Vec<Outgoing> =
            lens.iter().enumerate().map(|(i, &len)| binary(&payload(i, len), true)).collect();
        let from_server: Vec<Outgoing> =
            lens.iter().enumerate().map(|(i, &len)| text(&payload(i + 1, len), true)).collect();
        p.send(true, &from_client);
        p.send(false, &from_server);
        p.run();
        let at_server = messages(&p.server.events);
        let at_client = messages(&p.client.events);
        assert_eq!(at_server.len(), lens.len());
        assert_eq!(at_client.len(), lens.len());
        for (i, &len) in lens.iter().enumerate() {
            assert_eq!(at_server[i], (false, payload(i, len)), "client to server, {len} B");
            assert_eq!(at_client[i], (true, payload(i + 1, len)), "server to client, {len} B");
        }
        if reassemble {
            let pieces = p.server.events.iter().filter(|e| matches!(e, Event::Message(m) if !m.fin)).count();
            assert_eq!(pieces, 0, "whole messages only");
        }
        assert_eq!(p.s.connection_buffered_amount(p.client.c).unwrap(), 0);
    }
}

#[test]
fn fragments_sent_in_pieces_arrive_in_order_and_text_is_checked_across_them() {
    let mut s = session();
    let server = Options { reassemble: true, ..no_timers(&mut s) };
    let mut p = Pair::open(no_timers(&mut s), server, 3);
    // "é" is C3 A9, cut between two pieces.
    p.send(true, &[text(b"caf\xC3", false), text(b"\xA9!", true), binary(&[1], false)]);
    p.send(true, &[binary(&[2], true)]);
    p.run();
    assert_eq!(messages(&p.server.events), [(true, "café!".as_bytes().to_vec()), (false, vec![1, 2])]);
}

#[test]
fn pings_and_pongs_carry_their_payloads() {
    let mut s = session();
    let mut p = Pair::open(no_timers(&mut s), no_timers(&mut s), 4);
    p.send(true, &[Outgoing::Ping(vec![7; 125]), Outgoing::Pong(b"hi".to_vec())]);
    p.run();
    p.send(false, &[Outgoing::Ping(Vec::new())]);
    p.run();
    assert_eq!(p.server.events[1..], [Event::Ping(vec![7; 125]), Event::Pong(b"hi".to_vec()), Event::Pong(vec![])]);
    assert_eq!(p.client.events[1..], [Event::Pong(vec![7; 125]), Event::Ping(vec![])]);
}

#[test]
fn a_close_from_the_client_is_answered_and_the_server_hangs_up_first() {
    let mut s = session();
    let mut p = Pair::open(no_timers(&mut s), no_timers(&mut s), 5);
    p.send(true, &[text(b"last", true), Outgoing::Close(Some(CloseFrame { status: 4000, reason: b"bye".to_vec() }))]);
    assert_eq!(p.s.connection_state(p.client.c).unwrap(), ConnectionState::Closing);
    p.run();
    assert_eq!(
        p.server.events[1..],
        [
            Event::Message(wit::Message { text: true, data: b"last".to_vec(), fin: true }),
            close_received(4000, "bye"),
            closed(true, 4000, "bye")
        ]
    );
    assert_eq!(p.client.events[1..], [close_received(4000, "bye"), closed(true, 4000, "bye")]);
    assert!(p.server.hung_up && p.client.hung_up);
    assert_eq!(p.s.connection_state(p.client.c).unwrap(), ConnectionState::Closed);
    assert_eq!(p.s.connection_state(p.server.c).unwrap(), ConnectionState::Closed);
}

#[test]
fn a_close_from_the_server_ends_the_client_once_the_server_hangs_up() {
    let mut s = session();
    let mut p = Pair::open(no_timers(&mut s), no_timers(&mut s), 6);
    p.send(false, &[Outgoing::Close(None)]);
    p.run();
    assert_eq!(p.server.events[1..], [close_received(1005, ""), closed(true, 1005, "")]);
    assert_eq!(p.client.events[1..], [close_received(1005, ""), closed(true, 1005, "")]);
}

#[test]
fn a_message_over_the_limit_fails_the_connection_with_1009() {
    let mut s = session();
    let server = Options { max_message_size: 1000, ..no_timers(&mut s) };
    let mut p = Pair::open(no_timers(&mut s), server, 7);
    p.send(true, &[binary(&[1; 1000], true), binary(&[2; 1001], true)]);
    p.run();
    assert_eq!(messages(&p.server.events), [(false, vec![1; 1000])]);
    let failure = p.server.events.iter().find_map(|e| match e {
        Event::Failed(f) => Some(f.clone()),
        _ => None,
    });
    let failure = failure.expect("the server failed");
    assert_eq!(failure.status_sent, Some(1009));
    assert!(matches!(failure.error, wit::Error::InvalidProtocolFormat(_)), "{:?}", failure.error);
    assert_eq!(detail(&failure.error).close_status, Some(1009));
    assert!(matches!(p.server.events.last(), Some(Event::Closed(c)) if !c.clean && c.status == 1006));
    assert!(p.client.events.contains(&close_received(1009, "")), "{:?}", p.client.events);
}

#[test]
fn a_deferred_server_accepts_with_a_subprotocol_or_rejects_with_a_status() {
    let mut s = session();
    let client = Options { subprotocols: vec!["chat".into()], ..no_timers(&mut s) };
    let server = Options { defer_accept: true, ..no_timers(&mut s) };
    let mut p = Pair::new(client.clone(), server.clone(), 8);
    p.run();
    let [Event::Request(request)] = p.server.events.as_slice() else { panic!("{:?}", p.server.events) };
    assert_eq!(request.target, "/chat");
    assert!(matches!(
        err(p.s.connection_accept(p.server.c, Some("other"), &[])),
        wit::Error::SubprotocolNotSupported(_)
    ));
    let accepted = ok(p.s.connection_accept(p.server.c, Some("chat"), &[header("X-Served-By", "test")]));
    p.server.take(accepted);
    p.run();
    assert!(matches!(&p.client.events[0], Event::Open(o) if o.subprotocol.as_deref() == Some("chat")));

    let mut p = Pair::new(client, server, 9);
    p.run();
    let rejected = ok(p.s.connection_reject(p.server.c, 403, "no"));
    p.server.take(rejected);
    p.run();
    assert!(p.server.wire.starts_with(b"HTTP/1.1 403 "));
    assert!(matches!(&p.client.events[0], Event::Failed(f) if f.status_sent.is_none()));
    assert_eq!(p.client.events[1], closed(false, 1006, ""));
}

#[test]
fn upgraded_connections_open_at_once() {
    let mut s = session();
    let o = no_timers(&mut s);
    let c = ok(s.connection_from_upgraded(Role::Client, 0, &seeded(o.clone())));
    let v = ok(s.connection_from_upgraded(Role::Server, 0, &o));
    let mut p = Pair { s, client: Side::new(c), server: Side::new(v), rng: Rng(10) };
    for side in [&mut p.client, &mut p.server] {
        let first = p.s.connection_handle_timeout(side.c, 0).unwrap();
        assert_eq!(first.events, [Event::Open(wit::Opened { subprotocol: None, target: None, headers: vec![] })]);
        assert!(first.output.is_empty());
    }
    p.send(true, &[text(b"hi", true)]);
    p.run();
    assert_eq!(messages(&p.server.events), [(true, b"hi".to_vec())]);
}

#[test]
fn deadlines_come_out_as_wake_ups_and_fail_with_timeout() {
    let mut s = session();
    let o = Options { open_timeout: Some(50), ..no_timers(&mut s) };
    let v = ok(s.connection_server(100, &o));
    let p = ok(s.connection_read(v, b"GET / HTTP/1.1\r\n", 120));
    assert_eq!(p.wake_up, Some(150));
    assert!(p.events.is_empty() && p.output.is_empty());
    assert!(s.connection_handle_timeout(v, 149).unwrap().events.is_empty());
    let p = s.connection_handle_timeout(v, 150).unwrap();
    let [Event::Failed(f), Event::Closed(c)] = p.events.as_slice() else { panic!("{:?}", p.events) };
    assert!(matches!(f.error, wit::Error::Timeout(_)), "{:?}", f.error);
    assert_eq!(detail(&f.error).hresult, 0x8007_05B4);
    assert!(!c.clean);
    assert_eq!(p.wake_up, None);

    // A keep-alive ping at the interval, its pong awaited.
    let mut client = no_timers(&mut s);
    client.ping_interval = Some(1000);
    client.pong_timeout = Some(500);
    let c = ok(s.connection_from_upgraded(Role::Client, 0, &seeded(client)));
    let p = s.connection_handle_timeout(c, 0).unwrap();
    assert_eq!(p.wake_up, Some(1000));
    let p = s.connection_handle_timeout(c, 1000).unwrap();
    assert!(!p.output.is_empty(), "the ping");
    assert_eq!(p.wake_up, Some(1500));
    let p = s.connection_handle_timeout(c, 1500).unwrap();
    let [Event::Failed(f), Event::Closed(_)] = p.events.as_slice() else { panic!("{:?}", p.events) };
    assert_eq!(f.status_sent, Some(1011));
    assert!(matches!(f.error, wit::Error::Timeout(_)));
}

#[test]
fn misuse_is_answered_with_errors_and_the_instance_lives_on() {
    let mut s = session();
    let o = no_timers(&mut s);
    // Constructors: a bad URL, no random seed, a bad property.
    for url in ["http://example.com/", "ws://", "ws://a/#f"] {
        assert!(
            matches!(err(s.connection_client(0, &seeded(o.clone()), url)), wit::Error::InvalidArgument(_)),
            "{url}"
        );
    }
    assert!(matches!(err(s.connection_client(0, &o, "ws://a/")), wit::Error::InvalidArgument(_)));
    let bad = Options { properties: vec![Property::ReceiveBufferSize(1)], ..o.clone() };
    assert!(matches!(err(s.connection_server(0, &bad)), wit::Error::InvalidArgument(_)));
    let short_seed = Options { properties: vec![Property::RandomSeed(vec![1; 31])], ..o.clone() };
    assert!(matches!(err(s.connection_client(0, &short_seed, "ws://a/")), wit::Error::InvalidArgument(_)));

    // Sends before the handshake, and accept or reject with no request waiting.
    let c = ok(s.connection_client(0, &seeded(o.clone()), "ws://a/"));
    let e = s.connection_send(c, &[text(b"early", true)], 0).unwrap().unwrap_err();
    assert_eq!(e.index, 0);
    assert!(matches!(e.error, wit::Error::InvalidState(_)), "{:?}", e.error);
    assert!(matches!(err(s.connection_accept(c, None, &[])), wit::Error::InvalidState(_)));
    assert!(matches!(err(s.connection_reject(c, 400, "")), wit::Error::InvalidState(_)));
    s.drop_handle(c).unwrap();

    // In a batch, the refused entry is named; those before it went out.
    let mut p = Pair::open(no_timers(&mut s), no_timers(&mut s), 11);
    let e = p.refused(true, &[text(b"ok", true), text(b"\xFF", true), text(b"never", true)]);
    assert_eq!(e.index, 1);
    assert!(matches!(e.error, wit::Error::InvalidProtocolFormat(_)), "{:?}", e.error);
    let e = p.refused(true, &[Outgoing::Ping(vec![0; 126])]);
    assert!(matches!(e.error, wit::Error::InvalidArgument(_)), "{:?}", e.error);
    let e = p.refused(true, &[binary(b"a", false), text(b"b", true)]);
    assert_eq!(e.index, 1);
    assert!(matches!(e.error, wit::Error::InvalidProtocolOperation(_)), "{:?}", e.error);
    p.send(true, &[binary(b"c", true)]);
    let reserved = Outgoing::Close(Some(CloseFrame { status: 1005, reason: vec![] }));
    let not_utf8 = Outgoing::Close(Some(CloseFrame { status: 1000, reason: vec![0xFF] }));
    for close in [reserved, not_utf8] {
        assert!(matches!(p.refused(true, &[close]).error, wit::Error::InvalidProtocolFormat(_)));
    }
    p.run();
    assert_eq!(messages(&p.server.events), [(true, b"ok".to_vec()), (false, b"ac".to_vec())]);
    p.send(true, &[Outgoing::Close(None)]);
    let e = p.refused(true, &[text(b"after close", true)]);
    assert!(matches!(e.error, wit::Error::InvalidProtocolOperation(_)), "{:?}", e.error);
    p.run();
    assert!(p.client.closed() && p.server.closed());
    let e = p.refused(true, &[Outgoing::Ping(vec![])]);
    assert!(matches!(e.error, wit::Error::InvalidState(_)), "{:?}", e.error);
    // A closed connection ignores bytes and aborts as a no-op.
    assert!(ok(p.s.connection_read(p.client.c, b"late", 0)).events.is_empty());
    assert!(p.s.connection_abort(p.client.c).unwrap().events.is_empty());

    // A read larger than max-buffered-input is refused, taking nothing.
    let small = Options { max_buffered_input: 1000, ..no_timers(&mut p.s) };
    let v = ok(p.s.connection_from_upgraded(Role::Server, 0, &small));
    assert!(matches!(err(p.s.connection_read(v, &[0; 70_000], 0)), wit::Error::InvalidArgument(_)));
    // The same connection still works: an unmasked frame from a client fails it with 1002.
    let got = ok(p.s.connection_read(v, b"\x81\x02hi", 0));
    assert!(matches!(&got.events[1], Event::Failed(f) if f.status_sent == Some(1002)), "{:?}", got.events);
    assert_eq!(got.output, b"\x88\x02\x03\xea");

    // Abort ends a connection at once, not clean; a dropped one is refused by the runtime.
    let v = ok(p.s.connection_from_upgraded(Role::Server, 0, &small));
    let aborted = p.s.connection_abort(v).unwrap();
    assert_eq!(aborted.events.last(), Some(&closed(false, 1006, "")));
    p.s.drop_handle(v).unwrap();
    assert!(p.s.connection_state(v).is_err(), "a dropped connection is a trap, not a state");
}

#[test]
fn permessage_deflate_is_negotiated_and_messages_cross_compressed() {
    let lens = [0usize, 1, 200, 4096, 65536, 300_000];
    for (bits, takeover) in [(9u8, true), (12, false), (15, true)] {
        let mut s = session();
        let mut d = s.default_deflate_options().unwrap();
        (d.server_max_window_bits, d.client_max_window_bits) = (bits, 24 - bits);
        (d.server_no_context_takeover, d.client_no_context_takeover) = (!takeover, !takeover);
        d.threshold = 0;
        let o = Options { deflate: Some(d), ..no_timers(&mut s) };
        let mut p = Pair::open(o.clone(), o, bits as u64);
        let agreed = p.s.connection_extensions(p.server.c).unwrap();
        assert!(agreed.as_deref().is_some_and(|e| e.starts_with("permessage-deflate")), "{agreed:?}");
        assert_eq!(p.s.connection_extensions(p.client.c).unwrap(), agreed);
        let payload = |i: usize, len: usize| -> Vec<u8> { (0..len).map(|j| b'a' + ((i + j / 7) % 26) as u8).collect() };
        let batch: Vec<Outgoing> = lens.iter().enumerate().map(|(i, &len)| text(&payload(i, len), true)).collect();
        p.send(true, &batch);
        p.send(false, &batch);
        p.run();
        let expected: Vec<(bool, Vec<u8>)> = lens.iter().enumerate().map(|(i, &len)| (true, payload(i, len))).collect();
        assert_eq!(messages(&p.server.events), expected);
        assert_eq!(messages(&p.client.events), expected);
        // The server's frames after its 101 carry RSV1 and are smaller than their payload.
        let body = &p.server.wire[p.server.wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
        assert_eq!(body[0] & 0x40, 0x40, "RSV1 on the first message");
        assert!(body.len() < lens.iter().sum::<usize>() / 4, "{} bytes on the wire", body.len());
    }
    // Options out of range are refused, not trapped on.
    let mut s = session();
    let mut d = s.default_deflate_options().unwrap();
    d.server_max_window_bits = 8;
    assert!(matches!(s.deflate_offer(d).unwrap(), Err(wit::Error::InvalidArgument(_))));
    assert!(matches!(s.accept_deflate(&[], d).unwrap(), Err(wit::Error::InvalidArgument(_))));
    let o = Options { deflate: Some(d), ..no_timers(&mut s) };
    assert!(matches!(s.connection_server(0, &o).unwrap(), Err(wit::Error::InvalidArgument(_))));
    let defaults = s.default_deflate_options().unwrap();
    let offer = s.deflate_offer(defaults).unwrap().unwrap();
    assert_eq!(offer, "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12");
    let request = [header("Sec-WebSocket-Extensions", &offer)];
    let chosen = s.accept_deflate(&request, defaults).unwrap().unwrap();
    assert_eq!(chosen.as_deref(), Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"));
}

#[test]
fn an_extended_connect_opens_both_ends_and_their_frames_cross_as_over_http_1_1() {
    // The host's HTTP/2 or HTTP/3 stack carries the fields; the stream's data then goes
    // through `read` as a TCP stream's would.
    let mut s = session();
    let client_options = Options { subprotocols: vec!["v1".into(), "v2".into()], ..no_timers(&mut s) };
    let server_options = Options { subprotocols: vec!["v2".into()], ..no_timers(&mut s) };
    let (c, request) = ok(s.connection_client_connect(0, &seeded(client_options), "wss://example.com/chat"));
    let names: Vec<String> = request.iter().map(|h| String::from_utf8_lossy(&h.name).into_owned()).collect();
    assert_eq!(
        names,
        [":method", ":protocol", ":scheme", ":authority", ":path", "sec-websocket-version", "sec-websocket-protocol"]
    );
    assert_eq!(request[1], header(":protocol", "websocket"));
    let (v, response) = ok(s.connection_accept_connect(0, &server_options, &request));
    assert_eq!(response, [header(":status", "200"), header("sec-websocket-protocol", "v2")]);
    let mut p = Pair { s, client: Side::new(c), server: Side::new(v), rng: Rng(12) };
    let first = ok(p.s.connection_connect_response(c, 200, &response));
    assert!(first.output.is_empty(), "no HTTP/1.1 head goes on the stream");
    p.client.take(first);
    let first = p.s.connection_handle_timeout(v, 0).unwrap();
    p.server.take(first);
    for side in [&p.client, &p.server] {
        assert_eq!(
            side.events,
            [Event::Open(wit::Opened { subprotocol: Some("v2".into()), target: None, headers: vec![] })]
        );
    }
    p.send(true, &[text(b"over HTTP/2", true), binary(&[7; 70_000], true)]);
    p.send(false, &[text(b"back", true)]);
    p.run();
    assert_eq!(messages(&p.server.events), [(true, b"over HTTP/2".to_vec()), (false, vec![7; 70_000])]);
    assert_eq!(messages(&p.client.events), [(true, b"back".to_vec())]);
    // The client masks as ever.
    assert_eq!(p.client.wire[1] & 0x80, 0x80);
    p.send(true, &[Outgoing::Close(Some(CloseFrame { status: 1000, reason: b"bye".to_vec() }))]);
    p.run();
    assert_eq!(p.client.events.last(), Some(&closed(true, 1000, "bye")));
    assert_eq!(p.server.events.last(), Some(&closed(true, 1000, "bye")));
}

#[test]
fn a_bad_extended_connect_or_its_misuse_is_answered_with_errors() {
    let mut s = session();
    let o = no_timers(&mut s);
    let (c, request) = ok(s.connection_client_connect(0, &seeded(o.clone()), "ws://h/"));
    // A key in the request: 400; a version other than 13: 426.
    let mut keyed = request.clone();
    keyed.push(header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
    let e = err(s.connection_accept_connect(0, &o, &keyed));
    assert_eq!((detail(&e).hresult, detail(&e).http_status), (0x8376_0002, Some(400)), "{e:?}");
    let versioned: Vec<_> = request
        .iter()
        .map(|h| if h.name == b"sec-websocket-version" { header("sec-websocket-version", "8") } else { h.clone() })
        .collect();
    let e = err(s.connection_accept_connect(0, &o, &versioned));
    assert_eq!(detail(&e).http_status, Some(426));
    // The profile is the constructor's.
    let mut given = o.clone();
    given.properties.push(Property::ExtendedConnect(true));
    assert!(matches!(s.connection_accept_connect(0, &given, &request).unwrap(), Err(wit::Error::InvalidArgument(_))));
    // A refusing status fails the client; its events come with the next call.
    let e = err(s.connection_connect_response(c, 403, &[]));
    assert_eq!(detail(&e).hresult, 0x8376_0002);
    let next = s.connection_handle_timeout(c, 0).unwrap();
    assert!(matches!(next.events.as_slice(), [Event::Failed(_), Event::Closed(_)]), "{:?}", next.events);
    // No response awaited: invalid-state, on a client once answered as on a server.
    assert!(matches!(s.connection_connect_response(c, 200, &[]).unwrap(), Err(wit::Error::InvalidState(_))));
    let v = ok(s.connection_server(0, &o));
    assert!(matches!(s.connection_connect_response(v, 200, &[]).unwrap(), Err(wit::Error::InvalidState(_))));
}
