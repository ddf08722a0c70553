//! A client and a server handle wired together through their action queues, with an
//! in-memory byte pipe each way that delivers reads in chosen or random sizes.

#![allow(dead_code)]

use std::collections::VecDeque;

use wsengine::{
    Action, ActionContext, ActionQueue, BufferType, CloseStatus, Handle, HttpHeader, Property, Role, SendBuffer,
};

/// A small deterministic generator (xorshift) for split points.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What one side observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Piece(BufferType, Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseStatus, Vec<u8>),
    Cancelled,
    SendDone(BufferType, bool),
    Error(wsengine::Error),
}

/// Carries out action `$a` of side `$side` and completes it (a macro, not a method:
/// the action borrows `$side.handle` while the bookkeeping fields are updated).
macro_rules! carry_out {
    ($side:ident, $a:expr, $out:expr) => {
        if let Some((token, n)) = Side::host(
            &mut $side.events,
            &mut $side.contexts,
            &mut $side.receiving,
            &mut $side.pending_read,
            $side.caller_buffer,
            $a,
            $out,
        ) {
            $side.handle.complete_action(token, n).unwrap();
        }
    };
}

/// One end: its handle and host-side bookkeeping.
pub struct Side {
    pub handle: Handle<Vec<u8>, u32>,
    pub events: Vec<Event>,
    pub pending_read: Option<ActionContext>,
    pub auto_receive: bool,
    pub receiving: bool,
    pub caller_buffer: Option<usize>,
    pub contexts: Vec<u32>,
    next_ctx: u32,
}

impl Side {
    pub fn new(handle: Handle<Vec<u8>, u32>) -> Self {
        Self {
            handle,
            events: Vec::new(),
            pending_read: None,
            auto_receive: true,
            receiving: false,
            caller_buffer: None,
            contexts: Vec::new(),
            next_ctx: 1,
        }
    }

    pub fn send(&mut self, ty: BufferType, buf: Option<SendBuffer<Vec<u8>>>) -> wsengine::Result<()> {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        self.handle.send(ty, buf, ctx)
    }

    pub fn send_data(&mut self, ty: BufferType, data: &[u8]) -> wsengine::Result<()> {
        self.send(ty, Some(SendBuffer::Data(data.to_vec())))
    }

    /// Received data pieces joined into whole messages: (text?, bytes).
    pub fn messages(&self) -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        let mut cur: Option<(bool, Vec<u8>)> = None;
        for e in &self.events {
            if let Event::Piece(ty, data) = e {
                let m = cur.get_or_insert_with(|| (ty.is_text(), Vec::new()));
                assert_eq!(m.0, ty.is_text(), "piece type changed inside a message");
                m.1.extend_from_slice(data);
                if !ty.is_fragment() {
                    out.push(cur.take().unwrap());
                }
            }
        }
        out
    }

    /// Runs the handle's actions until it needs input that is not there. Writes go to
    /// `out`; reads take at most `chunk()` bytes from `inbox`.
    pub fn drive(&mut self, out: &mut Vec<u8>, inbox: &mut VecDeque<u8>, chunk: &mut dyn FnMut() -> usize) -> bool {
        let mut progress = false;
        loop {
            if self.auto_receive && !self.receiving && self.pending_read.is_none() {
                let buf = self.caller_buffer.map(Vec::with_capacity);
                if self.handle.receive(buf, 7).is_ok() {
                    self.receiving = true;
                }
            }
            if let Some(token) = self.pending_read {
                if inbox.is_empty() {
                    // Nothing to read yet: keep the read in flight, ask the send queue.
                    match self.handle.get_action(ActionQueue::Send) {
                        Ok(Action::NoAction) => return progress,
                        Ok(a) => {
                            progress = true;
                            carry_out!(self, a, out);
                            continue;
                        }
                        Err(e) => panic!("send queue failed: {e}"),
                    }
                }
                let Ok(Action::ReceiveFromNetwork { buffer, action }) = self.handle.action(token) else {
                    panic!("the read in flight was not lent again")
                };
                let n = chunk().max(1).min(buffer.len()).min(inbox.len());
                for (dst, src) in buffer.iter_mut().zip(inbox.drain(..n)) {
                    *dst = src;
                }
                self.pending_read = None;
                self.handle.complete_action(action, n).unwrap();
                progress = true;
                continue;
            }
            match self.handle.get_action(ActionQueue::All) {
                Ok(Action::NoAction) => return progress,
                Ok(a) => {
                    progress = true;
                    carry_out!(self, a, out);
                }
                Err(e) => {
                    if self.events.last() != Some(&Event::Error(e)) {
                        self.events.push(Event::Error(e));
                        progress = true;
                    }
                    // The receive side is over; the send queue still runs.
                    match self.handle.get_action(ActionQueue::Send) {
                        Ok(Action::NoAction) => return progress,
                        Ok(a) => {
                            carry_out!(self, a, out);
                        }
                        Err(e) => panic!("send queue failed: {e}"),
                    }
                }
            }
        }
    }

    /// Does what an action asks; returns the completion to report (none for a read
    /// left in flight).
    fn host(
        events: &mut Vec<Event>,
        contexts: &mut Vec<u32>,
        receiving: &mut bool,
        pending_read: &mut Option<ActionContext>,
        caller_buffer: Option<usize>,
        a: Action<'_, Vec<u8>, u32>,
        out: &mut Vec<u8>,
    ) -> Option<(ActionContext, usize)> {
        match a {
            Action::NoAction => None,
            Action::SendToNetwork { buffers, action, .. } => {
                assert!(!buffers.is_empty());
                buffers.copy_to(out);
                Some((action, buffers.len()))
            }
            Action::IndicateSendComplete { buffer_type, completed, context, action, .. } => {
                contexts.push(context);
                events.push(Event::SendDone(buffer_type, completed));
                Some((action, 0))
            }
            Action::ReceiveFromNetwork { action, .. } => {
                *pending_read = Some(action);
                None
            }
            Action::IndicateReceiveComplete { buffer_type, data, close_status, context, action } => {
                assert_eq!(context, 7);
                *receiving = false;
                if let (Some(cap), wsengine::Received::Owned(v)) = (caller_buffer, &data) {
                    assert!(v.len() <= cap.max(125), "caller buffer overfilled");
                }
                let bytes = data.as_slice().to_vec();
                events.push(match buffer_type {
                    None => Event::Cancelled,
                    Some(BufferType::PingPong) => Event::Pong(bytes),
                    Some(BufferType::Close) => Event::Close(close_status.unwrap(), bytes),
                    Some(ty) => Event::Piece(ty, bytes),
                });
                // The count is ignored for indications.
                Some((action, 12345))
            }
        }
    }
}

/// A connected client/server pair.
pub struct Pair {
    pub client: Side,
    pub server: Side,
    pub c2s: VecDeque<u8>,
    pub s2c: VecDeque<u8>,
    pub rng: Rng,
    /// Largest read size; 0 means random sizes from 1 to 4096.
    pub read_size: usize,
}

pub fn client_props() -> Vec<Property> {
    vec![Property::RandomSeed([42; 32])]
}

impl Pair {
    /// A pair that did the full opening handshake through the engine's helpers.
    pub fn handshaken(client_props: Vec<Property>, server_props: Vec<Property>) -> Self {
        let mut client: Handle<Vec<u8>, u32> = Handle::new_client(client_props).unwrap();
        let mut server: Handle<Vec<u8>, u32> = Handle::new_server(server_props).unwrap();
        let mut req = vec![HttpHeader::new("Host", "test")];
        req.extend(client.begin_client_handshake(&["chat.v1", "chat.v2"], &[], &[]).unwrap().iter().cloned());
        let chosen = wsengine::choose_subprotocol(&req, &["chat.v2"]);
        let res = server.begin_server_handshake(chosen, &[], &req).unwrap().to_vec();
        server.end_server_handshake().unwrap();
        let outcome = client.end_client_handshake(&res).unwrap();
        assert_eq!(outcome.subprotocol, Some(1));
        Self::wrap(client, server)
    }

    /// A pair opened without a handshake.
    pub fn upgraded(client_props: Vec<Property>, server_props: Vec<Property>) -> Self {
        Self::wrap(
            Handle::from_upgraded(Role::Client, client_props).unwrap(),
            Handle::from_upgraded(Role::Server, server_props).unwrap(),
        )
    }

    fn wrap(client: Handle<Vec<u8>, u32>, server: Handle<Vec<u8>, u32>) -> Self {
        Self {
            client: Side::new(client),
            server: Side::new(server),
            c2s: VecDeque::new(),
            s2c: VecDeque::new(),
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            read_size: 0,
        }
    }

    /// Runs both sides until neither makes progress.
    pub fn run(&mut self) {
        for _ in 0..1_000_000 {
            let mut out_c = Vec::new();
            let mut out_s = Vec::new();
            let read_size = self.read_size;
            let rng = &mut self.rng;
            let mut chunk = || if read_size == 0 { 1 + rng.below(4096) } else { read_size };
            let a = self.client.drive(&mut out_c, &mut self.s2c, &mut chunk);
            let b = self.server.drive(&mut out_s, &mut self.c2s, &mut chunk);
            let moved = !out_c.is_empty() || !out_s.is_empty();
            self.c2s.extend(out_c);
            self.s2c.extend(out_s);
            if !a && !b && !moved {
                return;
            }
        }
        panic!("the pair did not settle");
    }
}
