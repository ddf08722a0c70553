//! Shared by the component tests: the runtime (compiled once), and a peer that reads
//! from an in-memory inbox instead of a socket.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::OnceLock;

use wasmtime::component::ResourceAny;
use wsengine_host::{Action, ActionQueue, Runtime, Session, wit};

/// The component under test: $WSENGINE_COMPONENT or target/component/wsengine.wasm.
pub fn component_path() -> PathBuf {
    std::env::var_os("WSENGINE_COMPONENT").map(PathBuf::from).unwrap_or_else(wsengine_host::default_component_path)
}

/// The runtime, compiled once per test binary.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let path = component_path();
        assert!(
            path.exists(),
            "the wsengine component is missing at {}: build it first (./dev builds it; or cargo build -p \
             wsengine-component --target wasm32-unknown-unknown --release && npx jco new \
             target/wasm32-unknown-unknown/release/wsengine_component.wasm -o target/component/wsengine.wasm), \
             or point WSENGINE_COMPONENT at one",
            path.display()
        );
        Runtime::load(&path).unwrap_or_else(|e| panic!("cannot load {}: {e:#}", path.display()))
    })
}

/// A fresh instance.
pub fn session() -> Session {
    runtime().session().expect("instantiation")
}

/// The value of a call that must succeed: no trap, no engine error.
#[track_caller]
pub fn ok<T>(r: wsengine_host::Outcome<T>) -> T {
    match r {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("engine error: {}", wsengine_host::EngineError(e)),
        Err(trap) => panic!("trap: {trap:#}"),
    }
}

/// The error of a call that must fail without trapping.
#[track_caller]
pub fn err<T: std::fmt::Debug>(r: wsengine_host::Outcome<T>) -> wit::Error {
    match r {
        Ok(Ok(v)) => panic!("expected an engine error, got {v:?}"),
        Ok(Err(e)) => e,
        Err(trap) => panic!("trap: {trap:#}"),
    }
}

/// 32 fixed bytes for a client's `random-seed` (tests are deterministic).
pub fn seed(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

/// One end of an in-memory connection: its handle, the bytes the other end wrote and
/// this one has not read yet, and a receive-from-network action waiting for bytes.
pub struct Peer {
    pub h: ResourceAny,
    pub inbox: VecDeque<u8>,
    pending: Option<(u64, u32)>,
    receiving: bool,
    /// Reads take at most this many bytes, to cut frames at odd places.
    pub read_chunk: usize,
    /// The `max-piece` of this peer's receives.
    pub max_piece: Option<u32>,
}

/// A send operation's end, as `indicate-send-complete` told it.
#[derive(Debug, PartialEq, Eq)]
pub struct SendDone {
    pub buffer_type: wit::BufferType,
    pub context: u64,
    pub completed: bool,
}

impl Peer {
    pub fn new(h: ResourceAny) -> Self {
        Peer { h, inbox: VecDeque::new(), pending: None, receiving: false, read_chunk: 7, max_piece: None }
    }

    /// Carries out the send queue: frames go to `wire`; returns the operations that ended.
    pub fn flush(&mut self, s: &mut Session, wire: &mut VecDeque<u8>) -> Vec<SendDone> {
        let mut done = Vec::new();
        loop {
            match ok(s.get_action(self.h, ActionQueue::Send)) {
                Action::NoAction => return done,
                Action::SendToNetwork(a) => {
                    wire.extend(&a.data);
                    ok(s.complete_action(self.h, a.action, a.data.len() as u32));
                }
                Action::IndicateSendComplete(a) => {
                    done.push(SendDone { buffer_type: a.buffer_type, context: a.context, completed: a.completed });
                    ok(s.complete_action(self.h, a.action, 0));
                }
                other => panic!("receive action on the send queue: {other:?}"),
            }
        }
    }

    /// Advances a receive (queuing one if none is outstanding) as far as the inbox
    /// allows; automatic pongs go to `wire`. Returns the indication once it comes.
    pub fn poll(&mut self, s: &mut Session, wire: &mut VecDeque<u8>) -> Option<wit::IndicateReceiveComplete> {
        if !self.receiving {
            ok(s.receive(self.h, self.max_piece, 77));
            self.receiving = true;
        }
        loop {
            if let Some((action, max)) = self.pending {
                if self.inbox.is_empty() {
                    return None;
                }
                let n = self.inbox.len().min(max as usize).min(self.read_chunk);
                let bytes: Vec<u8> = self.inbox.drain(..n).collect();
                ok(s.complete_receive(self.h, action, &bytes));
                self.pending = None;
            }
            match ok(s.get_action(self.h, ActionQueue::Receive)) {
                Action::NoAction => return None,
                Action::ReceiveFromNetwork(a) => self.pending = Some((a.action, a.max_bytes)),
                Action::SendToNetwork(a) => {
                    wire.extend(&a.data);
                    ok(s.complete_action(self.h, a.action, a.data.len() as u32));
                }
                Action::IndicateReceiveComplete(a) => {
                    ok(s.complete_action(self.h, a.action, 0));
                    self.receiving = false;
                    assert_eq!(a.context, 77);
                    return Some(a);
                }
                other => panic!("send action on the receive queue: {other:?}"),
            }
        }
    }
}
