//! The native connection layer against an independent peer: python-websockets' echo
//! server (tests/peers/python_echo.py) on loopback.

#[path = "../examples/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use wsengine::{Event, Options, Property};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python_echo() -> Server {
    let mut child = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/python_echo.py"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (./dev installs python-websockets)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("the port line");
    let port =
        line.trim().parse().unwrap_or_else(|_| panic!("python_echo.py printed {line:?}: is websockets installed?"));
    Server(child, port)
}

#[test]
fn a_16_mib_message_from_a_client_connection_comes_back_from_python_websockets() {
    let server = python_echo();
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
