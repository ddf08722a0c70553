//! The connection layer: a client and a server connection joined by an in-memory pipe
//! that cuts every transfer at random points, with a fake clock.

use wsengine::{
    ClientRequest, CloseStatus, Connection, ConnectionState, Deadline, Error, ErrorKind, Event, HeadLimits, HeadParser,
    HttpHeader, Millis, Options, Property, Role, encode_response_head,
};

/// A small deterministic generator (xorshift) for split points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a side observed, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Request(String),
    Open(Option<String>),
    Message { text: bool, data: Vec<u8>, fin: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    CloseReceived(u16, String),
    Failed(Error, Option<u16>),
    Closed { clean: bool, status: u16, reason: String },
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Request { target, .. } => Ev::Request(target.to_owned()),
        Event::Open { subprotocol, .. } => Ev::Open(subprotocol.map(str::to_owned)),
        Event::Message { text, data, fin } => Ev::Message { text, data: data.to_vec(), fin },
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::CloseReceived { status, reason } => Ev::CloseReceived(status.0, reason.to_owned()),
        Event::Failed { error, status_sent } => Ev::Failed(error, status_sent.map(|s| s.0)),
        Event::Closed { clean, status, reason } => Ev::Closed { clean, status: status.0, reason: reason.to_owned() },
    }
}

struct Side {
    conn: Connection,
    events: Vec<Ev>,
    /// This side closed its transport (after `Closed`, once its output was written).
    hung_up: bool,
    /// Everything this side wrote.
    wire: Vec<u8>,
}

impl Side {
    fn drain(&mut self) {
        while let Some(e) = self.conn.poll_event() {
            self.events.push(own(e));
        }
    }
    fn closed(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Ev::Closed { .. }))
    }
}

struct Pair {
    client: Side,
    server: Side,
    rng: Rng,
    /// Deliver the client's bytes to the server (false: the network eats them).
    deliver_to_server: bool,
    deliver_to_client: bool,
}

fn side(conn: Connection) -> Side {
    Side { conn, events: Vec::new(), hung_up: false, wire: Vec::new() }
}

fn seeded(mut o: Options) -> Options {
    o.properties.push(Property::RandomSeed([7; 32]));
    o
}

impl Pair {
    fn new(client: Options, server: Options, seed: u64) -> Self {
        let request = ClientRequest::from_url("ws://example.com/chat").unwrap();
        Self {
            client: side(Connection::client(0, seeded(client), &request).unwrap()),
            server: side(Connection::server(0, server).unwrap()),
            rng: Rng(seed | 1),
            deliver_to_server: true,
            deliver_to_client: true,
        }
    }

    fn open(client: Options, server: Options, seed: u64) -> Self {
        let mut p = Self::new(client, server, seed);
        p.run();
        assert!(matches!(p.client.events.first(), Some(Ev::Open(_))), "{:?}", p.client.events);
        assert!(matches!(p.server.events.first(), Some(Ev::Open(_))), "{:?}", p.server.events);
        p
    }

    /// Moves bytes both ways in random cuts until nothing moves.
    fn run(&mut self) {
        loop {
            let a = transfer(&mut self.client, &mut self.server, &mut self.rng, self.deliver_to_server);
            let b = transfer(&mut self.server, &mut self.client, &mut self.rng, self.deliver_to_client);
            if !a && !b {
                return;
            }
        }
    }
}

/// One round from `from` to `to`: events drained, output written in random cuts, a
/// hang-up passed on as end of stream. Returns true when anything moved.
fn transfer(from: &mut Side, to: &mut Side, rng: &mut Rng, deliver: bool) -> bool {
    from.drain();
    to.drain();
    let mut moved = false;
    while from.conn.wants_write() {
        let out = from.conn.output();
        let mut bytes = Vec::new();
        out.copy_to(&mut bytes);
        let n = 1 + rng.below(bytes.len());
        from.wire.extend_from_slice(&bytes[..n]);
        from.conn.advance(n).unwrap();
        if deliver && !to.hung_up {
            // Copied in, or handed over whole (parsed where it lies when it can be).
            if rng.below(2) == 0 {
                to.conn.feed(&bytes[..n], 0).unwrap();
            } else {
                to.conn.feed_vec(bytes[..n].to_vec(), 0).unwrap();
            }
            to.drain();
        }
        from.drain();
        moved = true;
    }
    if from.closed() && !from.hung_up && !from.conn.wants_write() {
        from.hung_up = true;
        if deliver {
            to.conn.read_eof();
            to.drain();
        }
        moved = true;
    }
    moved
}

fn no_timers() -> Options {
    Options { ping_interval: None, pong_timeout: None, close_timeout: None, open_timeout: None, ..Options::default() }
}

/// Joins message pieces.
fn messages(events: &[Ev]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    let mut open: Option<(bool, Vec<u8>)> = None;
    for e in events {
        if let Ev::Message { text, data, fin } = e {
            let m = open.get_or_insert_with(|| (*text, Vec::new()));
            m.1.extend_from_slice(data);
            if *fin {
                out.push(open.take().unwrap());
            }
        }
    }
    out
}

#[test]
fn messages_of_every_length_class_cross_both_ways_with_random_splits() {
    for seed in 1..6 {
        for reassemble in [false, true] {
            let o = || Options { reassemble, ..no_timers() };
            let mut p = Pair::open(o(), o(), seed);
            let lens = [0usize, 1, 125, 126, 127, 4095, 4096, 4097, 65535, 65536, 70_000, 300_000];
            for (i, &len) in lens.iter().enumerate() {
                let data: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
                p.client.conn.send_binary(data.clone(), true).unwrap();
                p.server.conn.send_text(vec![b'a' + (i as u8 % 26); len], true).unwrap();
            }
            p.run();
            let at_server = messages(&p.server.events);
            let at_client = messages(&p.client.events);
            assert_eq!(at_server.len(), lens.len());
            assert_eq!(at_client.len(), lens.len());
            for (i, &len) in lens.iter().enumerate() {
                assert_eq!(at_server[i], (false, (0..len).map(|j| (j * 7 + i) as u8).collect()));
                assert_eq!(at_client[i], (true, vec![b'a' + (i as u8 % 26); len]));
            }
            if reassemble {
                assert!(p.server.events.iter().all(|e| !matches!(e, Ev::Message { fin: false, .. })));
            }
        }
    }
}

#[test]
fn a_16_mib_message_from_a_client_is_one_frame_on_the_wire() {
    let mut p = Pair::open(no_timers(), Options { reassemble: true, ..no_timers() }, 3);
    let start = p.client.wire.len();
    let data = vec![0x5Au8; 16 << 20];
    p.client.conn.send_binary(data.clone(), true).unwrap();
    p.run();
    let wire = &p.client.wire[start..];
    // FIN + binary, mask bit + 64-bit length, key, then the whole payload.
    assert_eq!(&wire[..2], &[0x82, 0xFF]);
    assert_eq!(u64::from_be_bytes(wire[2..10].try_into().unwrap()), 16 << 20);
    assert_eq!(wire.len(), 14 + (16 << 20));
    assert_eq!(messages(&p.server.events), [(false, data)]);
}

#[test]
fn fragments_sent_by_the_host_arrive_in_order_and_utf8_is_checked_across_them() {
    let mut p = Pair::open(no_timers(), Options { reassemble: true, ..no_timers() }, 5);
    // "é" is 0xC3 0xA9: a code point may not be cut by the sender's &str pieces, but
    // bytes are checked as a whole message.
    p.client.conn.send_text(b"caf\xC3".to_vec(), false).unwrap();
    p.client.conn.send_text(b"\xA9!".to_vec(), true).unwrap();
    assert_eq!(p.client.conn.send_text(b"\xFF".to_vec(), true), Err(Error::InvalidOutgoingUtf8));
    p.client.conn.send_binary(vec![1], false).unwrap();
    assert!(matches!(p.client.conn.send_text(b"x".to_vec(), true), Err(Error::FragmentTypeMismatch { .. })));
    p.client.conn.send_binary(vec![2], true).unwrap();
    p.run();
    assert_eq!(messages(&p.server.events), [(true, "café!".as_bytes().to_vec()), (false, vec![1, 2])]);
}

#[test]
fn subprotocols_are_offered_by_the_client_and_chosen_by_the_server() {
    let client = Options { subprotocols: vec!["v1".into(), "v2".into()], ..no_timers() };
    let server = Options { subprotocols: vec!["v2".into(), "v1".into()], ..no_timers() };
    let p = Pair::open(client, server, 9);
    assert_eq!(p.client.events[0], Ev::Open(Some("v2".into())));
    assert_eq!(p.server.events[0], Ev::Open(Some("v2".into())));
    assert_eq!(p.client.conn.subprotocol(), Some("v2"));
}

#[test]
fn a_deferred_server_accepts_with_a_subprotocol_or_rejects_with_a_status() {
    let client = || Options { subprotocols: vec!["chat".into()], ..no_timers() };
    let server = || Options { defer_accept: true, ..no_timers() };
    let mut p = Pair::new(client(), server(), 11);
    p.run();
    assert_eq!(p.server.events, [Ev::Request("/chat".into())]);
    assert_eq!(p.server.conn.accept(Some("other"), &[]), Err(Error::SubprotocolNotOffered));
    p.server.conn.accept(Some("chat"), &[HttpHeader::new("X-Served-By", "test")]).unwrap();
    p.run();
    assert_eq!(p.client.events[0], Ev::Open(Some("chat".into())));

    let mut p = Pair::new(client(), server(), 12);
    p.run();
    p.server.conn.reject(403, "no").unwrap();
    p.run();
    assert!(p.server.wire.starts_with(b"HTTP/1.1 403 "));
    assert!(matches!(p.client.events[0], Ev::Failed(Error::UnexpectedStatus(403), None)));
    assert!(matches!(p.client.events[1], Ev::Closed { clean: false, status: 1006, .. }));
}

#[test]
fn bad_upgrade_requests_are_answered_400_426_and_431() {
    let cases: [(&[u8], &[u8]); 4] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 400 "),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            b"HTTP/1.1 426 ",
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 400 "),
        (&[b'a'; 9000], b"HTTP/1.1 431 "),
    ];
    for (request, status) in cases {
        let mut s = Connection::<Vec<u8>>::server(0, no_timers()).unwrap();
        s.feed(request, 0).unwrap();
        let mut out = Vec::new();
        s.output().copy_to(&mut out);
        assert!(out.starts_with(status), "{}", String::from_utf8_lossy(&out));
        assert!(matches!(s.poll_event(), Some(Event::Failed { status_sent: None, .. })));
        assert!(matches!(s.poll_event(), Some(Event::Closed { clean: false, .. })));
        assert_eq!(s.state(), ConnectionState::Closed);
    }
}

#[test]
fn a_request_parsed_by_an_http_server_is_accepted_without_its_bytes() {
    // The client's request, parsed as an HTTP server would (here by HeadParser).
    let client_options = Options { subprotocols: vec!["v1".into(), "v2".into()], ..no_timers() };
    let url = ClientRequest::from_url("ws://example.com/chat").unwrap();
    let mut client = Connection::client(0, seeded(client_options), &url).unwrap();
    let mut head = Vec::new();
    client.output().copy_to(&mut head);
    client.advance(head.len()).unwrap();
    let mut parser = HeadParser::new(HeadLimits::default());
    assert!(parser.push(&head).unwrap());
    let request = parser.request().unwrap();

    let server_options = Options { subprotocols: vec!["v2".into()], ..no_timers() };
    let (server, headers) = Connection::accept_request(0, server_options, &request).unwrap();
    assert_eq!(server.subprotocol(), Some("v2"));
    assert_eq!(server.state(), ConnectionState::Open);
    assert!(!server.wants_write(), "the HTTP server writes the response, not the connection");
    // The HTTP server sends the 101 with these fields; the client takes it.
    client.feed(&encode_response_head(101, "Switching Protocols", &headers).unwrap(), 0).unwrap();
    let mut p = Pair {
        client: side(client),
        server: side(server),
        rng: Rng(5),
        deliver_to_server: true,
        deliver_to_client: true,
    };
    p.run();
    assert_eq!(p.client.events[0], Ev::Open(Some("v2".into())));
    assert_eq!(p.server.events[0], Ev::Open(Some("v2".into())));
    p.client.conn.send_text(b"over the upgrade".to_vec(), true).unwrap();
    p.run();
    assert_eq!(messages(&p.server.events), [(true, b"over the upgrade".to_vec())]);

    // What is no valid upgrade fails with the status that answers it.
    let bad: [(&[u8], u16); 3] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            426,
        ),
        (b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ];
    for (request, status) in bad {
        let mut parser = HeadParser::new(HeadLimits::default());
        assert!(parser.push(request).unwrap());
        let e = Connection::<Vec<u8>>::accept_request(0, no_timers(), &parser.request().unwrap()).unwrap_err();
        assert_eq!(e.http_status().unwrap_or(400), status, "{e}");
    }
}

#[test]
fn a_close_from_the_client_is_answered_and_the_server_closes_the_transport_first() {
    let mut p = Pair::open(no_timers(), no_timers(), 13);
    p.client.conn.close(5, Some(CloseStatus(4000)), "bye").unwrap();
    assert_eq!(p.client.conn.state(), ConnectionState::Closing);
    assert_eq!(p.client.conn.send_binary(vec![1], true), Err(Error::SendAfterClose));
    p.run();
    let tail = &p.server.events[1..];
    assert_eq!(
        tail,
        [Ev::CloseReceived(4000, "bye".into()), Ev::Closed { clean: true, status: 4000, reason: "bye".into() }]
    );
    // The client saw the echo of its close, then the server's end of stream.
    assert_eq!(
        &p.client.events[1..],
        [Ev::CloseReceived(4000, "bye".into()), Ev::Closed { clean: true, status: 4000, reason: "bye".into() }]
    );
    assert!(p.server.hung_up && p.client.hung_up);
}

#[test]
fn a_close_from_the_server_ends_the_client_once_the_server_hangs_up() {
    let mut p = Pair::open(no_timers(), no_timers(), 14);
    p.server.conn.close(0, None, "").unwrap();
    p.run();
    assert_eq!(
        &p.server.events[1..],
        [Ev::CloseReceived(1005, String::new()), Ev::Closed { clean: true, status: 1005, reason: String::new() }]
    );
    assert_eq!(p.client.events.last(), Some(&Ev::Closed { clean: true, status: 1005, reason: String::new() }));
}

#[test]
fn a_client_whose_server_never_hangs_up_ends_at_the_close_deadline() {
    let o = || Options { close_timeout: Some(1000), ..no_timers() };
    let mut p = Pair::open(o(), o(), 15);
    p.server.conn.close(0, Some(CloseStatus::SUCCESS), "").unwrap();
    // The server's hang-up is lost: only its bytes arrive.
    p.server.hung_up = true;
    p.run();
    assert!(!p.client.closed());
    assert_eq!(p.client.conn.poll_timeout(), Some(1000));
    p.client.conn.handle_timeout(999);
    p.client.drain();
    assert!(!p.client.closed());
    p.client.conn.handle_timeout(1000);
    p.client.drain();
    assert_eq!(p.client.events.last(), Some(&Ev::Closed { clean: true, status: 1000, reason: String::new() }));
}

#[test]
fn a_peer_that_never_answers_a_close_fails_at_the_close_deadline() {
    let o = || Options { close_timeout: Some(500), ..no_timers() };
    let mut p = Pair::open(o(), o(), 16);
    p.deliver_to_server = false;
    p.client.conn.close(100, Some(CloseStatus::SUCCESS), "").unwrap();
    p.run();
    assert_eq!(p.client.conn.poll_timeout(), Some(600));
    p.client.conn.handle_timeout(600);
    p.client.drain();
    assert_eq!(
        &p.client.events[1..],
        [
            Ev::Failed(Error::TimedOut(Deadline::ClosingHandshake), None),
            Ev::Closed { clean: false, status: 1006, reason: String::new() }
        ]
    );
}

#[test]
fn keepalive_pings_go_out_at_the_interval_and_their_pongs_are_matched() {
    let client = Options { ping_interval: Some(1000), pong_timeout: Some(500), ..no_timers() };
    let mut p = Pair::open(client, no_timers(), 17);
    assert_eq!(p.client.conn.poll_timeout(), Some(1000));
    p.client.conn.handle_timeout(1000);
    p.run();
    // The server saw the ping (answered on its own); the client its pong.
    assert_eq!(p.server.events[1], Ev::Ping(1u32.to_be_bytes().to_vec()));
    assert_eq!(p.client.events[1], Ev::Pong(1u32.to_be_bytes().to_vec()));
    // Answered: the next deadline is the next ping, not the pong's.
    assert_eq!(p.client.conn.poll_timeout(), Some(2000));
    p.client.conn.handle_timeout(1499);
    p.client.drain();
    assert_eq!(p.client.conn.state(), ConnectionState::Open);
}

#[test]
fn an_unanswered_keepalive_ping_fails_the_connection_with_1011() {
    let client = Options { ping_interval: Some(1000), pong_timeout: Some(500), ..no_timers() };
    let mut p = Pair::open(client, no_timers(), 18);
    p.deliver_to_client = false;
    p.client.conn.handle_timeout(1000);
    p.run();
    assert_eq!(p.client.conn.poll_timeout(), Some(1500));
    p.client.conn.handle_timeout(1500);
    p.run();
    assert_eq!(p.client.events[1], Ev::Failed(Error::TimedOut(Deadline::Pong), Some(1011)));
    assert!(matches!(p.client.events[2], Ev::Closed { clean: false, .. }));
    // The server got the 1011 close.
    assert!(p.server.events.contains(&Ev::CloseReceived(1011, String::new())), "{:?}", p.server.events);
    assert_eq!(Error::TimedOut(Deadline::Pong).kind(), ErrorKind::Timeout);
}

#[test]
fn an_opening_handshake_that_does_not_finish_fails_at_its_deadline() {
    let mut s = Connection::<Vec<u8>>::server(100, Options { open_timeout: Some(50), ..no_timers() }).unwrap();
    s.feed(b"GET / HTTP/1.1\r\n", 120).unwrap();
    assert_eq!(s.poll_timeout(), Some(150));
    s.handle_timeout(149);
    assert!(s.poll_event().is_none());
    s.handle_timeout(150);
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::TimedOut(Deadline::OpeningHandshake), .. })));
    assert!(matches!(s.poll_event(), Some(Event::Closed { clean: false, .. })));
    assert!(!s.wants_write());
}

#[test]
fn a_message_at_the_size_limit_passes_and_one_byte_over_fails_with_1009() {
    let server = || Options { max_message_size: 1000, reassemble: true, ..no_timers() };
    for (pieces, over) in [(vec![1000], false), (vec![1001], true), (vec![400, 600], false), (vec![400, 601], true)] {
        let mut p = Pair::open(no_timers(), server(), 19);
        let n = pieces.len();
        for (i, len) in pieces.iter().enumerate() {
            p.client.conn.send_binary(vec![1; *len], i + 1 == n).unwrap();
        }
        p.run();
        if over {
            assert_eq!(p.server.events[1], Ev::Failed(Error::MessageTooBig { limit: 1000 }, Some(1009)));
            assert!(p.client.events.contains(&Ev::CloseReceived(1009, String::new())));
        } else {
            assert_eq!(messages(&p.server.events), [(false, vec![1; pieces.iter().sum()])]);
        }
    }
}

#[test]
fn a_message_at_the_fragment_limit_passes_and_one_frame_over_fails_with_1009() {
    for (frames, over) in [(8, false), (9, true)] {
        let mut p = Pair::open(no_timers(), Options { max_fragments: 8, ..no_timers() }, 20);
        for i in 0..frames {
            p.client.conn.send_binary(vec![], i + 1 == frames).unwrap();
        }
        p.run();
        let failed = p.server.events.contains(&Ev::Failed(Error::TooManyFragments { limit: 8 }, Some(1009)));
        assert_eq!(failed, over, "{:?}", p.server.events);
    }
}

#[test]
fn a_peer_protocol_error_is_answered_with_its_status_and_the_connection_ends() {
    let mut s = Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, no_timers()).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Open { subprotocol: None, .. })));
    // An unmasked frame from a client.
    s.feed(b"\x81\x02hi", 0).unwrap();
    assert_eq!(s.poll_event().map(own), Some(Ev::Failed(Error::UnmaskedFrameFromClient, Some(1002))));
    assert!(matches!(s.poll_event(), Some(Event::Closed { clean: false, status: CloseStatus::ABORTED, .. })));
    let mut out = Vec::new();
    s.output().copy_to(&mut out);
    assert_eq!(out, b"\x88\x02\x03\xea");
}

#[test]
fn pings_and_pongs_carry_payloads_up_to_125_bytes() {
    let mut p = Pair::open(no_timers(), no_timers(), 21);
    p.client.conn.ping(&[7; 125]).unwrap();
    p.client.conn.pong(b"hi").unwrap();
    assert_eq!(p.client.conn.ping(&[7; 126]), Err(Error::ControlPayloadTooLong(126)));
    p.run();
    assert_eq!(&p.server.events[1..], [Ev::Ping(vec![7; 125]), Ev::Pong(b"hi".to_vec())]);
    assert_eq!(p.client.events[1..], [Ev::Pong(vec![7; 125])]);
}

#[test]
fn an_abrupt_end_of_stream_closes_without_a_clean_close() {
    let mut p = Pair::open(no_timers(), no_timers(), 22);
    p.client.conn.send_text(b"last".to_vec(), true).unwrap();
    p.run();
    p.server.conn.read_eof();
    p.server.drain();
    assert_eq!(p.server.events.last(), Some(&Ev::Closed { clean: false, status: 1006, reason: String::new() }));
    assert_eq!(messages(&p.server.events), [(true, b"last".to_vec())]);
}

#[test]
fn commands_in_the_wrong_state_fail_with_documented_errors_and_change_nothing() {
    let request = ClientRequest::from_url("ws://h/").unwrap();
    let mut c = Connection::<Vec<u8>>::client(0, seeded(no_timers()), &request).unwrap();
    let before = c.output().len();
    for r in [c.send_text(b"x".to_vec(), true), c.ping(b""), c.close(0, None, "")] {
        assert!(matches!(r, Err(Error::InvalidState { .. })), "{r:?}");
    }
    assert_eq!(c.output().len(), before);
    assert!(matches!(c.accept(None, &[]), Err(Error::InvalidState { .. })));
    assert!(matches!(c.reject(400, ""), Err(Error::InvalidState { .. })));
    assert_eq!(c.advance(before + 1), Err(Error::TooManyBytesTransferred { reported: before + 1, max: before }));
    assert_eq!(
        c.close(0, Some(CloseStatus(1005)), ""),
        Err(Error::InvalidState { call: "close", state: wsengine::State::ClientHandshaking })
    );

    let mut p = Pair::open(no_timers(), no_timers(), 23);
    assert_eq!(p.client.conn.close(0, Some(CloseStatus(1005)), ""), Err(Error::ReservedCloseStatus(1005)));
    assert_eq!(p.client.conn.close(0, Some(CloseStatus(1000)), &"x".repeat(124)), Err(Error::CloseReasonTooLong(124)));
    p.client.conn.close(0, None, "").unwrap();
    assert_eq!(p.client.conn.close(0, None, ""), Err(Error::SendAfterClose));
    p.client.conn.ping(b"still allowed").unwrap();
    p.run();
    assert!(p.client.closed() && p.server.closed());
    for r in [p.client.conn.send_text(b"x".to_vec(), true), p.client.conn.ping(b""), p.client.conn.close(0, None, "")] {
        assert!(matches!(r, Err(Error::InvalidState { .. })), "{r:?}");
    }
    assert!(p.client.conn.poll_event().is_none());
}

#[test]
fn urls_split_into_host_target_and_address() {
    let r = ClientRequest::from_url("wss://example.com/chat?room=1").unwrap();
    assert_eq!((r.host.as_str(), r.target.as_str(), r.secure), ("example.com", "/chat?room=1", true));
    assert_eq!(r.address(), "example.com:443");
    let r = ClientRequest::from_url("WS://[::1]:9001?x").unwrap();
    assert_eq!((r.host.as_str(), r.target.as_str(), r.address()), ("[::1]:9001", "/?x", "[::1]:9001".to_owned()));
    assert_eq!(ClientRequest::from_url("ws://[::1]").unwrap().address(), "[::1]:80");
    for bad in ["http://a/", "ws://", "ws://a/#f", "ws://u@a/", "ws://a/ b"] {
        assert!(matches!(ClientRequest::from_url(bad), Err(Error::InvalidUrl(_))), "{bad}");
    }
}

#[test]
fn input_beyond_the_buffered_limit_is_refused_until_events_are_processed() {
    let mut s =
        Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, Options { max_buffered_input: 1000, ..no_timers() })
            .unwrap();
    let frame = |len: usize| {
        let mut f = vec![0x82, 0xFE, (len >> 8) as u8, len as u8, 0, 0, 0, 0];
        f.extend(std::iter::repeat_n(9u8, len));
        f
    };
    let big = frame(3000);
    assert!(s.feed(&big, 0).is_ok()); // the first read fills the receive buffer and spills
    let more = frame(6000);
    assert_eq!(s.feed(&more, 0), Err(Error::InputBufferFull { limit: 1000 }));
    let mut got = 0;
    while let Some(e) = s.poll_event() {
        if let Event::Message { data, .. } = e {
            got += data.len();
        }
    }
    assert_eq!(got, 3000);
    let _: Millis = 0;
}

/// Connections in each phase a host can meet, by name.
fn in_every_state() -> Vec<(&'static str, Connection)> {
    let request = ClientRequest::from_url("ws://h/").unwrap();
    let client = Connection::client(0, seeded(no_timers()), &request).unwrap();
    let server = Connection::server(0, no_timers()).unwrap();
    let (connecting, _) = Connection::<Vec<u8>>::client_connect(0, seeded(no_timers()), &request).unwrap();
    let mut deferred = Pair::new(no_timers(), Options { defer_accept: true, ..no_timers() }, 31);
    deferred.run();
    let open = Pair::open(no_timers(), no_timers(), 32);
    let mut closing = Pair::open(no_timers(), no_timers(), 33);
    closing.client.conn.close(0, None, "").unwrap();
    let mut answered = Pair::open(no_timers(), no_timers(), 34);
    answered.deliver_to_client = true;
    answered.server.conn.close(0, None, "").unwrap();
    answered.server.hung_up = true; // the client waits for the server's hang-up
    answered.run();
    let mut failed = Connection::from_upgraded(Role::Server, 0, no_timers()).unwrap();
    failed.feed(b"\x81\x02hi", 0).unwrap(); // unmasked from a client: 1002
    while failed.poll_event().is_some() {}
    let mut closed = Pair::open(no_timers(), no_timers(), 35);
    closed.client.conn.close(0, None, "").unwrap();
    closed.run();
    let mut aborted = Pair::open(no_timers(), no_timers(), 36);
    aborted.client.conn.abort();
    vec![
        ("client connecting", client),
        ("server connecting", server),
        ("client awaiting its CONNECT's response", connecting),
        ("server deferring", deferred.server.conn),
        ("open", open.client.conn),
        ("closing", closing.client.conn),
        ("client awaiting the hang-up", answered.client.conn),
        ("failed", failed),
        ("closed", closed.client.conn),
        ("aborted", aborted.client.conn),
    ]
}

#[test]
fn every_command_in_every_state_answers_without_panicking_and_a_refusal_changes_nothing() {
    type Command = (&'static str, fn(&mut Connection) -> Result<(), Error>);
    let commands: [Command; 13] = [
        ("send_text", |c| c.send_text(b"x".to_vec(), true)),
        ("send_binary fragment", |c| c.send_binary(vec![1], false)),
        ("bad text", |c| c.send_text(b"\xC3".to_vec(), true)),
        ("ping", |c| c.ping(b"p")),
        ("long ping", |c| c.ping(&[0; 126])),
        ("pong", |c| c.pong(b"")),
        ("close", |c| c.close(1, Some(CloseStatus::SUCCESS), "")),
        ("close 1006", |c| c.close(1, Some(CloseStatus(1006)), "")),
        ("send_received", |c| c.send_received()),
        ("accept", |c| c.accept(None, &[])),
        ("reject", |c| c.reject(400, "no")),
        ("connect_response", |c| c.connect_response(200, &[])),
        ("advance too far", |c| {
            let n = c.output().len() + 1;
            c.advance(n)
        }),
    ];
    for (i, (cmd, run)) in commands.iter().enumerate() {
        for (state, mut c) in in_every_state() {
            let (out, buffered, phase) = (c.output().len(), c.buffered_amount(), c.state());
            match run(&mut c) {
                Ok(()) => {}
                Err(e) => {
                    // A documented error, with its HRESULT, and nothing moved.
                    assert!(!e.to_string().is_empty() && e.hresult() != 0, "{cmd} in {state}");
                    assert_eq!(
                        (c.output().len(), c.buffered_amount(), c.state()),
                        (out, buffered, phase),
                        "{cmd} in {state} failed with {e:?} but changed the connection"
                    );
                }
            }
            // Whatever happened, the connection keeps answering.
            for _ in 0..4 {
                let _ = c.poll_event();
            }
            c.handle_timeout(u64::MAX);
            c.read_eof();
            while c.poll_event().is_some() {}
            assert_eq!(c.state(), ConnectionState::Closed, "{cmd} ({i}) in {state}: EOF and every deadline passed");
        }
    }
}

#[test]
fn frames_right_behind_the_head_are_kept_on_both_sides() {
    // The client's request and first frame in one read; then the server's 101 and its
    // first frame in one read.
    let mut p = Pair::new(no_timers(), no_timers(), 41);
    let mut request = Vec::new();
    p.client.conn.output().copy_to(&mut request);
    p.client.conn.advance(request.len()).unwrap();
    while p.client.conn.poll_event().is_some() {}
    // The client cannot send before it is open; a masked "hi" built by hand stands for
    // an eager client (any client's first frame looks alike).
    let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    let mut both = request;
    both.extend_from_slice(&frame);
    p.server.conn.feed(&both, 0).unwrap();
    p.server.drain();
    assert_eq!(p.server.events[1], Ev::Message { text: true, data: b"hi".to_vec(), fin: true });
    p.server.conn.send_text(b"yo".to_vec(), true).unwrap();
    let mut response = Vec::new();
    p.server.conn.output().copy_to(&mut response);
    assert!(response.starts_with(b"HTTP/1.1 101 ") && response.ends_with(b"\x81\x02yo"));
    p.client.conn.feed(&response, 0).unwrap();
    p.client.drain();
    assert_eq!(&p.client.events[..2], [Ev::Open(None), Ev::Message { text: true, data: b"yo".to_vec(), fin: true }]);
}

#[test]
fn a_host_can_read_straight_into_the_connection() {
    let mut p = Pair::open(no_timers(), no_timers(), 42);
    p.client.conn.send_binary(vec![3; 100_000], true).unwrap();
    let mut wire = Vec::new();
    while p.client.conn.wants_write() {
        let n = p.client.conn.output().len();
        p.client.conn.output().copy_to(&mut wire);
        p.client.conn.advance(n).unwrap();
    }
    let (mut at, mut got) = (0, 0);
    loop {
        while let Some(e) = p.server.conn.poll_event() {
            if let Event::Message { data, .. } = e {
                got += data.len();
            }
        }
        if at == wire.len() {
            break;
        }
        // No copy through the host's own buffer: read into the engine's.
        let buffer = p.server.conn.read_buffer().expect("the connection wants bytes");
        let n = buffer.len().min(wire.len() - at).min(777);
        buffer[..n].copy_from_slice(&wire[at..at + n]);
        at += n;
        p.server.conn.commit(n, 0);
    }
    assert_eq!(got, 100_000);
}

#[test]
fn a_host_that_answers_after_draining_still_answers_before_the_failure_close() {
    // A message and a bad frame (RSV2 set) in one read, as Autobahn 3.2 sends them.
    let mut s = Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, no_timers()).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Open { .. })));
    let mut input = vec![0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
    input.extend_from_slice(&[0xA1, 0x80, 0, 0, 0, 0]);
    s.feed(&input, 7).unwrap();
    // The host drains first (as the batch faces do) and answers afterwards.
    let mut shown = Vec::new();
    while let Some(e) = s.poll_event() {
        shown.push(own(e));
    }
    assert_eq!(shown, [Ev::Message { text: true, data: b"hi".to_vec(), fin: true }]);
    assert_eq!(s.poll_timeout(), Some(7), "the waiting failure asks to be woken now");
    s.send_text(b"hi".to_vec(), true).unwrap();
    assert_eq!(s.poll_event().map(own), Some(Ev::Failed(Error::ReservedBitsSet { rsv: 0b010 }, Some(1002))));
    let mut out = Vec::new();
    s.output().copy_to(&mut out);
    assert_eq!(out, b"\x81\x02hi\x88\x02\x03\xea", "the echo, then the close");

    // A host that makes no call at all gets the failure once its timer fires.
    let mut s = Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, no_timers()).unwrap();
    s.feed(&input, 7).unwrap();
    while s.poll_event().is_some() {}
    s.handle_timeout(7);
    assert!(matches!(s.poll_event(), Some(Event::Failed { .. })));
}

#[test]
fn reads_handed_over_whole_are_parsed_where_they_lie_up_to_the_receive_buffer_size() {
    // A 1,000-byte text message, a ping whose payload a read cuts, a second message: the
    // reads exceed the 256-byte receive buffer, so the connection parses them where the
    // host's vectors hold them (pieces still at most 256 bytes), and moves the ping's
    // first part into its receive buffer when the read ends inside it.
    let mask = |payload: &[u8], first: u8| {
        let key = [1, 2, 3, 4];
        let mut f = vec![first, 0x80 | 126, (payload.len() >> 8) as u8, payload.len() as u8];
        if payload.len() < 126 {
            f.truncate(1);
            f.push(0x80 | payload.len() as u8);
        }
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    };
    let text: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
    let ping = [7u8; 100];
    let mut wire = mask(&text, 0x81);
    wire.extend(mask(&ping, 0x89));
    wire.extend(mask(b"after", 0x81));
    let cut = 1004 + 8 + 6 + 50; // inside the ping's payload
    let options = Options { properties: vec![Property::ReceiveBufferSize(256)], ..no_timers() };
    for whole in [true, false] {
        let mut s = Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, options.clone()).unwrap();
        let mut events = Vec::new();
        for read in [&wire[..cut], &wire[cut..]] {
            if whole { s.feed_vec(read.to_vec(), 0) } else { s.feed(read, 0) }.unwrap();
            while let Some(e) = s.poll_event() {
                events.push(own(e));
            }
        }
        let pieces: Vec<usize> = events
            .iter()
            .filter_map(|e| if let Ev::Message { data, .. } = e { Some(data.len()) } else { None })
            .collect();
        assert!(pieces.iter().all(|&n| n <= 256), "{pieces:?}");
        assert_eq!(messages(&events), [(true, text.clone()), (true, b"after".to_vec())]);
        assert!(events.contains(&Ev::Ping(ping.to_vec())), "{events:?}");
        let mut out = Vec::new();
        s.take_output(&mut out);
        let mut pong = vec![0x8A, 100];
        pong.extend_from_slice(&ping);
        assert_eq!(out, pong);
    }
}

#[test]
fn take_output_hands_over_every_byte_once() {
    let mut p = Pair::open(no_timers(), no_timers(), 43);
    for len in [10, 3000, 40_000, 5] {
        p.client.conn.send_binary(vec![len as u8; len], true).unwrap();
    }
    let mut out = Vec::new();
    p.client.conn.take_output(&mut out);
    assert!(!p.client.conn.wants_write());
    assert_eq!(p.client.conn.buffered_amount(), 0);
    p.server.conn.feed(&out, 0).unwrap();
    p.server.drain();
    let lens: Vec<usize> = messages(&p.server.events).iter().map(|m| m.1.len()).collect();
    assert_eq!(lens, [10, 3000, 40_000, 5]);
}

#[test]
fn a_server_learns_the_request_target_when_it_opens() {
    let request = ClientRequest::from_url("ws://example.com/chat?room=1").unwrap();
    let mut c = Connection::<Vec<u8>>::client(0, seeded(no_timers()), &request).unwrap();
    let mut s = Connection::<Vec<u8>>::server(0, no_timers()).unwrap();
    let mut out = Vec::new();
    c.take_output(&mut out);
    s.feed(&out, 0).unwrap();
    match s.poll_event() {
        Some(Event::Open { target, headers, .. }) => {
            assert_eq!(target, Some("/chat?room=1"));
            assert!(headers.iter().any(|h| h.is("Host") && &*h.value == b"example.com"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn buffered_amount_counts_each_byte_once_during_a_large_send() {
    let mut p = Pair::open(no_timers(), no_timers(), 44);
    p.client.conn.send_binary(vec![1; 2 << 20], true).unwrap();
    // Payload not yet framed plus frames not yet written: the payload and its framing.
    let framing = 14;
    assert_eq!(p.client.conn.buffered_amount(), (2 << 20) + framing);
    let n = p.client.conn.output().len();
    p.client.conn.advance(n).unwrap();
    assert_eq!(p.client.conn.buffered_amount(), (2 << 20) + framing - n);
}

// Found by the `connection` fuzz target (fuzz/regressions/connection).

#[test]
fn a_close_queued_behind_a_waiting_pong_is_written_after_the_connection_ends() {
    let o = Options {
        close_timeout: Some(100),
        properties: vec![Property::SendBufferSize(20_000), Property::RandomSeed([1; 32])],
        ..no_timers()
    };
    let mut c = Connection::<Vec<u8>>::from_upgraded(Role::Client, 0, o).unwrap();
    while c.poll_event().is_some() {}
    c.send_text(b"hi".to_vec(), true).unwrap(); // output not empty: frames are copied
    c.send_binary(vec![0; 500_000], true).unwrap(); // past the output's high-water mark
    c.close(0, Some(CloseStatus::SUCCESS), "").unwrap();
    c.feed(b"\x89\x00", 0).unwrap(); // a ping mid-frame: its pong waits for the boundary
    while c.poll_event().is_some() {}
    c.handle_timeout(100); // the closing handshake times out
    while c.poll_event().is_some() {}
    let mut wire = Vec::new();
    while c.wants_write() {
        c.output().copy_to(&mut wire);
        let n = c.output().len();
        c.advance(n).unwrap();
        while c.poll_event().is_some() {}
    }
    assert_eq!(wire[wire.len() - 8..wire.len() - 6], [0x88, 0x82], "the close was never written");
}

#[test]
fn an_echoed_piece_counts_in_buffered_amount_until_written() {
    let o = Options {
        properties: vec![
            Property::ReceiveBufferSize(65536),
            Property::SendBufferSize(20_000),
            Property::RandomSeed([1; 32]),
        ],
        ..no_timers()
    };
    let mut c = Connection::<Vec<u8>>::from_upgraded(Role::Client, 0, o).unwrap();
    while c.poll_event().is_some() {}
    let mut frame = vec![0x82, 127];
    frame.extend_from_slice(&50_000u64.to_be_bytes());
    frame.extend(std::iter::repeat_n(7u8, 50_000));
    c.feed(&frame, 0).unwrap();
    assert!(matches!(c.poll_event(), Some(Event::Message { data, fin: true, .. }) if data.len() == 50_000));
    let before = c.buffered_amount();
    c.send_received().unwrap();
    let after = c.buffered_amount();
    assert!(after >= before + 50_000, "buffered_amount {before} -> {after}");
    while c.wants_write() {
        let n = c.output().len();
        c.advance(n).unwrap();
        while c.poll_event().is_some() {}
    }
    assert_eq!(c.buffered_amount(), 0);
}

#[test]
fn no_deadline_is_left_once_closed() {
    let o = || Options { close_timeout: Some(10_000), ..no_timers() };
    let mut p = Pair::open(o(), o(), 45);
    p.server.conn.close(0, None, "").unwrap();
    p.run();
    assert_eq!(p.server.conn.state(), ConnectionState::Closed);
    assert_eq!(p.client.conn.state(), ConnectionState::Closed);
    assert_eq!((p.server.conn.poll_timeout(), p.client.conn.poll_timeout()), (None, None));
}

#[test]
fn a_deferred_server_indicates_only_websocket_upgrades() {
    let mut s = Connection::<Vec<u8>>::server(0, Options { defer_accept: true, ..no_timers() }).unwrap();
    s.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::MissingHeader(_), .. })));
    let mut out = Vec::new();
    s.output().copy_to(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 400 "));
}

#[test]
fn a_host_that_answers_after_draining_still_answers_before_the_close_reply() {
    // A message and the peer's close in one read.
    let mut s = Connection::<Vec<u8>>::from_upgraded(Role::Server, 0, no_timers()).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Open { .. })));
    s.feed(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i', 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8], 3).unwrap();
    let mut shown = Vec::new();
    while let Some(e) = s.poll_event() {
        shown.push(own(e));
    }
    assert_eq!(
        shown,
        [Ev::Message { text: true, data: b"hi".to_vec(), fin: true }, Ev::CloseReceived(1000, String::new())]
    );
    assert_eq!(s.poll_timeout(), Some(3), "the waiting answer asks to be woken now");
    s.send_text(b"hi".to_vec(), true).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Closed { clean: true, .. })));
    let mut out = Vec::new();
    s.output().copy_to(&mut out);
    assert_eq!(out, b"\x81\x02hi\x88\x02\x03\xe8", "the echo, then the close reply");
}

/// permessage-deflate through the connection layer (feature `deflate`).
#[cfg(feature = "deflate")]
mod deflate {
    use wsengine::DeflateOptions;

    use super::*;

    fn with(d: DeflateOptions) -> Options {
        Options { deflate: Some(d), ..no_timers() }
    }

    /// The frames on a wire after the handshake's head: (first byte, payload length).
    fn frames(wire: &[u8], masked: bool) -> Vec<(u8, u64)> {
        let start = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut at = start;
        let mut out = Vec::new();
        while at < wire.len() {
            let h = wsengine::inspect_frame_header(&wire[at..]).unwrap().unwrap();
            assert_eq!(h.mask.is_some(), masked);
            out.push((wire[at], h.payload_len));
            at += h.header_len + h.payload_len as usize;
        }
        out
    }

    #[test]
    fn messages_cross_compressed_both_ways_at_every_window_with_random_splits() {
        for seed in 1..3 {
            for bits in 9u8..=15 {
                for takeover in [true, false] {
                    let d = DeflateOptions {
                        server_max_window_bits: bits,
                        client_max_window_bits: 24 - bits,
                        server_no_context_takeover: !takeover,
                        client_no_context_takeover: !takeover,
                        threshold: 0,
                        ..DeflateOptions::default()
                    };
                    let mut p = Pair::open(with(d.clone()), with(d.clone()), seed);
                    assert!(p.server.conn.extensions().unwrap().starts_with("permessage-deflate"));
                    assert_eq!(p.server.conn.extensions(), p.client.conn.extensions());
                    let lens = [0usize, 1, 125, 4095, 4096, 4097, 65536, 70_000, 300_000];
                    for (i, &len) in lens.iter().enumerate() {
                        let data: Vec<u8> = (0..len).map(|j| ((j / 3) * 7 + i) as u8).collect();
                        p.client.conn.send_binary(data.clone(), true).unwrap();
                        p.server.conn.send_text(vec![b'a' + (i as u8 % 26); len], true).unwrap();
                    }
                    p.run();
                    let at_server = messages(&p.server.events);
                    let at_client = messages(&p.client.events);
                    assert_eq!(at_server.len(), lens.len(), "{:?}", p.server.events.last());
                    for (i, &len) in lens.iter().enumerate() {
                        assert_eq!(at_server[i], (false, (0..len).map(|j| ((j / 3) * 7 + i) as u8).collect()));
                        assert_eq!(at_client[i], (true, vec![b'a' + (i as u8 % 26); len]));
                    }
                    // Every data frame went compressed (RSV1) and smaller than its message.
                    let sent = frames(&p.server.wire, false);
                    assert!(sent.iter().all(|&(b0, _)| b0 & 0x40 != 0), "{sent:?}");
                    assert!(sent[6].1 < 1000, "64 KiB of one letter compresses: {:?}", sent[6]);
                }
            }
        }
    }

    /// An echo that sends each piece back as it is indicated: a 64 KiB message fills the
    /// inflate area exactly, so its last piece is empty, and so is the echo's last
    /// fragment (which must still complete the compressed message).
    #[test]
    fn pieces_echoed_as_they_arrive_come_back_whole() {
        let d = DeflateOptions { threshold: 0, ..DeflateOptions::default() };
        let o = || Options {
            deflate: Some(d.clone()),
            properties: vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)],
            ..no_timers()
        };
        let mut p = Pair::open(o(), o(), 3);
        let mut text = String::new();
        let mut k = 0u64;
        while text.len() < 400_000 {
            text.push_str(&format!(
                "{{\"id\":{k},\"name\":\"item{}\",\"tags\":[\"a\",\"b{}\"]}},",
                k * 7919 % 1000,
                k % 13
            ));
            k += 1;
        }
        let msgs: Vec<Vec<u8>> = (0..3).map(|i| text.as_bytes()[i * 997..i * 997 + 65536].to_vec()).collect();
        for m in &msgs {
            p.client.conn.send_text(m.clone(), true).unwrap();
        }
        // The server echoes every piece as it comes.
        let mut rng = Rng(5);
        for _ in 0..10000 {
            let mut moved = false;
            while p.client.conn.wants_write() {
                let mut bytes = Vec::new();
                p.client.conn.output().copy_to(&mut bytes);
                let n = 1 + rng.below(bytes.len());
                p.client.conn.advance(n).unwrap();
                p.server.conn.feed(&bytes[..n], 0).unwrap();
                while let Some(e) = p.server.conn.poll_event() {
                    if let Event::Message { .. } = e {
                        p.server.conn.send_received().unwrap();
                    }
                }
                moved = true;
            }
            while let Some(e) = p.server.conn.poll_event() {
                if let Event::Message { .. } = e {
                    p.server.conn.send_received().unwrap();
                }
            }
            while p.server.conn.wants_write() {
                let mut bytes = Vec::new();
                p.server.conn.output().copy_to(&mut bytes);
                p.server.conn.advance(bytes.len()).unwrap();
                p.client.conn.feed(&bytes, 0).unwrap();
                p.client.drain();
                moved = true;
            }
            if !moved {
                break;
            }
        }
        let back = messages(&p.client.events);
        assert_eq!(
            back.len(),
            3,
            "{:?}",
            p.client.events.iter().filter(|e| !matches!(e, Ev::Message { .. })).collect::<Vec<_>>()
        );
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(&back[i].1, m, "{i}");
        }
    }

    /// A server connection with permessage-deflate agreed (client window 15), fed raw
    /// frames from there on: masked with the zero key, so payloads are as written.
    fn server_fed(frames: &[&[u8]]) -> Vec<Ev> {
        let d = DeflateOptions::default();
        let mut p = Pair::open(with(d.clone()), with(d), 1);
        for f in frames {
            p.server.conn.feed(f, 0).unwrap();
            p.server.drain();
        }
        // A failure right behind a message waits for the host's next call.
        p.server.conn.handle_timeout(0);
        p.server.drain();
        p.server.events
    }

    /// A masked (zero key) frame: first byte `b0`, payload `payload` (< 126 bytes).
    fn raw(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    }

    fn failure(events: &[Ev]) -> Option<(Error, Option<u16>)> {
        events.iter().find_map(|e| match e {
            Ev::Failed(error, status) => Some((*error, *status)),
            _ => None,
        })
    }

    #[test]
    fn rsv1_belongs_on_a_message_s_first_frame_only() {
        // "Hello" compressed (RFC 7692 §7.2.3.1's example), then the same split.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let ok = server_fed(&[&raw(0xC1, &hello)]);
        assert!(ok.contains(&Ev::Message { text: true, data: b"Hello".to_vec(), fin: true }), "{ok:?}");
        let split = server_fed(&[&raw(0x41, &hello[..3]), &raw(0x80, &hello[3..])]);
        assert_eq!(messages(&split), vec![(true, b"Hello".to_vec())]);
        // RSV1 on a continuation, and on a ping: 1002.
        let cont = server_fed(&[&raw(0x41, &hello[..3]), &raw(0xC0, &hello[3..])]);
        assert_eq!(failure(&cont), Some((Error::ReservedBitsSet { rsv: 0b100 }, Some(1002))), "{cont:?}");
        let ping = server_fed(&[&raw(0xC9, b"")]);
        assert_eq!(failure(&ping), Some((Error::ReservedBitsSet { rsv: 0b100 }, Some(1002))));
        // RSV2 is still no extension's.
        let rsv2 = server_fed(&[&raw(0xA1, b"x")]);
        assert_eq!(failure(&rsv2), Some((Error::ReservedBitsSet { rsv: 0b010 }, Some(1002))));
    }

    #[test]
    fn data_that_does_not_inflate_fails_with_1007() {
        // A block type of 3 is reserved in DEFLATE.
        let bad = server_fed(&[&raw(0xC2, &[0xff, 0xff, 0xff])]);
        assert_eq!(failure(&bad), Some((Error::InvalidCompressedData, Some(1007))));
        assert_eq!(Error::InvalidCompressedData.hresult(), 0x8376_0002);
        // A compressed text message that inflates to bytes that are not UTF-8: a stored
        // block of C3 28, then the byte that opens the empty block the tail completes.
        let stored = [0x00, 0x02, 0x00, 0xfd, 0xff, 0xc3, 0x28, 0x00];
        let utf8 = server_fed(&[&raw(0xC1, &stored)]);
        assert_eq!(failure(&utf8), Some((Error::InvalidUtf8, Some(1007))));
    }

    #[test]
    fn a_message_that_inflates_to_exactly_the_limit_passes_and_one_byte_more_fails_with_1009() {
        for reassemble in [false, true] {
            for (len, ok) in [(100_000usize, true), (100_001, false)] {
                let d = DeflateOptions { threshold: 0, ..DeflateOptions::default() };
                let server = Options { max_message_size: 100_000, reassemble, ..with(d.clone()) };
                let mut p = Pair::open(with(d), server, 3);
                p.client.conn.send_text(vec![b'z'; len], true).unwrap();
                p.run();
                let got = messages(&p.server.events);
                if ok {
                    assert_eq!(got, vec![(true, vec![b'z'; len])]);
                } else {
                    assert!(got.is_empty());
                    assert_eq!(
                        failure(&p.server.events),
                        Some((Error::MessageTooBig { limit: 100_000 }, Some(1009))),
                        "{reassemble}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows_of_2_to_the_8_never_fail_a_handshake() {
        // A server asked to compress with 2^8 declines that offer and takes the next.
        let raw_offer =
            |offers: &[&str]| Options { extensions: offers.iter().map(|s| (*s).to_owned()).collect(), ..no_timers() };
        let server = with(DeflateOptions::default());
        let mut p = Pair::open(
            raw_offer(&["permessage-deflate; server_max_window_bits=8", "permessage-deflate; client_max_window_bits"]),
            server.clone(),
            1,
        );
        assert_eq!(
            p.server.conn.extensions(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        );
        p.client.conn.send_text(b"after".to_vec(), true).unwrap();
        p.run();
        assert_eq!(messages(&p.server.events), vec![(true, b"after".to_vec())]);
        // Only that offer: no compression, and the connection opens.
        let p = Pair::open(raw_offer(&["permessage-deflate; server_max_window_bits=8"]), server.clone(), 1);
        assert_eq!(p.server.conn.extensions(), None);
        // A client held to 2^8 (its own offer's hint) sends uncompressed and still
        // inflates what the server compresses.
        let d = DeflateOptions { threshold: 0, ..DeflateOptions::default() };
        let mut p = Pair::open(raw_offer(&["permessage-deflate; client_max_window_bits=8"]), with(d), 1);
        p.client.conn.send_text(vec![b'a'; 300], true).unwrap();
        p.server.conn.send_text(vec![b'b'; 300], true).unwrap();
        p.run();
        assert_eq!(messages(&p.server.events), vec![(true, vec![b'a'; 300])]);
        assert_eq!(messages(&p.client.events), vec![(true, vec![b'b'; 300])]);
        let sent = frames(&p.client.wire, true);
        assert_eq!(sent[0], (0x81, 300), "uncompressed: no RSV1");
    }

    #[test]
    fn buffered_amount_goes_back_to_0_once_compressed_sends_are_written() {
        let d = DeflateOptions { threshold: 0, ..DeflateOptions::default() };
        let mut p = Pair::open(with(d.clone()), with(d), 2);
        for len in [10usize, 3000, 70_000, 300_000] {
            p.client.conn.send_text(vec![b'q'; len], true).unwrap();
            p.client.conn.send_binary(vec![7; len], true).unwrap();
            assert!(p.client.conn.buffered_amount() > 0, "{len}");
        }
        p.run();
        assert_eq!(p.client.conn.buffered_amount(), 0);
        assert_eq!(messages(&p.server.events).len(), 8);
    }
}

#[test]
fn peers_that_both_send_more_than_they_read_keep_reading_each_other() {
    // Each side's own sends fill its output past the high-water mark, none of it written
    // yet. If a side stopped reading for its own sends, each would wait for the other
    // (found by the npm facade's pipelined 1 KiB echo, which stalled).
    const N: usize = 600;
    let mut p = Pair::open(no_timers(), no_timers(), 11);
    for i in 0..N {
        p.client.conn.send_binary(vec![i as u8; 1024], true).unwrap();
        p.server.conn.send_binary(vec![!i as u8; 1024], true).unwrap();
    }
    for side in [&p.client, &p.server] {
        assert!(side.conn.output().len() >= 256 * 1024, "{}", side.conn.output().len());
        assert!(side.conn.wants_input());
        assert!(!side.conn.events_wait_for_output());
    }
    // Everything each side writes goes to the other, in turn; each reads all of it.
    fn hop(from: &mut Side, to: &mut Side, got: &mut usize) -> bool {
        let mut bytes = Vec::new();
        from.conn.output().copy_to(&mut bytes);
        let chunk = &bytes[..bytes.len().min(64 * 1024)];
        if chunk.is_empty() {
            return false;
        }
        from.conn.advance(chunk.len()).unwrap();
        assert!(to.conn.wants_input());
        to.conn.feed(chunk, 0).unwrap();
        while let Some(e) = to.conn.poll_event() {
            if let Event::Message { data, .. } = e {
                *got += data.len();
            }
        }
        true
    }
    let (mut to_client, mut to_server) = (0, 0);
    while hop(&mut p.server, &mut p.client, &mut to_client) | hop(&mut p.client, &mut p.server, &mut to_server) {}
    assert_eq!((to_client, to_server), (N * 1024, N * 1024));
}

/// An HTTP/2 (or HTTP/3) stack carrying an extended CONNECT between a client and a
/// server connection: the client's request fields go to `accept_connect`, the response
/// fields back to `connect_response`; the stream's data then flows as on a TCP stream.
fn over_extended_connect(client: Options, server: Options, seed: u64) -> (Pair, Vec<HttpHeader<'static>>) {
    let url = ClientRequest::from_url("wss://example.com:8443/chat?room=1").unwrap();
    let (mut client, request) = Connection::<Vec<u8>>::client_connect(0, seeded(client), &url).unwrap();
    assert_eq!(client.state(), ConnectionState::Connecting);
    assert!(!client.wants_write(), "the request goes out as HTTP/2 fields, not bytes");
    let (server, response) = Connection::accept_connect(0, server, &request).unwrap();
    assert_eq!(server.state(), ConnectionState::Open);
    assert!(!server.wants_write());
    client.connect_response(200, &response).unwrap();
    let mut p = Pair {
        client: side(client),
        server: side(server),
        rng: Rng(seed),
        deliver_to_server: true,
        deliver_to_client: true,
    };
    p.run();
    (p, request)
}

#[test]
fn an_extended_connect_opens_a_websocket_whose_frames_are_those_of_http_1_1() {
    let client = Options {
        subprotocols: vec!["v1".into(), "v2".into()],
        headers: vec![HttpHeader::new("origin", "https://example.com")],
        ..no_timers()
    };
    let server = Options { subprotocols: vec!["v2".into()], ..no_timers() };
    let (mut p, request) = over_extended_connect(client, server, 9);
    let field = |f: &HttpHeader<'_>| {
        (String::from_utf8_lossy(&f.name).into_owned(), String::from_utf8_lossy(&f.value).into_owned())
    };
    assert_eq!(
        request.iter().map(field).collect::<Vec<_>>(),
        [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "example.com:8443"),
            (":path", "/chat?room=1"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "v1, v2"),
            ("origin", "https://example.com"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(p.client.events[0], Ev::Open(Some("v2".into())));
    assert_eq!(p.server.events[0], Ev::Open(Some("v2".into())));
    for len in [0usize, 125, 126, 65_536, 300_000] {
        p.client.conn.send_binary(vec![1; len], true).unwrap();
        p.server.conn.send_text(vec![b'a'; len], true).unwrap();
    }
    p.run();
    assert_eq!(
        messages(&p.server.events).iter().map(|m| m.1.len()).collect::<Vec<_>>(),
        [0, 125, 126, 65_536, 300_000]
    );
    assert_eq!(
        messages(&p.client.events).iter().map(|m| m.1.len()).collect::<Vec<_>>(),
        [0, 125, 126, 65_536, 300_000]
    );
    // The client still masks: its bytes are not the server's framing of the same data.
    assert_eq!(p.client.wire[1] & 0x80, 0x80, "a client frame over HTTP/2 is masked");
    p.client.conn.close(0, Some(CloseStatus::SUCCESS), "bye").unwrap();
    p.run();
    assert!(p.client.events.contains(&Ev::Closed { clean: true, status: 1000, reason: "bye".into() }));
    assert!(p.server.events.contains(&Ev::Closed { clean: true, status: 1000, reason: "bye".into() }));
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_is_negotiated_over_an_extended_connect() {
    let o = || Options { deflate: Some(wsengine::DeflateOptions::default()), ..no_timers() };
    let (mut p, request) = over_extended_connect(o(), o(), 11);
    assert!(request.iter().any(|f| f.is("sec-websocket-extensions") && f.name.as_ref() == b"sec-websocket-extensions"));
    assert_eq!(p.client.conn.extensions(), p.server.conn.extensions());
    assert!(p.client.conn.extensions().is_some_and(|e| e.starts_with("permessage-deflate")));
    p.client.conn.send_text(vec![b'z'; 10_000], true).unwrap();
    p.run();
    assert_eq!(messages(&p.server.events), [(true, vec![b'z'; 10_000])]);
    assert!(p.client.wire.len() < 1_000, "compressed: {} bytes", p.client.wire.len());
}

#[test]
fn a_refused_or_wrong_extended_connect_response_fails_the_client() {
    let url = ClientRequest::from_url("ws://h/").unwrap();
    let offering = || seeded(Options { subprotocols: vec!["v1".into()], ..no_timers() });
    let cases: [(u16, &[HttpHeader<'static>], Error); 4] = [
        (403, &[], Error::UnexpectedStatus(403)),
        (101, &[], Error::UnexpectedStatus(101)),
        (200, &[HttpHeader::new("sec-websocket-protocol", "v9")], Error::SubprotocolNotOffered),
        (200, &[HttpHeader::new("sec-websocket-extensions", "x-unknown")], Error::ExtensionNotOffered),
    ];
    for (status, fields, err) in cases {
        let (mut c, _) = Connection::<Vec<u8>>::client_connect(0, offering(), &url).unwrap();
        assert_eq!(c.connect_response(status, fields), Err(err));
        assert_eq!(c.poll_event(), Some(Event::Failed { error: err, status_sent: None }));
        assert!(matches!(c.poll_event(), Some(Event::Closed { clean: false, .. })));
        assert!(!c.wants_write());
        // A second response is misuse now.
        assert!(matches!(c.connect_response(200, &[]), Err(Error::InvalidState { call: "connect_response", .. })));
    }
    // No response in time: the opening deadline.
    let (mut c, _) =
        Connection::<Vec<u8>>::client_connect(100, seeded(Options { open_timeout: Some(50), ..no_timers() }), &url)
            .unwrap();
    assert_eq!(c.poll_timeout(), Some(150));
    c.handle_timeout(150);
    assert!(matches!(c.poll_event(), Some(Event::Failed { error: Error::TimedOut(Deadline::OpeningHandshake), .. })));
    // The stream ending first.
    let (mut c, _) = Connection::<Vec<u8>>::client_connect(0, offering(), &url).unwrap();
    c.read_eof();
    assert!(matches!(c.poll_event(), Some(Event::Failed { error: Error::ConnectionClosed, .. })));
    // Stream data handed in before the response (an HTTP/2 stack cannot, but a host
    // might) is kept for after it.
    let (mut c, _) = Connection::<Vec<u8>>::client_connect(0, offering(), &url).unwrap();
    c.feed(b"\x81\x02hi", 0).unwrap();
    assert_eq!(c.poll_event(), None);
    c.connect_response(200, &[]).unwrap();
    assert!(matches!(c.poll_event(), Some(Event::Open { subprotocol: None, .. })));
    assert_eq!(c.poll_event(), Some(Event::Message { text: true, data: b"hi", fin: true }));
}

#[test]
fn malformed_extended_connect_requests_are_refused_with_their_status() {
    let url = ClientRequest::from_url("wss://h/x").unwrap();
    let (_, good) = Connection::<Vec<u8>>::client_connect(0, seeded(no_timers()), &url).unwrap();
    let edit = |drop: &str, add: Option<(&'static str, &'static str)>| {
        let mut r: Vec<HttpHeader<'static>> = good.iter().filter(|f| !f.is(drop)).cloned().collect();
        r.extend(add.map(|(n, v)| HttpHeader::new(n, v)));
        r
    };
    let cases = [
        (edit(":protocol", None), Error::MissingHeader(":protocol"), 400),
        (edit(":method", Some((":method", "GET"))), Error::InvalidHeaderValue(":method"), 400),
        (
            edit("", Some(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))),
            Error::UnexpectedHeader("Sec-WebSocket-Key"),
            400,
        ),
        (edit("sec-websocket-version", Some(("sec-websocket-version", "8"))), Error::UnsupportedVersion, 426),
    ];
    for (request, err, status) in cases {
        let e = Connection::<Vec<u8>>::accept_connect(0, no_timers(), &request).unwrap_err();
        assert_eq!(e, err);
        assert_eq!(e.http_status(), Some(status));
        assert_eq!(
            e.kind(),
            if status == 426 { ErrorKind::VersionNotSupported } else { ErrorKind::InvalidProtocolFormat }
        );
    }
    // The profile is the constructor's to set.
    let mut o = no_timers();
    o.properties.push(Property::ExtendedConnect(true));
    assert_eq!(
        Connection::<Vec<u8>>::server(0, o.clone()).unwrap_err(),
        Error::DuplicateProperty("wsengine ExtendedConnect")
    );
    assert_eq!(
        Connection::<Vec<u8>>::accept_connect(0, o, &good).unwrap_err(),
        Error::DuplicateProperty("wsengine ExtendedConnect")
    );
}
