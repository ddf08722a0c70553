//! permessage-deflate's receive path: a server `Connection` with compression agreed (the
//! window, context takeover, limit and receive buffer from the input) is fed compressed
//! messages built from the input, in two modes:
//!
//! - **hostile**: the rest of the input, cut into one to four frames, is the compressed
//!   payload of one message (RSV1 on its first frame); so is every later chunk. Arbitrary
//!   bytes are almost never valid DEFLATE, so they fail in every way the inflater can;
//! - **round trip**: a client `Connection` compresses the rest of the input (cut into
//!   fragments at input-chosen points) and its bytes reach the server in input-chosen cuts.
//!
//! Input layout (every field defaults to 0 once the input runs out):
//!
//! | byte | meaning                                                                  |
//! |------|--------------------------------------------------------------------------|
//! | 0    | bit 0: round trip; bit 1: text; bit 2: no context takeover; bit 3: reassemble |
//! | 1    | client window bits - 9 (mod 7) and server window bits - 9 (high nibble, mod 7) |
//! | 2    | receive buffer: 256 << (n mod 5)                                         |
//! | 3    | maximum message size: 1 KiB << (n mod 8)                                 |
//! | 4..8 | cut points (frames, fragments, reads)                                     |
//! | rest | the payload                                                               |
//!
//! Checked, beyond "no panic" and no trap of a bounded memory (libFuzzer's RSS limit):
//! - a failure is one of the documented receive errors for compressed data
//!   (`InvalidCompressedData` 1007, `InvalidUtf8` 1007, `MessageTooBig` 1009), or a
//!   framing error, always with its close status;
//! - no message is indicated past `max_message_size` bytes, pieces fit the receive
//!   buffer, and text is valid UTF-8 (a prefix while the message is open);
//! - in round trip mode, every message arrives exactly as sent (unless it was over the
//!   limit, which then fails with 1009).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wsengine::{ClientRequest, Connection, DeflateOptions, Error, Event, Options, Property};

fn options(input: &[u8]) -> (Options, Options) {
    let get = |i: usize| input.get(i).copied().unwrap_or(0);
    let takeover = get(0) & 4 == 0;
    let d = DeflateOptions {
        client_max_window_bits: 9 + (get(1) & 0x0F) % 7,
        server_max_window_bits: 9 + (get(1) >> 4) % 7,
        client_no_context_takeover: !takeover,
        server_no_context_takeover: !takeover,
        threshold: 0,
        ..DeflateOptions::default()
    };
    let rbs = 256u32 << (get(2) % 5);
    let base = || Options {
        properties: vec![Property::ReceiveBufferSize(rbs), Property::RandomSeed([1; 32])],
        deflate: Some(d.clone()),
        ping_interval: None,
        pong_timeout: None,
        close_timeout: None,
        open_timeout: None,
        ..Options::default()
    };
    let server = Options { max_message_size: 1024 << (get(3) % 8), reassemble: get(0) & 8 != 0, ..base() };
    (base(), server)
}

/// Moves all of `from`'s output into `to` in one feed.
fn pass(from: &mut Connection, to: &mut Connection, events: &mut Vec<Owned>) {
    let mut bytes = Vec::new();
    from.take_output(&mut bytes);
    if !bytes.is_empty() {
        let _ = to.feed(&bytes, 0);
    }
    drain(to, events);
}

#[derive(Debug)]
enum Owned {
    Piece { text: bool, data: Vec<u8>, fin: bool },
    Failed(Error, Option<u16>),
    Other,
}

fn drain(c: &mut Connection, events: &mut Vec<Owned>) {
    while let Some(e) = c.poll_event() {
        events.push(match e {
            Event::Message { text, data, fin } => Owned::Piece { text, data: data.to_vec(), fin },
            Event::Failed { error, status_sent } => Owned::Failed(error, status_sent.map(|s| s.0)),
            _ => Owned::Other,
        });
    }
}

/// A frame masked with the zero key (payload as written).
fn frame(b0: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(b0);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
}

fuzz_target!(|input: &[u8]| {
    let (client_options, server_options) = options(input);
    let limit = server_options.max_message_size;
    let rbs = match server_options.properties[0] {
        Property::ReceiveBufferSize(n) => n as usize,
        _ => unreachable!(),
    };
    let reassemble = server_options.reassemble;
    let get = |i: usize| input.get(i).copied().unwrap_or(0) as usize;
    let cuts = [get(4), get(5), get(6), get(7)];
    let payload = input.get(8..).unwrap_or_default();
    let text = input.first().is_some_and(|b| b & 2 != 0);

    let request = ClientRequest::from_url("ws://fuzz/").unwrap();
    let mut client = Connection::client(0, client_options, &request).unwrap();
    let mut server = Connection::server(0, server_options).unwrap();
    let mut events = Vec::new();
    pass(&mut client, &mut server, &mut events);
    pass(&mut server, &mut client, &mut Vec::new());
    assert!(server.extensions().is_some_and(|e| e.starts_with("permessage-deflate")));
    events.clear();

    let round_trip = input.first().is_some_and(|b| b & 1 != 0);
    let mut sent: Vec<Vec<u8>> = Vec::new();
    if round_trip {
        // Fragments cut where the input says; text only when the payload is UTF-8.
        let text = text && std::str::from_utf8(payload).is_ok();
        let mut at = 0;
        for (i, &c) in cuts.iter().enumerate() {
            let end = if i == 3 { payload.len() } else { (at + c * 37).min(payload.len()) };
            let piece = payload[at..end].to_vec();
            let fin = i == 3;
            let r = if text { client.send_text(piece, fin) } else { client.send_binary(piece, fin) };
            if text && r.is_err() {
                // A cut inside a code point is fine for fragments; anything else is a bug.
                panic!("send refused: {r:?}");
            }
            at = end;
        }
        sent.push(payload.to_vec());
        let mut wire = Vec::new();
        client.take_output(&mut wire);
        let mut at = 0;
        for c in cuts.iter().cycle().take(64) {
            if at >= wire.len() {
                break;
            }
            let end = (at + 1 + c * 13).min(wire.len());
            let _ = server.feed(&wire[at..end], 0);
            drain(&mut server, &mut events);
            at = end;
        }
        if at < wire.len() {
            let _ = server.feed(&wire[at..], 0);
        }
    } else {
        // The payload cut into frames of one compressed message.
        let mut wire = Vec::new();
        let mut at = 0;
        let op = if text { 1 } else { 2 };
        for (i, &c) in cuts.iter().enumerate() {
            let last = i == 3 || at + c * 29 >= payload.len();
            let end = if last { payload.len() } else { at + c * 29 };
            let b0 = (if last { 0x80 } else { 0 }) | (if i == 0 { 0x40 | op } else { 0 });
            frame(b0, &payload[at..end], &mut wire);
            at = end;
            if last {
                break;
            }
        }
        for chunk in wire.chunks(1 + cuts[0] * 7) {
            let _ = server.feed(chunk, 0);
            drain(&mut server, &mut events);
        }
    }
    drain(&mut server, &mut events);
    server.handle_timeout(0);
    drain(&mut server, &mut events);

    // What came out.
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for e in &events {
        match e {
            Owned::Piece { text, data, fin } => {
                assert!(reassemble || data.len() <= rbs, "a piece of {} bytes", data.len());
                let m = open.get_or_insert_with(Vec::new);
                m.extend_from_slice(data);
                assert!(m.len() as u64 <= limit, "{} bytes past the limit {limit}", m.len());
                if *text {
                    match std::str::from_utf8(m) {
                        Ok(_) => {}
                        Err(e) => assert!(!fin && e.error_len().is_none(), "invalid UTF-8 indicated"),
                    }
                }
                if *fin {
                    messages.push(open.take().unwrap());
                }
            }
            Owned::Failed(error, status) => {
                let expected = match error {
                    Error::InvalidCompressedData | Error::InvalidUtf8 => 1007,
                    Error::MessageTooBig { .. } => 1009,
                    other => other.close_status().map_or(0, |s| s.0),
                };
                assert!(expected != 0 && *status == Some(expected), "{error:?} sent {status:?}");
            }
            Owned::Other => {}
        }
    }
    if round_trip {
        let failed = events.iter().find_map(|e| match e {
            Owned::Failed(error, _) => Some(error.clone()),
            _ => None,
        });
        match failed {
            None => assert_eq!(messages, sent, "the round trip changed the message"),
            Some(Error::MessageTooBig { .. }) => assert!(payload.len() as u64 > limit),
            Some(other) => panic!("a message this engine compressed failed: {other:?}"),
        }
    }
});
