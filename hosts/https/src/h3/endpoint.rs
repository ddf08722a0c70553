//! The endpoint's task: one UDP socket, its QUIC connections (a client's one, a server's
//! many), their HTTP/3 events, and the streams' bytes.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// How long a Retry's token is good for, in seconds: the client's next Initial follows
/// within a round trip.
const TOKEN_LIFETIME: u64 = 10;

/// A server's part of an endpoint.
pub(super) struct Listening {
    pub(super) config: quiche::Config,
    /// Makes a connection's id from the id the client chose, so that all its Initial
    /// packets find the connection (no state kept per unknown id).
    pub(super) cid_key: hmac::Key,
    /// Signs Retry tokens: a key of its own, as anyone sees the ids `cid_key` makes.
    pub(super) token_key: hmac::Key,
    /// New clients prove their address (Retry) while at least this many connections
    /// are held ([`Server::retry_from`](super::Server::retry_from)).
    pub(super) retry_from: Arc<AtomicUsize>,
    /// The connections held (`Endpoint::conns`' length, as of the task's last turn), for
    /// [`Server::connections`](super::Server::connections).
    pub(super) held: Arc<AtomicUsize>,
    pub(super) accepted: mpsc::Sender<Request>,
}

impl Listening {
    /// Our id for the connection whose client's first Initial went to `dcid`.
    fn id_for(&self, dcid: &[u8]) -> Vec<u8> {
        hmac::sign(&self.cid_key, dcid).as_ref()[..quiche::MAX_CONN_ID_LEN].to_vec()
    }
}

/// A Retry token for the client at `from` whose first Initial went to `odcid`, issued at
/// `now` (seconds since 1970): `now`, `odcid`, and a tag (`key`) over both and the
/// client's address.
fn retry_token(key: &hmac::Key, from: SocketAddr, odcid: &[u8], now: u64) -> Vec<u8> {
    let mut token = [&now.to_be_bytes()[..], odcid].concat();
    let tag = hmac::sign(key, &signed(from.ip(), &token));
    token.extend_from_slice(tag.as_ref());
    token
}

/// The first Initial's id a token carries, if it was made with `key` for `from`'s
/// address at most [`TOKEN_LIFETIME`] seconds before `now`.
fn check_token(key: &hmac::Key, from: SocketAddr, token: &[u8], now: u64) -> Option<Vec<u8>> {
    let tag_len = hmac::HMAC_SHA256.digest_algorithm().output_len();
    let (body, tag) = token.split_at_checked(token.len().checked_sub(tag_len)?)?;
    if body.len() < 8 || body.len() > 8 + quiche::MAX_CONN_ID_LEN {
        return None;
    }
    hmac::verify(key, &signed(from.ip(), body), tag).ok()?;
    let (issued, odcid) = body.split_at(8);
    let issued = u64::from_be_bytes(issued.try_into().ok()?);
    (issued <= now && now - issued <= TOKEN_LIFETIME).then(|| odcid.to_vec())
}

/// What a Retry token's tag covers: the client's address (not its port, which a NAT may
/// change), then the token's body.
fn signed(ip: IpAddr, body: &[u8]) -> Vec<u8> {
    let ip = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    [&ip[..], body].concat()
}

/// Seconds since 1970, for Retry tokens.
fn unix_time() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
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
    /// The connections to service on the next turn, each once.
    queued: Mutex<Vec<Arc<ConnWake>>>,
}

/// A connection's place in its endpoint's [`Wakes`], shared with its streams.
pub(super) struct ConnWake {
    id: Vec<u8>,
    /// In `Wakes::queued`: the endpoint clears it as it services the connection.
    queued: AtomicBool,
    /// Weak: the queue holds the `ConnWake`s, and a stream may outlive the endpoint.
    wakes: Weak<Wakes>,
}

impl ConnWake {
    /// Has the next turn of the endpoint whose `wakes` these are service the connection
    /// (the task passes its own, so needs no upgrade of the weak reference).
    fn queue(self: &Arc<Self>, wakes: &Wakes) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            wakes.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Arc::clone(self));
        }
    }

    /// Has the endpoint's task, asleep or not, service the connection (called by its
    /// streams: something to send, or room to receive). Nothing once the task ended.
    pub(super) fn wake(self: &Arc<Self>) {
        if let Some(wakes) = self.wakes.upgrade() {
            self.queue(&wakes);
            wakes.notify.notify_one();
        }
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
    /// Its entry in `Endpoint::timers`.
    timer: Option<delay_queue::Key>,
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
        let wake =
            Arc::new(ConnWake { id: id.clone(), queued: AtomicBool::new(false), wakes: Arc::downgrade(&self.wakes) });
        wake.queue(&self.wakes);
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
                self.conns.values().for_each(|conn| conn.wake.queue(&self.wakes));
            }
            let accepted = self.server.as_ref().map(|s| &s.accepted);
            let due = std::mem::take(&mut *self.wakes.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            for wake in due {
                // (A connection gone since, or one that took over its id, is skipped.)
                let Some(conn) = self.conns.get_mut(&wake.id).filter(|c| Arc::ptr_eq(&c.wake, &wake)) else { continue };
                // From here on, a wake-up has it serviced again.
                wake.queued.store(false, Ordering::Release);
                service(conn, &self.h3_config, accepted);
                if client_gone && conn.streams.is_empty() && conn.awaiting.is_empty() && !conn.quic.is_closed() {
                    let _ = conn.quic.close(true, H3_NO_ERROR, b"");
                }
                flush(conn, &self.socket, &mut out).await;
                // Only what the task does to a connection changes its deadline or closes
                // it, and the task services a connection after each such change.
                let timer = conn.timer.take();
                if conn.quic.is_closed() {
                    conn.fail_all();
                    if let Some(key) = timer {
                        self.timers.remove(&key);
                    }
                    self.conns.remove(&wake.id);
                    continue;
                }
                conn.timer = match (timer, conn.quic.timeout_instant().map(Instant::from_std)) {
                    (Some(key), Some(deadline)) => {
                        self.timers.reset_at(&key, deadline);
                        Some(key)
                    }
                    (None, Some(deadline)) => Some(self.timers.insert_at(wake.id.clone(), deadline)),
                    (Some(key), None) => {
                        self.timers.remove(&key);
                        None
                    }
                    (None, None) => None,
                };
            }
            if let Some(server) = &self.server {
                server.held.store(self.conns.len(), Ordering::Relaxed);
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
                        conn.wake.queue(&self.wakes);
                    }
                }
                () = self.wakes.notify.notified() => {}
                open = async { opens.as_mut()?.recv().await }, if opens.is_some() => match open {
                    // A client's endpoint has its one connection.
                    Some(open) => match self.conns.values_mut().next() {
                        Some(conn) => {
                            conn.queued.push_back(open);
                            conn.wake.queue(&self.wakes);
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
        // Most packets: to an id we gave.
        if let Some(conn) = self.conns.get_mut(header.dcid.as_ref()) {
            let _ = conn.quic.recv(packet, info);
            conn.wake.queue(&self.wakes);
            return;
        }
        let Some(server) = &mut self.server else { return };
        let mut id = server.id_for(&header.dcid);
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
            let odcid = match header.token.as_deref().filter(|t| !t.is_empty()) {
                // The Initial after our Retry: to the id the Retry gave (ours for
                // the first Initial's), with the token it gave.
                Some(token) => {
                    let Some(odcid) = check_token(&server.token_key, from, token, unix_time()) else { return };
                    if server.id_for(&odcid) != header.dcid.as_ref() {
                        return;
                    }
                    id = header.dcid.to_vec();
                    Some(odcid)
                }
                None if self.conns.len() >= server.retry_from.load(Ordering::Relaxed) => {
                    // No state until the client shows it gets what is sent to its
                    // address.
                    let token = retry_token(&server.token_key, from, &header.dcid, unix_time());
                    let scid = ConnectionId::from_ref(&id);
                    if let Ok(n) = quiche::retry(&header.scid, &header.dcid, &scid, &token, header.version, out) {
                        let _ = self.socket.send_to(&out[..n], from).await;
                    }
                    return;
                }
                None => None,
            };
            let (scid, odcid) = (ConnectionId::from_ref(&id), odcid.as_deref().map(ConnectionId::from_ref));
            let Ok(quic) = quiche::accept(&scid, odcid.as_ref(), self.local, from, &mut server.config) else {
                return;
            };
            self.add(id.clone(), quic);
        }
        if let Some(conn) = self.conns.get_mut(&id) {
            let _ = conn.quic.recv(packet, info);
            conn.wake.queue(&self.wakes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_token_holds_for_its_address_and_lifetime_only() {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap();
        let other_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap();
        let from: SocketAddr = "192.0.2.7:4433".parse().unwrap();
        let odcid = [0x5a; 8];
        let now = 1_800_000_000;
        let token = retry_token(&key, from, &odcid, now);
        for later in 0..=TOKEN_LIFETIME {
            assert_eq!(check_token(&key, from, &token, now + later).as_deref(), Some(&odcid[..]));
        }
        // Another port of the same address (a NAT's rebinding) is the same client.
        assert!(check_token(&key, "192.0.2.7:9".parse().unwrap(), &token, now).is_some());
        assert!(check_token(&key, from, &token, now + TOKEN_LIFETIME + 1).is_none(), "expired");
        assert!(check_token(&key, from, &token, now - 1).is_none(), "issued in the future");
        assert!(check_token(&key, "192.0.2.8:4433".parse().unwrap(), &token, now).is_none());
        assert!(check_token(&key, "[::ffff:192.0.2.8]:4433".parse().unwrap(), &token, now).is_none());
        assert!(check_token(&other_key, from, &token, now).is_none(), "another server's");
        for i in 0..token.len() {
            let mut forged = token.clone();
            forged[i] ^= 1;
            assert!(check_token(&key, from, &forged, now).is_none(), "byte {i} changed");
            assert!(check_token(&key, from, &token[..i], now).is_none(), "cut at {i}");
        }
        // The longest id a client may choose fits; the empty one too.
        for odcid in [&[1; quiche::MAX_CONN_ID_LEN][..], &[]] {
            let token = retry_token(&key, from, odcid, now);
            assert_eq!(check_token(&key, from, &token, now).as_deref(), Some(odcid));
        }
    }
}
