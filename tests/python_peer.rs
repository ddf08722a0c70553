//! The native connection layer against an independent peer: python-websockets' echo
//! server (tests/peers/python_echo.py) on loopback.

#[path = "../examples/common/mod.rs"]
mod common;

#[path = "common/peer.rs"]
mod peer;

use wsengine::{Event, Options, Property};

#[test]
fn a_16_mib_message_from_a_client_connection_comes_back_from_python_websockets() {
    let server = peer::start("python3", "tests/peers/python_echo.py", &[]);
    let options = Options {
        properties: vec![Property::SendBufferSize(4096)], // the default: a masked copy in 4 KiB chunks
        reassemble: true,
        ..Options::default()
    };
    let mut s = common::Session::connect(&format!("ws://127.0.0.1:{}/", server.1), options).unwrap();
    s.run_until(|e| matches!(e, Event::Open { .. })).unwrap();
    for len in [0, 125, 70_000, 16 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        s.conn.send_binary(payload.clone(), true).unwrap();
        let mut echoed = None;
        s.run_until(|e| match e {
            Event::Message { text: false, data, fin: true } => {
                echoed = Some(data.to_vec());
                true
            }
            Event::Failed { .. } | Event::Closed { .. } => panic!("{e:?}"),
            _ => false,
        })
        .unwrap();
        assert!(echoed.as_deref() == Some(&payload[..]), "{len}-byte message came back different");
    }
    s.close().unwrap();
}
