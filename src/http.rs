//! HTTP/1.1 heads for hosts on a raw byte stream (a wsengine extension).
//!
//! websocket.dll only builds and checks header arrays; a host on raw TCP or a
//! WebTransport stream must also write and read the request and response heads. This
//! module encodes both and parses both incrementally with `httparse`, in time linear in
//! the input: it looks for the blank line that ends a head only in bytes it has not
//! scanned before, and parses once, when the head is complete. Bytes that arrive after
//! the head are kept for [`Handle::push_received`](crate::Handle::push_received), so
//! a peer that writes its first frames right behind the head loses nothing.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, Result};

/// One HTTP header field (`WEB_SOCKET_HTTP_HEADER`): a name and a value, as bytes
/// (values may hold obs-text, which is not UTF-8). Names compare case-insensitively.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpHeader<'a> {
    /// The field name, without the colon.
    pub name: Cow<'a, [u8]>,
    /// The field value, without surrounding white space.
    pub value: Cow<'a, [u8]>,
}

impl<'a> HttpHeader<'a> {
    /// A header borrowing its name and value.
    pub fn new<N, V>(name: &'a N, value: &'a V) -> Self
    where
        N: AsRef<[u8]> + ?Sized,
        V: AsRef<[u8]> + ?Sized,
    {
        Self { name: Cow::Borrowed(name.as_ref()), value: Cow::Borrowed(value.as_ref()) }
    }

    /// A header owning its name and value.
    pub fn owned(name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> HttpHeader<'static> {
        HttpHeader { name: Cow::Owned(name.into()), value: Cow::Owned(value.into()) }
    }

    /// A field with a constant name and a value made for it (no copy of the name).
    pub(crate) fn field(name: &'static str, value: String) -> HttpHeader<'static> {
        HttpHeader { name: Cow::Borrowed(name.as_bytes()), value: Cow::Owned(value.into_bytes()) }
    }

    /// The same header, owning its bytes.
    #[must_use]
    pub fn into_owned(self) -> HttpHeader<'static> {
        HttpHeader { name: Cow::Owned(self.name.into_owned()), value: Cow::Owned(self.value.into_owned()) }
    }

    /// True when the name equals `name`, ignoring ASCII case.
    #[must_use]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value as text, when it is UTF-8.
    #[must_use]
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    /// True when the name is an RFC 7230 token and the value holds no CR, LF or other
    /// control byte but tab: what can be written into a head without breaking it.
    pub(crate) fn is_writable(&self) -> bool {
        is_token(&self.name) && self.value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7F))
    }
}

impl fmt::Debug for HttpHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", String::from_utf8_lossy(&self.name), String::from_utf8_lossy(&self.value))
    }
}

/// True for an RFC 7230 token: one or more visible ASCII bytes, no separators.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// The longest head accepted by default, in bytes.
pub const DEFAULT_MAX_HEAD_LEN: usize = 8 * 1024;
/// The most header fields accepted by default.
pub const DEFAULT_MAX_HEADERS: usize = 128;

/// Limits on an HTTP head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// The longest head, in bytes, up to and including the blank line.
    pub max_len: usize,
    /// The most header fields.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self { max_len: DEFAULT_MAX_HEAD_LEN, max_headers: DEFAULT_MAX_HEADERS }
    }
}

/// A parsed request head (`GET /chat HTTP/1.1` and its headers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The request target, e.g. `/chat?room=1`.
    pub target: &'a str,
    /// The minor HTTP version: 1 for HTTP/1.1.
    pub version: u8,
    /// The header fields, in order.
    pub headers: Vec<HttpHeader<'a>>,
}

/// A parsed response head (`HTTP/1.1 101 Switching Protocols` and its headers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: &'a str,
    /// The minor HTTP version: 1 for HTTP/1.1.
    pub version: u8,
    /// The header fields, in order.
    pub headers: Vec<HttpHeader<'a>>,
}

/// Collects the bytes of an HTTP head as they arrive and parses it once complete.
///
/// ```
/// use wsengine::HeadParser;
/// let mut p = HeadParser::new(Default::default());
/// assert!(!p.push(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap());
/// assert!(p.push(b"\r\n\x81\x80").unwrap());
/// let req = p.request().unwrap();
/// assert_eq!((req.method, req.headers.len()), ("GET", 1));
/// assert_eq!(p.rest(), b"\x81\x80"); // the first frame, kept for the handle
/// ```
#[derive(Debug, Default)]
pub struct HeadParser {
    buf: Vec<u8>,
    scanned: usize,
    head_len: Option<usize>,
    limits: HeadLimits,
}

impl HeadParser {
    /// A parser with these limits.
    #[must_use]
    pub fn new(limits: HeadLimits) -> Self {
        Self { buf: Vec::new(), scanned: 0, head_len: None, limits }
    }

    /// Adds bytes read from the transport. Returns true once the head is complete;
    /// bytes pushed after that are kept as [`rest`](Self::rest). Fails when the head
    /// grows past the length limit without ending.
    pub fn push(&mut self, bytes: &[u8]) -> Result<bool> {
        if self.head_len.is_some() {
            self.buf.extend_from_slice(bytes);
            return Ok(true);
        }
        // Nothing past the length limit can end the head: it is not even copied (a
        // megabyte of head costs the limit, not a megabyte).
        let room = self.limits.max_len.saturating_sub(self.buf.len());
        let (now, later) = bytes.split_at(bytes.len().min(room));
        self.buf.extend_from_slice(now);
        // Resume the search 3 bytes back, in case "\r\n\r\n" straddles two pushes.
        let from = self.scanned.saturating_sub(3);
        if let Some(i) = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            self.head_len = Some(from + i + 4);
            self.buf.extend_from_slice(later);
            return Ok(true);
        }
        self.scanned = self.buf.len();
        if self.buf.len() >= self.limits.max_len {
            return Err(Error::HeadTooLarge { limit: self.limits.max_len });
        }
        Ok(false)
    }

    /// True once the blank line ending the head has arrived.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.head_len.is_some()
    }

    fn head(&self) -> Result<&[u8]> {
        self.head_len.map(|n| &self.buf[..n]).ok_or(Error::HeadIncomplete)
    }

    /// Parses the complete head as a request.
    pub fn request(&self) -> Result<RequestHead<'_>> {
        let head = self.head()?;
        let mut slots = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut req = httparse::Request::new(&mut slots);
        check_status(req.parse(head), self.limits)?;
        Ok(RequestHead {
            method: req.method.unwrap_or_default(),
            target: req.path.unwrap_or_default(),
            version: req.version.unwrap_or_default(),
            headers: req.headers.iter().map(|h| HttpHeader::new(h.name, h.value)).collect(),
        })
    }

    /// Parses the complete head as a response.
    pub fn response(&self) -> Result<ResponseHead<'_>> {
        let head = self.head()?;
        let mut slots = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut res = httparse::Response::new(&mut slots);
        check_status(res.parse(head), self.limits)?;
        Ok(ResponseHead {
            status: res.code.unwrap_or_default(),
            reason: res.reason.unwrap_or_default(),
            version: res.version.unwrap_or_default(),
            headers: res.headers.iter().map(|h| HttpHeader::new(h.name, h.value)).collect(),
        })
    }

    /// The bytes that arrived after the head (empty until it is complete): the start of
    /// the WebSocket stream, to hand to [`Handle::push_received`](crate::Handle::push_received).
    #[must_use]
    pub fn rest(&self) -> &[u8] {
        self.head_len.map_or(&[], |n| &self.buf[n..])
    }
}

fn check_status(r: httparse::Result<usize>, limits: HeadLimits) -> Result<()> {
    match r {
        Ok(httparse::Status::Complete(_)) => Ok(()),
        // The blank line was found, so a partial parse means a malformed head.
        Ok(httparse::Status::Partial) => Err(Error::MalformedHead("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders { limit: limits.max_headers }),
        Err(httparse::Error::HeaderName) => Err(Error::MalformedHead("invalid header name")),
        Err(httparse::Error::HeaderValue) => Err(Error::MalformedHead("invalid header value")),
        Err(httparse::Error::NewLine) => Err(Error::MalformedHead("invalid line ending")),
        Err(httparse::Error::Status) => Err(Error::MalformedHead("invalid status code")),
        Err(httparse::Error::Token) => Err(Error::MalformedHead("invalid token")),
        Err(httparse::Error::Version) => Err(Error::MalformedHead("invalid HTTP version")),
    }
}

fn write_headers(out: &mut Vec<u8>, headers: &[HttpHeader<'_>]) -> Result<()> {
    for h in headers {
        if !h.is_writable() {
            return Err(Error::InvalidHeader);
        }
        out.extend_from_slice(&h.name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Encodes `GET {target} HTTP/1.1` and the headers (typically `Host`, the host's own,
/// and those [`Handle::begin_client_handshake`](crate::Handle::begin_client_handshake)
/// returned). Fails with `E_INVALIDARG` on a target or header that would break the head.
pub fn encode_request_head(target: &str, headers: &[HttpHeader<'_>]) -> Result<Vec<u8>> {
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7F) {
        return Err(Error::InvalidHeader);
    }
    let mut out = Vec::with_capacity(64 + headers.iter().map(|h| h.name.len() + h.value.len() + 4).sum::<usize>());
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_headers(&mut out, headers)?;
    Ok(out)
}

/// Encodes `HTTP/1.1 {status} {reason}` and the headers (for 101, those
/// [`Handle::begin_server_handshake`](crate::Handle::begin_server_handshake) returned).
pub fn encode_response_head(status: u16, reason: &str, headers: &[HttpHeader<'_>]) -> Result<Vec<u8>> {
    if !(100..=999).contains(&status) || reason.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(Error::InvalidHeader);
    }
    let mut out = Vec::with_capacity(64 + headers.iter().map(|h| h.name.len() + h.value.len() + 4).sum::<usize>());
    out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
    write_headers(&mut out, headers)?;
    Ok(out)
}

/// How a server answers an upgrade request that failed: the status
/// ([`Error::http_status`], 400 for an error that is not about a request: 426 Upgrade
/// Required for an unsupported version, with `Sec-WebSocket-Version: 13` (RFC 6455
/// §4.4), 431 for a head over the limits), the header fields besides the body's length,
/// and the error's message as a plain-text body. For servers whose own HTTP stack writes
/// the response (hyper, an HTTP/3 library); [`encode_rejection`] writes the same as
/// HTTP/1.1 bytes. The WebSocket fails after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 400..=599.
    pub status: u16,
    /// The status's reason phrase, for HTTP/1.1.
    pub reason: &'static str,
    /// `Content-Type`, `Sec-WebSocket-Version` for 426, and over HTTP/1.1
    /// `Connection: close` (HTTP/2 and HTTP/3 carry no connection-specific field, RFC
    /// 9113 §8.2.2, RFC 9114 §4.2).
    pub headers: Vec<HttpHeader<'static>>,
    /// What was wrong, for whoever reads the response.
    pub body: String,
}

impl Refusal {
    /// The answer to an HTTP/1.1 upgrade request that failed with `err`.
    #[must_use]
    pub fn upgrade(err: &Error) -> Self {
        Self::new(err, true)
    }

    /// The answer to an HTTP/2 or HTTP/3 extended CONNECT (RFC 8441, RFC 9220) that
    /// failed with `err`, on its stream.
    #[must_use]
    pub fn connect(err: &Error) -> Self {
        Self::new(err, false)
    }

    fn new(err: &Error, close: bool) -> Self {
        let (status, reason, headers) = refused(err.http_status(), close);
        Self { status, reason, headers, body: err.to_string() }
    }
}

/// A refusal's status (none, or outside 400..=599: 400), reason and fields, with
/// `Connection: close` when `close`.
#[cfg_attr(wsengine_size, optimize(size))]
fn refused(status: Option<u16>, close: bool) -> (u16, &'static str, Vec<HttpHeader<'static>>) {
    let status = status.filter(|s| (400..=599).contains(s)).unwrap_or(400);
    let reason = match status {
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let mut headers = vec![HttpHeader::new("Content-Type", "text/plain; charset=utf-8")];
    if close {
        headers.push(HttpHeader::new("Connection", "close"));
    }
    if status == 426 {
        headers.push(HttpHeader::new("Sec-WebSocket-Version", "13"));
    }
    (status, reason, headers)
}

/// The HTTP/1.1 response a server sends when an upgrade request fails with `err`
/// ([`Refusal::upgrade`] with its `Content-Length`, as bytes); the connection should be
/// closed after it.
#[must_use]
pub fn encode_rejection(err: &Error) -> Vec<u8> {
    encode_refused(err.http_status(), &err.to_string())
}

/// [`encode_rejection`] from its parts, for bindings that carry an error as a status and
/// a message: `status` (426 adds `Sec-WebSocket-Version: 13`; 0 for none, or outside
/// 400..=599: 400) with `message` as the body.
#[must_use]
pub fn encode_rejection_status(status: u16, message: &str) -> Vec<u8> {
    encode_refused(Some(status), message)
}

#[cfg_attr(wsengine_size, optimize(size))]
fn encode_refused(status: Option<u16>, message: &str) -> Vec<u8> {
    let (status, reason, headers) = refused(status, true);
    let len = message.len().to_string();
    let mut headers: Vec<HttpHeader<'_>> = headers;
    headers.push(HttpHeader::new("Content-Length", &len));
    // The status, reason and headers are all writable, so this cannot fail.
    let mut out = encode_response_head(status, reason, &headers).unwrap_or_default();
    out.extend_from_slice(message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_split_at_every_point_parses_the_same() {
        let bytes = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\r\nREST";
        for cut in 0..bytes.len() {
            let mut p = HeadParser::new(HeadLimits::default());
            let done_a = p.push(&bytes[..cut]).unwrap();
            let done_b = p.push(&bytes[cut..]).unwrap();
            assert!(done_b, "cut {cut}");
            assert_eq!(done_a, cut >= bytes.len() - 4);
            let r = p.request().unwrap();
            assert_eq!((r.method, r.target, r.version), ("GET", "/chat", 1));
            assert_eq!(r.headers[1], HttpHeader::new("Upgrade", "websocket"));
            assert_eq!(p.rest(), b"REST");
        }
    }

    #[test]
    fn byte_at_a_time_is_linear_and_completes() {
        let mut p = HeadParser::new(HeadLimits::default());
        let bytes = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        for (i, b) in bytes.iter().enumerate() {
            assert_eq!(p.push(core::slice::from_ref(b)).unwrap(), i == bytes.len() - 1);
        }
        let r = p.response().unwrap();
        assert_eq!((r.status, r.reason), (101, "Switching Protocols"));
    }

    #[test]
    fn limits_are_enforced() {
        let mut p = HeadParser::new(HeadLimits { max_len: 64, max_headers: 2 });
        assert_eq!(p.push(&[b'a'; 100]), Err(Error::HeadTooLarge { limit: 64 }));
        assert_eq!(p.push(b"\r\n\r\n"), Err(Error::HeadTooLarge { limit: 64 }));
        let mut p = HeadParser::new(HeadLimits { max_len: 1024, max_headers: 2 });
        assert!(p.push(b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n").unwrap());
        assert_eq!(p.request(), Err(Error::TooManyHeaders { limit: 2 }));
        let mut p = HeadParser::new(HeadLimits::default());
        assert!(p.push(b"GET / HTTP/1.1\r\nbad header\r\n\r\n").unwrap());
        assert!(matches!(p.request(), Err(Error::MalformedHead(_))));
        assert_eq!(HeadParser::new(HeadLimits::default()).request(), Err(Error::HeadIncomplete));
    }

    #[test]
    fn heads_encode_and_refuse_injection() {
        let head = encode_request_head("/x", &[HttpHeader::new("Host", "h")]).unwrap();
        assert_eq!(head, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(encode_request_head("/x y", &[]), Err(Error::InvalidHeader));
        assert_eq!(encode_request_head("/", &[HttpHeader::new("A", "b\r\nc: d")]), Err(Error::InvalidHeader));
        assert_eq!(encode_request_head("/", &[HttpHeader::new("A:", "b")]), Err(Error::InvalidHeader));
        let res = encode_response_head(101, "Switching Protocols", &[]).unwrap();
        assert_eq!(res, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    }

    #[test]
    fn rejections_name_the_problem() {
        let r = encode_rejection(&Error::UnsupportedVersion);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        let text = String::from_utf8(encode_rejection(&Error::MissingHeader("Sec-WebSocket-Key"))).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\n")
                && text.ends_with("Sec-WebSocket-Key is missing (E_INVALID_PROTOCOL_FORMAT)")
        );
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(encode_rejection_status(0, "?").starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(encode_rejection_status(700, "?").starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        let r = String::from_utf8(encode_rejection(&Error::TooManyHeaders { limit: 2 })).unwrap();
        assert!(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{r}");
        assert!(r.contains(&format!("Content-Length: {}\r\n", Error::TooManyHeaders { limit: 2 }.to_string().len())));
    }

    #[test]
    fn a_refused_extended_connect_has_no_connection_specific_field() {
        let name = |h: &HttpHeader<'_>| String::from_utf8(h.name.to_vec()).unwrap();
        let upgrade = Refusal::upgrade(&Error::UnsupportedVersion);
        let connect = Refusal::connect(&Error::UnsupportedVersion);
        assert_eq!((upgrade.status, connect.status), (426, 426));
        assert_eq!(
            upgrade.headers.iter().map(name).collect::<Vec<_>>(),
            ["Content-Type", "Connection", "Sec-WebSocket-Version"]
        );
        assert_eq!(connect.headers.iter().map(name).collect::<Vec<_>>(), ["Content-Type", "Sec-WebSocket-Version"]);
        assert_eq!(connect.body, Error::UnsupportedVersion.to_string());
        // An error that is not about a request is refused with 400.
        assert_eq!(Refusal::connect(&Error::InvalidUtf8).status, 400);
    }
}
