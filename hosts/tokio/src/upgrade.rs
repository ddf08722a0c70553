//! WebSockets from a hyper (or axum) server: the engine checks the HTTP/1.1 upgrade
//! request (or, with feature `http2`, the HTTP/2 extended CONNECT of RFC 8441) and makes
//! the response's header fields; hyper sends the response and hands over the connection
//! (or the HTTP/2 stream). With `http2`, [`connect_h2`] opens WebSockets on a hyper HTTP/2
//! client connection, as many as it carries streams.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use wsengine::{Connection, HttpHeader, Options, Refusal, RequestHead};

use crate::{Error, WebSocketStream};

/// The WebSocket of an accepted upgrade: resolves once hyper has sent the 101 and
/// handed over the connection (spawn it: the response must be returned first).
pub struct Upgrade {
    on: OnUpgrade,
    conn: Option<Connection<Bytes>>,
    epoch: Instant,
}

/// Answers a WebSocket upgrade request on a hyper or axum server: an HTTP/1.1 upgrade,
/// or (feature `http2`, the server's HTTP/2 built with `enable_connect_protocol`) an
/// HTTP/2 extended CONNECT (RFC 8441), answered 200 on its stream. Route both methods
/// to it (`GET` and `CONNECT`: axum's `any`).
///
/// The request is checked and answered as the engine's own server would
/// ([`Connection::accept_request`], [`Connection::accept_connect`]): the subprotocol is the first of
/// [`Options::subprotocols`] the client offered, permessage-deflate is accepted as
/// `options.deflate` allows (feature `deflate`). Returns the `101 Switching Protocols`
/// response to return from the handler and the [`Upgrade`] to await (in a task of its
/// own) for the [`WebSocketStream`]; or, when the request is no valid upgrade, the
/// response that refuses it (400, or 426 with `Sec-WebSocket-Version: 13`), its body
/// the reason. [`Request::version`] says which HTTP the WebSocket runs over.
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
    let epoch = Instant::now();
    let connect = is_extended_connect(request);
    let (accepted, status) = if connect {
        (accept_connect(request, options), StatusCode::OK)
    } else {
        (accept_upgrade(request, options), StatusCode::SWITCHING_PROTOCOLS)
    };
    match accepted {
        Ok((conn, fields)) => {
            let response = respond(status, &fields, String::new());
            let on = hyper::upgrade::on(request);
            Ok((response, Upgrade { on, conn: Some(conn), epoch }))
        }
        Err(e) => {
            let refusal = if connect { Refusal::connect(&e) } else { Refusal::upgrade(&e) };
            let code = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            Err(respond(code, &refusal.headers, refusal.body))
        }
    }
}

type Accepted = Result<(Connection<Bytes>, Vec<HttpHeader<'static>>), wsengine::Error>;

/// An HTTP message's header fields as the engine takes them.
fn fields_of(headers: &HeaderMap) -> impl Iterator<Item = HttpHeader<'_>> {
    headers.iter().map(|(name, value)| HttpHeader::new(name.as_str(), value.as_bytes()))
}

/// Appends the engine's fields to an HTTP message's headers, but the pseudo-header
/// fields, which the message carries as its method, URI or status. The engine made them
/// (its own, and the options' headers it checked to be writable), so they are valid.
fn put_fields(headers: &mut HeaderMap, fields: &[HttpHeader<'_>]) {
    for field in fields.iter().filter(|f| !f.name.starts_with(b":")) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(&field.name), HeaderValue::from_bytes(&field.value)) {
            headers.append(name, value);
        }
    }
}

/// An HTTP/1.x upgrade request.
fn accept_upgrade<B>(request: &Request<B>, options: Options) -> Accepted {
    let head = RequestHead {
        method: request.method().as_str(),
        target: request.uri().path_and_query().map_or("/", |p| p.as_str()),
        // The minor version of HTTP/1.x. An HTTP/2 request other than a CONNECT
        // carries no Upgrade: refused with 400.
        version: match request.version() {
            Version::HTTP_09 | Version::HTTP_10 => 0,
            _ => 1,
        },
        headers: fields_of(request.headers()).collect(),
    };
    Connection::accept_request(0, options, &head)
}

/// An HTTP/2 CONNECT: the extended CONNECT of a WebSocket, or a request the engine
/// refuses (a plain CONNECT has no `:protocol`).
fn is_extended_connect<B>(request: &Request<B>) -> bool {
    cfg!(feature = "http2") && request.version() == Version::HTTP_2 && request.method() == Method::CONNECT
}

/// An HTTP/2 extended CONNECT: its pseudo-header fields, as hyper parsed them into the
/// request, then its header fields.
fn accept_connect<B>(request: &Request<B>, options: Options) -> Accepted {
    let uri = request.uri();
    let mut fields = vec![HttpHeader::new(":method", request.method().as_str())];
    #[cfg(feature = "http2")]
    if let Some(protocol) = request.extensions().get::<hyper::ext::Protocol>() {
        fields.push(HttpHeader::new(":protocol", protocol.as_str()));
    }
    fields.extend(uri.scheme_str().map(|s| HttpHeader::new(":scheme", s)));
    fields.extend(uri.authority().map(|a| HttpHeader::new(":authority", a.as_str())));
    fields.extend(uri.path_and_query().map(|p| HttpHeader::new(":path", p.as_str())));
    fields.extend(fields_of(request.headers()));
    Connection::accept_connect(0, options, &fields)
}

/// A response with `status` and the engine's `fields`.
fn respond<R: From<String>>(status: StatusCode, fields: &[HttpHeader<'_>], body: String) -> Response<R> {
    let mut response = Response::new(R::from(body));
    *response.status_mut() = status;
    put_fields(response.headers_mut(), fields);
    response
}

impl Future for Upgrade {
    type Output = Result<WebSocketStream<TokioIo<Upgraded>>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on).poll(cx))
            .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e)))?;
        let conn = self.conn.take().ok_or(Error::Closed)?;
        Poll::Ready(Ok(WebSocketStream::from_connection(TokioIo::new(upgraded), conn, self.epoch)))
    }
}

/// Opens a WebSocket for `url` (`wss:` or `ws:`) on a hyper HTTP/2 client connection,
/// as an extended CONNECT (RFC 8441) on a new stream of it: the engine makes the
/// request's fields and checks the response (a 2xx, the subprotocol and extensions
/// agreed), hyper carries them and hands over the stream. A connection carries as many
/// WebSockets at once as the server allows streams (`SendRequest` is `Clone`). The TLS
/// (ALPN `h2`) and HTTP/2 connection under it are yours to open and drive.
///
/// RFC 8441 §3 sends an extended CONNECT only to a server that allowed it
/// (`SETTINGS_ENABLE_CONNECT_PROTOCOL`; hyper's
/// `Connection::is_extended_connect_protocol_enabled` tells once its settings came).
/// One that did not refuses the stream (`Error::Io`) or answers with an error status
/// (`wsengine::Error::UnexpectedStatus`).
#[cfg(feature = "http2")]
pub async fn connect_h2<B>(
    sender: &mut hyper::client::conn::http2::SendRequest<B>,
    url: &str,
    options: Options,
) -> Result<WebSocketStream<TokioIo<Upgraded>>, Error>
where
    B: hyper::body::Body + Default + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let epoch = Instant::now();
    let (mut conn, fields) = Connection::client_connect(0, options, &wsengine::ClientRequest::from_url(url)?)?;
    let request = connect_request(&fields)?;
    let mut response = sender.send_request(request).await.map_err(io_error)?;
    let answer: Vec<HttpHeader<'_>> = fields_of(response.headers()).collect();
    conn.connect_response(response.status().as_u16(), &answer)?;
    drop(answer);
    let upgraded = hyper::upgrade::on(&mut response).await.map_err(io_error)?;
    Ok(WebSocketStream::from_connection(TokioIo::new(upgraded), conn, epoch))
}

/// The engine's extended CONNECT fields as a hyper request: the pseudo-header fields
/// make the method, the URI and the `:protocol` extension.
#[cfg(feature = "http2")]
fn connect_request<B: Default>(fields: &[HttpHeader<'_>]) -> Result<Request<B>, Error> {
    let pseudo = |name: &str| {
        let value = fields.iter().find(|f| f.name.as_ref() == name.as_bytes()).map_or(&[][..], |f| &f.value[..]);
        String::from_utf8_lossy(value).into_owned()
    };
    let uri = format!("{}://{}{}", pseudo(":scheme"), pseudo(":authority"), pseudo(":path"));
    let mut request = Request::builder()
        .method(pseudo(":method").as_str())
        .version(Version::HTTP_2)
        .uri(uri)
        .extension(hyper::ext::Protocol::from(pseudo(":protocol").as_str()))
        .body(B::default())
        .map_err(io_error)?;
    put_fields(request.headers_mut(), fields);
    Ok(request)
}

#[cfg(feature = "http2")]
fn io_error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Io(std::io::Error::other(e))
}
