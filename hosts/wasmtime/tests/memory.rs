//! 100,000 idle connections in one component instance: each made, handed a message
//! and an answer sent, then left waiting. The figure of the README's memory section
//! (`cargo test --release -p wsengine-host --test memory -- --nocapture`): the
//! instance's linear memory, which never shrinks, so this is its peak.

mod common;

use common::{ok, session};
use wsengine_host::{Event, Outgoing, Piece, Role};

/// `wire`: a client's masked text frames, as examples/echo_speed builds them.
#[allow(dead_code)]
#[path = "../../../examples/echo_speed/workload.rs"]
mod workload;

#[test]
fn one_hundred_thousand_idle_connections_fit_in_128_mib_of_linear_memory() {
    const N: usize = 100_000;
    let mut s = session();
    s.set_max_resources(2 * N);
    let before = s.memory_bytes();
    let options = s.default_options().unwrap();
    let hello = workload::wire(21, 1).unwrap();
    let mut connections = Vec::with_capacity(N);
    for _ in 0..N {
        let c = ok(s.connection_from_upgraded(Role::Server, 0, &options));
        let p = ok(s.connection_read(c, &hello, 1));
        assert!(p.events.iter().any(|e| matches!(e, Event::Message(_))), "{:?}", p.events);
        let reply = Outgoing::Text(Piece { data: b"yes".to_vec(), fin: true });
        let p = s.connection_send(c, &[reply], 2).unwrap().unwrap();
        assert_eq!(p.output, b"\x81\x03yes");
        connections.push(c);
    }
    let memory = s.memory_bytes();
    println!(
        "{N} idle server connections in one instance: {} MiB of linear memory ({} MiB before), {} B each",
        memory >> 20,
        before >> 20,
        (memory - before) / N
    );
    assert!(memory <= 128 << 20, "{memory}");
}
