//! Byte-exact vectors in both directions: RFC 6455 §5.7 frames and §1.3 keys, fed in
//! whole and at every split point, and what the engine writes for each send.

use wsengine::{Action, ActionQueue, BufferType, CloseStatus, Error, Handle, Property, Role, SendBuffer};

fn server() -> Handle {
    Handle::from_upgraded(Role::Server, []).unwrap()
}

fn client(props: Vec<Property>) -> Handle {
    let mut p = vec![Property::RandomSeed([1; 32])];
    p.extend(props);
    Handle::from_upgraded(Role::Client, p).unwrap()
}

/// Sends one operation and returns the bytes written, frame by frame.
fn written(h: &mut Handle, ty: BufferType, buf: Option<SendBuffer<Vec<u8>>>) -> Vec<Vec<u8>> {
    h.send(ty, buf, ()).unwrap();
    let mut frames = Vec::new();
    loop {
        let (action, n) = match h.get_action(ActionQueue::Send).unwrap() {
            Action::SendToNetwork { buffers, action, .. } => {
                let mut f = Vec::new();
                buffers.copy_to(&mut f);
                frames.push(f);
                (action, buffers.len())
            }
            Action::IndicateSendComplete { completed, action, .. } => {
                assert!(completed);
                h.complete_action(action, 0).unwrap();
                return frames;
            }
            other => panic!("{other:?}"),
        };
        h.complete_action(action, n).unwrap();
    }
}

/// What a handle indicates for `wire`, delivered in reads cut at `cuts`.
fn received(h: &mut Handle, wire: &[u8], cuts: &[usize]) -> Vec<(Option<BufferType>, Vec<u8>, Option<CloseStatus>)> {
    let mut out = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c > 0 && c < wire.len()).collect();
    bounds.push(wire.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut pos = 0;
    let mut next = bounds.into_iter();
    let mut end = next.next().unwrap_or(wire.len());
    loop {
        if h.receive(None, ()).is_err() {
            return out;
        }
        let mut pong = None;
        loop {
            match h.get_action(ActionQueue::Receive) {
                Ok(Action::ReceiveFromNetwork { buffer, action }) => {
                    if pos == wire.len() {
                        return out;
                    }
                    let n = (end - pos).min(buffer.len());
                    buffer[..n].copy_from_slice(&wire[pos..pos + n]);
                    pos += n;
                    if pos == end {
                        end = next.next().unwrap_or(wire.len());
                    }
                    h.complete_action(action, n).unwrap();
                }
                Ok(Action::IndicateReceiveComplete { buffer_type, data, close_status, action, .. }) => {
                    out.push((buffer_type, data.as_slice().to_vec(), close_status));
                    h.complete_action(action, 0).unwrap();
                    break;
                }
                Ok(Action::SendToNetwork { buffers, action, .. }) => {
                    // An automatic pong: record its bytes.
                    let mut f = Vec::new();
                    buffers.copy_to(&mut f);
                    let n = f.len();
                    out.push((Some(BufferType::PingPong), f, Some(CloseStatus(0))));
                    pong = Some((action, n));
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => {
                    out.push((None, e.to_string().into_bytes(), None));
                    return out;
                }
            }
            if let Some((action, n)) = pong.take() {
                h.complete_action(action, n).unwrap();
            }
        }
    }
}

/// Joins data pieces so results compare independently of where reads were cut.
fn joined(
    events: Vec<(Option<BufferType>, Vec<u8>, Option<CloseStatus>)>,
) -> Vec<(Option<BufferType>, Vec<u8>, Option<CloseStatus>)> {
    let mut out: Vec<(Option<BufferType>, Vec<u8>, Option<CloseStatus>)> = Vec::new();
    let mut open = false;
    for (ty, data, cs) in events {
        let frag = ty.is_some_and(|t| t.is_fragment());
        if open && ty.is_some_and(|t| t.is_data()) {
            let last = out.last_mut().unwrap();
            last.1.extend_from_slice(&data);
            last.0 = ty;
        } else {
            out.push((ty, data, cs));
        }
        open = frag;
    }
    out
}

fn at_every_split(make: impl Fn() -> Handle, wire: &[u8]) -> Vec<(Option<BufferType>, Vec<u8>, Option<CloseStatus>)> {
    let whole = joined(received(&mut make(), wire, &[]));
    for a in 0..=wire.len() {
        for b in a..=wire.len() {
            assert_eq!(joined(received(&mut make(), wire, &[a, b])), whole, "cut at {a} and {b}");
        }
    }
    whole
}

#[test]
fn rfc6455_5_7_an_unmasked_text_hello_reaches_a_client() {
    let got = at_every_split(|| client(vec![]), &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(got, vec![(Some(BufferType::Utf8Message), b"Hello".to_vec(), None)]);
}

#[test]
fn rfc6455_5_7_a_masked_text_hello_reaches_a_server() {
    let got = at_every_split(server, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(got, vec![(Some(BufferType::Utf8Message), b"Hello".to_vec(), None)]);
}

#[test]
fn rfc6455_5_7_a_fragmented_hello_reaches_a_client_as_one_message() {
    let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let got = at_every_split(|| client(vec![]), &wire);
    assert_eq!(got, vec![(Some(BufferType::Utf8Message), b"Hello".to_vec(), None)]);
    // Unjoined, the pieces say where the message ends.
    let pieces = received(&mut client(vec![]), &wire, &[]);
    assert_eq!(pieces[0].0, Some(BufferType::Utf8Fragment));
    assert_eq!(pieces.last().unwrap().0, Some(BufferType::Utf8Message));
}

#[test]
fn rfc6455_5_7_a_ping_is_answered_with_a_pong_carrying_its_payload() {
    // Unmasked ping "Hello" to a client: the client's pong is masked.
    let got =
        received(&mut client(vec![Property::DisableMasking(true)]), &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], &[]);
    assert_eq!(got[0].1, [0x8a, 0x85, 0, 0, 0, 0, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    // Masked ping to a server: the pong is unmasked (the §5.7 "masked Pong" bytes, reversed roles).
    let got = received(&mut server(), &[0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], &[]);
    assert_eq!(got[0].1, [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

#[test]
fn rfc6455_5_7_binary_lengths_of_256_and_65536_use_extended_lengths() {
    let mut s = server();
    let frames = written(&mut s, BufferType::BinaryMessage, Some(SendBuffer::Data(vec![0xAB; 256])));
    assert_eq!(frames[0][..4], [0x82, 0x7E, 0x01, 0x00]);
    assert_eq!(frames[0].len(), 4 + 256);
    let frames = written(&mut s, BufferType::BinaryMessage, Some(SendBuffer::Data(vec![0xAB; 65536])));
    assert_eq!(frames[0][..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    let mut wire = vec![0x82, 0x7E, 0x01, 0x00];
    wire.extend([7; 256]);
    let got = joined(received(&mut client(vec![]), &wire, &[3, 100]));
    assert_eq!(got, vec![(Some(BufferType::BinaryMessage), vec![7; 256], None)]);
}

#[test]
fn a_server_writes_frames_unmasked_and_zero_copy() {
    let mut s = server();
    assert_eq!(
        written(&mut s, BufferType::Utf8Message, Some(SendBuffer::Data(b"Hello".to_vec()))),
        [b"\x81\x05Hello".to_vec()]
    );
    assert_eq!(
        written(&mut s, BufferType::Utf8Fragment, Some(SendBuffer::Data(b"Hel".to_vec()))),
        [b"\x01\x03Hel".to_vec()]
    );
    assert_eq!(
        written(&mut s, BufferType::Utf8Message, Some(SendBuffer::Data(b"lo".to_vec()))),
        [b"\x80\x02lo".to_vec()]
    );
    assert_eq!(written(&mut s, BufferType::PingPong, None), [vec![0x89, 0x00]]);
    assert_eq!(written(&mut s, BufferType::UnsolicitedPong, None), [vec![0x8A, 0x00]]);
    let close = SendBuffer::Close { status: CloseStatus(1001), reason: b"bye".to_vec() };
    assert_eq!(written(&mut s, BufferType::Close, Some(close)), [b"\x88\x05\x03\xe9bye".to_vec()]);
}

#[test]
fn a_client_with_a_zero_key_writes_the_mask_bit_and_clear_payload() {
    let mut c = client(vec![Property::DisableMasking(true)]);
    assert_eq!(
        written(&mut c, BufferType::Utf8Message, Some(SendBuffer::Data(b"Hello".to_vec()))),
        [b"\x81\x85\0\0\0\0Hello".to_vec()]
    );
    assert_eq!(written(&mut c, BufferType::Close, None), [vec![0x88, 0x80, 0, 0, 0, 0]]);
}

#[test]
fn a_masking_client_sends_a_message_larger_than_its_send_buffer_as_one_frame() {
    let mut c = client(vec![Property::SendBufferSize(64)]);
    let payload: Vec<u8> = (0..200u8).collect();
    let actions = written(&mut c, BufferType::BinaryMessage, Some(SendBuffer::Data(payload.clone())));
    // 64-byte send buffer: an 8-byte header (16-bit length, key) and 56 masked bytes,
    // then the same frame's payload continues, 64 masked bytes per action.
    assert_eq!(actions.iter().map(Vec::len).collect::<Vec<_>>(), [64, 64, 64, 16]);
    let wire = actions.concat();
    assert_eq!(&wire[..4], &[0x82, 0xFE, 0x00, 200]);
    let key = [wire[4], wire[5], wire[6], wire[7]];
    let unmasked: Vec<u8> = wire[8..].iter().enumerate().map(|(j, b)| b ^ key[j % 4]).collect();
    assert_eq!(unmasked, payload);
    // The next message is a frame of its own, with a fresh key.
    let next = written(&mut c, BufferType::BinaryMessage, Some(SendBuffer::Data(vec![7; 3]))).concat();
    assert_eq!(next.len(), 2 + 4 + 3);
    assert_ne!([next[2], next[3], next[4], next[5]], key, "each frame gets its own key");
}

#[test]
fn rfc6455_1_3_the_accept_key_of_the_sample_nonce() {
    assert_eq!(wsengine::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn received_close_frames_carry_status_and_reason() {
    let got = at_every_split(|| client(vec![]), b"\x88\x05\x03\xe8bye");
    assert_eq!(got, vec![(Some(BufferType::Close), b"bye".to_vec(), Some(CloseStatus::SUCCESS))]);
    let got = received(&mut client(vec![]), b"\x88\x00", &[]);
    assert_eq!(got, vec![(Some(BufferType::Close), vec![], Some(CloseStatus::EMPTY))]);
}

#[test]
fn protocol_violations_fail_with_their_documented_errors() {
    let cases: &[(&[u8], Error)] = &[
        (b"\xC1\x00", Error::ReservedBitsSet { rsv: 4 }),
        (b"\x83\x00", Error::ReservedOpcode(3)),
        (b"\x8B\x00", Error::ReservedOpcode(0xB)),
        (b"\x09\x00", Error::FragmentedControlFrame),
        (b"\x89\x7E\x00\x7E", Error::ControlFrameTooLong(126)),
        (b"\x82\x7F\x80\0\0\0\0\0\0\0", Error::PayloadLengthOverflow),
        (b"\x81\x80\0\0\0\0", Error::MaskedFrameFromServer),
        (b"\x81\x01\xFF", Error::InvalidUtf8),
        (b"\x81\x02\xE2\x82", Error::InvalidUtf8),
        (b"\x88\x01\x03", Error::CloseBodyTooShort),
        (b"\x88\x02\x03\xED", Error::InvalidCloseStatus(1005)),
        (b"\x88\x02\x03\xE7", Error::InvalidCloseStatus(999)),
        (b"\x88\x03\x03\xE8\xFF", Error::InvalidCloseReason),
        (b"\x80\x00", Error::UnexpectedContinuation),
        (b"\x01\x00\x81\x00", Error::ExpectedContinuation),
    ];
    for (wire, err) in cases {
        let got = received(&mut client(vec![]), wire, &[]);
        assert_eq!(got.last().unwrap(), &(None, err.to_string().into_bytes(), None), "{wire:x?}");
        assert!(err.is_peer_error() && err.close_status().is_some());
    }
}

#[test]
fn disabling_utf8_verification_passes_invalid_text_through() {
    let got = received(&mut client(vec![Property::DisableUtf8Verification(true)]), b"\x81\x01\xFF", &[]);
    assert_eq!(got, vec![(Some(BufferType::Utf8Message), vec![0xFF], None)]);
}

#[test]
fn a_server_with_masking_disabled_accepts_unmasked_frames() {
    let mut s: Handle = Handle::from_upgraded(Role::Server, [Property::DisableMasking(true)]).unwrap();
    let got = received(&mut s, b"\x82\x01\x09", &[]);
    assert_eq!(got, vec![(Some(BufferType::BinaryMessage), vec![9], None)]);
}

#[test]
fn an_automatic_pong_waits_for_the_end_of_a_frame_that_spans_several_actions() {
    let mut c = client(vec![Property::SendBufferSize(64)]);
    let payload = vec![9u8; 200];
    c.send(BufferType::BinaryMessage, Some(SendBuffer::Data(payload)), ()).unwrap();
    c.receive(None, ()).unwrap();
    let mut wire = Vec::new();
    let mut first = true;
    let mut pong_at = None;
    loop {
        let (action, n) = match c.get_action(ActionQueue::All).unwrap() {
            Action::SendToNetwork { buffers, action, buffer_type, .. } => {
                if buffer_type == BufferType::PingPong {
                    pong_at = Some(wire.len());
                }
                buffers.copy_to(&mut wire);
                (action, buffers.len())
            }
            // The receive side asks for more once the pong is out: the test ends.
            Action::ReceiveFromNetwork { .. } if pong_at.is_some() => break,
            Action::IndicateSendComplete { action, .. } => (action, 0),
            other => panic!("{other:?}"),
        };
        if first && action.queue() == ActionQueue::Send {
            first = false;
            // Completed later, after the receive side has read the ping.
            let Action::ReceiveFromNetwork { buffer, action: r } = c.get_action(ActionQueue::Receive).unwrap() else {
                panic!("expected a read")
            };
            buffer[..3].copy_from_slice(b"\x89\x01p");
            c.complete_action(r, 3).unwrap();
            assert!(matches!(c.get_action(ActionQueue::Receive).unwrap(), Action::NoAction));
        }
        c.complete_action(action, n).unwrap();
    }
    // The frame (8-byte header, 200 bytes) is whole on the wire before the pong.
    assert_eq!(pong_at, Some(208));
    assert_eq!(&wire[208..210], &[0x8A, 0x81]);
}
