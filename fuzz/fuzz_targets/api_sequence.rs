//! Arbitrary sequences of API calls on a client and a server wired together in memory:
//! `send` with every buffer type and buffer shape (including `SendBuffer::LastReceived`),
//! `receive` with and without a caller buffer, `get_action` on each queue,
//! `complete_action` with full, short, zero, too-large and deferred counts, `action`
//! to re-fetch an action in flight, stale and forged tokens through
//! `ActionContext::from_raw`, end of stream, and `abort`. `Deliver` moves one piece
//! across (and may echo it with `LastReceived`); each `Settle` op, and the end of the
//! input, runs both handles to quiescence.
//!
//! Checked, beyond "no panic":
//! - every error is one the call documents, and the obvious ones are exact (`Aborted`
//!   after abort, `SendOutstanding` only with a send outstanding, `NoReceivedPiece`
//!   exactly when no zero-copy piece is in place, stale tokens refused with
//!   `UnknownActionContext`, over-counts with `TooManyBytesTransferred`);
//! - `get_action` fails only with sticky peer errors, never on the send queue;
//! - no new network action after `abort`; `action()` lends the same bytes again; the
//!   receive queue hands out nothing while a `LastReceived` send is outstanding;
//! - sender: each SEND_TO_NETWORK is exactly one well-formed frame (masked iff client),
//!   carrying the next bytes of the operation's payload (for `LastReceived`, the piece
//!   as it was indicated) with the right opcode and FIN (continuations across fragment
//!   sends), close bodies as sent, empty pings/pongs; outgoing text and close reasons
//!   are UTF-8 when verification is on; `IndicateSendComplete` gives the buffer back
//!   and says `completed` only when every byte went out, and not completed only after
//!   a short write or an abort;
//! - receiver: what it indicates equals the reference decoding of the bytes its peer
//!   wrote (unless the peer broke its stream with a short write), and its data equals
//!   the data the peer's completed sends carried.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsengine::{
    Action, ActionContext, ActionQueue, BufferType, CloseStatus, Error, Handle, HttpHeader, Property, Received, Role,
    SendBuffer, State,
};
use wsengine_fuzz::{End, Item, RefConfig, check_complete, check_prefix, is_prefix, normalize, parse_frame, reference};

#[derive(Arbitrary, Debug)]
struct Cfg {
    receive_buffer: u16,
    send_buffer: u16,
    disable_masking: bool,
    disable_utf8: bool,
    seed: u8,
}

#[derive(Arbitrary, Debug, Clone)]
enum Payload {
    None,
    Data(Vec<u8>),
    Text(String),
    Close {
        status: u16,
        reason: Vec<u8>,
    },
    CloseText {
        status: u16,
        reason: String,
    },
    /// `SendBuffer::LastReceived`: the last piece indicated zero-copy.
    LastReceived,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Send {
        side: bool,
        ty: u8,
        payload: Payload,
    },
    Receive {
        side: bool,
        buffer: Option<u8>,
    },
    Step {
        side: bool,
        queue: u8,
        mode: u8,
        amount: u16,
    },
    Refetch {
        side: bool,
        send: bool,
    },
    Stale {
        side: bool,
        raw: u64,
        count: u16,
    },
    StaleOld {
        side: bool,
        index: u8,
        count: u16,
    },
    Abort {
        side: bool,
    },
    Eof {
        side: bool,
    },
    /// The peer sends `send` (if any) and writes what it has; this side receives
    /// zero-copy until one indication, then sends that piece back with `LastReceived`
    /// as type `echo` (if any).
    Deliver {
        side: bool,
        send: Option<(u8, Payload)>,
        echo: Option<u8>,
    },
    Settle,
    /// `release_buffer`: the buffer goes to the pool when idle, and comes back as needed.
    Release {
        side: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    client: Cfg,
    server: Cfg,
    handshake: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| run(input));

// ------------------------------------------------------------------ bookkeeping

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Full,
    Defer,
    Short,
    Zero,
    Over,
}

impl Mode {
    fn from(b: u8) -> Self {
        match b {
            0..=179 => Self::Full,
            180..=214 => Self::Defer,
            215..=229 => Self::Short,
            230..=239 => Self::Zero,
            _ => Self::Over,
        }
    }
}

#[derive(Debug)]
enum Flight {
    /// A SEND_TO_NETWORK: its bytes, type and operation context (None: a pong).
    Write { token: ActionContext, bytes: Vec<u8>, ty: BufferType, ctx: Option<u32> },
    /// A RECEIVE_FROM_NETWORK lending `len` bytes.
    Read { token: ActionContext, len: usize },
    /// An indication whose data was taken; only the completion is left.
    Indicate { token: ActionContext, receive: bool },
}

impl Flight {
    fn token(&self) -> ActionContext {
        match self {
            Self::Write { token, .. } | Self::Read { token, .. } | Self::Indicate { token, .. } => *token,
        }
    }
}

/// A send operation the handle accepted.
#[derive(Debug)]
struct SendRec {
    ty: BufferType,
    buffer: Option<SendBuffer<Vec<u8>>>,
    /// The data payload: the caller's bytes, or the received piece it names.
    payload: Vec<u8>,
    /// Payload bytes written in whole frames.
    written: Vec<u8>,
    frames: usize,
    /// A frame of it was completed short (or with 0): it may be cancelled.
    broke: bool,
    indicated: bool,
}

impl SendRec {
    fn payload(&self) -> &[u8] {
        &self.payload
    }

    fn last_received(&self) -> bool {
        matches!(self.buffer, Some(SendBuffer::LastReceived))
    }
}

struct Side {
    role: Role,
    h: Handle<Vec<u8>, u32>,
    receive_cfg: RefConfig,
    masking_disabled: bool,
    receive_buffer: usize,
    next_ctx: u32,
    // ---- send side
    sends: Vec<(u32, SendRec)>,
    /// The accepted send not yet indicated complete.
    current_send: Option<u32>,
    /// True from an accepted send until its indication is completed.
    send_outstanding: bool,
    /// The wire's open fragmented message, as written: Some(text).
    wire_open: Option<bool>,
    /// The bytes of a data frame written so far whose payload continues over more
    /// SEND_TO_NETWORK actions (a send is one frame, whatever the send buffer size).
    partial: Vec<u8>,
    /// The send those bytes belong to.
    partial_ctx: Option<u32>,
    /// The text of the open outgoing text message, and how far it is UTF-8-checked.
    out_text: Option<(Vec<u8>, usize)>,
    send_flight: Option<Flight>,
    out: Vec<u8>,
    /// `out` ends inside a frame (a short write): the peer's view is garbage after it.
    corrupted: bool,
    // ---- receive side
    receive_flight: Option<Flight>,
    /// The outstanding receive: (context, caller buffer capacity).
    receive: Option<(u32, Option<usize>)>,
    read_pos: usize,
    obs: Vec<Item>,
    message: Option<(bool, Vec<u8>, usize)>,
    /// The last data piece indicated zero-copy, while the handle must still hold it
    /// (the receive queue has not run since): what `SendBuffer::LastReceived` sends.
    last_piece: Option<Vec<u8>>,
    receive_error: Option<Error>,
    eof: bool,
    close_received: bool,
    aborted: bool,
    old_tokens: Vec<ActionContext>,
}

fn props(c: &Cfg) -> Vec<Property> {
    let mut p = vec![
        Property::ReceiveBufferSize(256 + u32::from(c.receive_buffer) % 3841),
        Property::SendBufferSize(16 + u32::from(c.send_buffer) % 1009),
        Property::RandomSeed([c.seed; 32]),
    ];
    if c.disable_masking {
        p.push(Property::DisableMasking(true));
    }
    if c.disable_utf8 {
        p.push(Property::DisableUtf8Verification(true));
    }
    p
}

impl Side {
    fn new(role: Role, h: Handle<Vec<u8>, u32>, c: &Cfg) -> Self {
        let receive_buffer = h.receive_buffer_size();
        Self {
            role,
            h,
            receive_cfg: RefConfig {
                role,
                accept_unmasked: c.disable_masking && role == Role::Server,
                verify_utf8: !c.disable_utf8,
            },
            masking_disabled: c.disable_masking,
            receive_buffer,
            next_ctx: 1,
            sends: Vec::new(),
            current_send: None,
            send_outstanding: false,
            wire_open: None,
            partial: Vec::new(),
            partial_ctx: None,
            out_text: None,
            send_flight: None,
            out: Vec::new(),
            corrupted: false,
            receive_flight: None,
            receive: None,
            read_pos: 0,
            obs: Vec::new(),
            message: None,
            last_piece: None,
            receive_error: None,
            eof: false,
            close_received: false,
            aborted: false,
            old_tokens: Vec::new(),
        }
    }

    fn rec(&mut self, ctx: u32) -> &mut SendRec {
        &mut self.sends.iter_mut().find(|(c, _)| *c == ctx).expect("a send record").1
    }

    fn in_flight(&self, token: ActionContext) -> bool {
        [&self.send_flight, &self.receive_flight].iter().any(|f| f.as_ref().is_some_and(|f| f.token() == token))
    }

    /// True while a `LastReceived` send is not yet indicated complete: the receive
    /// queue must hand out nothing.
    fn last_received_send(&self) -> bool {
        self.current_send.is_some_and(|c| self.sends.iter().any(|(k, r)| *k == c && r.last_received()))
    }

    fn receive_allowed(&self) -> bool {
        !self.aborted && !self.close_received && self.receive_error.is_none() && !self.eof
    }
}

fn sides(pair: &mut [Side; 2], client: bool) -> (&mut Side, &mut Side) {
    let [c, s] = pair;
    if client { (c, s) } else { (s, c) }
}

// ------------------------------------------------------------------ the run

fn run(input: Input) {
    let (ch, sh) = if input.handshake & 1 == 1 {
        let mut c: Handle<Vec<u8>, u32> = Handle::new_client(props(&input.client)).expect("client");
        let mut s: Handle<Vec<u8>, u32> = Handle::new_server(props(&input.server)).expect("server");
        let mut req = vec![HttpHeader::new("Host", "fuzz")];
        req.extend(c.begin_client_handshake(&[], &[], &[]).expect("begin client").iter().cloned());
        let resp = s.begin_server_handshake(None, &[], &req).expect("begin server").to_vec();
        c.end_client_handshake(&resp).expect("end client");
        if input.handshake & 2 == 2 {
            s.end_server_handshake().expect("end server");
        }
        (c, s)
    } else {
        (
            Handle::from_upgraded(Role::Client, props(&input.client)).expect("client"),
            Handle::from_upgraded(Role::Server, props(&input.server)).expect("server"),
        )
    };
    let mut pair = [Side::new(Role::Client, ch, &input.client), Side::new(Role::Server, sh, &input.server)];

    for op in &input.ops {
        match op {
            Op::Send { side, ty, payload } => {
                let (me, _) = sides(&mut pair, *side);
                send(me, *ty, payload);
            }
            Op::Receive { side, buffer } => {
                let (me, _) = sides(&mut pair, *side);
                receive(me, buffer.map(|b| usize::from(b) * 2));
            }
            Op::Step { side, queue, mode, amount } => {
                let (me, peer) = sides(&mut pair, *side);
                let queue = [ActionQueue::Send, ActionQueue::Receive, ActionQueue::All][usize::from(*queue % 3)];
                step(me, peer, queue, Mode::from(*mode), usize::from(*amount));
            }
            Op::Refetch { side, send } => {
                let (me, _) = sides(&mut pair, *side);
                refetch(me, *send);
            }
            Op::Stale { side, raw, count } => {
                let (me, _) = sides(&mut pair, *side);
                match ActionContext::from_raw(*raw) {
                    Err(e) => assert_eq!(e, Error::UnknownActionContext),
                    Ok(token) if me.in_flight(token) => {}
                    // NO_ACTION's token (raw 0): completing it is a no-op, as in Windows.
                    Ok(ActionContext::NO_ACTION) => {
                        assert_eq!(me.h.complete_action(ActionContext::NO_ACTION, usize::from(*count)), Ok(()));
                    }
                    Ok(token) => stale(me, token, usize::from(*count)),
                }
            }
            Op::StaleOld { side, index, count } => {
                let (me, _) = sides(&mut pair, *side);
                if !me.old_tokens.is_empty() {
                    let token = me.old_tokens[usize::from(*index) % me.old_tokens.len()];
                    stale(me, token, usize::from(*count));
                }
            }
            Op::Abort { side } => {
                let (me, _) = sides(&mut pair, *side);
                me.h.abort();
                me.aborted = true;
                assert_eq!(me.h.state(), State::Aborted);
            }
            Op::Release { side } => {
                let (me, _) = sides(&mut pair, *side);
                if me.h.release_buffer() {
                    assert!(me.receive_flight.is_none(), "released with a receive action in flight");
                    // The piece is gone: LastReceived is refused from here on.
                    me.last_piece = None;
                }
            }
            Op::Eof { side } => {
                let (me, peer) = sides(&mut pair, *side);
                if matches!(me.receive_flight, Some(Flight::Read { .. })) {
                    finish_receive_flight(me, peer, Mode::Zero, 0);
                }
            }
            Op::Deliver { side, send: first, echo } => {
                let (me, peer) = sides(&mut pair, *side);
                if let Some((ty, payload)) = first {
                    send(peer, *ty, payload);
                }
                for _ in 0..64 {
                    if !step(peer, me, ActionQueue::Send, Mode::Full, 0) {
                        break;
                    }
                }
                if me.receive.is_none() && me.receive_allowed() {
                    receive(me, None);
                }
                for _ in 0..64 {
                    let seen = me.obs.len();
                    if !step(me, peer, ActionQueue::Receive, Mode::Full, 0) || me.obs.len() > seen {
                        break;
                    }
                }
                if let Some(ty) = echo {
                    send(me, *ty, &Payload::LastReceived);
                }
            }
            Op::Settle => settle(&mut pair),
        }
    }
    settle(&mut pair);
    final_checks(&mut pair);
}

// ------------------------------------------------------------------ commands

/// The refusal of a send or receive on an aborted handle: `Aborted`, also for a server
/// aborted while still `ServerHandshaking` (it once said `InvalidState`: see
/// regressions/api_sequence/abort_in_server_handshaking_gives_invalid_state).
fn is_aborted_error(e: &Error) -> bool {
    matches!(e, Error::Aborted)
}

fn send(me: &mut Side, ty: u8, payload: &Payload) {
    let ty = match BufferType::from_u32(0x8000_0000 + u32::from(ty % 8)) {
        Ok(t) => t,
        Err(e) => {
            assert_eq!(e, Error::UnknownBufferType(0x8000_0007));
            return;
        }
    };
    let buffer = match payload.clone() {
        Payload::None => None,
        Payload::Data(d) => Some(SendBuffer::Data(d)),
        Payload::Text(s) => Some(SendBuffer::Data(s.into_bytes())),
        Payload::Close { status, reason } => Some(SendBuffer::Close { status: CloseStatus(status), reason }),
        Payload::CloseText { status, reason } => {
            Some(SendBuffer::Close { status: CloseStatus(status), reason: reason.into_bytes() })
        }
        Payload::LastReceived => Some(SendBuffer::LastReceived),
    };
    let ctx = me.next_ctx;
    me.next_ctx += 1;
    match me.h.send(ty, buffer.clone(), ctx) {
        Ok(()) => {
            assert!(!me.aborted, "send accepted after abort");
            assert!(!me.send_outstanding, "a second send accepted while one is outstanding");
            let payload = match &buffer {
                Some(SendBuffer::Data(d)) => d.clone(),
                Some(SendBuffer::LastReceived) => me
                    .last_piece
                    .clone()
                    .expect("LastReceived accepted, but no piece was indicated zero-copy since the receive queue ran"),
                _ => Vec::new(),
            };
            let rec = SendRec { ty, buffer, payload, written: Vec::new(), frames: 0, broke: false, indicated: false };
            me.sends.push((ctx, rec));
            me.current_send = Some(ctx);
            me.send_outstanding = true;
        }
        Err(e) => {
            assert_eq!(is_aborted_error(&e), me.aborted, "send failed with {e:?}, aborted: {}", me.aborted);
            match &e {
                e if is_aborted_error(e) => {}
                Error::SendOutstanding => assert!(me.send_outstanding, "SendOutstanding with none outstanding"),
                Error::Aborted
                | Error::SendSideBroken
                | Error::SendAfterClose
                | Error::FragmentTypeMismatch { .. }
                | Error::BufferRequired(_)
                | Error::BufferNotAllowed(_)
                | Error::BufferShapeMismatch(_)
                | Error::ReservedCloseStatus(_)
                | Error::CloseReasonTooLong(_)
                | Error::InvalidOutgoingUtf8 => {}
                Error::NoReceivedPiece => {
                    assert!(matches!(buffer, Some(SendBuffer::LastReceived)));
                    assert!(me.last_piece.is_none(), "NoReceivedPiece, but {:?} is still in place", me.last_piece);
                }
                other => panic!("send({ty:?}) failed with {other:?}"),
            }
            assert!(!e.is_peer_error(), "send failed with a peer error {e:?}");
        }
    }
}

fn receive(me: &mut Side, capacity: Option<usize>) {
    let buf = capacity.map(Vec::with_capacity);
    let cap = buf.as_ref().map(Vec::capacity);
    let ctx = me.next_ctx;
    me.next_ctx += 1;
    let outstanding = me.receive.is_some();
    match me.h.receive(buf, ctx) {
        Ok(()) => {
            assert!(!outstanding, "a second receive accepted");
            assert!(me.receive_allowed(), "receive accepted after the receive side ended");
            assert!(cap.is_none_or(|c| c >= 125));
            me.receive = Some((ctx, cap));
        }
        Err(e) => {
            assert_eq!(is_aborted_error(&e), me.aborted, "receive failed with {e:?}, aborted: {}", me.aborted);
            match &e {
                e if is_aborted_error(e) => {}
                Error::ReceiveOutstanding => assert!(outstanding),
                Error::ReceiveBufferTooSmall { capacity, min } => {
                    assert_eq!((Some(*capacity), *min), (cap, 125));
                    assert!(*capacity < 125);
                }
                Error::ReceiveAfterClose => assert!(me.close_received),
                Error::ConnectionClosed => assert!(me.eof),
                // Reference §5.8: after a failure on the peer's data, not that error again.
                Error::ReceiveAfterFailure => {
                    assert!(me.receive_error.as_ref().is_some_and(|e| e.close_status().is_some()), "{e:?}");
                }
                other => panic!("receive failed with {other:?}"),
            }
        }
    }
}

fn stale(me: &mut Side, token: ActionContext, count: usize) {
    assert_eq!(me.h.complete_action(token, count), Err(Error::UnknownActionContext), "stale token {token:?} accepted");
    assert_eq!(me.h.action(token).err(), Some(Error::UnknownActionContext));
}

fn refetch(me: &mut Side, send_queue: bool) {
    let flight = if send_queue { &me.send_flight } else { &me.receive_flight };
    match flight {
        None => {}
        Some(Flight::Write { token, bytes, ty, ctx }) => match me.h.action(*token) {
            Ok(Action::SendToNetwork { buffer_type, buffers, context, action }) => {
                let mut again = Vec::new();
                buffers.copy_to(&mut again);
                assert_eq!(&again, bytes, "action() lent other bytes");
                assert_eq!((buffer_type, context.copied(), action), (*ty, *ctx, *token));
            }
            other => panic!("action() on a write: {other:?}"),
        },
        Some(Flight::Read { token, len }) => match me.h.action(*token) {
            Ok(Action::ReceiveFromNetwork { buffer, action }) => assert_eq!((buffer.len(), action), (*len, *token)),
            other => panic!("action() on a read: {other:?}"),
        },
        Some(Flight::Indicate { token, .. }) => {
            assert_eq!(me.h.action(*token).err(), Some(Error::UnknownActionContext));
        }
    }
}

// ------------------------------------------------------------------ actions

/// One step on `queue`: finish what is in flight there, or ask for a new action.
/// Returns true when something happened.
fn step(me: &mut Side, peer: &mut Side, queue: ActionQueue, mode: Mode, amount: usize) -> bool {
    // A queue with an action in flight answers only NoAction: finish that first.
    if queue != ActionQueue::Receive && me.send_flight.is_some() {
        return finish_send_flight(me, mode, amount);
    }
    if queue != ActionQueue::Send && me.receive_flight.is_some() {
        return finish_receive_flight(me, peer, mode, amount);
    }
    let aborted = me.aborted;
    // Whether this call reaches the receive path with a receive to work on (then the
    // last piece is gone), or must wait for a LastReceived send instead.
    let receive_ready = queue != ActionQueue::Send
        && me.receive_flight.is_none()
        && me.receive.is_some()
        && !me.aborted
        && me.receive_error.is_none()
        && !me.eof;
    let waits_for_send = receive_ready && me.last_received_send();
    let result = me.h.get_action(queue);
    let from_send_queue = matches!(
        &result,
        Ok(Action::SendToNetwork { action, .. } | Action::IndicateSendComplete { action, .. })
            if action.queue() == ActionQueue::Send
    );
    if !from_send_queue {
        if waits_for_send {
            assert!(
                matches!(result, Ok(Action::NoAction)),
                "the receive queue ran while a LastReceived send is outstanding: {result:?}"
            );
        } else if receive_ready {
            me.last_piece = None;
        }
    }
    let flight = match result {
        Err(e) => {
            assert_ne!(queue, ActionQueue::Send, "the send queue failed with {e:?}");
            assert!(e.is_peer_error() && e.close_status().is_some(), "get_action failed with {e:?}");
            assert!(!aborted, "get_action failed after abort");
            match &me.receive_error {
                Some(old) => assert_eq!(old, &e, "the receive error changed"),
                None => me.receive_error = Some(e),
            }
            return false;
        }
        Ok(Action::NoAction) => return false,
        Ok(Action::SendToNetwork { buffer_type, buffers, context, action }) => {
            assert!(!aborted, "a new SEND_TO_NETWORK after abort");
            let mut bytes = Vec::new();
            buffers.copy_to(&mut bytes);
            assert!(!bytes.is_empty());
            match action.queue() {
                ActionQueue::Send => assert_eq!(context.copied(), me.current_send),
                _ => assert!(context.is_none() && buffer_type == BufferType::PingPong),
            }
            Flight::Write { token: action, bytes, ty: buffer_type, ctx: context.copied() }
        }
        Ok(Action::ReceiveFromNetwork { buffer, action }) => {
            assert!(!aborted, "a new RECEIVE_FROM_NETWORK after abort");
            assert!(!buffer.is_empty() && buffer.len() <= me.receive_buffer);
            Flight::Read { token: action, len: buffer.len() }
        }
        Ok(Action::IndicateSendComplete { buffer_type, buffer, context, completed, action }) => {
            assert_eq!(Some(context), me.current_send, "indication of another send");
            me.current_send = None;
            let aborted = me.aborted;
            let rec = me.rec(context);
            assert!(!rec.indicated);
            rec.indicated = true;
            assert_eq!(buffer_type, rec.ty);
            assert_eq!(buffer, rec.buffer, "the send buffer came back changed");
            if completed {
                assert!(!rec.broke, "completed after a short write");
                if rec.ty.is_data() {
                    assert!(rec.frames >= 1 && rec.written == rec.payload(), "completed with {rec:?}");
                } else {
                    assert_eq!(rec.frames, 1, "completed control send wrote {} frames", rec.frames);
                }
            } else {
                assert!(aborted || rec.broke, "a send was cancelled without abort or short write");
            }
            Flight::Indicate { token: action, receive: false }
        }
        Ok(Action::IndicateReceiveComplete { buffer_type, data, close_status, context, action }) => {
            let (ctx, cap) = me.receive.expect("a receive indication without a receive");
            assert_eq!(context, ctx);
            match (&data, cap) {
                (Received::Owned(v), Some(c)) => assert!(v.len() <= c),
                (Received::Borrowed(_), None) => {}
                (d, c) => panic!("data {d:?} does not match the buffer passed ({c:?})"),
            }
            let bytes = data.as_slice().to_vec();
            let verify = me.receive_cfg.verify_utf8;
            if buffer_type.is_some() && matches!(data, Received::Owned(_)) {
                me.last_piece = None;
            }
            match buffer_type {
                None => {
                    assert!(me.eof || me.aborted, "a receive was cancelled without end of stream or abort");
                    assert!(bytes.is_empty() && close_status.is_none());
                }
                Some(BufferType::Close) => {
                    let status = close_status.expect("close without status");
                    assert!(bytes.len() <= 123);
                    me.obs.push(Item::Close(status.0, bytes));
                    me.close_received = true;
                }
                Some(BufferType::PingPong) => {
                    assert!(close_status.is_none() && bytes.len() <= 125);
                    me.obs.push(Item::Pong(bytes));
                }
                Some(BufferType::UnsolicitedPong) => panic!("UnsolicitedPong indicated"),
                Some(ty) => {
                    assert!(close_status.is_none());
                    assert!(bytes.len() <= me.receive_buffer);
                    if matches!(data, Received::Borrowed(_)) {
                        me.last_piece = Some(bytes.clone());
                    }
                    let text = ty.is_text();
                    let end = !ty.is_fragment();
                    let m = me.message.get_or_insert_with(|| (text, Vec::new(), 0));
                    assert_eq!(m.0, text, "{ty:?} inside a message of the other type");
                    m.1.extend_from_slice(&bytes);
                    if verify && text {
                        let ok = if end { check_complete(&m.1, &mut m.2) } else { check_prefix(&m.1, &mut m.2) };
                        assert!(ok, "invalid UTF-8 indicated as {ty:?}");
                    }
                    if end {
                        me.message = None;
                    }
                    me.obs.push(Item::Data { text, bytes, end });
                }
            }
            Flight::Indicate { token: action, receive: true }
        }
    };
    if flight.token().queue() == ActionQueue::Send {
        me.send_flight = Some(flight);
        finish_send_flight(me, mode, amount);
    } else {
        me.receive_flight = Some(flight);
        finish_receive_flight(me, peer, mode, amount);
    }
    true
}

fn finish_send_flight(me: &mut Side, mode: Mode, amount: usize) -> bool {
    match me.send_flight.take() {
        None => false,
        Some(f) => {
            let keep = finish(me, None, f, mode, amount);
            if let Some(f) = keep {
                me.send_flight = Some(f);
            }
            true
        }
    }
}

fn finish_receive_flight(me: &mut Side, peer: &mut Side, mode: Mode, amount: usize) -> bool {
    match me.receive_flight.take() {
        None => false,
        Some(f) => {
            let before = me.read_pos;
            let keep = finish(me, Some(peer), f, mode, amount);
            let progressed = keep.is_none() || me.read_pos != before;
            if let Some(f) = keep {
                me.receive_flight = Some(f);
            }
            progressed
        }
    }
}

/// Carries out an action in flight as `mode` says; returns it when it stays in flight.
fn finish(me: &mut Side, peer: Option<&mut Side>, f: Flight, mode: Mode, amount: usize) -> Option<Flight> {
    if mode == Mode::Defer {
        return Some(f);
    }
    match f {
        Flight::Write { token, bytes, ty, ctx } => {
            let len = bytes.len();
            let n = match mode {
                Mode::Short if len > 1 => 1 + amount % (len - 1),
                Mode::Zero => 0,
                Mode::Over => {
                    let n = len + 1 + amount;
                    assert_eq!(
                        me.h.complete_action(token, n),
                        Err(Error::TooManyBytesTransferred { reported: n, max: len })
                    );
                    return Some(Flight::Write { token, bytes, ty, ctx });
                }
                _ => len,
            };
            me.h.complete_action(token, n).expect("completing a write");
            me.old_tokens.push(token);
            me.out.extend_from_slice(&bytes[..n]);
            if n == len {
                frame_written(me, token.queue(), &bytes, ty, ctx);
            } else {
                // Part of a frame on the wire corrupts the stream; a send operation
                // with a frame cut short (even to 0) is cancelled.
                me.corrupted |= n > 0 || !me.partial.is_empty();
                me.partial.clear();
                if let Some(c) = ctx {
                    me.rec(c).broke = true;
                }
            }
            None
        }
        Flight::Read { token, len } => {
            let peer = peer.expect("a read needs the peer");
            let avail = peer.out.len() - me.read_pos;
            let n = match mode {
                Mode::Zero => 0,
                Mode::Over => {
                    let n = len + 1 + amount;
                    assert_eq!(
                        me.h.complete_action(token, n),
                        Err(Error::TooManyBytesTransferred { reported: n, max: len })
                    );
                    return Some(Flight::Read { token, len });
                }
                Mode::Short => (1 + amount % len).min(avail),
                _ => len.min(avail),
            };
            if n == 0 && mode != Mode::Zero {
                return Some(Flight::Read { token, len });
            }
            match me.h.action(token) {
                Ok(Action::ReceiveFromNetwork { buffer, action }) => {
                    assert_eq!((buffer.len(), action), (len, token));
                    buffer[..n].copy_from_slice(&peer.out[me.read_pos..me.read_pos + n]);
                }
                other => panic!("action() on a read: {other:?}"),
            }
            me.h.complete_action(token, n).expect("completing a read");
            me.old_tokens.push(token);
            me.read_pos += n;
            if n == 0 {
                me.eof = true;
            }
            None
        }
        Flight::Indicate { token, receive } => {
            me.h.complete_action(token, amount.wrapping_mul(31)).expect("completing an indication");
            me.old_tokens.push(token);
            if receive {
                me.receive = None;
            } else {
                me.send_outstanding = false;
            }
            None
        }
    }
}

/// The payload bytes (unmasked) of a frame whose start is `bytes`, as far as they go.
fn partial_payload(bytes: &[u8]) -> Vec<u8> {
    let (Some(&b1), true) = (bytes.get(1), bytes.len() >= 2) else { return Vec::new() };
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let masked = b1 & 0x80 != 0;
    let start = 2 + ext + if masked { 4 } else { 0 };
    let Some(payload) = bytes.get(start..) else { return Vec::new() };
    match masked {
        true => payload.iter().enumerate().map(|(i, b)| b ^ bytes[2 + ext + i % 4]).collect(),
        false => payload.to_vec(),
    }
}

/// A SEND_TO_NETWORK went to the wire whole: once it ends a frame, check the frame
/// against the operation it came from. A data frame's payload may continue over several
/// actions; an automatic pong is a whole frame and comes only at a frame boundary.
fn frame_written(me: &mut Side, queue: ActionQueue, bytes: &[u8], ty: BufferType, ctx: Option<u32>) {
    if queue == ActionQueue::Receive {
        assert!(me.partial.is_empty(), "an automatic pong inside a frame being written");
    }
    me.partial.extend_from_slice(bytes);
    me.partial_ctx = ctx;
    let Some(f) = parse_frame(&me.partial) else {
        assert!(queue == ActionQueue::Send && ty.is_data(), "a {ty:?} frame cut over actions");
        return;
    };
    assert_eq!(f.len, me.partial.len(), "a SEND_TO_NETWORK ends at most one frame");
    me.partial.clear();
    assert!(f.rsv == 0 && f.minimal_length, "bad frame header {f:?}");
    match me.role {
        Role::Server => assert!(f.key.is_none(), "a server masked a frame"),
        Role::Client if me.masking_disabled => assert_eq!(f.key, Some([0; 4])),
        Role::Client => assert!(f.key.is_some(), "a client sent an unmasked frame"),
    }
    if queue == ActionQueue::Receive {
        // An automatic pong.
        assert!(f.fin && f.opcode == 0xA && f.payload.len() <= 125, "bad automatic pong {f:?}");
        return;
    }
    let ctx = ctx.expect("a send frame carries its operation's context");
    let open = me.wire_open;
    let verify = me.receive_cfg.verify_utf8;
    let rec = me.rec(ctx);
    assert_eq!(ty, rec.ty);
    let payload = rec.payload().to_vec();
    match ty {
        t if t.is_data() => {
            let text = t.is_text();
            let want_op = match open {
                Some(was_text) => {
                    assert_eq!(was_text, text, "a {t:?} frame continues a message of the other type");
                    0
                }
                None if text => 1,
                None => 2,
            };
            assert_eq!(f.opcode, want_op, "{t:?} frame with opcode {}", f.opcode);
            let at = rec.written.len();
            assert!(payload[at..].starts_with(&f.payload), "frame payload is not the next bytes of the send");
            assert!(!f.payload.is_empty() || (payload.is_empty() && rec.frames == 0), "an empty frame mid-send");
            rec.written.extend_from_slice(&f.payload);
            rec.frames += 1;
            let last = rec.written.len() == payload.len();
            assert_eq!(f.fin, last && !t.is_fragment(), "FIN wrong on frame {} of a {t:?} send", rec.frames);
            me.wire_open = if f.fin { None } else { Some(text) };
            if text && verify {
                // What goes out as text is UTF-8 when verification is on.
                let m = me.out_text.get_or_insert_with(|| (Vec::new(), 0));
                m.0.extend_from_slice(&f.payload);
                if f.fin {
                    assert!(check_complete(&m.0, &mut m.1), "invalid UTF-8 text message sent: {:?}", m.0);
                    me.out_text = None;
                } else {
                    assert!(check_prefix(&m.0, &mut m.1), "invalid UTF-8 text fragment sent: {:?}", m.0);
                }
            }
        }
        BufferType::Close => {
            assert!(f.fin && f.opcode == 0x8 && rec.frames == 0);
            let body = match &rec.buffer {
                Some(SendBuffer::Close { status, reason }) => [&status.0.to_be_bytes()[..], reason].concat(),
                _ => Vec::new(),
            };
            assert_eq!(f.payload, body, "close body");
            if verify && f.payload.len() > 2 {
                assert!(std::str::from_utf8(&f.payload[2..]).is_ok(), "close reason sent is not UTF-8");
            }
            rec.frames += 1;
        }
        BufferType::PingPong | BufferType::UnsolicitedPong => {
            let op = if ty == BufferType::PingPong { 0x9 } else { 0xA };
            assert!(f.fin && f.opcode == op && f.payload.is_empty() && rec.frames == 0, "bad {ty:?} frame {f:?}");
            rec.frames += 1;
        }
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------------ settle and check

fn settle(pair: &mut [Side; 2]) {
    for round in 0.. {
        assert!(round < 1_000_000, "the pair does not settle");
        let mut progress = false;
        for client in [true, false] {
            let (me, peer) = sides(pair, client);
            if me.receive.is_none() && me.receive_allowed() {
                let cap = (me.next_ctx % 3 == 0).then_some(125 + me.next_ctx as usize % 300);
                receive(me, cap);
                assert!(me.receive.is_some(), "a receive was refused on a live receive side");
                progress = true;
            }
            if finish_send_flight(me, Mode::Full, 0) {
                progress = true;
            }
            if finish_receive_flight(me, peer, Mode::Full, 0) {
                progress = true;
            }
            // The queues one at a time: a read waiting for bytes must not hide sends.
            for queue in [ActionQueue::Send, ActionQueue::Receive] {
                if step(me, peer, queue, Mode::Full, 0) {
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
}

fn final_checks(pair: &mut [Side; 2]) {
    for client in [true, false] {
        let (me, peer) = sides(pair, client);
        // Every accepted send was indicated.
        if me.send_flight.is_none() {
            assert!(me.current_send.is_none(), "{:?}: a send never completed", me.role);
        }
        // ---- the receiver against the reference decoding of its peer's bytes
        if peer.corrupted {
            continue;
        }
        let (items, end) = reference(me.receive_cfg, &peer.out);
        let got = normalize(&me.obs, true);
        let want = normalize(&items, true);
        let role = me.role;
        match (&me.receive_error, &end) {
            (Some(e), End::Error { allowed, min_items }) => {
                assert!(allowed.contains(e), "{role:?} failed with {e:?}; the reference allows {allowed:?}");
                assert!(is_prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut its peer wrote\n{want:?}");
                let min = normalize(min_items, true);
                assert!(is_prefix(&min, &got), "{role:?} failed before indicating\n{min:?}\n(indicated\n{got:?})");
            }
            (Some(e), _) => panic!("{role:?} failed with {e:?}; the reference ends {end:?}"),
            (None, _) if me.close_received => {
                assert_eq!(end, End::Closed);
                assert_eq!(got, want, "{role:?} indicated other items than its peer wrote");
            }
            (None, _) if me.aborted || me.eof => {
                assert!(is_prefix(&got, &want), "{role:?} indicated\n{got:?}\nbut its peer wrote\n{want:?}");
            }
            (None, _) => {
                // Live: it read and indicated everything.
                assert_eq!(me.read_pos, peer.out.len(), "{role:?} left bytes unread");
                assert_eq!(end, End::Incomplete, "{role:?} is live but the stream ends {end:?}");
                assert_eq!(got, want, "{role:?} indicated other items than its peer wrote");
                // End to end: the data is the data of the peer's sends.
                let mut sent = Vec::new();
                for (ctx, rec) in &peer.sends {
                    // A frame whose payload was still being written (or that an abort cut
                    // off) counts with the payload on the wire so far.
                    let in_progress = peer.partial_ctx == Some(*ctx) && !peer.partial.is_empty();
                    if rec.ty.is_data() && (rec.frames > 0 || in_progress) {
                        let mut bytes = rec.written.clone();
                        if in_progress {
                            bytes.extend(partial_payload(&peer.partial));
                        }
                        let whole = !in_progress && rec.written.len() == rec.payload().len();
                        sent.push(Item::Data { text: rec.ty.is_text(), bytes, end: whole && !rec.ty.is_fragment() });
                    }
                }
                let data_only =
                    |v: &[Item]| v.iter().filter(|i| matches!(i, Item::Data { .. })).cloned().collect::<Vec<_>>();
                assert_eq!(
                    normalize(&data_only(&me.obs), true),
                    normalize(&sent, true),
                    "{role:?} received other data than was sent"
                );
            }
        }
    }
    // ---- abort drains through indications only
    for client in [true, false] {
        let (me, peer) = sides(pair, client);
        me.h.abort();
        me.aborted = true;
        finish_send_flight(me, Mode::Full, 0);
        finish_receive_flight(me, peer, Mode::Zero, 0);
        for _ in 0..8 {
            match me.h.get_action(ActionQueue::All) {
                Ok(Action::NoAction) => break,
                Ok(Action::IndicateSendComplete { action, .. })
                | Ok(Action::IndicateReceiveComplete { action, .. }) => {
                    me.h.complete_action(action, 0).expect("completing a drained indication");
                }
                other => panic!("after abort: {other:?}"),
            }
        }
        assert!(matches!(me.h.get_action(ActionQueue::All), Ok(Action::NoAction)), "abort did not drain");
        assert!(me.h.receive(None, 0).is_err_and(|e| is_aborted_error(&e)));
        assert!(me.h.send(BufferType::PingPong, None, 0).is_err_and(|e| is_aborted_error(&e)));
    }
}
