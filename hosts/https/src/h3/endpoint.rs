//! The endpoint's task: one UDP socket, its QUIC connections (a client's one, a server's
//! many), their HTTP/3 events, and the streams' bytes.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use boring::ssl::SslContextBuilder;
use quiche::h3::{self, NameValue};
use quiche::{ConnectionId, Shutdown};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::time::{DelayQueue, delay_queue};

use super::stream::{Shared, move_bytes};
use super::{
    H3_NO_ERROR, H3_REQUEST_CANCELLED, H3_REQUEST_REJECTED, IDLE_TIMEOUT, MAX_CONNECTIONS, MAX_DATAGRAM, MAX_STREAMS,
    Open, Request, Response, SOCKET_BUFFER, STREAM_BUFFER, Stream, gone,
};

/// Asks for socket buffers of [`SOCKET_BUFFER`] (the kernel may grant less:
/// `net.core.rmem_max`): a task that falls behind must not lose datagrams to a full
/// queue, which QUIC would take for congestion.
pub(super) fn enlarge_buffers(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
}

/// QUIC and HTTP/3 settings, both roles: ALPN `h3`, flow control windows a few stream
/// buffers wide, [`MAX_STREAMS`] request streams. Congestion control is quiche's BBRv2
/// (gcongestion): with its default CUBIC recovery, a connection whose probe timeouts
/// fired spuriously (a loopback round trip of 250 ms on a starved machine) now and then
/// counted bytes in flight with no timer left to clear them and stopped sending for
/// good (1 to 2 runs in 50 of the multiplexing test on 2 loaded cores; none in 75 with
/// BBRv2).
pub(super) fn transport_config(tls: SslContextBuilder) -> io::Result<quiche::Config> {
    let mut config =
        quiche::Config::with_boring_ssl_ctx_builder(quiche::PROTOCOL_VERSION, tls).map_err(io::Error::other)?;
    config.set_application_protos(h3::APPLICATION_PROTOCOL).map_err(io::Error::other)?;
    config.set_max_idle_timeout(IDLE_TIMEOUT.as_millis() as u64);
    config.set_max_recv_udp_payload_size(65_527);
    config.set_max_send_udp_payload_size(MAX_DATAGRAM);
    config.set_initial_max_data(16 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_bidi_local(4 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_bidi_remote(4 * STREAM_BUFFER as u64);
    config.set_initial_max_stream_data_uni(STREAM_BUFFER as u64);
    config.set_initial_max_streams_bidi(MAX_STREAMS);
    config.set_initial_max_streams_uni(16);
    config.set_disable_active_migration(true);
    config.set_cc_algorithm(quiche::CongestionControlAlgorithm::Bbr2Gcongestion);
    Ok(config)
}

pub(super) fn random_id() -> io::Result<[u8; quiche::MAX_CONN_ID_LEN]> {
    let mut id = [0; quiche::MAX_CONN_ID_LEN];
    SystemRandom::new().fill(&mut id).map_err(|_| io::Error::other("no randomness"))?;
    Ok(id)
}

/// A server's part of an endpoint.
pub(super) struct Listening {
    pub(super) config: quiche::Config,
    /// Makes a connection's id from the id the client chose, so that all its Initial
    /// packets find the connection (no state kept per unknown id).
    pub(super) cid_key: hmac::Key,
    pub(super) accepted: mpsc::Sender<Request>,
}

/// One UDP socket's QUIC connections (a client's one, or a server's many) and their
/// task. A turn of the task services only the connections something happened to (a
/// packet, a timer, a request, a stream), whatever their number.
pub(super) struct Endpoint {
    pub(super) socket: UdpSocket,
    pub(super) local: SocketAddr,
    /// By the connection id we gave (a server also finds one by its client's original
    /// id, through `Listening::cid_key`).
    pub(super) conns: HashMap<Vec<u8>, Conn>,
    pub(super) server: Option<Listening>,
    pub(super) h3_config: h3::Config,
    /// The connections to service, and the task's wake-up.
    wakes: Arc<Wakes>,
    /// Each connection's next QUIC deadline (`Conn::timer`).
    timers: DelayQueue<Vec<u8>>,
}

/// What wakes the endpoint's task, and for which connections.
#[derive(Default)]
pub(super) struct Wakes {
    notify: Notify,
    /// The ids of the connections to service on the next turn, each once.
    queued: Mutex<Vec<Vec<u8>>>,
}

/// A connection's place in its endpoint's [`Wakes`], shared with its streams.
pub(super) struct ConnWake {
    id: Vec<u8>,
    /// In `Wakes::queued`: the endpoint clears it as it services the connection.
    queued: AtomicBool,
    wakes: Arc<Wakes>,
}

impl ConnWake {
    /// Has the next turn service the connection (called on the endpoint's task).
    fn queue(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.wakes.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(self.id.clone());
        }
    }

    /// Has the endpoint's task, asleep or not, service the connection (called by its
    /// streams: something to send, or room to receive).
    pub(super) fn wake(&self) {
        self.queue();
        self.wakes.notify.notify_one();
    }
}

/// One QUIC connection and its HTTP/3 streams.
pub(super) struct Conn {
    pub(super) quic: quiche::Connection,
    pub(super) h3: Option<h3::Connection>,
    pub(super) streams: HashMap<u64, Arc<Shared>>,
    /// A client's requests not yet sent (HTTP/3 not up, or no stream credit).
    pub(super) queued: VecDeque<Open>,
    /// A client's requests sent, awaiting their response.
    pub(super) awaiting: HashMap<u64, oneshot::Sender<io::Result<Response>>>,
    /// A client's connect, told once the server's settings came.
    pub(super) ready: Option<oneshot::Sender<io::Result<()>>>,
    /// Queues it for the task's next turn (shared with its streams).
    pub(super) wake: Arc<ConnWake>,
    /// Its entry in `Endpoint::timers`, and the deadline it is at.
    timer: Option<(delay_queue::Key, Instant)>,
}

impl Conn {
    /// Why the connection ended, for the streams and requests it leaves.
    pub(super) fn end_reason(&self) -> String {
        match (self.quic.peer_error(), self.quic.local_error()) {
            (Some(e), _) => format!(
                "the peer closed the HTTP/3 connection ({:#x}: {})",
                e.error_code,
                String::from_utf8_lossy(&e.reason)
            ),
            (None, Some(e)) => {
                format!("the HTTP/3 connection failed ({:#x}: {})", e.error_code, String::from_utf8_lossy(&e.reason))
            }
            _ if self.quic.is_timed_out() => "the HTTP/3 connection timed out".to_owned(),
            _ => "the HTTP/3 connection is closed".to_owned(),
        }
    }

    /// Fails everything the connection still holds; it is closed.
    pub(super) fn fail_all(&mut self) {
        let why = self.end_reason();
        for shared in self.streams.values() {
            shared.lock().fail(io::ErrorKind::ConnectionAborted, why.clone());
        }
        self.streams.clear();
        let error = || io::Error::new(io::ErrorKind::ConnectionAborted, why.clone());
        for open in self.queued.drain(..) {
            let _ = open.reply.send(Err(error()));
        }
        for (_, reply) in self.awaiting.drain() {
            let _ = reply.send(Err(error()));
        }
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(error()));
        }
    }
}

impl Endpoint {
    pub(super) fn new(socket: UdpSocket, local: SocketAddr, server: Option<Listening>) -> io::Result<Self> {
        let mut h3_config = h3::Config::new().map_err(io::Error::other)?;
        h3_config.enable_extended_connect(true);
        h3_config.set_max_field_section_size(16 * 1024);
        Ok(Self {
            socket,
            local,
            conns: HashMap::new(),
            server,
            h3_config,
            wakes: Arc::default(),
            timers: DelayQueue::new(),
        })
    }

    /// Adds a connection whose id (the one we gave) is `id`; it is serviced on the next
    /// turn.
    pub(super) fn add(&mut self, id: Vec<u8>, quic: quiche::Connection) -> &mut Conn {
        let wake = Arc::new(ConnWake { id: id.clone(), queued: AtomicBool::new(false), wakes: self.wakes.clone() });
        wake.queue();
        let conn = Conn {
            quic,
            h3: None,
            streams: HashMap::new(),
            queued: VecDeque::new(),
            awaiting: HashMap::new(),
            ready: None,
            wake,
            timer: None,
        };
        self.conns.entry(id).insert_entry(conn).into_mut()
    }

    /// The endpoint's loop: packets in, timers, streams' and requests' wake-ups; then
    /// the connections they concern serviced and their packets sent. A client's ends
    /// with its connection; a server's when its socket fails or nobody accepts.
    pub(super) async fn run(mut self, mut opens: Option<mpsc::UnboundedReceiver<Open>>) {
        let mut buf = vec![0; 65_535];
        let mut out = vec![0; MAX_DATAGRAM];
        loop {
            // The client's one connection closes once the client is dropped and its
            // streams are done.
            let client_gone = self.server.is_none() && opens.is_none();
            if client_gone {
                self.conns.values().for_each(|conn| conn.wake.queue());
            }
            let accepted = self.server.as_ref().map(|s| &s.accepted);
            let due = std::mem::take(&mut *self.wakes.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            for id in due {
                let Some(conn) = self.conns.get_mut(&id) else { continue };
                // From here on, a wake-up has it serviced again.
                conn.wake.queued.store(false, Ordering::Release);
                service(conn, &self.h3_config, accepted);
                if client_gone && conn.streams.is_empty() && conn.awaiting.is_empty() && !conn.quic.is_closed() {
                    let _ = conn.quic.close(true, H3_NO_ERROR, b"");
                }
                flush(conn, &self.socket, &mut out).await;
                // Only what the task does to a connection changes its deadline or closes
                // it, and the task services a connection after each such change.
                let deadline = conn.quic.timeout_instant().map(Instant::from_std);
                match (conn.timer, deadline) {
                    _ if conn.quic.is_closed() => {
                        conn.fail_all();
                        if let Some((key, _)) = conn.timer {
                            self.timers.remove(&key);
                        }
                        self.conns.remove(&id);
                    }
                    (Some((_, at)), Some(deadline)) if at == deadline => {}
                    (Some((key, _)), Some(deadline)) => {
                        self.timers.reset_at(&key, deadline);
                        conn.timer = Some((key, deadline));
                    }
                    (None, Some(deadline)) => conn.timer = Some((self.timers.insert_at(id, deadline), deadline)),
                    (Some((key, _)), None) => {
                        self.timers.remove(&key);
                        conn.timer = None;
                    }
                    (None, None) => {}
                }
            }
            if self.server.is_none() && self.conns.is_empty() {
                break;
            }
            if self.server.as_ref().is_some_and(|s| s.accepted.is_closed()) {
                break;
            }
            let timers = &mut self.timers;
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        self.receive(&mut buf[..n], from, &mut out).await;
                        // Whatever else came meanwhile, before servicing.
                        while let Ok((n, from)) = self.socket.try_recv_from(&mut buf) {
                            self.receive(&mut buf[..n], from, &mut out).await;
                        }
                    }
                    // An earlier datagram's ICMP error, reported here: that peer's loss.
                    Err(e) if about_a_datagram(&e) => {}
                    Err(_) => break,
                },
                Some(expired) = poll_fn(|cx| timers.poll_expired(cx)), if !timers.is_empty() => {
                    if let Some(conn) = self.conns.get_mut(expired.get_ref()) {
                        conn.timer = None;
                        conn.quic.on_timeout();
                        conn.wake.queue();
                    }
                }
                () = self.wakes.notify.notified() => {}
                open = async { opens.as_mut()?.recv().await }, if opens.is_some() => match open {
                    // A client's endpoint has its one connection.
                    Some(open) => match self.conns.values_mut().next() {
                        Some(conn) => {
                            conn.queued.push_back(open);
                            conn.wake.queue();
                        }
                        None => { let _ = open.reply.send(Err(gone())); }
                    },
                    None => opens = None,
                },
            }
        }
        for conn in self.conns.values_mut() {
            conn.fail_all();
        }
    }

    /// One datagram: to its connection, or a new one (server).
    pub(super) async fn receive(&mut self, packet: &mut [u8], from: SocketAddr, out: &mut [u8]) {
        let Ok(header) = quiche::Header::from_slice(packet, quiche::MAX_CONN_ID_LEN) else { return };
        let info = quiche::RecvInfo { from, to: self.local };
        let mut id = header.dcid.to_vec();
        if !self.conns.contains_key(&id) {
            let Some(server) = &mut self.server else { return };
            let derived = hmac::sign(&server.cid_key, &header.dcid);
            id = derived.as_ref()[..quiche::MAX_CONN_ID_LEN].to_vec();
            if !self.conns.contains_key(&id) {
                if header.ty != quiche::Type::Initial || self.conns.len() >= MAX_CONNECTIONS {
                    return;
                }
                if !quiche::version_is_supported(header.version) {
                    if let Ok(n) = quiche::negotiate_version(&header.scid, &header.dcid, out) {
                        let _ = self.socket.send_to(&out[..n], from).await;
                    }
                    return;
                }
                let scid = ConnectionId::from_ref(&id);
                let Ok(quic) = quiche::accept(&scid, None, self.local, from, &mut server.config) else { return };
                self.add(id.clone(), quic);
            }
        }
        if let Some(conn) = self.conns.get_mut(&id) {
            let _ = conn.quic.recv(packet, info);
            conn.wake.queue();
        }
    }
}

/// Sends what QUIC has to send.
/// A datagram that cannot be sent is lost, as on the network: QUIC sends it again, and
/// ends the connection at its idle timeout if nothing gets through. (On a server's
/// socket, the error may even be about another peer's earlier datagram.)
pub(super) async fn flush(conn: &mut Conn, socket: &UdpSocket, out: &mut [u8]) {
    while let Ok((n, info)) = conn.quic.send(out) {
        let _ = socket.send_to(&out[..n], info.to).await;
    }
}

/// Errors a UDP socket reports for one datagram (ICMP unreachable, mostly), not for the
/// socket.
pub(super) fn about_a_datagram(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable | Interrupted)
}

/// Moves a connection along: HTTP/3 set up once QUIC is, its events handled, requests
/// sent, every stream's bytes moved both ways.
pub(super) fn service(conn: &mut Conn, h3_config: &h3::Config, accepted: Option<&mpsc::Sender<Request>>) {
    if conn.h3.is_none() && (conn.quic.is_established() || conn.quic.is_in_early_data()) {
        match h3::Connection::with_transport(&mut conn.quic, h3_config) {
            Ok(h3) => conn.h3 = Some(h3),
            Err(_) => return,
        }
    }
    let Some(h3) = conn.h3.as_mut() else { return };
    loop {
        match h3.poll(&mut conn.quic) {
            Ok((id, h3::Event::Headers { list, .. })) => {
                if let Some(reply) = conn.awaiting.remove(&id) {
                    let status = list
                        .iter()
                        .find(|f| f.name() == b":status")
                        .and_then(|f| std::str::from_utf8(f.value()).ok()?.parse::<u16>().ok());
                    match status {
                        // An interim response: the final one follows.
                        Some(100..=199) => {
                            conn.awaiting.insert(id, reply);
                        }
                        Some(status) => {
                            let shared = Shared::new(&conn.wake);
                            conn.streams.insert(id, shared.clone());
                            let fields = list.into_iter().filter(|f| f.name() != b":status").collect();
                            let _ = reply.send(Ok(Response { status, fields, stream: Stream { shared } }));
                        }
                        None => {
                            let _ = conn.quic.stream_shutdown(id, Shutdown::Read, H3_REQUEST_CANCELLED);
                            let _ = conn.quic.stream_shutdown(id, Shutdown::Write, H3_REQUEST_CANCELLED);
                            let _ = reply
                                .send(Err(io::Error::new(io::ErrorKind::InvalidData, "a response without :status")));
                        }
                    }
                } else if let Some(accepted) = accepted.filter(|_| !conn.streams.contains_key(&id)) {
                    let shared = Shared::new(&conn.wake);
                    let request = Request { fields: list, stream: Stream { shared: shared.clone() } };
                    if accepted.try_send(request).is_ok() {
                        conn.streams.insert(id, shared);
                    } else {
                        // The application is not keeping up: refuse the stream.
                        let _ = conn.quic.stream_shutdown(id, Shutdown::Read, H3_REQUEST_REJECTED);
                        let _ = conn.quic.stream_shutdown(id, Shutdown::Write, H3_REQUEST_REJECTED);
                    }
                }
            }
            Ok((id, h3::Event::Data)) => {
                if let Some(shared) = conn.streams.get(&id) {
                    shared.lock().unread = true;
                }
            }
            Ok((id, h3::Event::Finished)) => {
                if let Some(shared) = conn.streams.get(&id) {
                    let mut s = shared.lock();
                    s.eof = true;
                    s.wake();
                }
            }
            Ok((id, h3::Event::Reset(code))) => {
                if let Some(shared) = conn.streams.get(&id) {
                    shared
                        .lock()
                        .fail(io::ErrorKind::ConnectionReset, format!("the peer reset the stream ({code:#x})"));
                }
                if let Some(reply) = conn.awaiting.remove(&id) {
                    let _ = reply.send(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        format!("the server reset the request ({code:#x})"),
                    )));
                }
            }
            Ok((_, h3::Event::GoAway)) => {
                for open in conn.queued.drain(..) {
                    let _ = open
                        .reply
                        .send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the server is going away")));
                }
            }
            Ok((_, h3::Event::PriorityUpdate)) => {}
            Err(h3::Error::Done) => break,
            // quiche closed the connection: what the streams hold fails with it.
            Err(_) => break,
        }
    }
    if conn.h3.as_ref().is_some_and(|h3| h3.peer_settings_raw().is_some()) {
        if let Some(ready) = conn.ready.take() {
            let _ = ready.send(Ok(()));
        }
        send_requests(conn);
    }
    let Some(h3) = conn.h3.as_mut() else { return };
    conn.streams.retain(|&id, shared| move_bytes(h3, &mut conn.quic, id, &mut shared.lock()));
}

/// Sends a client's queued requests, as stream credit allows. RFC 9220 §3 sends an
/// extended CONNECT only to a server whose settings enabled it; the engine's requests
/// all are one.
pub(super) fn send_requests(conn: &mut Conn) {
    let Some(h3) = conn.h3.as_mut() else { return };
    while let Some(open) = conn.queued.pop_front() {
        if !h3.extended_connect_enabled_by_peer() {
            let _ = open.reply.send(Err(io::Error::other("the server did not enable extended CONNECT (RFC 9220)")));
            continue;
        }
        match h3.send_request(&mut conn.quic, &open.fields, false) {
            Ok(id) => {
                conn.awaiting.insert(id, open.reply);
            }
            Err(h3::Error::StreamBlocked | h3::Error::TransportError(quiche::Error::StreamLimit)) => {
                conn.queued.push_front(open);
                return;
            }
            Err(e) => {
                let _ = open.reply.send(Err(io::Error::other(format!("the request was not sent: {e}"))));
            }
        }
    }
}
