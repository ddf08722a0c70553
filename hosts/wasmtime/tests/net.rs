//! The host's TCP driver (`net`, what `serve` and `autobahn-client` run) over loopback:
//! a server echoing with `read-echo` and a client sending through `send`, each in its
//! own instance, one call per read, the close handshake ending both.

mod common;

use std::net::TcpListener;

use common::session;
use wsengine_host::net::{self, Ended};
use wsengine_host::{CloseFrame, Event, Outgoing, Piece};

#[test]
fn a_client_and_an_echo_server_talk_over_loopback_and_close_cleanly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut s = session();
        let options = net::options(&mut s, &["chat.v2"]).unwrap();
        net::accept(s, stream, &options).unwrap().run(true, |_, _| {}).unwrap()
    });

    let mut s = session();
    let mut options = net::options(&mut s, &["chat.v1", "chat.v2"]).unwrap();
    options.reassemble = true;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut conn = net::connect(s, &format!("ws://127.0.0.1:{port}/echo"), &options).unwrap();
    let (mut opened, mut echoed) = (None, Vec::new());
    let ended = conn
        .run(false, |e, out| match e {
            Event::Open(o) => {
                opened = o.subprotocol;
                out.push(Outgoing::Text(Piece { data: "héllo".into(), fin: true }));
                out.push(Outgoing::Binary(Piece { data: big.clone(), fin: true }));
            }
            Event::Message(m) => {
                echoed.push((m.text, m.data));
                if echoed.len() == 2 {
                    out.push(Outgoing::Close(Some(CloseFrame { status: 1000, reason: b"done".to_vec() })));
                }
            }
            _ => {}
        })
        .unwrap();
    assert_eq!(opened.as_deref(), Some("chat.v2"));
    assert_eq!(echoed, [(true, "héllo".as_bytes().to_vec()), (false, big)]);
    let clean = |e: &Ended| e.failure.is_none() && e.closed.as_ref().is_some_and(|c| c.clean && c.status == 1000);
    assert!(clean(&ended), "client: {ended:?}");
    let ended = server.join().unwrap();
    assert!(clean(&ended), "server: {ended:?}");
}
