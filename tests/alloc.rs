//! No allocation per message in steady state: counted with a global allocator, so the
//! check is exact and does not depend on timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wsengine::{Action, ActionQueue, BufferType, Connection, Event, Handle, Options, Property, Role, SendBuffer};

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run in parallel threads).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

fn count() {
    // `try_with`: the allocator may be called while thread-locals are torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
