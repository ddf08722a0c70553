//! Hostile input against a server connection: each attack is refused or absorbed
//! within a bound, and prints its figure (time, and the most heap held above the
//! start, counted exactly): `cargo test --release --test hostile -- --nocapture
//! --test-threads 1` gives the README's table. Time is printed, never asserted.

#[path = "common/counting.rs"]
mod counting;

use std::time::Instant;

use counting::{peak_above, watch_peak};
use wsengine::{CloseStatus, Connection, DEFAULT_MAX_FRAGMENTS, Error, Event, HeadLimits, Millis, Options, Role};

/// Runs `attack`, printing its time and peak heap; returns the peak.
fn figure(name: &str, attack: impl FnOnce()) -> isize {
    let start = watch_peak();
    let t = Instant::now();
    attack();
    let peak = peak_above(start);
    println!("figure | {name} | {:.3} ms | {} KiB", t.elapsed().as_secs_f64() * 1e3, peak / 1024);
    peak
}

fn options() -> Options {
    Options { ping_interval: None, ..Options::default() }
}

/// A server connection already open (its upgrade done elsewhere).
fn open_server(options: Options) -> Connection {
    let mut s = Connection::from_upgraded(Role::Server, 0, options).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Open { .. })));
    s
}

/// A masked client frame: `first` is FIN, RSV and opcode; `len` is what the header
/// announces (the payload given may be shorter: the rest never comes).
fn frame_announcing(first: u8, len: u64, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first];
    match len {
        0..=125 => f.push(0x80 | len as u8),
        126..=0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            f.push(0x80 | 127);
            f.extend_from_slice(&len.to_be_bytes());
        }
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    frame_announcing(first, payload.len() as u64, payload)
}

/// Feeds `wire` in reads of `read` bytes, draining events and writing all output
/// after each; returns the events' summary: message bytes, pings, and the failure.
fn run(s: &mut Connection, wire: &[u8], read: usize) -> (usize, usize, Option<(Error, Option<CloseStatus>)>) {
    let (mut bytes, mut pings, mut failed) = (0, 0, None);
    // A last call after the input: a failure right behind a message waits for the
    // host's next call (its answer to the message goes first).
    let last: &[u8] = &[];
    for chunk in wire.chunks(read).chain([last]) {
        if s.feed(chunk, 0).is_err() {
            break;
        }
        while let Some(e) = s.poll_event() {
            match e {
                Event::Message { data, .. } => bytes += data.len(),
                Event::Ping(_) => pings += 1,
                Event::Failed { error, status_sent } => failed = Some((error, status_sent)),
                _ => {}
            }
        }
        let n = s.output().len();
        s.advance(n).unwrap();
        if failed.is_some() {
            break;
        }
    }
    (bytes, pings, failed)
}

fn status(failed: &Option<(Error, Option<CloseStatus>)>) -> Option<u16> {
    failed.as_ref().and_then(|(_, s)| s.map(|s| s.0))
}

#[test]
fn a_1_mb_request_head_is_answered_431_holding_no_more_than_the_head_limit() {
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    head.resize(1 << 20, b'a');
    for read in [head.len(), 1024] {
        let mut s = Connection::<Vec<u8>>::server(0, options()).unwrap();
        let peak = figure(&format!("1 MB request head, reads of {read} B"), || {
            for chunk in head.chunks(read) {
                if s.feed(chunk, 0).is_err() || s.state() != wsengine::ConnectionState::Connecting {
                    break;
                }
            }
        });
        let mut out = Vec::new();
        s.output().copy_to(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&out));
        assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::HeadTooLarge { .. }, .. })));
        // The head's limit (8 KiB) and the refusal, not the megabyte.
        assert!(peak < 32 * 1024, "{peak}");
    }
}

#[test]
fn ten_thousand_tiny_headers_are_refused_or_parsed_in_one_pass() {
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n".to_vec();
    for i in 0..10_000 {
        head.extend_from_slice(format!("x{i}: y\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    // The defaults: 8 KiB and 128 fields.
    let mut s = Connection::<Vec<u8>>::server(0, options()).unwrap();
    figure("10,000 header fields, default limits", || {
        for chunk in head.chunks(1024) {
            let _ = s.feed(chunk, 0);
        }
    });
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::HeadTooLarge { .. }, .. })));
    // Limits raised to take them: one scan for the blank line, one parse.
    let limits = HeadLimits { max_len: 1 << 20, max_headers: 10_010 };
    let mut s = Connection::<Vec<u8>>::server(0, Options { head_limits: limits, ..options() }).unwrap();
    figure("10,000 header fields, limits raised to take them, reads of 100 B", || {
        for chunk in head.chunks(100) {
            s.feed(chunk, 0).unwrap();
        }
    });
    assert!(matches!(s.poll_event(), Some(Event::Open { .. })));
    // Fewer slots than fields: refused with 431.
    let limits = HeadLimits { max_len: 1 << 20, max_headers: 1_000 };
    let mut s = Connection::<Vec<u8>>::server(0, Options { head_limits: limits, ..options() }).unwrap();
    s.feed(&head, 0).unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::TooManyHeaders { .. }, .. })));
}

#[test]
fn a_message_of_131_072_one_byte_fragments_passes_and_one_more_fails_with_1009() {
    let message = |frames: u32| {
        let mut wire = frame(0x02, b"a");
        for _ in 1..frames - 1 {
            wire.extend(frame(0x00, b"a"));
        }
        wire.extend(frame(0x80, b"a"));
        wire
    };
    let budget = DEFAULT_MAX_FRAGMENTS;
    let wire = message(budget);
    let mut s = open_server(options());
    let mut result = (0, 0, None);
    let peak =
        figure(&format!("{budget} one-byte fragments in one message"), || result = run(&mut s, &wire, 64 * 1024));
    assert_eq!(result.0, budget as usize);
    assert!(result.2.is_none(), "{:?}", result.2);
    assert!(peak < 256 * 1024, "{peak}");

    let wire = message(budget + 1);
    let mut s = open_server(options());
    figure(&format!("{} one-byte fragments: one over the budget", budget + 1), || {
        result = run(&mut s, &wire, 64 * 1024)
    });
    assert!(
        matches!(result.2, Some((Error::TooManyFragments { .. }, Some(CloseStatus::MESSAGE_TOO_BIG)))),
        "{:?}",
        result.2
    );
}

#[test]
fn a_zero_length_continuation_flood_stops_at_the_fragment_budget() {
    let mut wire = frame(0x01, b"");
    for _ in 0..1_000_000 {
        wire.extend(frame(0x00, b""));
    }
    let mut s = open_server(options());
    let mut result = (0, 0, None);
    figure("1,000,000 empty continuation frames", || result = run(&mut s, &wire, 64 * 1024));
    assert_eq!(status(&result.2), Some(1009), "{:?}", result.2);
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_piles_up_no_more_than_the_output_bound() {
    const PINGS: usize = 100_000;
    let ping = frame(0x89, &[b'p'; 125]);
    let wire: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * PINGS).collect();
    let mut s = open_server(options());
    let mut taken = 0;
    let peak = figure("100,000 pings of 125 B, their pongs never read", || {
        // The peer never reads: nothing is written; the host reads while the
        // connection wants input and it takes what it is given.
        for chunk in wire.chunks(16 * 1024) {
            if !s.wants_input() || s.feed(chunk, 0).is_err() {
                break;
            }
            taken += chunk.len();
            while s.poll_event().is_some() {}
        }
    });
    let held = s.output().len();
    println!("  taken {taken} B of {} B; {held} B of pongs wait", wire.len());
    assert!(!s.wants_input());
    assert!(held < 256 * 1024 + 256, "{held}");
    assert!(peak < 2 << 20, "{peak}");
    // Once the peer reads again, every ping is answered.
    let mut pongs = held / 127;
    let n = s.output().len();
    s.advance(n).unwrap();
    let mut rest = &wire[taken..];
    loop {
        while s.poll_event().is_some() {}
        let n = s.output().len();
        pongs += n / 127;
        s.advance(n).unwrap();
        if rest.is_empty() && n == 0 {
            break;
        }
        if s.wants_input() && !rest.is_empty() {
            let k = rest.len().min(16 * 1024);
            s.feed(&rest[..k], 0).unwrap();
            rest = &rest[k..];
        }
    }
    assert_eq!(pongs, PINGS);
}

#[test]
fn a_frame_claiming_2_to_the_63_bytes_fails_at_its_header() {
    for (len, expected) in [(1u64 << 63, 1002u16), ((1u64 << 63) - 1, 1009)] {
        let wire = frame_announcing(0x82, len, b"");
        let mut s = open_server(options());
        let mut result = (0, 0, None);
        let peak = figure(&format!("a frame announcing {len} bytes"), || result = run(&mut s, &wire, 64));
        // A length with its top bit set is malformed (RFC 6455 §5.2); one below is
        // over the message limit.
        assert_eq!(status(&result.2), Some(expected), "{:?}", result.2);
        assert!(peak < 16 * 1024, "{peak}");
    }
}

#[test]
fn invalid_utf8_split_across_fragments_and_reads_fails_with_1007_where_it_starts() {
    // "é" (C3 A9) split across two fragments, then C3 28 (invalid) split the same way.
    let mut valid = frame(0x01, b"caf\xC3");
    valid.extend(frame(0x80, b"\xA9!"));
    let mut invalid = frame(0x01, b"caf\xC3");
    invalid.extend(frame(0x80, b"\x28!"));
    // A four-byte code point over three fragments.
    let mut four = frame(0x01, b"\xF0\x9F");
    four.extend(frame(0x00, b"\x98"));
    four.extend(frame(0x80, b"\x80"));
    for read in [1, 3, 64] {
        let mut s = open_server(options());
        assert_eq!(run(&mut s, &valid, read), (6, 0, None));
        let mut s = open_server(options());
        assert_eq!(run(&mut s, &four, read), (4, 0, None));
        let mut s = open_server(options());
        let (bytes, _, failed) = run(&mut s, &invalid, read);
        assert_eq!(status(&failed), Some(1007), "{failed:?}");
        // "caf\xC3" may be indicated (a piece may end inside a code point); the byte
        // that breaks it is not.
        assert!(bytes <= 4, "nothing past the valid prefix is indicated: {bytes}");
    }
    let mut s = open_server(options());
    figure("invalid UTF-8 split across fragments, one-byte reads", || {
        let _ = run(&mut s, &invalid, 1);
    });
}

/// The deadlines an attacker meets: a handshake that never finishes, a close never
/// answered. (Over TCP on tokio's clock: hosts/tokio/tests/deadlines.rs.)
#[test]
fn a_slow_handshake_and_an_unanswered_close_end_at_their_deadlines() {
    let mut s = Connection::<Vec<u8>>::server(0, Options { open_timeout: Some(10_000), ..options() }).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n";
    let mut now: Millis = 0;
    for b in request {
        s.feed(&[*b], now).unwrap();
        now += 1_000;
        s.handle_timeout(now);
        if s.state() != wsengine::ConnectionState::Connecting {
            break;
        }
    }
    assert_eq!(now, 10_000, "one byte a second is cut off at 10 s");
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::TimedOut(_), .. })));

    let mut s = open_server(Options { close_timeout: Some(10_000), ..options() });
    s.close(0, Some(CloseStatus::SUCCESS), "").unwrap();
    let n = s.output().len();
    s.advance(n).unwrap();
    assert_eq!(s.poll_timeout(), Some(10_000));
    s.handle_timeout(10_000);
    assert!(matches!(s.poll_event(), Some(Event::Failed { error: Error::TimedOut(_), .. })));
    assert!(matches!(s.poll_event(), Some(Event::Closed { clean: false, .. })));
}
