//! wsengine as a WebAssembly component: the `engine` interface of `wit/wsengine.wit`,
//! mapped onto the Rust core. Mapping only: every protocol decision is the core's.
//!
//! What crosses the boundary is copied (the component model copies lists): `send` copies
//! the payload in, `get-action` copies a frame or a piece out, `complete-receive` copies
//! the bytes read in. A `connection` call copies the bytes read in and the events and the
//! output out, and counts that output written (`advance`): it is the host's to write.

#![deny(unsafe_code)]

use std::cell::RefCell;

use wsengine as core;

#[allow(unsafe_code, unreachable_pub, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ world: "component", path: "../../wit" });
}

use bindings::exports::wsengine::websocket::engine as wit;

/// The component's implementation of the `engine` interface.
pub struct Component;

// The generated export glue is the only unsafe code here.
#[allow(unsafe_code)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}

fn error(e: &core::Error) -> wit::Error {
    let detail = wit::ErrorDetail {
        hresult: e.hresult(),
        message: e.to_string(),
        close_status: e.close_status().map(|s| s.0),
        http_status: e.http_status(),
    };
    match e.kind() {
        core::ErrorKind::InvalidProtocolOperation => wit::Error::InvalidProtocolOperation(detail),
        core::ErrorKind::InvalidProtocolFormat => wit::Error::InvalidProtocolFormat(detail),
        core::ErrorKind::ExtensionsNotSupported => wit::Error::ExtensionsNotSupported(detail),
        core::ErrorKind::SubprotocolNotSupported => wit::Error::SubprotocolNotSupported(detail),
        core::ErrorKind::VersionNotSupported => wit::Error::VersionNotSupported(detail),
        core::ErrorKind::InvalidArgument => wit::Error::InvalidArgument(detail),
        core::ErrorKind::InvalidState => wit::Error::InvalidState(detail),
        core::ErrorKind::Timeout => wit::Error::Timeout(detail),
        _ => wit::Error::Fail(detail),
    }
}

fn detail(e: &wit::Error) -> &wit::ErrorDetail {
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

fn role(r: wit::Role) -> core::Role {
    match r {
        wit::Role::Client => core::Role::Client,
        wit::Role::Server => core::Role::Server,
    }
}

fn buffer_type(t: wit::BufferType) -> core::BufferType {
    match t {
        wit::BufferType::Utf8Message => core::BufferType::Utf8Message,
        wit::BufferType::Utf8Fragment => core::BufferType::Utf8Fragment,
        wit::BufferType::BinaryMessage => core::BufferType::BinaryMessage,
        wit::BufferType::BinaryFragment => core::BufferType::BinaryFragment,
        wit::BufferType::Close => core::BufferType::Close,
        wit::BufferType::PingPong => core::BufferType::PingPong,
        wit::BufferType::UnsolicitedPong => core::BufferType::UnsolicitedPong,
    }
}

fn wit_buffer_type(t: core::BufferType) -> wit::BufferType {
    match t {
        core::BufferType::Utf8Message => wit::BufferType::Utf8Message,
        core::BufferType::Utf8Fragment => wit::BufferType::Utf8Fragment,
        core::BufferType::BinaryMessage => wit::BufferType::BinaryMessage,
        core::BufferType::BinaryFragment => wit::BufferType::BinaryFragment,
        core::BufferType::Close => wit::BufferType::Close,
        core::BufferType::PingPong => wit::BufferType::PingPong,
        core::BufferType::UnsolicitedPong => wit::BufferType::UnsolicitedPong,
    }
}

fn state(s: core::State) -> wit::State {
    match s {
        core::State::Created => wit::State::Created,
        core::State::ClientHandshaking => wit::State::ClientHandshaking,
        core::State::ServerHandshaking => wit::State::ServerHandshaking,
        core::State::HandshakeFailed => wit::State::HandshakeFailed,
        core::State::Open => wit::State::Open,
        core::State::CloseSent => wit::State::CloseSent,
        core::State::CloseReceived => wit::State::CloseReceived,
        core::State::Closed => wit::State::Closed,
        core::State::Failed => wit::State::Failed,
        core::State::SendBroken => wit::State::SendBroken,
        core::State::Aborted => wit::State::Aborted,
    }
}

fn queue(q: wit::ActionQueue) -> core::ActionQueue {
    match q {
        wit::ActionQueue::Send => core::ActionQueue::Send,
        wit::ActionQueue::Receive => core::ActionQueue::Receive,
        wit::ActionQueue::All => core::ActionQueue::All,
    }
}

fn property(p: wit::Property) -> Result<core::Property, core::Error> {
    Ok(match p {
        wit::Property::ReceiveBufferSize(v) => core::Property::ReceiveBufferSize(v),
        wit::Property::SendBufferSize(v) => core::Property::SendBufferSize(v),
        wit::Property::DisableMasking(v) => core::Property::DisableMasking(v),
        wit::Property::DisableUtf8Verification(v) => core::Property::DisableUtf8Verification(v),
        wit::Property::RandomSeed(bytes) => {
            let size = bytes.len();
            core::Property::RandomSeed(<[u8; 32]>::try_from(bytes).map_err(|_| core::Error::PropertySize {
                property: "random-seed",
                size,
                expected: 32,
            })?)
        }
        wit::Property::DeflateLevel(v) => core::Property::DeflateLevel(v),
        wit::Property::DeflateMemLevel(v) => core::Property::DeflateMemLevel(v),
        wit::Property::DeflateThreshold(v) => core::Property::DeflateThreshold(v),
        wit::Property::ExtendedConnect(v) => core::Property::ExtendedConnect(v),
    })
}

fn deflate_in(d: wit::DeflateOptions) -> core::DeflateOptions {
    core::DeflateOptions {
        server_max_window_bits: d.server_max_window_bits,
        client_max_window_bits: d.client_max_window_bits,
        server_no_context_takeover: d.server_no_context_takeover,
        client_no_context_takeover: d.client_no_context_takeover,
        level: d.level,
        mem_level: d.mem_level,
        threshold: d.threshold as usize,
    }
}

fn deflate_out(d: &core::DeflateOptions) -> wit::DeflateOptions {
    wit::DeflateOptions {
        server_max_window_bits: d.server_max_window_bits,
        client_max_window_bits: d.client_max_window_bits,
        server_no_context_takeover: d.server_no_context_takeover,
        client_no_context_takeover: d.client_no_context_takeover,
        level: d.level,
        mem_level: d.mem_level,
        threshold: u32::try_from(d.threshold).unwrap_or(u32::MAX),
    }
}

fn headers_in(headers: &[wit::HttpHeader]) -> Vec<core::HttpHeader<'_>> {
    headers.iter().map(|h| core::HttpHeader::new(&h.name, &h.value)).collect()
}

fn headers_out(headers: &[core::HttpHeader<'_>]) -> Vec<wit::HttpHeader> {
    headers.iter().map(|h| wit::HttpHeader { name: h.name.to_vec(), value: h.value.to_vec() }).collect()
}

fn token(raw: u64) -> Result<core::ActionContext, wit::Error> {
    core::ActionContext::from_raw(raw).map_err(|e| error(&e))
}

/// An action as WIT hands it over: every byte range copied into a list.
fn wit_action(a: core::Action<'_, Vec<u8>, u64>) -> wit::Action {
    match a {
        core::Action::NoAction => wit::Action::NoAction,
        core::Action::SendToNetwork { buffer_type, buffers, context, action } => {
            let mut data = Vec::with_capacity(buffers.len());
            buffers.copy_to(&mut data);
            wit::Action::SendToNetwork(wit::SendToNetwork {
                buffer_type: wit_buffer_type(buffer_type),
                data,
                context: context.copied(),
                action: action.to_raw(),
            })
        }
        core::Action::IndicateSendComplete { buffer_type, context, completed, action, .. } => {
            wit::Action::IndicateSendComplete(wit::IndicateSendComplete {
                buffer_type: wit_buffer_type(buffer_type),
                context,
                completed,
                action: action.to_raw(),
            })
        }
        core::Action::ReceiveFromNetwork { buffer, action } => {
            wit::Action::ReceiveFromNetwork(wit::ReceiveFromNetwork {
                max_bytes: u32::try_from(buffer.len()).unwrap_or(u32::MAX),
                action: action.to_raw(),
            })
        }
        core::Action::IndicateReceiveComplete { buffer_type, data, close_status, context, action } => {
            let bytes = match data {
                core::Received::Borrowed(b) => b.to_vec(),
                core::Received::Owned(v) => v,
            };
            wit::Action::IndicateReceiveComplete(wit::IndicateReceiveComplete {
                buffer_type: buffer_type.map(wit_buffer_type),
                data: bytes,
                close_status: close_status.map(|s| s.0),
                context,
                action: action.to_raw(),
            })
        }
    }
}

/// A `handle` resource: the core handle, with send payloads and contexts as the
/// component model hands them over.
pub struct Handle {
    inner: RefCell<core::Handle<Vec<u8>, u64>>,
}

impl Handle {
    fn create(r: wit::Role, properties: Vec<wit::Property>, upgraded: bool) -> Result<wit::Handle, wit::Error> {
        let properties = properties.into_iter().map(property).collect::<Result<Vec<_>, _>>().map_err(|e| error(&e))?;
        let inner = if upgraded {
            core::Handle::from_upgraded(role(r), properties)
        } else {
            match r {
                wit::Role::Client => core::Handle::new_client(properties),
                wit::Role::Server => core::Handle::new_server(properties),
            }
        }
        .map_err(|e| error(&e))?;
        Ok(wit::Handle::new(Handle { inner: RefCell::new(inner) }))
    }
}

impl wit::GuestHandle for Handle {
    fn create(r: wit::Role, properties: Vec<wit::Property>) -> Result<wit::Handle, wit::Error> {
        Handle::create(r, properties, false)
    }

    fn from_upgraded(r: wit::Role, properties: Vec<wit::Property>) -> Result<wit::Handle, wit::Error> {
        Handle::create(r, properties, true)
    }

    fn role(&self) -> wit::Role {
        match self.inner.borrow().role() {
            core::Role::Client => wit::Role::Client,
            core::Role::Server => wit::Role::Server,
        }
    }

    fn state(&self) -> wit::State {
        state(self.inner.borrow().state())
    }

    fn begin_client_handshake(
        &self,
        subprotocols: Vec<String>,
        extensions: Vec<String>,
        initial_headers: Vec<wit::HttpHeader>,
    ) -> Result<Vec<wit::HttpHeader>, wit::Error> {
        let subprotocols: Vec<&str> = subprotocols.iter().map(String::as_str).collect();
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let mut h = self.inner.borrow_mut();
        h.begin_client_handshake(&subprotocols, &extensions, &headers_in(&initial_headers))
            .map(headers_out)
            .map_err(|e| error(&e))
    }

    fn end_client_handshake(
        &self,
        response_headers: Vec<wit::HttpHeader>,
    ) -> Result<wit::ClientHandshakeOutcome, wit::Error> {
        let outcome =
            self.inner.borrow_mut().end_client_handshake(&headers_in(&response_headers)).map_err(|e| error(&e))?;
        Ok(wit::ClientHandshakeOutcome {
            subprotocol: outcome.subprotocol.map(|i| i as u32),
            extensions: outcome.extensions.into_iter().map(|i| i as u32).collect(),
        })
    }

    fn begin_server_handshake(
        &self,
        subprotocol: Option<String>,
        extensions: Vec<String>,
        request_headers: Vec<wit::HttpHeader>,
    ) -> Result<Vec<wit::HttpHeader>, wit::Error> {
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let mut h = self.inner.borrow_mut();
        h.begin_server_handshake(subprotocol.as_deref(), &extensions, &headers_in(&request_headers))
            .map(headers_out)
            .map_err(|e| error(&e))
    }

    fn end_server_handshake(&self) -> Result<(), wit::Error> {
        self.inner.borrow_mut().end_server_handshake().map_err(|e| error(&e))
    }

    fn send(&self, ty: wit::BufferType, buffer: Option<wit::SendBuffer>, context: u64) -> Result<(), wit::Error> {
        let buffer = buffer.map(|b| match b {
            wit::SendBuffer::Data(d) => core::SendBuffer::Data(d),
            wit::SendBuffer::Close(c) => {
                core::SendBuffer::Close { status: core::CloseStatus(c.status), reason: c.reason }
            }
            wit::SendBuffer::LastReceived => core::SendBuffer::LastReceived,
        });
        self.inner.borrow_mut().send(buffer_type(ty), buffer, context).map_err(|e| error(&e))
    }

    fn receive(&self, max_piece: Option<u32>, context: u64) -> Result<(), wit::Error> {
        // The piece goes back across the boundary as its own list either way: a buffer
        // of exactly `max-piece` bytes per receive, moved out in the indication.
        let buffer = max_piece.map(|n| Vec::with_capacity(n as usize));
        self.inner.borrow_mut().receive(buffer, context).map_err(|e| error(&e))
    }

    fn get_action(&self, q: wit::ActionQueue) -> Result<wit::Action, wit::Error> {
        let mut h = self.inner.borrow_mut();
        Ok(wit_action(h.get_action(queue(q)).map_err(|e| error(&e))?))
    }

    fn action(&self, action: u64) -> Result<wit::Action, wit::Error> {
        let mut h = self.inner.borrow_mut();
        Ok(wit_action(h.action(token(action)?).map_err(|e| error(&e))?))
    }

    fn receive_buffer_size(&self) -> u32 {
        self.inner.borrow().receive_buffer_size() as u32
    }

    fn send_buffer_size(&self) -> u32 {
        self.inner.borrow().send_buffer_size() as u32
    }

    fn complete_action(&self, action: u64, bytes_transferred: u32) -> Result<(), wit::Error> {
        self.inner.borrow_mut().complete_action(token(action)?, bytes_transferred as usize).map_err(|e| error(&e))
    }

    fn complete_receive(&self, action: u64, data: Vec<u8>) -> Result<(), wit::Error> {
        let token = token(action)?;
        let mut h = self.inner.borrow_mut();
        match h.action(token).map_err(|e| error(&e))? {
            core::Action::ReceiveFromNetwork { buffer, .. } if data.len() <= buffer.len() => {
                buffer[..data.len()].copy_from_slice(&data);
            }
            core::Action::ReceiveFromNetwork { buffer, .. } => {
                return Err(error(&core::Error::TooManyBytesTransferred { reported: data.len(), max: buffer.len() }));
            }
            _ => return Err(error(&core::Error::UnknownActionContext)),
        }
        h.complete_action(token, data.len()).map_err(|e| error(&e))
    }

    fn step(
        &self,
        done: Option<wit::Completion>,
        then: Option<wit::Operation>,
        q: wit::ActionQueue,
    ) -> Result<wit::Action, wit::StepError> {
        match done {
            Some(wit::Completion::Transferred(t)) => self.complete_action(t.action, t.bytes),
            Some(wit::Completion::Received(r)) => self.complete_receive(r.action, r.data),
            None => Ok(()),
        }
        .map_err(wit::StepError::Completion)?;
        match then {
            Some(wit::Operation::Send(s)) => self.send(s.buffer_type, s.buffer, s.context),
            Some(wit::Operation::Receive(r)) => self.receive(r.max_piece, r.context),
            None => Ok(()),
        }
        .map_err(wit::StepError::Operation)?;
        self.get_action(q).map_err(wit::StepError::GetAction)
    }

    fn push_received(&self, data: Vec<u8>) -> Result<(), wit::Error> {
        self.inner.borrow_mut().push_received(&data).map_err(|e| error(&e))
    }

    fn abort(&self) {
        self.inner.borrow_mut().abort();
    }
}

/// A `head-parser` resource.
pub struct HeadParser(RefCell<core::HeadParser>);

fn head_request(r: core::RequestHead<'_>) -> wit::Head {
    wit::Head {
        method: r.method.to_owned(),
        target: r.target.to_owned(),
        status: 0,
        reason: String::new(),
        headers: headers_out(&r.headers),
    }
}

fn head_response(r: core::ResponseHead<'_>) -> wit::Head {
    wit::Head {
        method: String::new(),
        target: String::new(),
        status: r.status,
        reason: r.reason.to_owned(),
        headers: headers_out(&r.headers),
    }
}

impl wit::GuestHeadParser for HeadParser {
    fn new(max_len: u32, max_headers: u32) -> Self {
        HeadParser(RefCell::new(core::HeadParser::new(core::HeadLimits {
            max_len: max_len as usize,
            max_headers: max_headers as usize,
        })))
    }

    fn push(&self, bytes: Vec<u8>) -> Result<bool, wit::Error> {
        self.0.borrow_mut().push(&bytes).map_err(|e| error(&e))
    }

    fn request(&self) -> Result<wit::Head, wit::Error> {
        self.0.borrow().request().map(head_request).map_err(|e| error(&e))
    }

    fn response(&self) -> Result<wit::Head, wit::Error> {
        self.0.borrow().response().map(head_response).map_err(|e| error(&e))
    }

    fn rest(&self) -> Vec<u8> {
        self.0.borrow().rest().to_vec()
    }
}

fn options_in(o: wit::Options) -> Result<core::Options, core::Error> {
    Ok(core::Options {
        properties: o.properties.into_iter().map(property).collect::<Result<_, _>>()?,
        subprotocols: o.subprotocols,
        extensions: o.extensions,
        deflate: o.deflate.map(deflate_in),
        headers: o
            .headers
            .into_iter()
            .map(|h| core::HttpHeader { name: h.name.into(), value: h.value.into() })
            .collect(),
        defer_accept: o.defer_accept,
        head_limits: core::HeadLimits { max_len: o.max_head_len as usize, max_headers: o.max_head_headers as usize },
        max_message_size: o.max_message_size,
        max_fragments: o.max_fragments,
        reassemble: o.reassemble,
        ping_interval: o.ping_interval,
        pong_timeout: o.pong_timeout,
        close_timeout: o.close_timeout,
        open_timeout: o.open_timeout,
        max_buffered_input: usize::try_from(o.max_buffered_input).unwrap_or(usize::MAX),
    })
}

fn connection_state(s: core::ConnectionState) -> wit::ConnectionState {
    match s {
        core::ConnectionState::Connecting => wit::ConnectionState::Connecting,
        core::ConnectionState::Open => wit::ConnectionState::Open,
        core::ConnectionState::Closing => wit::ConnectionState::Closing,
        core::ConnectionState::Closed => wit::ConnectionState::Closed,
    }
}

fn event(e: core::Event<'_>) -> wit::Event {
    match e {
        core::Event::Request { target, headers } => {
            wit::Event::Request(wit::Request { target: target.to_owned(), headers: headers_out(&headers) })
        }
        core::Event::Open { subprotocol, target, headers } => wit::Event::Open(wit::Opened {
            subprotocol: subprotocol.map(str::to_owned),
            target: target.map(str::to_owned),
            headers: headers_out(&headers),
        }),
        core::Event::Message { text, data, fin } => {
            wit::Event::Message(wit::Message { text, data: data.to_vec(), fin })
        }
        core::Event::Ping(payload) => wit::Event::Ping(payload.to_vec()),
        core::Event::Pong(payload) => wit::Event::Pong(payload.to_vec()),
        core::Event::CloseReceived { status, reason } => {
            wit::Event::CloseReceived(wit::CloseReceived { status: status.0, reason: reason.to_owned() })
        }
        core::Event::Failed { error: e, status_sent } => {
            wit::Event::Failed(wit::Failure { error: error(&e), status_sent: status_sent.map(|s| s.0) })
        }
        core::Event::Closed { clean, status, reason } => {
            wit::Event::Closed(wit::Closed { clean, status: status.0, reason: reason.to_owned() })
        }
    }
}

/// What a call hands back: every event (`poll_event` until `None`), every byte to write
/// (`take_output`, counted written: the host writes them), and the next
/// deadline; the connection's buffers are released until the next call. Taking the output can let more events out (a large frame held the receive
/// side), so both are drained until neither has more.
fn progress(c: &mut core::Connection<Vec<u8>>) -> wit::Progress {
    drain(c, false, 0)
}

/// [`progress`], with `echo`: each message piece is sent back (`send_received`) as it
/// is polled, before the next is read, and left out of the events. The output is
/// allocated for `expected` bytes at once (an echo writes about what it read), not
/// grown, which would copy it again.
fn drain(c: &mut core::Connection<Vec<u8>>, echo: bool, expected: usize) -> wit::Progress {
    let mut events = Vec::new();
    let mut output = Vec::with_capacity(expected);
    loop {
        while let Some(e) = c.poll_event() {
            if echo && matches!(e, core::Event::Message { .. }) {
                drop(e);
                // Refused only after this side's close: the piece is dropped (see WIT).
                let _ = c.send_received();
                continue;
            }
            events.push(event(e));
        }
        if !c.wants_write() {
            break;
        }
        c.take_output(&mut output);
    }
    // Between calls nothing is lent or held for the host: an idle connection's buffers
    // go back to the instance's pool until its next call (it then holds about 1 KiB).
    c.release_buffers();
    wit::Progress { events, output, wake_up: c.poll_timeout() }
}

/// A `connection` resource: the core connection, with send payloads as the component
/// model hands them over (moved in, not copied again).
pub struct Connection {
    inner: RefCell<core::Connection<Vec<u8>>>,
}

impl Connection {
    fn resource(inner: core::Result<core::Connection<Vec<u8>>>) -> Result<wit::Connection, wit::Error> {
        let inner = inner.map_err(|e| error(&e))?;
        Ok(wit::Connection::new(Connection { inner: RefCell::new(inner) }))
    }

    /// One entry of a `send` batch.
    fn queue(c: &mut core::Connection<Vec<u8>>, o: wit::Outgoing, now: u64) -> core::Result<()> {
        match o {
            wit::Outgoing::Text(p) => c.send_text(p.data, p.fin),
            wit::Outgoing::Binary(p) => c.send_binary(p.data, p.fin),
            wit::Outgoing::Ping(payload) => c.ping(&payload),
            wit::Outgoing::Pong(payload) => c.pong(&payload),
            wit::Outgoing::Close(None) => c.close(now, None, ""),
            wit::Outgoing::Close(Some(f)) => {
                let reason = std::str::from_utf8(&f.reason).map_err(|_| core::Error::InvalidOutgoingUtf8)?;
                c.close(now, Some(core::CloseStatus(f.status)), reason)
            }
        }
    }
}

impl wit::GuestConnection for Connection {
    fn client(now: u64, options: wit::Options, url: String) -> Result<wit::Connection, wit::Error> {
        let request = core::ClientRequest::from_url(&url).map_err(|e| error(&e))?;
        let options = options_in(options).map_err(|e| error(&e))?;
        Connection::resource(core::Connection::client(now, options, &request))
    }

    fn server(now: u64, options: wit::Options) -> Result<wit::Connection, wit::Error> {
        let options = options_in(options).map_err(|e| error(&e))?;
        Connection::resource(core::Connection::server(now, options))
    }

    fn from_upgraded(r: wit::Role, now: u64, options: wit::Options) -> Result<wit::Connection, wit::Error> {
        let options = options_in(options).map_err(|e| error(&e))?;
        Connection::resource(core::Connection::from_upgraded(role(r), now, options))
    }

    fn client_connect(
        now: u64,
        options: wit::Options,
        url: String,
    ) -> Result<(wit::Connection, Vec<wit::HttpHeader>), wit::Error> {
        let request = core::ClientRequest::from_url(&url).map_err(|e| error(&e))?;
        let options = options_in(options).map_err(|e| error(&e))?;
        let (c, fields) = core::Connection::client_connect(now, options, &request).map_err(|e| error(&e))?;
        Ok((Connection::resource(Ok(c))?, headers_out(&fields)))
    }

    fn accept_connect(
        now: u64,
        options: wit::Options,
        request: Vec<wit::HttpHeader>,
    ) -> Result<(wit::Connection, Vec<wit::HttpHeader>), wit::Error> {
        let options = options_in(options).map_err(|e| error(&e))?;
        let (c, fields) =
            core::Connection::accept_connect(now, options, &headers_in(&request)).map_err(|e| error(&e))?;
        Ok((Connection::resource(Ok(c))?, headers_out(&fields)))
    }

    fn connect_response(&self, status: u16, headers: Vec<wit::HttpHeader>) -> Result<wit::Progress, wit::Error> {
        let mut c = self.inner.borrow_mut();
        c.connect_response(status, &headers_in(&headers)).map_err(|e| error(&e))?;
        Ok(progress(&mut c))
    }

    fn read(&self, input: Vec<u8>, now: u64) -> Result<wit::Progress, wit::Error> {
        let mut c = self.inner.borrow_mut();
        c.feed_vec(input, now).map_err(|e| error(&e))?;
        Ok(progress(&mut c))
    }

    fn read_echo(&self, input: Vec<u8>, now: u64) -> Result<wit::Progress, wit::Error> {
        let mut c = self.inner.borrow_mut();
        let expected = input.len() + 64;
        c.feed_vec(input, now).map_err(|e| error(&e))?;
        Ok(drain(&mut c, true, expected))
    }

    fn read_eof(&self) -> wit::Progress {
        let mut c = self.inner.borrow_mut();
        c.read_eof();
        progress(&mut c)
    }

    fn send(&self, batch: Vec<wit::Outgoing>, now: u64) -> Result<wit::Progress, wit::SendError> {
        let mut c = self.inner.borrow_mut();
        for (index, o) in batch.into_iter().enumerate() {
            if let Err(e) = Connection::queue(&mut c, o, now) {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                return Err(wit::SendError { index, error: error(&e), progress: progress(&mut c) });
            }
        }
        Ok(progress(&mut c))
    }

    fn handle_timeout(&self, now: u64) -> wit::Progress {
        let mut c = self.inner.borrow_mut();
        c.handle_timeout(now);
        progress(&mut c)
    }

    fn accept(&self, subprotocol: Option<String>, headers: Vec<wit::HttpHeader>) -> Result<wit::Progress, wit::Error> {
        let mut c = self.inner.borrow_mut();
        c.accept(subprotocol.as_deref(), &headers_in(&headers)).map_err(|e| error(&e))?;
        Ok(progress(&mut c))
    }

    fn reject(&self, status: u16, message: String) -> Result<wit::Progress, wit::Error> {
        let mut c = self.inner.borrow_mut();
        c.reject(status, &message).map_err(|e| error(&e))?;
        Ok(progress(&mut c))
    }

    fn abort(&self) -> wit::Progress {
        let mut c = self.inner.borrow_mut();
        c.abort();
        progress(&mut c)
    }

    fn state(&self) -> wit::ConnectionState {
        connection_state(self.inner.borrow().state())
    }

    fn buffered_amount(&self) -> u64 {
        self.inner.borrow().buffered_amount() as u64
    }

    fn subprotocol(&self) -> Option<String> {
        self.inner.borrow().subprotocol().map(str::to_owned)
    }

    fn extensions(&self) -> Option<String> {
        self.inner.borrow().extensions().map(str::to_owned)
    }
}

fn default_options() -> wit::Options {
    let d = core::Options::default();
    wit::Options {
        // The defaults set none (a client adds its random-seed).
        properties: Vec::new(),
        subprotocols: d.subprotocols,
        extensions: d.extensions,
        deflate: d.deflate.as_ref().map(deflate_out),
        headers: headers_out(&d.headers),
        defer_accept: d.defer_accept,
        max_head_len: u32::try_from(d.head_limits.max_len).unwrap_or(u32::MAX),
        max_head_headers: u32::try_from(d.head_limits.max_headers).unwrap_or(u32::MAX),
        max_message_size: d.max_message_size,
        max_fragments: d.max_fragments,
        reassemble: d.reassemble,
        ping_interval: d.ping_interval,
        pong_timeout: d.pong_timeout,
        close_timeout: d.close_timeout,
        open_timeout: d.open_timeout,
        max_buffered_input: d.max_buffered_input as u64,
    }
}

impl wit::Guest for Component {
    type Handle = Handle;
    type HeadParser = HeadParser;
    type Connection = Connection;

    fn default_options() -> wit::Options {
        default_options()
    }

    fn encode_request_head(target: String, headers: Vec<wit::HttpHeader>) -> Result<Vec<u8>, wit::Error> {
        core::encode_request_head(&target, &headers_in(&headers)).map_err(|e| error(&e))
    }

    fn encode_response_head(status: u16, reason: String, headers: Vec<wit::HttpHeader>) -> Result<Vec<u8>, wit::Error> {
        core::encode_response_head(status, &reason, &headers_in(&headers)).map_err(|e| error(&e))
    }

    fn encode_rejection(e: wit::Error) -> Vec<u8> {
        let d = detail(&e);
        core::encode_rejection_status(d.http_status.unwrap_or_default(), &d.message)
    }

    fn close_reply(status: u16, reason: Vec<u8>) -> Option<wit::CloseFrame> {
        match core::CloseStatus(status).reply::<Vec<u8>>(&reason)? {
            core::SendBuffer::Close { status, reason } => Some(wit::CloseFrame { status: status.0, reason }),
            _ => None,
        }
    }

    fn choose_subprotocol(request_headers: Vec<wit::HttpHeader>, supported: Vec<String>) -> Option<String> {
        core::choose_subprotocol(&headers_in(&request_headers), &supported).map(str::to_owned)
    }

    fn offered_subprotocols(request_headers: Vec<wit::HttpHeader>) -> Vec<String> {
        core::offered_subprotocols(&headers_in(&request_headers)).into_iter().map(str::to_owned).collect()
    }

    fn accept_key(key: String) -> String {
        core::accept_key(key.as_bytes())
    }

    fn default_deflate_options() -> wit::DeflateOptions {
        deflate_out(&core::DeflateOptions::default())
    }

    fn deflate_offer(options: wit::DeflateOptions) -> Result<String, wit::Error> {
        deflate_in(options).offer().map_err(|e| error(&e))
    }

    fn accept_deflate(
        request_headers: Vec<wit::HttpHeader>,
        options: wit::DeflateOptions,
    ) -> Result<Option<String>, wit::Error> {
        core::accept_deflate(&headers_in(&request_headers), &deflate_in(options)).map_err(|e| error(&e))
    }

    fn keepalive_interval() -> u32 {
        match core::global_property(core::PropertyType::KeepaliveInterval) {
            Ok(core::GlobalProperty::KeepaliveInterval(ms)) => ms,
            _ => core::DEFAULT_KEEPALIVE_INTERVAL_MS,
        }
    }

    fn set_keepalive_interval(ms: u32) -> u32 {
        core::set_keepalive_interval(ms)
    }

    fn supported_versions() -> Vec<u32> {
        core::SUPPORTED_VERSIONS.to_vec()
    }

    fn read_frame_header(bytes: Vec<u8>) -> Result<Option<wit::FrameHeader>, wit::Error> {
        let header = core::inspect_frame_header(&bytes).map_err(|e| error(&e))?;
        Ok(header.map(|h| wit::FrameHeader {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            mask: h.mask.map(|[a, b, c, d]| (a, b, c, d)),
            payload_length: h.payload_len,
            header_length: h.header_len as u32,
        }))
    }
}
