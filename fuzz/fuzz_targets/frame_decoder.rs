//! Arbitrary bytes as the incoming WebSocket stream of a server handle and of a client
//! handle (both from `Handle::from_upgraded`, receive buffer 256 bytes).
//!
//! Input layout (every field defaults to 0 once the input runs out):
//!
//! | byte      | meaning                                                          |
//! |-----------|------------------------------------------------------------------|
//! | 0         | flags, see `F_*`                                                 |
//! | 1         | number of read sizes - 1 (low 3 bits)                            |
//! | 2..       | that many read sizes, cycled (0 = as much as the buffer takes)   |
//! | next      | caller receive buffer capacity - 125                             |
//! | next      | abort after this many get_action calls (0 = never)              |
//! | next      | bytes handed over by `push_received` first (with `F_PUSH`)       |
//! | rest      | the stream                                                       |
//!
//! Checked, beyond "no panic":
//! - every `Err` of `get_action` is a peer error with a close status, is sticky
//!   (same error from `get_action` on either queue; `receive` then fails with
//!   `ReceiveAfterFailure`), and leaves the send queue empty;
//! - what the handle indicates equals what an independent reference decoder
//!   (`wsengine_fuzz::reference`) says the stream holds, piece sizes aside, and it fails
//!   exactly when and how the reference does;
//! - automatic pongs are well-formed frames (masked on a client) carrying the ping's
//!   payload;
//! - indicated pieces fit the receive buffer or the caller's buffer, keep their
//!   message's type, and text is valid UTF-8 (a valid prefix for fragments) when
//!   verification is on;
//! - `abort` then drains to `NoAction` through indications only, and every later send
//!   and receive fails with `Aborted`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wsengine::{
    Action, ActionContext, ActionQueue, BufferType, Error, Handle, Property, Received, Role, SendBuffer, State,
};
use wsengine_fuzz::{
    Cursor, End, Item, RefConfig, Splits, check_complete, check_prefix, is_prefix, normalize, reference,
};

const RECEIVE_BUFFER: usize = 256;

const F_DISABLE_MASKING: u8 = 0x01;
const F_NO_UTF8: u8 = 0x02;
const F_PUSH: u8 = 0x04;
const F_REFETCH: u8 = 0x08;
const F_MISUSE: u8 = 0x10;
const F_BUFFER_MODE: u8 = 0x60; // 2 bits: none / caller buffer / alternate / by read size
const F_CANCEL_PONGS: u8 = 0x80;

struct Params<'a> {
    flags: u8,
    splits: &'a [u8],
    capacity: usize,
    abort_at: usize,
    push_len: usize,
    stream: &'a [u8],
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let flags = c.byte();
    let nsplits = usize::from(c.byte() & 7) + 1;
    let splits = c.take(nsplits);
    let capacity = 125 + usize::from(c.byte());
    let abort_at = usize::from(c.byte());
    let push_len = usize::from(c.byte());
    let p = Params { flags, splits, capacity, abort_at, push_len, stream: c.rest() };
    run(Role::Server, &p);
    run(Role::Client, &p);
});

/// How the receive side ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Still running (never left the loop this way).
    Running,
    /// The transport reached end of stream (a read completed with 0).
    Eof,
    /// The peer's close frame was indicated.
    Closed,
    /// `get_action` failed with a protocol error.
    Failed(Error),
    /// The harness aborted mid-stream.
    Aborted,
}

fn run(role: Role, p: &Params<'_>) {
    let disable_masking = p.flags & F_DISABLE_MASKING != 0;
    let verify = p.flags & F_NO_UTF8 == 0;
    let mut props = vec![Property::ReceiveBufferSize(RECEIVE_BUFFER as u32), Property::RandomSeed([0x5A; 32])];
    if disable_masking {
        props.push(Property::DisableMasking(true));
    }
    if !verify {
        props.push(Property::DisableUtf8Verification(true));
    }
    let mut h: Handle<Vec<u8>, u32> = Handle::from_upgraded(role, props).expect("valid properties");
    let cfg = RefConfig { role, accept_unmasked: disable_masking && role == Role::Server, verify_utf8: verify };
    let (ref_items, ref_end) = reference(cfg, p.stream);

    let stream = p.stream;
    let mut pos = 0;
    if p.flags & F_PUSH != 0 {
        let n = p.push_len.min(stream.len());
        h.push_received(&stream[..n]).expect("push_received before abort");
        pos = n;
    }
    let mut splits = Splits::new(p.splits);
    let mut obs: Vec<Item> = Vec::new();
    // The message being indicated: (text, bytes, UTF-8 checked up to).
    let mut message: Option<(bool, Vec<u8>, usize)> = None;
    let mut context = 0u32;
    // The capacity of the caller buffer passed to the outstanding receive, if any.
    let mut receiving: Option<Option<usize>> = None;
    let mut outcome = Outcome::Running;
    let mut stale: Option<ActionContext> = None;
    let mut step = 0usize;

    loop {
        step += 1;
        // Each step reads input, indicates, or ends: the stream bounds the steps.
        assert!(step < 8 * (stream.len() + 16), "no progress after {step} steps");
        if receiving.is_none() {
            let use_buffer = match (p.flags & F_BUFFER_MODE) >> 5 {
                0 => false,
                1 => true,
                2 => context % 2 == 1,
                _ => splits.next_size() % 2 == 1,
            };
            let buf = use_buffer.then(|| Vec::with_capacity(p.capacity));
            let cap = buf.as_ref().map(Vec::capacity);
            context += 1;
            match h.receive(buf, context) {
                Ok(()) => receiving = Some(cap),
                Err(e) => {
                    match &outcome {
                        Outcome::Closed => assert_eq!(e, Error::ReceiveAfterClose),
                        Outcome::Eof => assert_eq!(e, Error::ConnectionClosed),
                        other => panic!("receive failed with {e:?} while {other:?}"),
                    }
                    break;
                }
            }
        }
        if step == p.abort_at {
            outcome = Outcome::Aborted;
            break;
        }
        match h.get_action(ActionQueue::All) {
            Err(e) => {
                assert!(e.is_peer_error(), "get_action failed with a non-peer error {e:?}");
                assert!(e.close_status().is_some(), "peer error {e:?} has no close status");
                // Sticky, on every path that reaches the receive side.
                assert_eq!(h.get_action(ActionQueue::All).err(), Some(e.clone()));
                assert_eq!(h.get_action(ActionQueue::Receive).err(), Some(e.clone()));
                assert!(matches!(h.get_action(ActionQueue::Send), Ok(Action::NoAction)));
                // A receive after the failure: E_INVALID_PROTOCOL_OPERATION (reference §5.8).
                assert_eq!(h.receive(None, 0), Err(Error::ReceiveAfterFailure));
                assert_eq!(h.state(), State::Failed);
                outcome = Outcome::Failed(e);
                break;
            }
            Ok(Action::NoAction) => panic!("NoAction with a receive outstanding: the handle stalled"),
            Ok(Action::IndicateSendComplete { buffer_type, .. }) => {
                panic!("send indication {buffer_type:?} without a send")
            }
            Ok(Action::ReceiveFromNetwork { buffer, action }) => {
                assert_eq!(action.queue(), ActionQueue::Receive);
                assert!(!buffer.is_empty(), "a read of 0 bytes was asked for");
                assert!(buffer.len() <= RECEIVE_BUFFER);
                let room = buffer.len();
                let n = splits.next_size().min(room).min(stream.len() - pos);
                buffer[..n].copy_from_slice(&stream[pos..pos + n]);
                if p.flags & F_REFETCH != 0 {
                    // The same read, lent again, holds what was written into it.
                    match h.action(action) {
                        Ok(Action::ReceiveFromNetwork { buffer, action: again }) => {
                            assert_eq!(again, action);
                            assert_eq!(buffer.len(), room);
                            assert_eq!(&buffer[..n], &stream[pos..pos + n]);
                        }
                        other => panic!("action() did not lend the read again: {other:?}"),
                    }
                }
                if p.flags & F_MISUSE != 0 {
                    assert_eq!(
                        h.complete_action(action, room + 1),
                        Err(Error::TooManyBytesTransferred { reported: room + 1, max: room })
                    );
                    let send_side = ActionContext::from_raw((1 << 32) | (action.to_raw() & 0xFFFF_FFFF)).unwrap();
                    assert_eq!(h.complete_action(send_side, 0), Err(Error::UnknownActionContext));
                    if let Some(old) = stale {
                        assert_eq!(h.complete_action(old, 0), Err(Error::UnknownActionContext));
                        assert_eq!(h.action(old).err(), Some(Error::UnknownActionContext));
                    }
                }
                pos += n;
                if n == 0 {
                    outcome = Outcome::Eof;
                }
                h.complete_action(action, n).expect("completing a read");
                stale = Some(action);
            }
            Ok(Action::SendToNetwork { buffer_type, buffers, context: ctx, action }) => {
                // Only automatic pongs: nothing was sent.
                assert_eq!(buffer_type, BufferType::PingPong);
                assert!(ctx.is_none());
                assert_eq!(action.queue(), ActionQueue::Receive);
                let mut bytes = Vec::new();
                buffers.copy_to(&mut bytes);
                let f = wsengine_fuzz::parse_frame(&bytes).expect("an automatic pong is a whole frame");
                assert_eq!(f.len, bytes.len(), "an automatic pong is exactly one frame");
                assert!(f.fin && f.rsv == 0 && f.opcode == 0xA && f.minimal_length, "bad pong frame {f:?}");
                match role {
                    Role::Server => assert!(f.key.is_none(), "a server masked its pong"),
                    Role::Client if disable_masking => assert_eq!(f.key, Some([0; 4])),
                    Role::Client => assert!(f.key.is_some(), "a client sent an unmasked pong"),
                }
                obs.push(Item::PongSent(f.payload));
                let n = if p.flags & F_CANCEL_PONGS != 0 { 0 } else { bytes.len() };
                h.complete_action(action, n).expect("completing a pong");
                stale = Some(action);
            }
            Ok(Action::IndicateReceiveComplete { buffer_type, data, close_status, context: ctx, action }) => {
                assert_eq!(ctx, context, "the indication carries another receive's context");
                let cap = receiving.take().expect("an indication without a receive");
                match (&data, cap) {
                    (Received::Owned(v), Some(c)) => assert!(v.len() <= c, "{} bytes in a buffer of {c}", v.len()),
                    (Received::Borrowed(_), None) => {}
                    (d, c) => panic!("data {d:?} does not match the buffer passed ({c:?})"),
                }
                let bytes = data.as_slice().to_vec();
                match buffer_type {
                    None => {
                        assert_eq!(outcome, Outcome::Eof, "a receive was cancelled without end of stream");
                        assert!(bytes.is_empty() && close_status.is_none());
                    }
                    Some(BufferType::Close) => {
                        let status = close_status.expect("a close indication without a status");
                        assert!(bytes.len() <= 123);
                        if verify {
                            assert!(std::str::from_utf8(&bytes).is_ok(), "close reason is not UTF-8");
                        }
                        obs.push(Item::Close(status.0, bytes));
                        outcome = Outcome::Closed;
                    }
                    Some(BufferType::PingPong) => {
                        assert!(close_status.is_none() && bytes.len() <= 125);
                        obs.push(Item::Pong(bytes));
                    }
                    Some(BufferType::UnsolicitedPong) => panic!("UnsolicitedPong indicated on receive"),
                    Some(ty) => {
                        assert!(close_status.is_none());
                        assert!(bytes.len() <= RECEIVE_BUFFER, "a piece of {} bytes", bytes.len());
                        let text = ty.is_text();
                        let end = !ty.is_fragment();
                        let m = message.get_or_insert_with(|| (text, Vec::new(), 0));
                        assert_eq!(m.0, text, "{ty:?} inside a message of the other type");
                        m.1.extend_from_slice(&bytes);
                        if verify && text {
                            if end {
                                assert!(check_complete(&m.1, &mut m.2), "an invalid UTF-8 text message was indicated");
                            } else {
                                assert!(check_prefix(&m.1, &mut m.2), "an invalid UTF-8 text fragment was indicated");
                            }
                        }
                        if end {
                            message = None;
                        }
                        obs.push(Item::Data { text, bytes, end });
                    }
                }
                // The count is ignored for indications.
                h.complete_action(action, step.wrapping_mul(7919)).expect("completing an indication");
                stale = Some(action);
            }
        }
    }

    // ---- compare with the reference decoder
    let got = normalize(&obs, false);
    let want = normalize(&ref_items, false);
    match (&outcome, &ref_end) {
        (Outcome::Aborted, _) => {
            assert!(is_prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut the stream holds\n{want:?}")
        }
        (Outcome::Failed(e), End::Error { allowed, min_items }) => {
            assert!(allowed.contains(e), "{role:?} failed with {e:?}; the reference allows {allowed:?}");
            assert!(is_prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut the stream holds\n{want:?}");
            let min = normalize(min_items, false);
            assert!(is_prefix(&min, &got), "{role:?} failed before indicating\n{min:?}\n(indicated\n{got:?})");
        }
        (Outcome::Closed, End::Closed) | (Outcome::Eof, End::Incomplete) => {
            assert_eq!(got, want, "{role:?} indicated other items than the stream holds")
        }
        (o, r) => panic!("{role:?} ended with {o:?}, the reference with {r:?}; indicated {got:?}"),
    }

    // ---- abort drains through indications only
    h.abort();
    assert_eq!(h.state(), State::Aborted);
    let mut cancelled = 0;
    loop {
        match h.get_action(ActionQueue::All) {
            Ok(Action::NoAction) => break,
            Ok(Action::IndicateReceiveComplete {
                buffer_type: None,
                data,
                close_status: None,
                context: ctx,
                action,
            }) => {
                assert!(data.as_slice().is_empty());
                assert_eq!(ctx, context);
                cancelled += 1;
                h.complete_action(action, 0).expect("completing a cancellation");
            }
            other => panic!("after abort: {other:?}"),
        }
        assert!(cancelled <= 1, "more than one cancellation drained");
    }
    assert_eq!(cancelled, usize::from(receiving.is_some()), "outstanding receive {receiving:?}, {cancelled} cancelled");
    assert!(matches!(h.get_action(ActionQueue::All), Ok(Action::NoAction)));
    assert_eq!(h.receive(None, 0), Err(Error::Aborted));
    assert_eq!(h.send(BufferType::BinaryMessage, Some(SendBuffer::Data(Vec::new())), 0), Err(Error::Aborted));
    assert_eq!(h.send(BufferType::PingPong, None, 0), Err(Error::Aborted));
    assert_eq!(h.push_received(b"\x81\x00"), Err(Error::Aborted));
}
