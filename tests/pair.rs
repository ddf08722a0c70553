//! A client and a server handle talking through their action queues, with reads cut at
//! random points. Test names read as RFC 6455 / websocket.dll clauses.

mod common;

use common::{Event, Pair, client_props};
use wsengine::{BufferType, CloseStatus, Error, Property, SendBuffer, State};

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| b'a' + ((i as u32 * 7 + seed as u32) % 26) as u8).collect()
}

const SIZES: &[usize] = &[0, 1, 2, 124, 125, 126, 127, 1000, 4095, 4096, 4097, 65535, 65536, 65537, 300_000];

fn round_trip_all_sizes(mut pair: Pair) {
    for (i, &len) in SIZES.iter().enumerate() {
        let text = i % 2 == 0;
        let ty = if text { BufferType::Utf8Message } else { BufferType::BinaryMessage };
        let data = payload(len, i as u8);
        pair.client.send_data(ty, &data).unwrap();
        pair.run();
        pair.server.send_data(ty, &data).unwrap();
        pair.run();
        assert_eq!(pair.server.messages().last(), Some(&(text, data.clone())), "client->server {len}");
        assert_eq!(pair.client.messages().last(), Some(&(text, data)), "server->client {len}");
    }
    assert_eq!(pair.server.messages().len(), SIZES.len());
    assert!(pair.client.events.iter().all(|e| !matches!(e, Event::Error(_) | Event::SendDone(_, false))));
}

#[test]
fn messages_of_every_length_class_round_trip_with_random_read_splits() {
    round_trip_all_sizes(Pair::handshaken(client_props(), vec![]));
}

#[test]
fn messages_round_trip_through_the_smallest_buffers() {
    let mut c = client_props();
    c.extend([Property::ReceiveBufferSize(256), Property::SendBufferSize(16)]);
    let s = vec![Property::ReceiveBufferSize(256), Property::SendBufferSize(16)];
    round_trip_all_sizes(Pair::handshaken(c, s));
}

#[test]
fn messages_round_trip_one_byte_at_a_time() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.read_size = 1;
    let data = "κόσμε 𝄞 mixed text".repeat(20).into_bytes();
    pair.client.send_data(BufferType::Utf8Message, &data).unwrap();
    pair.run();
    pair.server.send_data(BufferType::Utf8Message, &data).unwrap();
    pair.run();
    assert_eq!(pair.server.messages(), vec![(true, data.clone())]);
    assert_eq!(pair.client.messages(), vec![(true, data)]);
}

#[test]
fn a_client_with_masking_disabled_sends_a_zero_key_and_the_server_accepts_it() {
    let mut c = client_props();
    c.push(Property::DisableMasking(true));
    let mut pair = Pair::upgraded(c, vec![]);
    pair.client.send_data(BufferType::BinaryMessage, b"plain").unwrap();
    pair.run();
    assert_eq!(pair.server.messages(), vec![(false, b"plain".to_vec())]);
}

#[test]
fn fragmented_sends_reassemble_into_one_message_per_type() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let euro = "€".as_bytes();
    // A code point split across fragments is fine (RFC 6455 §8.1: per message).
    pair.client.send_data(BufferType::Utf8Fragment, &euro[..1]).unwrap();
    pair.run();
    pair.client.send(BufferType::PingPong, None).unwrap();
    pair.run();
    pair.client.send_data(BufferType::Utf8Fragment, &euro[1..]).unwrap();
    pair.run();
    pair.client.send_data(BufferType::Utf8Message, b"!").unwrap();
    pair.run();
    pair.client.send_data(BufferType::BinaryFragment, b"").unwrap();
    pair.run();
    pair.client.send_data(BufferType::BinaryMessage, b"xyz").unwrap();
    pair.run();
    assert_eq!(pair.server.messages(), vec![(true, "€!".as_bytes().to_vec()), (false, b"xyz".to_vec())]);
    // The ping inside the text message was answered automatically.
    assert!(pair.client.events.contains(&Event::Pong(vec![])));
}

#[test]
fn a_text_fragment_send_fails_at_the_first_invalid_byte_and_keeps_the_message_open() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.client.send_data(BufferType::Utf8Fragment, &[0xE2]).unwrap();
    pair.run();
    assert_eq!(pair.client.send_data(BufferType::Utf8Message, &[0x41]), Err(Error::InvalidOutgoingUtf8));
    assert_eq!(
        pair.client.send_data(BufferType::BinaryMessage, b"x"),
        Err(Error::FragmentTypeMismatch { open: BufferType::Utf8Fragment, sent: BufferType::BinaryMessage })
    );
    pair.client.send_data(BufferType::Utf8Message, &[0x82, 0xAC]).unwrap();
    pair.run();
    assert_eq!(pair.server.messages(), vec![(true, "€".as_bytes().to_vec())]);
}

#[test]
fn an_unsolicited_pong_is_indicated_as_ping_pong() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.server.send(BufferType::UnsolicitedPong, None).unwrap();
    pair.run();
    assert_eq!(pair.client.events, vec![Event::Pong(vec![])]);
    assert_eq!(pair.server.events, vec![Event::SendDone(BufferType::UnsolicitedPong, true)]);
}

#[test]
fn the_close_handshake_ends_in_closed_on_both_sides() {
    let mut pair = Pair::handshaken(client_props(), vec![]);
    pair.client
        .send(BufferType::Close, Some(SendBuffer::Close { status: CloseStatus::SUCCESS, reason: b"bye".to_vec() }))
        .unwrap();
    pair.run();
    assert_eq!(pair.client.handle.state(), State::CloseSent);
    assert_eq!(pair.server.handle.state(), State::CloseReceived);
    assert!(pair.server.events.contains(&Event::Close(CloseStatus::SUCCESS, b"bye".to_vec())));
    // Data may still flow from the side that received the close.
    pair.server.send_data(BufferType::BinaryMessage, b"late").unwrap();
    pair.run();
    pair.server.send(BufferType::Close, None).unwrap();
    pair.run();
    assert_eq!(pair.client.messages(), vec![(false, b"late".to_vec())]);
    assert!(pair.client.events.contains(&Event::Close(CloseStatus::EMPTY, vec![])));
    assert_eq!(pair.client.handle.state(), State::Closed);
    assert_eq!(pair.server.handle.state(), State::Closed);
    assert_eq!(pair.client.handle.receive(None, 0), Err(Error::ReceiveAfterClose));
    assert_eq!(pair.client.send_data(BufferType::BinaryMessage, b"x"), Err(Error::SendAfterClose));
    assert_eq!(pair.client.send(BufferType::PingPong, None), Ok(()));
}

#[test]
fn contexts_come_back_with_their_indications() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    for i in 0..5u8 {
        pair.client.send_data(BufferType::BinaryMessage, &[i]).unwrap();
        pair.run();
    }
    assert_eq!(pair.client.contexts, vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_caller_buffer_receives_pieces_no_larger_than_its_capacity() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.server.caller_buffer = Some(200);
    let data = payload(5000, 3);
    pair.client.send_data(BufferType::BinaryMessage, &data).unwrap();
    pair.run();
    assert_eq!(pair.server.messages(), vec![(false, data)]);
    assert!(pair.server.events.iter().all(|e| match e {
        Event::Piece(_, d) => d.len() <= 200,
        _ => true,
    }));
    assert!(pair.server.events.len() >= 25);
}

#[test]
fn a_receive_buffer_below_a_control_payload_is_refused() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    assert_eq!(
        pair.server.handle.receive(Some(Vec::with_capacity(10)), 0),
        Err(Error::ReceiveBufferTooSmall { capacity: 10, min: 125 })
    );
}

#[test]
fn abort_drains_queued_operations_as_cancelled_indications() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.run(); // both sides now have a receive with a read in flight
    pair.client.send_data(BufferType::BinaryMessage, b"never sent").unwrap();
    pair.client.handle.abort();
    assert_eq!(pair.client.handle.state(), State::Aborted);
    assert_eq!(pair.client.send_data(BufferType::BinaryMessage, b"x"), Err(Error::Aborted));
    // The read in flight still takes its completion.
    let token = pair.client.pending_read.take().unwrap();
    pair.client.handle.complete_action(token, 0).unwrap();
    pair.client.auto_receive = false;
    pair.run();
    assert!(pair.client.events.contains(&Event::SendDone(BufferType::BinaryMessage, false)));
    assert!(pair.client.events.contains(&Event::Cancelled));
    assert!(pair.c2s.is_empty());
}

#[test]
fn end_of_stream_cancels_the_receive_and_fails_the_receive_side() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.run();
    let token = pair.server.pending_read.take().unwrap();
    pair.server.handle.complete_action(token, 0).unwrap();
    pair.server.auto_receive = false;
    pair.run();
    assert_eq!(pair.server.events, vec![Event::Cancelled]);
    assert_eq!(pair.server.handle.state(), State::Failed);
    assert_eq!(pair.server.handle.receive(None, 0), Err(Error::ConnectionClosed));
    // Sending still works.
    pair.server.send(BufferType::Close, None).unwrap();
    pair.run();
    assert!(pair.client.events.contains(&Event::Close(CloseStatus::EMPTY, vec![])));
}

#[test]
fn a_short_write_cancels_the_send_and_breaks_the_send_side() {
    use wsengine::{Action, ActionQueue};
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.client.send_data(BufferType::BinaryMessage, b"hello").unwrap();
    let token = match pair.client.handle.get_action(ActionQueue::Send).unwrap() {
        Action::SendToNetwork { buffers, action, .. } => {
            assert_eq!(buffers.len(), 11);
            action
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        pair.client.handle.complete_action(token, 12),
        Err(Error::TooManyBytesTransferred { reported: 12, max: 11 })
    );
    pair.client.handle.complete_action(token, 3).unwrap();
    match pair.client.handle.get_action(ActionQueue::Send).unwrap() {
        Action::IndicateSendComplete { completed, buffer, action, .. } => {
            assert!(!completed);
            assert_eq!(buffer, Some(SendBuffer::Data(b"hello".to_vec())));
            pair.client.handle.complete_action(action, 0).unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pair.client.send_data(BufferType::BinaryMessage, b"x"), Err(Error::SendSideBroken));
    // The state says so (it said Open before): the host closes the transport.
    assert_eq!(pair.client.handle.state(), State::SendBroken);
    assert_eq!(
        pair.client.send(BufferType::Close, Some(SendBuffer::Close { status: CloseStatus::SUCCESS, reason: vec![] })),
        Err(Error::SendSideBroken)
    );
    assert_eq!(pair.client.handle.state(), State::SendBroken);
    // What the peer sends is still indicated.
    pair.s2c.extend([0x82, 0x01, 0x07]);
    pair.run();
    assert!(pair.client.events.contains(&Event::Piece(BufferType::BinaryMessage, vec![7])), "{:?}", pair.client.events);
    assert_eq!(pair.client.handle.state(), State::SendBroken);
}

#[test]
fn a_peer_protocol_error_is_sticky_and_maps_to_its_close_code() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    // An unmasked frame from "the client" breaks RFC 6455 §5.1.
    pair.c2s.extend([0x81, 0x02, b'h', b'i']);
    pair.run();
    let err = Error::UnmaskedFrameFromClient;
    assert_eq!(pair.server.events, vec![Event::Error(err)]);
    assert_eq!(err.close_status(), Some(CloseStatus::PROTOCOL_ERROR));
    assert_eq!(pair.server.handle.state(), State::Failed);
    assert_eq!(pair.server.handle.get_action(wsengine::ActionQueue::Receive).unwrap_err(), err);
    // The send side still works: the host answers with 1002.
    pair.server
        .send(BufferType::Close, Some(SendBuffer::Close { status: CloseStatus::PROTOCOL_ERROR, reason: vec![] }))
        .unwrap();
    pair.run();
    assert!(pair.client.events.contains(&Event::Close(CloseStatus::PROTOCOL_ERROR, vec![])));
}

#[test]
fn invalid_utf8_fails_at_the_first_impossible_byte_with_1007() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    // A text frame of 10 bytes whose 3rd byte is impossible; only 3 bytes arrive.
    pair.s2c.extend([0x81, 0x0A, b'o', b'k', 0xFF]);
    pair.run();
    assert_eq!(pair.client.events, vec![Event::Error(Error::InvalidUtf8)]);
    assert_eq!(Error::InvalidUtf8.close_status(), Some(CloseStatus::INVALID_PAYLOAD));
}

#[test]
fn bytes_pushed_before_the_session_are_read_first() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    // A server frame that arrived behind the 101 response, then one from the network.
    pair.client.handle.push_received(&[0x82, 0x01, 0x07]).unwrap();
    pair.s2c.extend([0x82, 0x01, 0x08]);
    pair.run();
    assert_eq!(pair.client.messages(), vec![(false, vec![7]), (false, vec![8])]);
}

#[test]
fn no_data_frame_is_handed_out_while_an_automatic_pong_is_outstanding() {
    use wsengine::{Action, ActionQueue};
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let server = &mut pair.server.handle;
    server.push_received(&[0x89, 0x81, 1, 2, 3, 4, b'p' ^ 1]).unwrap();
    server.receive(None, 0).unwrap();
    let Action::SendToNetwork { action: pong, .. } = server.get_action(ActionQueue::Receive).unwrap() else {
        panic!("expected the automatic pong")
    };
    // Reference §8.2: the send queue says NO_ACTION until the pong is written, so a
    // host writing each action as it comes cannot interleave a frame with the pong.
    server.send(BufferType::BinaryMessage, Some(SendBuffer::Data(vec![9])), 0).unwrap();
    assert!(matches!(server.get_action(ActionQueue::Send).unwrap(), Action::NoAction));
    assert!(matches!(server.get_action(ActionQueue::All).unwrap(), Action::NoAction));
    server.complete_action(pong, 3).unwrap();
    match server.get_action(ActionQueue::Send).unwrap() {
        Action::SendToNetwork { buffers, .. } => assert_eq!(buffers.as_slices().concat(), [0x82, 0x01, 9]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pending_automatic_pong_goes_out_before_a_queued_close() {
    use wsengine::{Action, ActionQueue};
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let server = &mut pair.server.handle;
    // A masked ping with a 3-byte payload arrives at the server.
    server.push_received(&[0x89, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]).unwrap();
    server.receive(None, 0).unwrap();
    let pong = match server.get_action(ActionQueue::Receive).unwrap() {
        Action::SendToNetwork { buffer_type, buffers, context, action } => {
            assert_eq!(buffer_type, BufferType::PingPong);
            assert!(context.is_none(), "automatic pongs carry no application context");
            let mut bytes = Vec::new();
            buffers.copy_to(&mut bytes);
            assert_eq!(bytes, b"\x8a\x03abc");
            action
        }
        other => panic!("{other:?}"),
    };
    // The close shares the control area with the pong in flight: it waits.
    server.send(BufferType::Close, None, 1).unwrap();
    assert!(matches!(server.get_action(ActionQueue::Send).unwrap(), Action::NoAction));
    server.complete_action(pong, 5).unwrap();
    match server.get_action(ActionQueue::Send).unwrap() {
        Action::SendToNetwork { buffer_type: BufferType::Close, buffers, .. } => assert_eq!(buffers.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pings_after_this_sides_close_are_not_answered() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    pair.server.send(BufferType::Close, None).unwrap();
    pair.run();
    pair.client.auto_receive = false;
    // The client pings after the server's close; the server drops it.
    pair.client.send(BufferType::PingPong, None).unwrap();
    pair.run();
    assert!(pair.s2c.is_empty());
    assert!(!pair.client.events.iter().any(|e| matches!(e, Event::Pong(_))));
}

/// With a receive queued: receives one piece from `wire` (100-byte reads) and sends it
/// back with `SendBuffer::LastReceived`, appending what goes out to `echoed`; queues
/// the next receive. Returns the piece's type.
fn echo_one_piece(
    h: &mut wsengine::Handle<Vec<u8>, u32>,
    wire: &[u8],
    pos: &mut usize,
    echoed: &mut Vec<u8>,
) -> BufferType {
    use wsengine::{Action, ActionQueue};
    let ty = loop {
        match h.get_action(ActionQueue::Receive).unwrap() {
            Action::ReceiveFromNetwork { buffer, action } => {
                let n = buffer.len().min(wire.len() - *pos).min(100);
                buffer[..n].copy_from_slice(&wire[*pos..*pos + n]);
                *pos += n;
                h.complete_action(action, n).unwrap();
            }
            Action::IndicateReceiveComplete { buffer_type, action, .. } => {
                h.complete_action(action, 0).unwrap();
                break buffer_type.unwrap();
            }
            other => panic!("{other:?}"),
        }
    };
    h.send(ty, Some(SendBuffer::LastReceived), 1).unwrap();
    // While the piece is being sent from the receive buffer, the receive queue waits.
    h.receive(None, 0).unwrap();
    assert!(matches!(h.get_action(ActionQueue::Receive).unwrap(), Action::NoAction));
    loop {
        let (action, n, done) = match h.get_action(ActionQueue::Send).unwrap() {
            Action::SendToNetwork { buffers, action, .. } => {
                buffers.copy_to(echoed);
                (action, buffers.len(), false)
            }
            Action::IndicateSendComplete { buffer, completed, action, .. } => {
                assert!(completed);
                assert_eq!(buffer, Some(SendBuffer::LastReceived));
                (action, 0, true)
            }
            other => panic!("{other:?}"),
        };
        h.complete_action(action, n).unwrap();
        if done {
            break;
        }
    }
    ty
}

#[test]
fn the_last_received_piece_is_echoed_from_the_receive_buffer_on_both_roles() {
    for server_echoes in [true, false] {
        let mut c = client_props();
        c.push(Property::ReceiveBufferSize(256));
        let mut pair = Pair::upgraded(c, vec![Property::ReceiveBufferSize(256)]);
        // A text message long enough to arrive in several pieces, with multi-byte
        // characters cut at piece boundaries.
        let text = "ab€𝄞c".repeat(60).into_bytes();
        let (sender, echoer) =
            if server_echoes { (&mut pair.client, &mut pair.server) } else { (&mut pair.server, &mut pair.client) };
        sender.send_data(BufferType::Utf8Message, &text).unwrap();
        sender.auto_receive = false;
        let mut wire = Vec::new();
        sender.drive(&mut wire, &mut Default::default(), &mut || 4096);
        let (mut pos, mut echoed) = (0, Vec::new());
        echoer.handle.receive(None, 0).unwrap();
        while echo_one_piece(&mut echoer.handle, &wire, &mut pos, &mut echoed) != BufferType::Utf8Message {}
        // What the echo wrote is the same text message.
        sender.auto_receive = true;
        sender.drive(&mut Vec::new(), &mut echoed.into_iter().collect(), &mut || 50);
        assert_eq!(sender.messages(), vec![(true, text)], "server echoes: {server_echoes}");
    }
}

#[test]
fn the_last_received_piece_is_gone_once_the_receive_queue_runs() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let server = &mut pair.server.handle;
    assert_eq!(server.send(BufferType::BinaryMessage, Some(SendBuffer::LastReceived), 0), Err(Error::NoReceivedPiece));
    server.push_received(&[0x82, 0x81, 0, 0, 0, 0, 7, 0x82, 0x81, 0, 0, 0, 0, 8]).unwrap();
    server.receive(None, 0).unwrap();
    let a = server.get_action(wsengine::ActionQueue::Receive).unwrap().context().unwrap();
    server.complete_action(a, 0).unwrap();
    assert_eq!(
        server.send(BufferType::Close, Some(SendBuffer::LastReceived), 0),
        Err(Error::BufferShapeMismatch(BufferType::Close))
    );
    // The receive queue runs again: the first piece may be overwritten, so it is gone.
    server.receive(None, 0).unwrap();
    let a = server.get_action(wsengine::ActionQueue::Receive).unwrap().context().unwrap();
    server.complete_action(a, 0).unwrap();
    server.send(BufferType::BinaryMessage, Some(SendBuffer::LastReceived), 0).unwrap();
    // A piece copied into a caller buffer is not in the receive buffer to send.
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let server = &mut pair.server.handle;
    server.push_received(&[0x82, 0x81, 0, 0, 0, 0, 7]).unwrap();
    server.receive(Some(Vec::with_capacity(200)), 0).unwrap();
    let a = server.get_action(wsengine::ActionQueue::Receive).unwrap().context().unwrap();
    server.complete_action(a, 0).unwrap();
    assert_eq!(server.send(BufferType::BinaryMessage, Some(SendBuffer::LastReceived), 0), Err(Error::NoReceivedPiece));
}

#[test]
fn a_received_binary_piece_sent_as_text_is_validated() {
    let mut pair = Pair::upgraded(client_props(), vec![]);
    let server = &mut pair.server.handle;
    server.push_received(&[0x82, 0x81, 0, 0, 0, 0, 0xFF]).unwrap();
    server.receive(None, 0).unwrap();
    let a = server.get_action(wsengine::ActionQueue::Receive).unwrap().context().unwrap();
    server.complete_action(a, 0).unwrap();
    assert_eq!(
        server.send(BufferType::Utf8Message, Some(SendBuffer::LastReceived), 0),
        Err(Error::InvalidOutgoingUtf8)
    );
    server.send(BufferType::BinaryMessage, Some(SendBuffer::LastReceived), 0).unwrap();
}
