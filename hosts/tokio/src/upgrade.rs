//! WebSockets from a hyper (or axum) HTTP/1.1 server: the engine checks the upgrade
//! request and makes the 101's header fields; hyper sends the response and hands over
//! the connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use wsengine::{Connection, HttpHeader, Options, RequestHead, rejection_headers};

use crate::{Error, WebSocketStream};

/// The WebSocket of an accepted upgrade: resolves once hyper has sent the 101 and
/// handed over the connection (spawn it: the response must be returned first).
pub struct Upgrade {
    on: OnUpgrade,
    conn: Option<Connection<Bytes>>,
    epoch: Instant,
}

/// Answers a WebSocket upgrade request on a hyper or axum server.
///
/// The request is checked and answered as the engine's own server would
/// ([`Connection::accept_request`]): the subprotocol is the first of
/// [`Options::subprotocols`] the client offered, permessage-deflate is accepted as
/// `options.deflate` allows (feature `deflate`). Returns the `101 Switching Protocols`
/// response to return from the handler and the [`Upgrade`] to await (in a task of its
/// own) for the [`WebSocketStream`]; or, when the request is no valid upgrade, the
/// response that refuses it (400, or 426 with `Sec-WebSocket-Version: 13`), its body
/// the reason.
///
/// ```ignore
/// async fn ws(mut req: axum::extract::Request) -> axum::response::Response {
///     match wsengine_tokio::upgrade(&mut req, wsengine::Options::default()) {
///         Ok((response, upgrade)) => {
///             tokio::spawn(async move { if let Ok(ws) = upgrade.await { /* use ws */ } });
///             response
///         }
///         Err(refusal) => refusal,
///     }
/// }
/// ```
pub fn upgrade<B, R: From<String>>(
    request: &mut Request<B>,
    options: Options,
) -> Result<(Response<R>, Upgrade), Response<R>> {
    let headers: Vec<HttpHeader<'_>> =
        request.headers().iter().map(|(name, value)| HttpHeader::new(name.as_str(), value.as_bytes())).collect();
    let head = RequestHead {
        method: request.method().as_str(),
        target: request.uri().path_and_query().map_or("/", |p| p.as_str()),
        // The minor version of HTTP/1.x. An HTTP/2 or HTTP/3 request carries no
        // Upgrade (RFC 8441's extended CONNECT is not taken here): refused with 400.
        version: match request.version() {
            Version::HTTP_09 | Version::HTTP_10 => 0,
            _ => 1,
        },
        headers,
    };
    let epoch = Instant::now();
    let accepted = Connection::accept_request(0, options, &head);
    drop(head);
    match accepted {
        Ok((conn, fields)) => {
            let response = respond(StatusCode::SWITCHING_PROTOCOLS, &fields, String::new());
            let on = hyper::upgrade::on(request);
            Ok((response, Upgrade { on, conn: Some(conn), epoch }))
        }
        Err(e) => {
            let status = e.http_status().unwrap_or(400);
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            Err(respond(code, &rejection_headers(status), e.to_string()))
        }
    }
}

/// A response with `fields`, which the engine made (so they are valid).
fn respond<R: From<String>>(status: StatusCode, fields: &[HttpHeader<'_>], body: String) -> Response<R> {
    let mut response = Response::new(R::from(body));
    *response.status_mut() = status;
    for field in fields {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&field.name), HeaderValue::from_bytes(&field.value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

impl Future for Upgrade {
    type Output = Result<WebSocketStream<TokioIo<Upgraded>>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on).poll(cx))
            .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e)))?;
        let conn = self.conn.take().ok_or(Error::Closed)?;
        Poll::Ready(Ok(WebSocketStream::new(TokioIo::new(upgraded), conn, self.epoch)))
    }
}
