//! `wsengine-wt 127.0.0.1:0`: a WebTransport server on loopback whose every bidirectional
//! stream is a WebSocket connection served by the native engine (echo; subprotocol
//! `chat.v2` when offered). Its certificate is self-signed ECDSA P-256, valid for 14 days,
//! as `serverCertificateHashes` requires; the first line on stdout is
//! `{"port":PORT,"certHash":[32 bytes]}` for the page that connects.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use wsengine::{
    Action, ActionQueue, BufferType, Handle, HeadParser, Property, SendBuffer, State, encode_rejection,
    encode_response_head, offered_subprotocols,
};
use wtransport::stream::{RecvStream, SendStream};
use wtransport::tls::Sha256DigestFmt;
use wtransport::{Endpoint, Identity, ServerConfig};

#[tokio::main]
async fn main() -> Result<()> {
    let addr: SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into()).parse()?;
    if !addr.ip().is_loopback() {
        bail!("loopback only, not {}", addr.ip());
    }
    let identity = Identity::self_signed_builder()
        .subject_alt_names(["localhost", "127.0.0.1", "::1"])
        .from_now_utc()
        .validity_days(14)
        .build()?;
    let certificate =
        identity.certificate_chain().as_slice().first().context("a self-signed identity has a certificate")?;
    let hash = certificate.hash().fmt(Sha256DigestFmt::BytesArray);
    let config = ServerConfig::builder().with_bind_address(addr).with_identity(identity).build();
    let server = Endpoint::server(config)?;
    println!("{{\"port\":{},\"certHash\":{}}}", server.local_addr()?.port(), hash.replace(' ', ""));
    loop {
        let incoming = server.accept().await;
        tokio::spawn(async move {
            if let Err(e) = session(incoming).await {
                eprintln!("session: {e:#}");
            }
        });
    }
}

/// One WebTransport session: each bidirectional stream is a WebSocket connection.
async fn session(incoming: wtransport::endpoint::IncomingSession) -> Result<()> {
    let connection = incoming.await?.accept().await?;
    loop {
        let (send, recv) = connection.accept_bi().await?;
        tokio::spawn(async move {
            if let Err(e) = websocket(send, recv).await {
                eprintln!("stream: {e:#}");
            }
        });
    }
}

/// The server's opening handshake, then the echo loop, over one stream.
async fn websocket(mut send: SendStream, mut recv: RecvStream) -> Result<()> {
    let mut parser = HeadParser::new(Default::default());
    let mut chunk = vec![0u8; 4096];
    loop {
        let n = recv.read(&mut chunk).await?.context("the stream ended inside the HTTP head")?;
        if parser.push(&chunk[..n])? {
            break;
        }
    }
    let mut h: Handle = Handle::new_server([Property::ReceiveBufferSize(65536)])?;
    let request = parser.request()?;
    let chosen = offered_subprotocols(&request.headers).into_iter().find(|p| *p == "chat.v2");
    match h.begin_server_handshake(chosen, &[], &request.headers) {
        Ok(headers) => send.write_all(&encode_response_head(101, "Switching Protocols", headers)?).await?,
        Err(e) => {
            send.write_all(&encode_rejection(&e)).await?;
            return Err(e.into());
        }
    }
    h.end_server_handshake()?;
    h.push_received(parser.rest())?;
    echo(&mut h, &mut send, &mut recv).await?;
    send.finish().await.ok();
    Ok(())
}

/// Echoes every data piece (sent from the receive buffer, `LastReceived`) and answers the
/// peer's close; returns when the connection is over.
async fn echo(h: &mut Handle, send: &mut SendStream, recv: &mut RecvStream) -> Result<()> {
    let (mut sending, mut receiving, mut receive_over) = (false, false, false);
    let mut queued: Option<(BufferType, Option<SendBuffer<Vec<u8>>>)> = None;
    loop {
        if !sending && let Some((ty, buffer)) = queued.take() {
            h.send(ty, buffer, ())?;
            sending = true;
        }
        if !receiving && !sending && !receive_over && queued.is_none() {
            match h.receive(None, ()) {
                Ok(()) => receiving = true,
                Err(_) => receive_over = true,
            }
        }
        let queue = if receive_over { ActionQueue::Send } else { ActionQueue::All };
        match h.get_action(queue) {
            Err(e) => {
                // The peer broke the protocol: answer with the status the engine names.
                receive_over = true;
                receiving = false;
                if let Some(status) = e.close_status()
                    && h.state() == State::Failed
                    && queued.is_none()
                {
                    queued = Some((BufferType::Close, Some(SendBuffer::Close { status, reason: Vec::new() })));
                }
            }
            Ok(Action::NoAction) => return Ok(()),
            Ok(Action::SendToNetwork { buffers, action, .. }) => {
                let mut n = 0;
                for part in buffers.as_slices() {
                    if send.write_all(part).await.is_err() {
                        break;
                    }
                    n += part.len();
                }
                h.complete_action(action, n)?;
            }
            Ok(Action::ReceiveFromNetwork { buffer, action }) => {
                let n = recv.read(buffer).await.ok().flatten().unwrap_or(0);
                h.complete_action(action, n)?;
            }
            Ok(Action::IndicateSendComplete { action, .. }) => {
                sending = false;
                h.complete_action(action, 0)?;
            }
            Ok(Action::IndicateReceiveComplete { buffer_type, data, close_status, action, .. }) => {
                receiving = false;
                let reply = match (buffer_type, close_status) {
                    (Some(BufferType::Close), Some(status)) => Some(status.reply(data.as_slice())),
                    _ => None,
                };
                h.complete_action(action, 0)?;
                match buffer_type {
                    None => return Ok(()),
                    Some(BufferType::Close) => {
                        receive_over = true;
                        if h.state() == State::CloseReceived {
                            queued = Some((BufferType::Close, reply.flatten()));
                        }
                    }
                    Some(BufferType::PingPong) => {}
                    Some(ty) => queued = Some((ty, Some(SendBuffer::LastReceived))),
                }
            }
        }
    }
}
