//! websocket.dll's API as the `Handle` class, and the HTTP and frame helpers that go with
//! it (`wsengine/engine` in the npm package, which loads this in a wasm of its own).
//!
//! `getAction` works as `WebSocketGetAction` does: it returns the action (0-4) and fills
//! out-parameters that the `action*` getters read, so a step of the action loop creates
//! no JavaScript object. An action's bytes are read with `actionData()` (a copy the
//! caller owns) or `actionView(i)` (a view of the engine's memory, no copy, valid until
//! the next call into the engine); a RECEIVE_FROM_NETWORK action's `actionView(0)` is the
//! free space to read into, completed with `completeAction(token, n)`.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;
use wsengine as core;

use crate::{error, headers_in, headers_out, properties, set, strings};

/// websocket.dll's numbers as the engine defines them: `{ ActionQueue, Action,
/// BufferType, CloseStatus }`, each name (as js/src/constants.js spells it) to its Windows
/// value, and `MAX_CLOSE_REASON_LENGTH`.
/// js/src/constants.js and index.d.ts copy them; tests/js/layout.test.mjs checks that
/// the copies match this, their source.
#[wasm_bindgen(js_name = engineConstants)]
pub fn engine_constants() -> Object {
    use core::{ActionQueue as Q, ActionType as A, BufferType as T};
    let group = |values: &[(&str, u32)]| {
        let g = Object::new();
        for &(name, value) in values {
            set(&g, name, value);
        }
        g
    };
    let o = Object::new();
    set(&o, "ActionQueue", group(&[("SEND", Q::Send as u32), ("RECEIVE", Q::Receive as u32), ("ALL", Q::All as u32)]));
    set(
        &o,
        "Action",
        group(&[
            ("NO_ACTION", A::NoAction as u32),
            ("SEND_TO_NETWORK", A::SendToNetwork as u32),
            ("INDICATE_SEND_COMPLETE", A::IndicateSendComplete as u32),
            ("RECEIVE_FROM_NETWORK", A::ReceiveFromNetwork as u32),
            ("INDICATE_RECEIVE_COMPLETE", A::IndicateReceiveComplete as u32),
        ]),
    );
    set(
        &o,
        "BufferType",
        group(&[
            ("UTF8_MESSAGE", T::Utf8Message as u32),
            ("UTF8_FRAGMENT", T::Utf8Fragment as u32),
            ("BINARY_MESSAGE", T::BinaryMessage as u32),
            ("BINARY_FRAGMENT", T::BinaryFragment as u32),
            ("CLOSE", T::Close as u32),
            ("PING_PONG", T::PingPong as u32),
            ("UNSOLICITED_PONG", T::UnsolicitedPong as u32),
        ]),
    );
    let s = |status: core::CloseStatus| u32::from(status.0);
    set(
        &o,
        "CloseStatus",
        group(&[
            ("SUCCESS", s(core::CloseStatus::SUCCESS)),
            ("ENDPOINT_UNAVAILABLE", s(core::CloseStatus::ENDPOINT_UNAVAILABLE)),
            ("PROTOCOL_ERROR", s(core::CloseStatus::PROTOCOL_ERROR)),
            ("INVALID_DATA_TYPE", s(core::CloseStatus::INVALID_DATA_TYPE)),
            ("EMPTY", s(core::CloseStatus::EMPTY)),
            ("ABORTED", s(core::CloseStatus::ABORTED)),
            ("INVALID_PAYLOAD", s(core::CloseStatus::INVALID_PAYLOAD)),
            ("POLICY_VIOLATION", s(core::CloseStatus::POLICY_VIOLATION)),
            ("MESSAGE_TOO_BIG", s(core::CloseStatus::MESSAGE_TOO_BIG)),
            ("UNSUPPORTED_EXTENSIONS", s(core::CloseStatus::UNSUPPORTED_EXTENSIONS)),
            ("SERVER_ERROR", s(core::CloseStatus::SERVER_ERROR)),
            ("SECURE_HANDSHAKE_ERROR", s(core::CloseStatus::SECURE_HANDSHAKE_ERROR)),
        ]),
    );
    set(&o, "MAX_CLOSE_REASON_LENGTH", core::MAX_CLOSE_REASON_LENGTH as u32);
    let word = |offset: usize| (offset / 4) as u32;
    set(
        &o,
        "OutWord",
        group(&[
            ("KIND", word(std::mem::offset_of!(Out, kind))),
            ("BUFFER_TYPE", word(std::mem::offset_of!(Out, buffer_type))),
            ("PTR0", word(std::mem::offset_of!(Out, ptr0))),
            ("LEN0", word(std::mem::offset_of!(Out, len0))),
            ("PTR1", word(std::mem::offset_of!(Out, ptr1))),
            ("LEN1", word(std::mem::offset_of!(Out, len1))),
            ("TOKEN_LO", word(std::mem::offset_of!(Out, token_lo))),
            ("TOKEN_HI", word(std::mem::offset_of!(Out, token_hi))),
            ("CLOSE_STATUS", word(std::mem::offset_of!(Out, close_status))),
            ("COMPLETED", word(std::mem::offset_of!(Out, completed))),
        ]),
    );
    o
}

fn queue(q: u32) -> Result<core::ActionQueue, JsValue> {
    core::ActionQueue::from_u32(q).map_err(|e| error(&e))
}

fn buffer_type(t: u32) -> Result<core::BufferType, JsValue> {
    core::BufferType::from_u32(t).map_err(|e| error(&e))
}

fn state_name(s: core::State) -> &'static str {
    match s {
        core::State::Created => "created",
        core::State::ClientHandshaking => "client-handshaking",
        core::State::ServerHandshaking => "server-handshaking",
        core::State::HandshakeFailed => "handshake-failed",
        core::State::Open => "open",
        core::State::CloseSent => "close-sent",
        core::State::CloseReceived => "close-received",
        core::State::Closed => "closed",
        core::State::Failed => "failed",
        core::State::SendBroken => "send-broken",
        core::State::Aborted => "aborted",
    }
}

/// The out-parameters of the last `getAction`, as ten little-endian u32 at `outAddress`
/// in the engine's memory (the glue reads them there, without a call per field):
/// action, buffer type, pointer and length of range 0, of range 1, the token's low and
/// high halves, close status, completed (0 or 1).
#[repr(C)]
#[derive(Default)]
struct Out {
    kind: u32,
    buffer_type: u32,
    ptr0: u32,
    len0: u32,
    ptr1: u32,
    len1: u32,
    token_lo: u32,
    token_hi: u32,
    close_status: u32,
    completed: u32,
}

impl Out {
    fn ranges(&self) -> [(usize, usize); 2] {
        [(self.ptr0 as usize, self.len0 as usize), (self.ptr1 as usize, self.len1 as usize)]
    }

    fn token(&self) -> f64 {
        f64::from(self.token_hi) * 4_294_967_296.0 + f64::from(self.token_lo)
    }
}

/// Writes `action` into the out-parameters (and the context, and an owned piece where the
/// engine gave one back); returns its `WEB_SOCKET_ACTION` value.
fn show(out: &mut Out, context: &mut f64, owned: &mut Vec<u8>, action: core::Action<'_, Box<[u8]>, f64>) -> u32 {
    let mut o = Out { kind: action.code(), ..Out::default() };
    if let Some(c) = action.context() {
        let raw = c.to_raw();
        (o.token_lo, o.token_hi) = (raw as u32, (raw >> 32) as u32);
    }
    *context = 0.0;
    match action {
        core::Action::NoAction => {}
        core::Action::SendToNetwork { buffer_type, buffers, context: c, .. } => {
            o.buffer_type = buffer_type as u32;
            let parts = buffers.as_slices();
            if let Some(first) = parts.first() {
                (o.ptr0, o.len0) = range(first);
            }
            if let Some(second) = parts.get(1) {
                (o.ptr1, o.len1) = range(second);
            }
            if let Some(c) = c {
                *context = *c;
            }
        }
        core::Action::IndicateSendComplete { buffer_type, context: c, completed, .. } => {
            o.buffer_type = buffer_type as u32;
            o.completed = u32::from(completed);
            *context = c;
        }
        core::Action::ReceiveFromNetwork { buffer, .. } => {
            (o.ptr0, o.len0) = range(buffer);
        }
        core::Action::IndicateReceiveComplete { buffer_type, data, close_status, context: c, .. } => {
            o.buffer_type = buffer_type.map_or(0, |t| t as u32);
            o.close_status = close_status.map_or(0, |s| u32::from(s.0));
            *context = c;
            (o.ptr0, o.len0) = match data {
                core::Received::Borrowed(b) => range(b),
                core::Received::Owned(v) => {
                    *owned = v;
                    range(owned)
                }
            };
        }
    }
    *out = o;
    out.kind
}

/// `WEB_SOCKET_HANDLE`. Free it with `free()` (or `using`).
#[wasm_bindgen(js_name = Handle)]
pub struct JsHandle {
    inner: core::Handle<Box<[u8]>, f64>,
    /// Boxed: its address is handed out and must not move.
    out: Box<Out>,
    /// The context of the last action (0 for none).
    context: f64,
    /// The piece of an indication given back in a `maxPiece` buffer, kept for the views.
    owned: Vec<u8>,
}

impl JsHandle {
    fn new(inner: core::Result<core::Handle<Box<[u8]>, f64>>) -> Result<JsHandle, JsValue> {
        Ok(JsHandle { inner: inner.map_err(|e| error(&e))?, out: Box::default(), context: 0.0, owned: Vec::new() })
    }

    fn token(raw: f64) -> Result<core::ActionContext, JsValue> {
        if !(raw.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&raw)) {
            return Err(error(&core::Error::UnknownActionContext));
        }
        core::ActionContext::from_raw(raw as u64).map_err(|e| error(&e))
    }
}

/// A byte range of linear memory as (pointer, length) in u32, as wasm32 addresses are.
fn range(bytes: &[u8]) -> (u32, u32) {
    (bytes.as_ptr() as usize as u32, bytes.len() as u32)
}

#[wasm_bindgen(js_class = Handle)]
impl JsHandle {
    /// WebSocketCreateClientHandle.
    #[wasm_bindgen(js_name = createClient)]
    pub fn create_client(properties_: JsValue) -> Result<JsHandle, JsValue> {
        Self::new(core::Handle::new_client(properties(&properties_, true)?))
    }

    /// WebSocketCreateServerHandle.
    #[wasm_bindgen(js_name = createServer)]
    pub fn create_server(properties_: JsValue) -> Result<JsHandle, JsValue> {
        Self::new(core::Handle::new_server(properties(&properties_, false)?))
    }

    /// A handle for a connection upgraded elsewhere, open at once; `client` picks the role.
    #[wasm_bindgen(js_name = fromUpgraded)]
    pub fn from_upgraded(client: bool, properties_: JsValue) -> Result<JsHandle, JsValue> {
        let role = if client { core::Role::Client } else { core::Role::Server };
        Self::new(core::Handle::from_upgraded(role, properties(&properties_, client)?))
    }

    /// True for a client handle.
    #[wasm_bindgen(getter, js_name = isClient)]
    pub fn is_client(&self) -> bool {
        self.inner.role() == core::Role::Client
    }

    /// The receive buffer size in force.
    #[wasm_bindgen(getter, js_name = receiveBufferSize)]
    pub fn receive_buffer_size(&self) -> u32 {
        self.inner.receive_buffer_size() as u32
    }

    /// The send buffer size in force.
    #[wasm_bindgen(getter, js_name = sendBufferSize)]
    pub fn send_buffer_size(&self) -> u32 {
        self.inner.send_buffer_size() as u32
    }

    /// The state: "created", "client-handshaking", "server-handshaking",
    /// "handshake-failed", "open", "close-sent", "close-received", "closed", "failed",
    /// "aborted".
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        state_name(self.inner.state()).to_owned()
    }

    /// WebSocketBeginClientHandshake: the headers to add to the upgrade request.
    #[wasm_bindgen(js_name = beginClientHandshake)]
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: JsValue,
        extensions: JsValue,
        initial_headers: JsValue,
    ) -> Result<Array, JsValue> {
        let (subprotocols, extensions) = (strings(&subprotocols)?, strings(&extensions)?);
        let subprotocols: Vec<&str> = subprotocols.iter().map(String::as_str).collect();
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let initial = if initial_headers.is_undefined() { Vec::new() } else { headers_in(&initial_headers)? };
        let out = self.inner.begin_client_handshake(&subprotocols, &extensions, &initial).map_err(|e| error(&e))?;
        Ok(headers_out(out))
    }

    /// WebSocketEndClientHandshake: checks the response headers (the caller checked the
    /// 101 status). Returns `{ subprotocol, extensions }`: the index of the chosen
    /// subprotocol among those offered (or -1), and the indices of accepted extensions.
    #[wasm_bindgen(js_name = endClientHandshake)]
    pub fn end_client_handshake(&mut self, response_headers: JsValue) -> Result<Object, JsValue> {
        let headers = headers_in(&response_headers)?;
        let outcome = self.inner.end_client_handshake(&headers).map_err(|e| error(&e))?;
        let o = Object::new();
        set(&o, "subprotocol", outcome.subprotocol.map_or(-1.0, |i| i as f64));
        set(&o, "extensions", outcome.extensions.iter().map(|&i| JsValue::from(i as f64)).collect::<Array>());
        Ok(o)
    }

    /// WebSocketBeginServerHandshake: checks the request headers; returns the headers of
    /// the 101 response.
    #[wasm_bindgen(js_name = beginServerHandshake)]
    pub fn begin_server_handshake(
        &mut self,
        subprotocol: Option<String>,
        extensions: JsValue,
        request_headers: JsValue,
    ) -> Result<Array, JsValue> {
        let extensions = strings(&extensions)?;
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let headers = headers_in(&request_headers)?;
        let out =
            self.inner.begin_server_handshake(subprotocol.as_deref(), &extensions, &headers).map_err(|e| error(&e))?;
        Ok(headers_out(out))
    }

    /// WebSocketEndServerHandshake.
    #[wasm_bindgen(js_name = endServerHandshake)]
    pub fn end_server_handshake(&mut self) -> Result<(), JsValue> {
        self.inner.end_server_handshake().map_err(|e| error(&e))
    }

    /// WebSocketSend with a data buffer (copied in), or none for ping, unsolicited pong
    /// and an empty close.
    pub fn send(&mut self, buffer_type_: u32, data: Option<Box<[u8]>>, context: Option<f64>) -> Result<(), JsValue> {
        let buffer = data.map(core::SendBuffer::Data);
        self.inner.send(buffer_type(buffer_type_)?, buffer, context.unwrap_or(0.0)).map_err(|e| error(&e))
    }

    /// WebSocketSend of text given as a string (encoded to UTF-8 on the way in).
    #[wasm_bindgen(js_name = sendText)]
    pub fn send_text(&mut self, buffer_type_: u32, text: String, context: Option<f64>) -> Result<(), JsValue> {
        let buffer = core::SendBuffer::Data(text.into_bytes().into_boxed_slice());
        self.inner.send(buffer_type(buffer_type_)?, Some(buffer), context.unwrap_or(0.0)).map_err(|e| error(&e))
    }

    /// WebSocketSend of a close with a status and a UTF-8 reason (at most 123 bytes).
    #[wasm_bindgen(js_name = sendClose)]
    pub fn send_close(&mut self, status: u16, reason: Box<[u8]>, context: Option<f64>) -> Result<(), JsValue> {
        let buffer = core::SendBuffer::Close { status: core::CloseStatus(status), reason };
        self.inner.send(core::BufferType::Close, Some(buffer), context.unwrap_or(0.0)).map_err(|e| error(&e))
    }

    /// WebSocketSend of the piece the last indicate-receive-complete handed over, from the
    /// engine's receive buffer (an echo without a copy).
    #[wasm_bindgen(js_name = sendLastReceived)]
    pub fn send_last_received(&mut self, buffer_type_: u32, context: Option<f64>) -> Result<(), JsValue> {
        let buffer = Some(core::SendBuffer::LastReceived);
        self.inner.send(buffer_type(buffer_type_)?, buffer, context.unwrap_or(0.0)).map_err(|e| error(&e))
    }

    /// WebSocketReceive. Pieces are at most the receive buffer size, or `maxPiece`
    /// bytes when given (at least 125).
    pub fn receive(&mut self, context: Option<f64>, max_piece: Option<u32>) -> Result<(), JsValue> {
        let buffer = max_piece.map(|n| Vec::with_capacity(n as usize));
        self.inner.receive(buffer, context.unwrap_or(0.0)).map_err(|e| error(&e))
    }

    /// Bytes of the stream read before the handle took over (those behind the HTTP head).
    #[wasm_bindgen(js_name = pushReceived)]
    pub fn push_received(&mut self, data: &[u8]) -> Result<(), JsValue> {
        self.inner.push_received(data).map_err(|e| error(&e))
    }

    /// WebSocketGetAction: the next action of `queue` (1 send, 2 receive, 3 all) as
    /// 0 no-action, 1 send-to-network, 2 indicate-send-complete, 3 receive-from-network,
    /// 4 indicate-receive-complete; its details are in the `action*` getters until the
    /// next call.
    #[wasm_bindgen(js_name = getAction)]
    pub fn get_action(&mut self, queue_: u32) -> Result<u32, JsValue> {
        let q = queue(queue_)?;
        let action = self.inner.get_action(q).map_err(|e| error(&e))?;
        Ok(show(&mut self.out, &mut self.context, &mut self.owned, action))
    }

    /// The network action in flight that `token` names (send-to-network or
    /// receive-from-network), again, in the out-parameters and `action*` getters as
    /// `getAction` sets them: for a host that read or wrote after other calls.
    pub fn action(&mut self, token: f64) -> Result<u32, JsValue> {
        let t = Self::token(token)?;
        let action = self.inner.action(t).map_err(|e| error(&e))?;
        Ok(show(&mut self.out, &mut self.context, &mut self.owned, action))
    }

    /// The address of the out-parameters in the engine's memory (see the crate docs).
    #[wasm_bindgen(getter, js_name = outAddress)]
    pub fn out_address(&self) -> u32 {
        std::ptr::from_ref::<Out>(&self.out) as usize as u32
    }

    /// The last action's buffer type (0 for none).
    #[wasm_bindgen(getter, js_name = actionBufferType)]
    pub fn action_buffer_type(&self) -> u32 {
        self.out.buffer_type
    }

    /// The last action's token, for `completeAction`.
    #[wasm_bindgen(getter, js_name = actionToken)]
    pub fn action_token(&self) -> f64 {
        self.out.token()
    }

    /// The context of the operation the last action belongs to: the number given to
    /// `send` or `receive` (websocket.dll's PVOID; map it to objects as needed), 0 for an
    /// automatic pong, no-action, or an operation given none.
    #[wasm_bindgen(getter, js_name = actionContext)]
    pub fn action_context(&self) -> f64 {
        self.context
    }

    /// For a close indication: its status (1005 when the frame had no body); else 0.
    #[wasm_bindgen(getter, js_name = actionCloseStatus)]
    pub fn action_close_status(&self) -> u16 {
        self.out.close_status as u16
    }

    /// For indicate-send-complete: true when every byte was written.
    #[wasm_bindgen(getter, js_name = actionCompleted)]
    pub fn action_completed(&self) -> bool {
        self.out.completed != 0
    }

    /// How many byte ranges the last action has (send-to-network: 1 or 2).
    #[wasm_bindgen(getter, js_name = actionBufferCount)]
    pub fn action_buffer_count(&self) -> u32 {
        u32::from(self.out.len0 > 0) + u32::from(self.out.len1 > 0)
    }

    /// The last action's bytes in all: the frame to write, the space to read into, or the
    /// piece indicated.
    #[wasm_bindgen(getter, js_name = actionByteLength)]
    pub fn action_byte_length(&self) -> u32 {
        self.out.len0 + self.out.len1
    }

    /// A copy of the last action's bytes (a send-to-network's ranges joined), which the
    /// caller owns; empty once the action is completed.
    #[wasm_bindgen(js_name = actionData)]
    pub fn action_data(&self) -> Uint8Array {
        let total = self.action_byte_length();
        let out = Uint8Array::new_with_length(total);
        let mut at = 0;
        for (ptr, len) in self.out.ranges() {
            if len > 0 {
                // SAFETY: the range was lent by the action and stays untouched until it
                // is completed; a stale range still lies inside linear memory.
                out.subarray(at, at + len as u32)
                    .copy_from(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) });
                at += len as u32;
            }
        }
        out
    }

    /// A view of range `index` of the last action in the engine's memory, without a copy:
    /// valid until the next call into the engine (which may move or grow the memory), and
    /// empty once the action is completed. For receive-from-network, the space to read into
    /// (write, then `completeAction`).
    #[wasm_bindgen(js_name = actionView)]
    pub fn action_view(&self, index: u32) -> Uint8Array {
        let (ptr, len) = self.out.ranges().get(index as usize).copied().unwrap_or((0, 0));
        // SAFETY: a view of linear memory; JavaScript writes through it only between calls
        // into the engine, into the free receive space the action lent.
        unsafe { Uint8Array::view_mut_raw(ptr as *mut u8, len) }
    }

    /// The free space a receive-from-network action still in flight lent, as a view of
    /// the engine's memory (no copy), for a host that read from its transport after other
    /// calls: valid until the next call into the engine. Write up to its length, then
    /// `completeAction(token, n)`.
    #[wasm_bindgen(js_name = readBuffer)]
    pub fn read_buffer(&mut self, token: f64) -> Result<Uint8Array, JsValue> {
        let t = Self::token(token)?;
        match self.inner.action(t).map_err(|e| error(&e))? {
            // SAFETY: as for `actionView`.
            core::Action::ReceiveFromNetwork { buffer, .. } => unsafe {
                Ok(Uint8Array::view_mut_raw(buffer.as_mut_ptr(), buffer.len()))
            },
            _ => Err(error(&core::Error::UnknownActionContext)),
        }
    }

    /// WebSocketCompleteAction: the bytes written or read (ignored for indications).
    #[wasm_bindgen(js_name = completeAction)]
    pub fn complete_action(&mut self, token: f64, bytes_transferred: u32) -> Result<(), JsValue> {
        let t = Self::token(token)?;
        self.inner.complete_action(t, bytes_transferred as usize).map_err(|e| error(&e))?;
        // The action's memory is the engine's again: no view or copy of it from now on.
        (self.out.len0, self.out.len1) = (0, 0);
        Ok(())
    }

    /// `completeAction(token, bytesTransferred)`, then `receive(undefined)` when
    /// `thenReceive`, then `getAction(queue)`, in one call: the action loop's calls per
    /// step (the out-parameters are the new action's). Stops at the first that fails.
    pub fn step(
        &mut self,
        token: f64,
        bytes_transferred: u32,
        queue_: u32,
        then_receive: Option<bool>,
    ) -> Result<u32, JsValue> {
        self.complete_action(token, bytes_transferred)?;
        if then_receive == Some(true) {
            self.inner.receive(None, 0.0).map_err(|e| error(&e))?;
        }
        self.get_action(queue_)
    }

    /// `completeAction(token, 0)` when `token` is given (the last send's
    /// indicate-send-complete), then `send(bufferType, data)`, then `getAction(queue)`, in
    /// one call: a host's calls between one message's send and the next (text as its UTF-8
    /// bytes: `TextEncoder` makes them as fast as a string crosses). Stops at the first
    /// that fails.
    #[wasm_bindgen(js_name = sendStep)]
    pub fn send_step(
        &mut self,
        token: Option<f64>,
        buffer_type_: u32,
        data: Option<Box<[u8]>>,
        queue_: u32,
    ) -> Result<u32, JsValue> {
        if let Some(t) = token {
            self.complete_action(t, 0)?;
        }
        self.send(buffer_type_, data, None)?;
        self.get_action(queue_)
    }

    /// Completes a receive-from-network action with `data` (copied in; at most its
    /// length); empty means end of stream.
    #[wasm_bindgen(js_name = completeReceive)]
    pub fn complete_receive(&mut self, token: f64, data: &[u8]) -> Result<(), JsValue> {
        let t = Self::token(token)?;
        match self.inner.action(t).map_err(|e| error(&e))? {
            core::Action::ReceiveFromNetwork { buffer, .. } if data.len() <= buffer.len() => {
                buffer[..data.len()].copy_from_slice(data);
            }
            core::Action::ReceiveFromNetwork { buffer, .. } => {
                return Err(error(&core::Error::TooManyBytesTransferred { reported: data.len(), max: buffer.len() }));
            }
            _ => return Err(error(&core::Error::UnknownActionContext)),
        }
        self.inner.complete_action(t, data.len()).map_err(|e| error(&e))
    }

    /// WebSocketAbortHandle.
    pub fn abort(&mut self) {
        self.inner.abort();
    }
}

/// Collects an HTTP head as it arrives (8 KiB and 128 header fields at most by default).
#[wasm_bindgen(js_name = HeadParser)]
pub struct JsHeadParser(core::HeadParser);

fn head_object(headers: &[core::HttpHeader<'_>]) -> Object {
    let o = Object::new();
    set(&o, "headers", headers_out(headers));
    o
}

#[wasm_bindgen(js_class = HeadParser)]
impl JsHeadParser {
    /// A parser with these limits (defaults when omitted).
    #[wasm_bindgen(constructor)]
    pub fn new(max_len: Option<u32>, max_headers: Option<u32>) -> JsHeadParser {
        let d = core::HeadLimits::default();
        JsHeadParser(core::HeadParser::new(core::HeadLimits {
            max_len: max_len.map_or(d.max_len, |v| v as usize),
            max_headers: max_headers.map_or(d.max_headers, |v| v as usize),
        }))
    }

    /// Adds bytes; true once the head is complete (later bytes are kept for `rest`).
    pub fn push(&mut self, bytes: &[u8]) -> Result<bool, JsValue> {
        self.0.push(bytes).map_err(|e| error(&e))
    }

    /// The request: `{ method, target, headers }`.
    pub fn request(&self) -> Result<Object, JsValue> {
        let r = self.0.request().map_err(|e| error(&e))?;
        let o = head_object(&r.headers);
        set(&o, "method", r.method);
        set(&o, "target", r.target);
        Ok(o)
    }

    /// The response: `{ status, reason, headers }`.
    pub fn response(&self) -> Result<Object, JsValue> {
        let r = self.0.response().map_err(|e| error(&e))?;
        let o = head_object(&r.headers);
        set(&o, "status", r.status);
        set(&o, "reason", r.reason);
        Ok(o)
    }

    /// The bytes after the head: the start of the WebSocket stream.
    pub fn rest(&self) -> Vec<u8> {
        self.0.rest().to_vec()
    }
}

/// `GET target HTTP/1.1` with these headers, ending with the blank line.
#[wasm_bindgen(js_name = encodeRequestHead)]
pub fn encode_request_head(target: &str, headers: JsValue) -> Result<Vec<u8>, JsValue> {
    core::encode_request_head(target, &headers_in(&headers)?).map_err(|e| error(&e))
}

/// `HTTP/1.1 status reason` with these headers, ending with the blank line.
#[wasm_bindgen(js_name = encodeResponseHead)]
pub fn encode_response_head(status: u16, reason: &str, headers: JsValue) -> Result<Vec<u8>, JsValue> {
    core::encode_response_head(status, reason, &headers_in(&headers)?).map_err(|e| error(&e))
}

/// The response to a failed upgrade: `status` (400 when 0; 426 adds
/// Sec-WebSocket-Version: 13) with `message` as the body.
#[wasm_bindgen(js_name = encodeRejection)]
pub fn encode_rejection(status: u16, message: &str) -> Vec<u8> {
    core::encode_rejection_status(status, message)
}

/// The first of `protocols` (the server's order of preference) that the request offers.
#[wasm_bindgen(js_name = chooseSubprotocol)]
pub fn choose_subprotocol(request_headers: JsValue, protocols: Vec<String>) -> Result<Option<String>, JsValue> {
    let headers = headers_in(&request_headers)?;
    Ok(core::choose_subprotocol(&headers, &protocols).map(str::to_owned))
}

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
#[wasm_bindgen(js_name = acceptKey)]
pub fn accept_key(key: &str) -> String {
    core::accept_key(key.as_bytes())
}

/// The close that answers a peer's close (the status and reason of its indication):
/// `{ status, reason }` with the same status and reason, or undefined when the peer's
/// close had no body (1005, never sent: answer with an empty close).
#[wasm_bindgen(js_name = closeReply)]
pub fn close_reply(status: u16, reason: &[u8]) -> JsValue {
    match core::CloseStatus(status).reply::<Vec<u8>>(reason) {
        Some(core::SendBuffer::Close { status, reason }) => {
            let o = Object::new();
            set(&o, "status", status.0);
            set(&o, "reason", Uint8Array::from(&reason[..]));
            o.into()
        }
        _ => JsValue::UNDEFINED,
    }
}

/// The frame header at the start of `bytes`, as the wire has it, for tools that show the
/// wire, packed in one number (no object to build): bits 0-3 the opcode, 4-6 RSV1-3 (RSV1
/// highest), 7 FIN, 8 MASK, 9-12 the header's length in bytes (2 to 14; a mask key is its
/// last four), and the payload length times 8192 above them (exact up to 2^40 bytes).
/// Undefined while `bytes` ends inside the header; NaN for a header RFC 6455 forbids (a
/// 64-bit length with its top bit set).
#[wasm_bindgen(js_name = frameHeader)]
pub fn frame_header(bytes: &[u8]) -> Option<f64> {
    match core::inspect_frame_header(bytes) {
        Ok(Some(h)) => {
            let low = u32::from(h.opcode)
                | u32::from(h.rsv) << 4
                | u32::from(h.fin) << 7
                | u32::from(h.mask.is_some()) << 8
                | (h.header_len as u32) << 9;
            Some(h.payload_len as f64 * 8192.0 + f64::from(low))
        }
        Ok(None) => None,
        Err(_) => Some(f64::NAN),
    }
}
