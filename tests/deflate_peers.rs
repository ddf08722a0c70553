//! permessage-deflate against independent peers (feature `deflate`): the native client
//! connection with compression offered, against python-websockets' echo server
//! (tests/peers/python_echo.py, zlib) and Node's `ws` (tests/peers/ws_echo.mjs, Node's
//! zlib), each with context takeover on and off. Every message must come back intact,
//! compression must be in force, and the bytes read must show it.

#![cfg(feature = "deflate")]

#[path = "../examples/common/mod.rs"]
mod common;
#[path = "common/peer.rs"]
mod peer;

use wsengine::{DeflateOptions, Event, Options};

/// Text that compresses about as JSON does.
fn json(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut k = 0usize;
    while out.len() < len {
        out.extend_from_slice(format!("{{\"id\":{k},\"name\":\"item{}\",\"ok\":true}},", k * 7919 % 1000).as_bytes());
        k += 1;
    }
    out.truncate(len);
    out
}

/// Sends text and binary messages of 0 B to 1 MiB, checks each echo, and returns the
/// extension in force and the bytes read against the payload bytes echoed.
fn exchange(port: u16, takeover: bool) -> (String, u64, u64) {
    let d = DeflateOptions {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        threshold: 0,
        ..DeflateOptions::default()
    };
    let options = Options { deflate: Some(d), reassemble: true, ..common::options() };
    let mut s = common::Session::connect(&format!("ws://127.0.0.1:{port}/"), options).unwrap();
    s.run_until(|e| matches!(e, Event::Open { .. })).unwrap();
    let agreed = s.conn.extensions().expect("permessage-deflate agreed").to_owned();
    let mut echoed = 0;
    for (i, len) in [0usize, 1, 200, 4096, 65_536, 300_000, 1 << 20].into_iter().enumerate() {
        let text = i % 2 == 0;
        let payload = json(len);
        if text {
            s.conn.send_text(payload.clone(), true).unwrap();
        } else {
            s.conn.send_binary(payload.clone(), true).unwrap();
        }
        let mut back = None;
        s.run_until(|e| match e {
            Event::Message { text: t, data, fin: true } => {
                back = Some((*t, data.to_vec()));
                true
            }
            Event::Failed { .. } | Event::Closed { .. } => panic!("{e:?}"),
            _ => false,
        })
        .unwrap();
        assert!(back == Some((text, payload)), "the {len}-byte message came back different");
        echoed += len as u64;
    }
    s.close().unwrap();
    (agreed, s.read_bytes, echoed)
}

fn check(peer: &str, port: u16, takeover: bool) {
    let (agreed, read, echoed) = exchange(port, takeover);
    assert!(agreed.starts_with("permessage-deflate"), "{peer}: {agreed}");
    assert_eq!(agreed.contains("server_no_context_takeover"), !takeover, "{peer}: {agreed}");
    assert!(read * 5 < echoed, "{peer} sent {read} bytes for {echoed} bytes of messages: not compressed");
}

#[test]
fn python_websockets_echoes_compressed_messages_with_and_without_context_takeover() {
    for (arg, takeover) in [("deflate", true), ("deflate-no-context-takeover", false)] {
        let server = peer::start("python3", "tests/peers/python_echo.py", &[arg]);
        check("python-websockets", server.1, takeover);
    }
}

#[test]
fn node_ws_echoes_compressed_messages_with_and_without_context_takeover() {
    for (arg, takeover) in [("", true), ("no-context-takeover", false)] {
        let server = peer::start("node", "tests/peers/ws_echo.mjs", &[arg]);
        check("ws", server.1, takeover);
    }
}
