//! No allocation per message in steady state: counted with a global allocator, so the
//! check is exact and does not depend on timing.

#[path = "common/counting.rs"]
mod counting;

use counting::{allocs, live};
use wsengine::{Action, ActionQueue, BufferType, Connection, Event, Handle, Options, Property, Role, SendBuffer};

/// The in-memory workload of examples/echo_speed: `wire` builds masked client text frames.
#[allow(dead_code)]
#[path = "../examples/echo_speed/workload.rs"]
mod workload;

/// Masked client text frames of `len` bytes, `count` of them.
fn wire(len: usize, count: usize) -> Vec<u8> {
    workload::wire(len, count).expect("the client frames its own messages")
}

/// A server that receives `count` messages zero-copy and echoes each piece with a
/// reused buffer. Returns the number of pieces.
fn echo_all(server: &mut Handle, input: &[u8], count: usize, spare: &mut Option<Vec<u8>>, sink: &mut usize) -> usize {
    let mut pos = 0;
    let mut messages = 0;
    let mut pieces = 0;
    while messages < count {
        server.receive(None, ()).unwrap();
        let reply = loop {
            match server.get_action(ActionQueue::Receive).unwrap() {
                Action::ReceiveFromNetwork { buffer, action } => {
                    let n = buffer.len().min(input.len() - pos);
                    buffer[..n].copy_from_slice(&input[pos..pos + n]);
                    pos += n;
                    server.complete_action(action, n).unwrap();
                }
                Action::IndicateReceiveComplete { buffer_type, data, action, .. } => {
                    let mut v = spare.take().unwrap();
                    v.clear();
                    v.extend_from_slice(data.as_slice());
                    let ty = buffer_type.unwrap();
                    server.complete_action(action, 0).unwrap();
                    break (ty, v);
                }
                other => panic!("{other:?}"),
            }
        };
        pieces += 1;
        if !reply.0.is_fragment() {
            messages += 1;
        }
        server.send(reply.0, Some(SendBuffer::Data(reply.1)), ()).unwrap();
        loop {
            let (a, n) = match server.get_action(ActionQueue::Send).unwrap() {
                Action::SendToNetwork { buffers, action, .. } => {
                    *sink += buffers.len();
                    (action, buffers.len())
                }
                Action::IndicateSendComplete { buffer: Some(SendBuffer::Data(v)), action, .. } => {
                    *spare = Some(v);
                    (action, 0)
                }
                Action::NoAction => break,
                other => panic!("{other:?}"),
            };
            server.complete_action(a, n).unwrap();
        }
    }
    assert_eq!(pos, input.len());
    pieces
}

#[test]
fn receiving_and_echoing_messages_allocates_nothing_in_steady_state() {
    for len in [0, 16, 125, 1000, 20_000] {
        let input = wire(len, 200);
        let mut server: Handle = Handle::from_upgraded(Role::Server, [Property::ReceiveBufferSize(4096)]).unwrap();
        let mut spare = Some(Vec::with_capacity(32 * 1024));
        let mut sink = 0;
        // Warm up, then count.
        echo_all(&mut server, &input, 200, &mut spare, &mut sink);
        let before = allocs();
        let pieces = echo_all(&mut server, &input, 200, &mut spare, &mut sink);
        let allocs = allocs() - before;
        assert!(pieces >= 200, "{pieces}");
        assert_eq!(allocs, 0, "{allocs} allocations for {pieces} pieces of {len}-byte messages");
        assert!(sink >= 2 * len * 200, "{sink}");
    }
}

#[test]
fn a_masking_client_sends_without_allocating() {
    let mut client: Handle = Handle::from_upgraded(Role::Client, [Property::RandomSeed([6; 32])]).unwrap();
    let mut buf = Some(vec![b'y'; 10_000]);
    let mut sent = 0;
    let mut run = |client: &mut Handle, buf: &mut Option<Vec<u8>>| {
        for _ in 0..100 {
            client.send(BufferType::BinaryMessage, Some(SendBuffer::Data(buf.take().unwrap())), ()).unwrap();
            loop {
                let (a, n) = match client.get_action(ActionQueue::Send).unwrap() {
                    Action::SendToNetwork { buffers, action, .. } => {
                        sent += buffers.len();
                        (action, buffers.len())
                    }
                    Action::IndicateSendComplete { buffer: Some(SendBuffer::Data(v)), action, .. } => {
                        *buf = Some(v);
                        (action, 0)
                    }
                    Action::NoAction => break,
                    other => panic!("{other:?}"),
                };
                client.complete_action(a, n).unwrap();
            }
        }
    };
    run(&mut client, &mut buf);
    let before = allocs();
    run(&mut client, &mut buf);
    assert_eq!(allocs() - before, 0);
    assert!(sent > 2 * 100 * 10_000);
}

/// A server connection fed `input` in reads of `read` bytes, echoing every piece with
/// `send_received` and writing all its output. Returns the message pieces seen.
fn connection_echo(server: &mut Connection, input: &[u8], read: usize, sink: &mut usize) -> usize {
    let mut pieces = 0;
    for chunk in input.chunks(read) {
        server.feed(chunk, 0).unwrap();
        loop {
            while let Some(e) = server.poll_event() {
                if let Event::Message { .. } = e {
                    pieces += 1;
                    server.send_received().unwrap();
                }
            }
            if !server.wants_write() {
                break;
            }
            let n = server.output().len();
            *sink += n;
            server.advance(n).unwrap();
        }
    }
    pieces
}

#[test]
fn a_connection_echoing_messages_allocates_nothing_in_steady_state() {
    for reassemble in [false, true] {
        for len in [0, 16, 125, 1000, 20_000] {
            let input = wire(len, 200);
            let options = Options {
                properties: vec![Property::ReceiveBufferSize(4096)],
                reassemble,
                ping_interval: None,
                ..Options::default()
            };
            let mut server: Connection = Connection::from_upgraded(Role::Server, 0, options).unwrap();
            let mut sink = 0;
            assert!(matches!(server.poll_event(), Some(Event::Open { .. })));
            // Warm up (buffers and queues reach their size), then count.
            connection_echo(&mut server, &input, 16 * 1024, &mut sink);
            let before = allocs();
            let pieces = connection_echo(&mut server, &input, 16 * 1024, &mut sink);
            let allocs = allocs() - before;
            assert!(pieces >= 200, "{pieces}");
            assert_eq!(allocs, 0, "{allocs} allocations for {pieces} pieces of {len}-byte messages ({reassemble})");
            assert!(sink >= 2 * len * 200, "{sink}");
        }
    }
}

#[test]
fn a_client_connection_sends_without_allocating() {
    static PAYLOAD: [u8; 10_000] = [b'y'; 10_000];
    let options =
        Options { properties: vec![Property::RandomSeed([6; 32])], ping_interval: None, ..Options::default() };
    let mut client: Connection<&'static [u8]> = Connection::from_upgraded(Role::Client, 0, options).unwrap();
    let mut sent = 0;
    let mut run = |client: &mut Connection<&'static [u8]>| {
        for i in 0..100 {
            client.send_binary(&PAYLOAD[..i * 100], true).unwrap();
            client.ping(b"p").unwrap();
            while client.wants_write() {
                let n = client.output().len();
                sent += n;
                client.advance(n).unwrap();
            }
            while client.poll_event().is_some() {}
        }
    };
    run(&mut client);
    let before = allocs();
    run(&mut client);
    assert_eq!(allocs() - before, 0);
    assert!(sent > 2 * 100 * 4_900);
}

/// permessage-deflate (feature `deflate`): memory and allocations.
#[cfg(feature = "deflate")]
mod deflate {
    use wsengine::{ClientRequest, DeflateOptions};

    use super::counting::{peak_above, watch_peak};
    use super::*;

    fn options(d: DeflateOptions, rbs: u32) -> Options {
        Options {
            properties: vec![Property::ReceiveBufferSize(rbs), Property::RandomSeed([3; 32])],
            deflate: Some(d),
            ping_interval: None,
            ..Options::default()
        }
    }

    /// Moves every byte of `from`'s output into `to`, draining `to`'s events.
    fn pass(from: &mut Connection, to: &mut Connection) -> usize {
        let mut n = 0;
        while from.wants_write() {
            let mut bytes = Vec::new();
            from.take_output(&mut bytes);
            n += bytes.len();
            to.feed(&bytes, 0).unwrap();
            while to.poll_event().is_some() {}
        }
        n
    }

    /// A client and a server connection with permessage-deflate agreed, in memory.
    fn pair(client: DeflateOptions, server: DeflateOptions, rbs: u32) -> (Connection, Connection) {
        let request = ClientRequest::from_url("ws://example.com/").unwrap();
        let mut c = Connection::client(0, options(client, rbs), &request).unwrap();
        let mut s = Connection::server(0, options(server, rbs)).unwrap();
        pass(&mut c, &mut s);
        pass(&mut s, &mut c);
        assert!(c.extensions().is_some_and(|e| e.starts_with("permessage-deflate")), "{:?}", c.extensions());
        (c, s)
    }

    /// Text that compresses about as JSON does.
    fn text(len: usize, seed: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut k = seed;
        while out.len() < len {
            out.extend_from_slice(
                format!("{{\"id\":{k},\"name\":\"item{}\",\"ok\":true}},", k * 7919 % 1000).as_bytes(),
            );
            k += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn a_compressed_echo_allocates_nothing_in_steady_state() {
        for len in [200, 1000, 20_000] {
            // The client's messages are independent (no context takeover), so the same
            // wire can be fed twice: once to warm up (zlib's state, the inflate area, the
            // staging buffer), once counted. The server compresses its echo with context.
            let client = DeflateOptions { client_no_context_takeover: true, threshold: 0, ..DeflateOptions::default() };
            let (mut c, mut s) = pair(client, DeflateOptions { threshold: 0, ..DeflateOptions::default() }, 4096);
            for i in 0..200 {
                c.send_text(text(len, i), true).unwrap();
            }
            let mut input = Vec::new();
            c.take_output(&mut input);
            assert!(input.len() < 200 * len / 2, "the client compressed: {} bytes", input.len());
            let mut sink = 0;
            connection_echo(&mut s, &input, 16 * 1024, &mut sink);
            let before = allocs();
            let pieces = connection_echo(&mut s, &input, 16 * 1024, &mut sink);
            let allocs = allocs() - before;
            assert!(pieces >= 200, "{pieces}");
            assert_eq!(allocs, 0, "{allocs} allocations for {pieces} pieces of {len}-byte compressed messages");
        }
    }

    /// The heap a server connection holds after a 16 KiB text message each way: the
    /// figures of the README's memory table (`-- --nocapture` prints them).
    #[test]
    fn heap_per_connection_with_and_without_deflate() {
        let held = |d: Option<DeflateOptions>| -> isize {
            let (mut c, mut s) = match &d {
                Some(d) => pair(d.clone(), d.clone(), 4096),
                None => {
                    let request = ClientRequest::from_url("ws://example.com/").unwrap();
                    let o = || Options {
                        properties: vec![Property::RandomSeed([3; 32])],
                        ping_interval: None,
                        ..Options::default()
                    };
                    let mut c = Connection::client(0, o(), &request).unwrap();
                    let mut s = Connection::server(0, o()).unwrap();
                    pass(&mut c, &mut s);
                    pass(&mut s, &mut c);
                    (c, s)
                }
            };
            let msg = text(16 * 1024, 1);
            c.send_text(msg.clone(), true).unwrap();
            pass(&mut c, &mut s);
            s.send_text(msg, true).unwrap();
            pass(&mut s, &mut c);
            let before = live();
            drop(s);
            before - live()
        };
        let plain = held(None);
        println!("server connection, no compression: {plain} B");
        let mut rows = Vec::new();
        for bits in [15u8, 12, 10, 9] {
            for mem_level in [8, 5, 1] {
                let d = DeflateOptions {
                    server_max_window_bits: bits,
                    client_max_window_bits: bits,
                    mem_level,
                    ..DeflateOptions::default()
                };
                let bytes = held(Some(d.clone()));
                let off = held(Some(DeflateOptions {
                    server_no_context_takeover: true,
                    client_no_context_takeover: true,
                    ..d
                }));
                println!(
                    "window bits {bits}, memory level {mem_level}: {} KiB more, {} KiB without context takeover",
                    (bytes - plain) / 1024,
                    (off - plain) / 1024
                );
                rows.push((bits, bytes));
            }
        }
        // A 2^15 window costs more than a 2^9 one, and nothing costs over 512 KiB.
        assert!(rows[0].1 > rows[9].1, "{rows:?}");
        assert!(rows.iter().all(|r| r.1 < 512 * 1024), "{rows:?}");
    }

    /// A decompression bomb: megabytes of zeros compress about 1000 to 1. The server
    /// (reassembling, the worst case for memory) fails with 1009 once the inflated bytes
    /// pass its limit, holding no more than the limit and its fixed buffers meanwhile.
    #[test]
    fn a_decompression_bomb_fails_with_1009_in_bounded_memory() {
        let limit = 1u64 << 20;
        let request = ClientRequest::from_url("ws://example.com/").unwrap();
        let d = DeflateOptions { threshold: 0, ..DeflateOptions::default() };
        let server = Options { max_message_size: limit, reassemble: true, ..options(d.clone(), 65536) };
        let mut c = Connection::client(0, options(d, 65536), &request).unwrap();
        let mut s = Connection::server(0, server).unwrap();
        pass(&mut c, &mut s);
        pass(&mut s, &mut c);
        c.send_binary(vec![0; 64 << 20], true).unwrap();
        let mut bomb = Vec::new();
        c.take_output(&mut bomb);
        assert!(bomb.len() < 128 * 1024, "64 MiB of zeros compress to {} bytes", bomb.len());
        let start = watch_peak();
        let mut failed = None;
        for chunk in bomb.chunks(16 * 1024) {
            if s.feed(chunk, 0).is_err() {
                break;
            }
            while let Some(e) = s.poll_event() {
                if let Event::Failed { error, status_sent } = e {
                    failed = Some((error, status_sent));
                }
            }
            if failed.is_some() {
                break;
            }
        }
        let peak = peak_above(start);
        let (error, status) = failed.expect("the bomb fails the connection");
        assert_eq!(error, wsengine::Error::MessageTooBig { limit });
        assert_eq!(status.map(|s| s.0), Some(1009));
        assert!(peak < (limit as isize) * 2 + 512 * 1024, "peak {peak} B above what the server held before");
        println!("bomb of {} B: failed with 1009, peak {} KiB", bomb.len(), peak / 1024);
    }
}

/// Idle connections: open, a receive outstanding, nothing buffered. The figures of the
/// README's memory section (`IDLE_CONNECTIONS=100000 cargo test --release --test alloc
/// idle -- --nocapture --test-threads 1`).
mod idle {
    use super::*;
    use wsengine::ClientRequest;

    /// How many connections are measured: `IDLE_CONNECTIONS`, else 10,000.
    fn n() -> usize {
        std::env::var("IDLE_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
    }

    /// Bytes written by `from`, handed to `to`, events drained.
    fn pass(from: &mut Connection, to: &mut Connection) {
        let mut bytes = Vec::new();
        from.take_output(&mut bytes);
        to.feed(&bytes, 0).unwrap();
        while to.poll_event().is_some() {}
    }

    /// A client and a server connection, open, after a 16 KiB message each way (their
    /// buffers have grown to what traffic needs), idle.
    fn pair() -> (Connection, Connection) {
        let request = ClientRequest::from_url("ws://example.com/").unwrap();
        // Keys from the thread's generator, as every client without a seed draws them.
        let mut c = Connection::client(0, Options::default(), &request).unwrap();
        let mut s = Connection::server(0, Options::default()).unwrap();
        pass(&mut c, &mut s);
        pass(&mut s, &mut c);
        c.send_text(vec![b'a'; 16 * 1024], true).unwrap();
        pass(&mut c, &mut s);
        s.send_binary(vec![7; 16 * 1024], true).unwrap();
        pass(&mut s, &mut c);
        (c, s)
    }

    /// Bytes per item of `make`, `n()` of them held in a `Vec` (its slots counted), after
    /// `then` ran on each.
    fn per_item<T>(make: impl Fn() -> T, then: impl Fn(&mut T)) -> isize {
        let n = n();
        let before = live();
        let mut all: Vec<T> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut item = make();
            then(&mut item);
            all.push(item);
        }
        let per = (live() - before) / n as isize;
        drop(all);
        per
    }

    #[test]
    fn an_idle_connection_holds_at_most_1_kib_once_its_buffers_are_released() {
        // One side of each pair, kept; the other dropped.
        let held = |side: fn((Connection, Connection)) -> Connection, release: bool| {
            per_item(
                || side(pair()),
                move |c| {
                    if release {
                        assert!(c.release_buffers());
                    }
                },
            )
        };
        let (server, server_released) = (held(|p| p.1, false), held(|p| p.1, true));
        let (client, client_released) = (held(|p| p.0, false), held(|p| p.0, true));
        println!("idle server connection: {server} B, {server_released} B with its buffers released");
        println!("idle client connection: {client} B, {client_released} B with its buffers released");
        // The pool's kept buffers (64 at most on this thread) are in the figures too.
        assert!(server_released <= 1024 + 64, "{server_released}");
        assert!(client_released <= 1024 + 64, "{client_released}");
        assert!(server > 4096 && client > 4096, "the buffers were held before: {server} {client}");
    }

    #[test]
    fn an_idle_handle_holds_at_most_1_kib_once_its_buffer_is_released() {
        for role in [Role::Server, Role::Client] {
            let make = || {
                let mut h: Handle = Handle::from_upgraded(role, []).unwrap();
                h.receive(None, ()).unwrap();
                h
            };
            let held = per_item(make, |_| {});
            let released = per_item(make, |h| assert!(h.release_buffer()));
            println!("idle {role:?} handle: {held} B, {released} B with its buffer released");
            assert!(released <= 1024 + 64, "{released}");
        }
    }

    #[test]
    fn releasing_and_retaking_buffers_every_message_allocates_nothing_in_steady_state() {
        let input = wire(100, 200);
        let options =
            Options { properties: vec![Property::ReceiveBufferSize(4096)], ping_interval: None, ..Options::default() };
        let mut server: Connection = Connection::from_upgraded(Role::Server, 0, options).unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Open { .. })));
        let run = |server: &mut Connection| {
            let mut released = 0;
            // One message a read, and the connection idle between them.
            for frame in input.chunks(input.len() / 200) {
                server.feed(frame, 0).unwrap();
                while let Some(e) = server.poll_event() {
                    if let Event::Message { .. } = e {
                        server.send_received().unwrap();
                    }
                }
                let n = server.output().len();
                server.advance(n).unwrap();
                released += usize::from(server.release_buffers());
            }
            released
        };
        run(&mut server);
        let before = allocs();
        let released = run(&mut server);
        assert_eq!(released, 200);
        assert_eq!(allocs() - before, 0);
    }
}
