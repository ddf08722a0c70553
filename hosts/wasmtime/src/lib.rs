//! A Wasmtime host for the wsengine component (`wit/wsengine.wit`).
//!
//! The host only moves bytes: every protocol step (framing, masking, UTF-8 checks, the
//! close handshake, the HTTP heads) happens inside the component. [`Runtime`] loads and
//! pre-links the component once; each [`Session`] is one store with one instance of it;
//! [`net`] drives a `connection` over a `std::net::TcpStream`: one call per read, the
//! output written, a sleep until the wake-up.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::{Linker, ResourceAny};
use wasmtime::{Engine, Store};

pub mod net;
pub mod serve;
pub mod wasi;

/// The generated bindings of the `component` world.
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "component",
        path: "../../wit",
        additional_derives: [PartialEq, Eq],
    });
}

/// The types of the `engine` interface.
pub use bindings::exports::wsengine::websocket::engine as wit;
pub use wit::{
    Action, ActionQueue, BufferType, ClientHandshakeOutcome, CloseFrame, Completion, ConnectionState, DeflateOptions,
    ErrorDetail, Event, Head, HttpHeader, Operation, Options, Outgoing, Piece, Progress, Property, ReceiveOperation,
    Received, Role, SendBuffer, SendError, SendOperation, State, StepError, Transferred,
};

/// A call's result: the outer error is a trap or a host failure (the instance is then
/// unusable), the inner one the engine's answer.
pub type Outcome<T> = Result<Result<T, wit::Error>>;

/// The component's default location: `target/component/wsengine.wasm` in the workspace.
pub fn default_component_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/component/wsengine.wasm")
}

/// The HRESULT, message and statuses of an engine error.
pub fn detail(e: &wit::Error) -> &ErrorDetail {
    match e {
        wit::Error::InvalidProtocolOperation(d)
        | wit::Error::InvalidProtocolFormat(d)
        | wit::Error::ExtensionsNotSupported(d)
        | wit::Error::SubprotocolNotSupported(d)
        | wit::Error::VersionNotSupported(d)
        | wit::Error::InvalidArgument(d)
        | wit::Error::InvalidState(d)
        | wit::Error::Fail(d)
        | wit::Error::Timeout(d) => d,
    }
}

/// An engine error as a Rust error (for `anyhow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError(pub wit::Error);

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = detail(&self.0);
        write!(f, "{} (0x{:08X})", d.message, d.hresult)
    }
}

impl std::error::Error for EngineError {}

/// Turns an engine error into an `anyhow` error.
pub fn engine<T>(r: Result<T, wit::Error>) -> Result<T> {
    r.map_err(|e| EngineError(e).into())
}

/// The compiled, pre-linked component, shared by every session (and thread).
pub struct Runtime {
    engine: Engine,
    pre: bindings::ComponentPre<Memory>,
}

impl Runtime {
    /// Compiles the component at `path` and links it (it imports nothing).
    pub fn load(path: &Path) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.concurrency_support(false);
        if std::env::var_os("WSENGINE_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the wsengine component at {} (build it with `./dev` or: cargo build -p \
                 wsengine-component --target wasm32-unknown-unknown --release && npx jco new \
                 target/wasm32-unknown-unknown/release/wsengine_component.wasm -o target/component/wsengine.wasm)",
                path.display()
            )
        })?;
        let component = wasmtime::component::Component::new(&engine, &bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{} is not a valid component", path.display()))?;
        let linker = Linker::<Memory>::new(&engine);
        let pre = bindings::ComponentPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Runtime { engine, pre })
    }

    /// A fresh store with a fresh instance of the component.
    pub fn session(&self) -> Result<Session> {
        let mut store = Store::new(&self.engine, Memory::default());
        store.limiter(|m| m);
        let world = self.pre.instantiate(&mut store)?;
        Ok(Session { store, world })
    }
}

/// What a store keeps for the host: the most linear memory its instance has asked for
/// (a limiter that refuses nothing, only watches).
#[derive(Debug, Default)]
pub struct Memory {
    peak: usize,
}

impl wasmtime::ResourceLimiter for Memory {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// One store holding one instance of the component: the engine's functions, called
/// with the handles (resources) it made.
pub struct Session {
    store: Store<Memory>,
    world: bindings::Component,
}

impl Session {
    /// The instance's linear memory, in bytes: the most it grew to (it never shrinks).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.store.data().peak
    }

    /// Lets the instance hold up to `limit` resources at once (Wasmtime's default,
    /// 100,000, guards a host against a guest that makes them without end; a server
    /// holding that many connections in one instance raises it).
    pub fn set_max_resources(&mut self, limit: usize) {
        self.store.set_max_component_handles(limit);
    }

    fn parts(&mut self) -> (&mut Store<Memory>, &wit::Guest) {
        (&mut self.store, self.world.wsengine_websocket_engine())
    }

    /// `handle.create`.
    pub fn create(&mut self, role: Role, properties: &[Property]) -> Outcome<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.handle().call_create(store, role, properties)?)
    }

    /// `handle.from-upgraded`.
    pub fn from_upgraded(&mut self, role: Role, properties: &[Property]) -> Outcome<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.handle().call_from_upgraded(store, role, properties)?)
    }

    /// Drops a resource: a handle (WebSocketDeleteHandle), a connection or a head parser.
    pub fn drop_handle(&mut self, h: ResourceAny) -> Result<()> {
        Ok(h.resource_drop(&mut self.store)?)
    }

    /// `handle.role`.
    pub fn role(&mut self, h: ResourceAny) -> Result<Role> {
        let (store, api) = self.parts();
        Ok(api.handle().call_role(store, h)?)
    }

    /// `handle.state`.
    pub fn state(&mut self, h: ResourceAny) -> Result<State> {
        let (store, api) = self.parts();
        Ok(api.handle().call_state(store, h)?)
    }

    /// `handle.receive-buffer-size`.
    pub fn receive_buffer_size(&mut self, h: ResourceAny) -> Result<u32> {
        let (store, api) = self.parts();
        Ok(api.handle().call_receive_buffer_size(store, h)?)
    }

    /// `handle.send-buffer-size`.
    pub fn send_buffer_size(&mut self, h: ResourceAny) -> Result<u32> {
        let (store, api) = self.parts();
        Ok(api.handle().call_send_buffer_size(store, h)?)
    }

    /// `handle.action`: the network action in flight that `action` names, again.
    pub fn action(&mut self, h: ResourceAny, action: u64) -> Outcome<Action> {
        let (store, api) = self.parts();
        Ok(api.handle().call_action(store, h, action)?)
    }

    /// `handle.begin-client-handshake`.
    pub fn begin_client_handshake(
        &mut self,
        h: ResourceAny,
        subprotocols: &[String],
        extensions: &[String],
        initial_headers: &[HttpHeader],
    ) -> Outcome<Vec<HttpHeader>> {
        let (store, api) = self.parts();
        Ok(api.handle().call_begin_client_handshake(store, h, subprotocols, extensions, initial_headers)?)
    }

    /// `handle.end-client-handshake`.
    pub fn end_client_handshake(&mut self, h: ResourceAny, response: &[HttpHeader]) -> Outcome<ClientHandshakeOutcome> {
        let (store, api) = self.parts();
        Ok(api.handle().call_end_client_handshake(store, h, response)?)
    }

    /// `handle.begin-server-handshake`.
    pub fn begin_server_handshake(
        &mut self,
        h: ResourceAny,
        subprotocol: Option<&str>,
        extensions: &[String],
        request: &[HttpHeader],
    ) -> Outcome<Vec<HttpHeader>> {
        let (store, api) = self.parts();
        Ok(api.handle().call_begin_server_handshake(store, h, subprotocol, extensions, request)?)
    }

    /// `handle.end-server-handshake`.
    pub fn end_server_handshake(&mut self, h: ResourceAny) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_end_server_handshake(store, h)?)
    }

    /// `handle.send`.
    pub fn send(&mut self, h: ResourceAny, ty: BufferType, buffer: Option<&SendBuffer>, context: u64) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_send(store, h, ty, buffer, context)?)
    }

    /// `handle.receive`.
    pub fn receive(&mut self, h: ResourceAny, max_piece: Option<u32>, context: u64) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_receive(store, h, max_piece, context)?)
    }

    /// `handle.get-action`.
    pub fn get_action(&mut self, h: ResourceAny, queue: ActionQueue) -> Outcome<Action> {
        let (store, api) = self.parts();
        Ok(api.handle().call_get_action(store, h, queue)?)
    }

    /// `handle.complete-action`.
    pub fn complete_action(&mut self, h: ResourceAny, action: u64, bytes: u32) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_complete_action(store, h, action, bytes)?)
    }

    /// `handle.complete-receive`.
    pub fn complete_receive(&mut self, h: ResourceAny, action: u64, data: &[u8]) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_complete_receive(store, h, action, data)?)
    }

    /// `handle.step`: completes `done`, queues `then`, returns `get-action(queue)`, in one
    /// call into the component.
    pub fn step(
        &mut self,
        h: ResourceAny,
        done: Option<&Completion>,
        then: Option<&Operation>,
        queue: ActionQueue,
    ) -> Result<Result<Action, StepError>> {
        let (store, api) = self.parts();
        Ok(api.handle().call_step(store, h, done, then, queue)?)
    }

    /// `handle.push-received`.
    pub fn push_received(&mut self, h: ResourceAny, data: &[u8]) -> Outcome<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_push_received(store, h, data)?)
    }

    /// `handle.abort`.
    pub fn abort(&mut self, h: ResourceAny) -> Result<()> {
        let (store, api) = self.parts();
        Ok(api.handle().call_abort(store, h)?)
    }

    /// `connection.client`.
    pub fn connection_client(&mut self, now: u64, options: &Options, url: &str) -> Outcome<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.connection().call_client(store, now, options, url)?)
    }

    /// `connection.server`.
    pub fn connection_server(&mut self, now: u64, options: &Options) -> Outcome<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.connection().call_server(store, now, options)?)
    }

    /// `connection.from-upgraded`.
    pub fn connection_from_upgraded(&mut self, role: Role, now: u64, options: &Options) -> Outcome<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.connection().call_from_upgraded(store, role, now, options)?)
    }

    /// `connection.client-connect`: a client over HTTP/2 or HTTP/3, and its extended
    /// CONNECT's fields.
    pub fn connection_client_connect(
        &mut self,
        now: u64,
        options: &Options,
        url: &str,
    ) -> Outcome<(ResourceAny, Vec<HttpHeader>)> {
        let (store, api) = self.parts();
        Ok(api.connection().call_client_connect(store, now, options, url)?)
    }

    /// `connection.accept-connect`: a server for an extended CONNECT's fields, and the
    /// response's fields.
    pub fn connection_accept_connect(
        &mut self,
        now: u64,
        options: &Options,
        request: &[HttpHeader],
    ) -> Outcome<(ResourceAny, Vec<HttpHeader>)> {
        let (store, api) = self.parts();
        Ok(api.connection().call_accept_connect(store, now, options, request)?)
    }

    /// `connection.connect-response`.
    pub fn connection_connect_response(
        &mut self,
        c: ResourceAny,
        status: u16,
        headers: &[HttpHeader],
    ) -> Outcome<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_connect_response(store, c, status, headers)?)
    }

    /// `connection.read`: the bytes of one transport read.
    pub fn connection_read(&mut self, c: ResourceAny, input: &[u8], now: u64) -> Outcome<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_read(store, c, input, now)?)
    }

    /// `connection.read-echo`: the bytes of one transport read, message pieces echoed.
    pub fn connection_read_echo(&mut self, c: ResourceAny, input: &[u8], now: u64) -> Outcome<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_read_echo(store, c, input, now)?)
    }

    /// `connection.read-eof`.
    pub fn connection_read_eof(&mut self, c: ResourceAny) -> Result<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_read_eof(store, c)?)
    }

    /// `connection.send`: a batch of sends.
    pub fn connection_send(
        &mut self,
        c: ResourceAny,
        batch: &[Outgoing],
        now: u64,
    ) -> Result<Result<Progress, SendError>> {
        let (store, api) = self.parts();
        Ok(api.connection().call_send(store, c, batch, now)?)
    }

    /// `connection.handle-timeout`.
    pub fn connection_handle_timeout(&mut self, c: ResourceAny, now: u64) -> Result<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_handle_timeout(store, c, now)?)
    }

    /// `connection.accept`.
    pub fn connection_accept(
        &mut self,
        c: ResourceAny,
        subprotocol: Option<&str>,
        headers: &[HttpHeader],
    ) -> Outcome<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_accept(store, c, subprotocol, headers)?)
    }

    /// `connection.reject`.
    pub fn connection_reject(&mut self, c: ResourceAny, status: u16, message: &str) -> Outcome<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_reject(store, c, status, message)?)
    }

    /// `connection.abort`.
    pub fn connection_abort(&mut self, c: ResourceAny) -> Result<Progress> {
        let (store, api) = self.parts();
        Ok(api.connection().call_abort(store, c)?)
    }

    /// `connection.state`.
    pub fn connection_state(&mut self, c: ResourceAny) -> Result<ConnectionState> {
        let (store, api) = self.parts();
        Ok(api.connection().call_state(store, c)?)
    }

    /// `connection.buffered-amount`.
    pub fn connection_buffered_amount(&mut self, c: ResourceAny) -> Result<u64> {
        let (store, api) = self.parts();
        Ok(api.connection().call_buffered_amount(store, c)?)
    }

    /// `connection.subprotocol`.
    pub fn connection_subprotocol(&mut self, c: ResourceAny) -> Result<Option<String>> {
        let (store, api) = self.parts();
        Ok(api.connection().call_subprotocol(store, c)?)
    }

    /// `connection.extensions`.
    pub fn connection_extensions(&mut self, c: ResourceAny) -> Result<Option<String>> {
        let (store, api) = self.parts();
        Ok(api.connection().call_extensions(store, c)?)
    }

    /// `default-options`.
    pub fn default_options(&mut self) -> Result<Options> {
        let (store, api) = self.parts();
        Ok(api.call_default_options(store)?)
    }

    /// `default-deflate-options`.
    pub fn default_deflate_options(&mut self) -> Result<DeflateOptions> {
        let (store, api) = self.parts();
        Ok(api.call_default_deflate_options(store)?)
    }

    /// `deflate-offer`.
    pub fn deflate_offer(&mut self, options: DeflateOptions) -> Outcome<String> {
        let (store, api) = self.parts();
        Ok(api.call_deflate_offer(store, options)?)
    }

    /// `accept-deflate`.
    pub fn accept_deflate(&mut self, request: &[HttpHeader], options: DeflateOptions) -> Outcome<Option<String>> {
        let (store, api) = self.parts();
        Ok(api.call_accept_deflate(store, request, options)?)
    }

    /// A `head-parser` with these limits.
    pub fn head_parser(&mut self, max_len: u32, max_headers: u32) -> Result<ResourceAny> {
        let (store, api) = self.parts();
        Ok(api.head_parser().call_constructor(store, max_len, max_headers)?)
    }

    /// `head-parser.push`.
    pub fn head_push(&mut self, p: ResourceAny, bytes: &[u8]) -> Outcome<bool> {
        let (store, api) = self.parts();
        Ok(api.head_parser().call_push(store, p, bytes)?)
    }

    /// `head-parser.request`.
    pub fn head_request(&mut self, p: ResourceAny) -> Outcome<Head> {
        let (store, api) = self.parts();
        Ok(api.head_parser().call_request(store, p)?)
    }

    /// `head-parser.response`.
    pub fn head_response(&mut self, p: ResourceAny) -> Outcome<Head> {
        let (store, api) = self.parts();
        Ok(api.head_parser().call_response(store, p)?)
    }

    /// `head-parser.rest`.
    pub fn head_rest(&mut self, p: ResourceAny) -> Result<Vec<u8>> {
        let (store, api) = self.parts();
        Ok(api.head_parser().call_rest(store, p)?)
    }

    /// `encode-request-head`.
    pub fn encode_request_head(&mut self, target: &str, headers: &[HttpHeader]) -> Outcome<Vec<u8>> {
        let (store, api) = self.parts();
        Ok(api.call_encode_request_head(store, target, headers)?)
    }

    /// `encode-response-head`.
    pub fn encode_response_head(&mut self, status: u16, reason: &str, headers: &[HttpHeader]) -> Outcome<Vec<u8>> {
        let (store, api) = self.parts();
        Ok(api.call_encode_response_head(store, status, reason, headers)?)
    }

    /// `encode-rejection`.
    pub fn encode_rejection(&mut self, error: &wit::Error) -> Result<Vec<u8>> {
        let (store, api) = self.parts();
        Ok(api.call_encode_rejection(store, error)?)
    }

    /// `close-reply`.
    pub fn close_reply(&mut self, status: u16, reason: &[u8]) -> Result<Option<CloseFrame>> {
        let (store, api) = self.parts();
        Ok(api.call_close_reply(store, status, reason)?)
    }

    /// `choose-subprotocol`.
    pub fn choose_subprotocol(&mut self, request: &[HttpHeader], supported: &[String]) -> Result<Option<String>> {
        let (store, api) = self.parts();
        Ok(api.call_choose_subprotocol(store, request, supported)?)
    }

    /// `offered-subprotocols`.
    pub fn offered_subprotocols(&mut self, request: &[HttpHeader]) -> Result<Vec<String>> {
        let (store, api) = self.parts();
        Ok(api.call_offered_subprotocols(store, request)?)
    }

    /// `accept-key`.
    pub fn accept_key(&mut self, key: &str) -> Result<String> {
        let (store, api) = self.parts();
        Ok(api.call_accept_key(store, key)?)
    }

    /// `keepalive-interval`.
    pub fn keepalive_interval(&mut self) -> Result<u32> {
        let (store, api) = self.parts();
        Ok(api.call_keepalive_interval(store)?)
    }

    /// `set-keepalive-interval`.
    pub fn set_keepalive_interval(&mut self, ms: u32) -> Result<u32> {
        let (store, api) = self.parts();
        Ok(api.call_set_keepalive_interval(store, ms)?)
    }

    /// `supported-versions`.
    pub fn supported_versions(&mut self) -> Result<Vec<u32>> {
        let (store, api) = self.parts();
        Ok(api.call_supported_versions(store)?)
    }

    /// `read-frame-header`.
    pub fn read_frame_header(&mut self, bytes: &[u8]) -> Outcome<Option<wit::FrameHeader>> {
        let (store, api) = self.parts();
        Ok(api.call_read_frame_header(store, bytes)?)
    }
}

/// A header from text.
pub fn header(name: &str, value: &str) -> HttpHeader {
    HttpHeader { name: name.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

/// 32 bytes from the operating system's random source, for a client's `random-seed`.
pub fn os_seed() -> Result<Vec<u8>> {
    let mut seed = vec![0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS random source: {e}"))?;
    Ok(seed)
}
