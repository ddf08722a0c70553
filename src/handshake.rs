//! The opening handshake's headers (RFC 6455 §4): what the client adds to its request,
//! what the server checks and answers, and what the client checks in the answer.
//!
//! Header names match case-insensitively. `Connection` is a comma-separated token
//! list. The status line is the host's: [`crate::http`] writes and reads it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use crate::deflate::{self, Agreed};
use crate::error::{Error, Result};
use crate::http::{HttpHeader, is_token};

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID))
/// (RFC 6455 §1.3).
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.finalize())
}

/// A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes.
pub(crate) fn new_key(random: [u8; 16]) -> String {
    BASE64.encode(random)
}

/// The one header named `name`: `Ok(None)` when absent, an error when repeated.
fn single<'h, 'a>(headers: &'h [HttpHeader<'a>], name: &'static str) -> Result<Option<&'h HttpHeader<'a>>> {
    let mut found = headers.iter().filter(|h| h.is(name));
    let first = found.next();
    if found.next().is_some() {
        return Err(Error::DuplicateHeader(name));
    }
    Ok(first)
}

fn required<'h, 'a>(headers: &'h [HttpHeader<'a>], name: &'static str) -> Result<&'h HttpHeader<'a>> {
    single(headers, name)?.ok_or(Error::MissingHeader(name))
}

/// Splits a comma-separated list, trimming optional white space, skipping empty items.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(|s| s.trim_ascii()).filter(|s| !s.is_empty())
}

/// Checks `Upgrade: websocket` and `Connection: ..., Upgrade, ...`.
#[cfg_attr(wsengine_size, optimize(size))]
fn check_upgrade(headers: &[HttpHeader<'_>]) -> Result<()> {
    // Upgrade may list several protocols (RFC 7230 §6.7); one must be websocket.
    let mut upgrade = headers.iter().filter(|h| h.is("Upgrade")).peekable();
    if upgrade.peek().is_none() {
        return Err(Error::MissingHeader("Upgrade"));
    }
    if !upgrade.flat_map(|h| list_items(&h.value)).any(|p| p.eq_ignore_ascii_case(b"websocket")) {
        return Err(Error::InvalidHeaderValue("Upgrade"));
    }
    let mut connection = headers.iter().filter(|h| h.is("Connection")).peekable();
    if connection.peek().is_none() {
        return Err(Error::MissingHeader("Connection"));
    }
    if !connection.flat_map(|h| list_items(&h.value)).any(|t| t.eq_ignore_ascii_case(b"upgrade")) {
        return Err(Error::InvalidHeaderValue("Connection"));
    }
    Ok(())
}

/// The extension's name: the token before its first `;`.
fn extension_name(offer: &[u8]) -> &[u8] {
    offer.split(|&b| b == b';').next().unwrap_or_default().trim_ascii()
}

/// Checks an extension offer or selection: `name *( ";" param [ "=" value ] )`, with
/// no commas (one extension per entry) and nothing that would break a header.
fn check_extension(ext: &str) -> Result<()> {
    let ok = is_token(extension_name(ext.as_bytes()))
        && !ext.contains(',')
        && HttpHeader::new("Sec-WebSocket-Extensions", ext).is_writable();
    if ok { Ok(()) } else { Err(Error::InvalidToken) }
}

/// A header's list of items, joined by ", ". Whitespace around an item is not part of
/// it (HTTP strips it around a value and beside commas), so it is not written: the
/// header then reads back as the items given.
pub(crate) fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item.as_ref().trim_ascii());
    }
    out
}

/// The subprotocol and extension fields both profiles end with; in lower case for an
/// extended CONNECT (HTTP/2 and HTTP/3 refuse upper case, RFC 9113 §8.2.1).
#[cfg_attr(wsengine_size, optimize(size))]
fn push_selection(out: &mut Vec<HttpHeader<'static>>, extended: bool, subprotocols: &[&str], extensions: &[&str]) {
    let (protocol, extension) = if extended {
        ("sec-websocket-protocol", "sec-websocket-extensions")
    } else {
        ("Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions")
    };
    if !subprotocols.is_empty() {
        out.push(HttpHeader::field(protocol, join(subprotocols)));
    }
    if !extensions.is_empty() {
        out.push(HttpHeader::field(extension, join(extensions)));
    }
}

/// The headers a client adds to its upgrade request (`WebSocketBeginClientHandshake`),
/// in a fixed order: Connection, Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version,
/// then Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when offered. With no `key`,
/// an extended CONNECT's (RFC 8441 §4-5): `:method CONNECT`, `:protocol websocket`,
/// then the version and offers; the host adds `:scheme`, `:authority` and `:path`.
#[cfg_attr(wsengine_size, optimize(size))]
pub(crate) fn client_request_headers(
    key: Option<&str>,
    subprotocols: &[&str],
    extensions: &[&str],
    initial: &[HttpHeader<'_>],
) -> Result<Vec<HttpHeader<'static>>> {
    if subprotocols.iter().any(|p| !is_token(p.as_bytes())) {
        return Err(Error::InvalidToken);
    }
    extensions.iter().try_for_each(|e| check_extension(e))?;
    deflate::check_offers(extensions)?;
    if initial.iter().any(|h| !h.is_writable()) {
        return Err(Error::InvalidHeader);
    }
    let mut out = match key {
        Some(key) => vec![
            HttpHeader::new("Connection", "Upgrade"),
            HttpHeader::new("Upgrade", "websocket"),
            HttpHeader::field("Sec-WebSocket-Key", key.to_owned()),
            HttpHeader::new("Sec-WebSocket-Version", "13"),
        ],
        None => vec![
            HttpHeader::new(":method", "CONNECT"),
            HttpHeader::new(":protocol", "websocket"),
            HttpHeader::new("sec-websocket-version", "13"),
        ],
    };
    push_selection(&mut out, key.is_none(), subprotocols, extensions);
    Ok(out)
}

/// What the server's answer selected (`WebSocketEndClientHandshake`'s outputs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHandshakeOutcome {
    /// Index into the offered subprotocols of the one the server chose; `None` when
    /// the server chose none (allowed by RFC 6455, even when some were offered).
    pub subprotocol: Option<usize>,
    /// Indices into the offered extensions of those the server accepted, in the
    /// server's order.
    pub extensions: Vec<usize>,
}

/// Checks the server's response headers against what the client sent (with no `key`,
/// an extended CONNECT's response: no Upgrade or accept key, and a `:status`, when
/// given, of 2xx); also returns what permessage-deflate agreement is in force, if any.
#[cfg_attr(wsengine_size, optimize(size))]
pub(crate) fn check_client_response(
    key: Option<&str>,
    offered_subprotocols: &[String],
    offered_extensions: &[String],
    response: &[HttpHeader<'_>],
) -> Result<(ClientHandshakeOutcome, Option<Agreed>)> {
    match key {
        Some(key) => {
            check_upgrade(response)?;
            let accept = required(response, "Sec-WebSocket-Accept")?;
            if accept.value.trim_ascii() != accept_key(key.as_bytes()).as_bytes() {
                return Err(Error::AcceptMismatch);
            }
        }
        None => {
            if let Some(status) = single(response, ":status")? {
                let code = match *status.value {
                    [a, b, c] if [a, b, c].iter().all(u8::is_ascii_digit) => {
                        [a, b, c].iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
                    }
                    _ => return Err(Error::InvalidHeaderValue(":status")),
                };
                check_connect_status(code)?;
            }
        }
    }
    let subprotocol = match single(response, "Sec-WebSocket-Protocol")? {
        None => None,
        Some(h) => {
            let chosen = h.value.trim_ascii();
            let i = offered_subprotocols.iter().position(|p| p.as_bytes() == chosen);
            Some(i.ok_or(Error::SubprotocolNotOffered)?)
        }
    };
    let mut extensions = Vec::new();
    let mut agreed = None;
    for h in response.iter().filter(|h| h.is("Sec-WebSocket-Extensions")) {
        for accepted in list_items(&h.value) {
            let i = match deflate::client_accepts(offered_extensions, accepted) {
                Some(_) if agreed.is_some() => return Err(Error::DuplicateHeader("Sec-WebSocket-Extensions")),
                Some(answer) => {
                    let (i, a) = answer?;
                    agreed = Some(a);
                    i
                }
                None => {
                    let name = extension_name(accepted);
                    offered_extensions
                        .iter()
                        .position(|o| extension_name(o.as_bytes()).eq_ignore_ascii_case(name))
                        .ok_or(Error::ExtensionNotOffered)?
                }
            };
            if extensions.contains(&i) {
                return Err(Error::DuplicateHeader("Sec-WebSocket-Extensions"));
            }
            extensions.push(i);
        }
    }
    Ok((ClientHandshakeOutcome { subprotocol, extensions }, agreed))
}

/// An extended CONNECT's response status: any 2xx accepts the WebSocket (RFC 8441 §5).
pub(crate) fn check_connect_status(status: u16) -> Result<()> {
    if (200..300).contains(&status) { Ok(()) } else { Err(Error::UnexpectedStatus(status)) }
}

/// Checks an upgrade request's line (RFC 6455 §4.2.1): the method is GET and the HTTP
/// version at least 1.1.
#[cfg_attr(wsengine_size, optimize(size))]
pub(crate) fn check_request_line(method: &str, minor_version: u8) -> Result<()> {
    if method != "GET" {
        return Err(Error::MalformedHead("the upgrade request's method is not GET"));
    }
    if minor_version < 1 {
        return Err(Error::MalformedHead("the upgrade request is not HTTP/1.1"));
    }
    Ok(())
}

/// True when a `Sec-WebSocket-Key` is the base64 of 16 bytes (RFC 6455 §4.2.1), as
/// the base64 crate decodes it (the tests compare): 22 characters of the alphabet,
/// the last holding 2 bits (its 4 others zero), then "==". Checked by its shape: the
/// crate's decoder would be the only one in the npm wasm (1.2 KB gzipped).
fn is_key(key: &[u8]) -> bool {
    let digit = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    key.len() == 24 && key[22..] == *b"==" && key[..22].iter().all(|&c| digit(c)) && b"AQgw".contains(&key[21])
}

/// Checks an extended CONNECT request's own fields (RFC 8441 §4-5, RFC 9220 §3): the
/// method, `:protocol websocket`, the target's `:scheme`, `:path` and authority, and
/// none of HTTP/1.1's upgrade fields.
#[cfg_attr(wsengine_size, optimize(size))]
fn check_connect_request(request: &[HttpHeader<'_>]) -> Result<()> {
    if required(request, ":method")?.value.as_ref() != b"CONNECT" {
        return Err(Error::InvalidHeaderValue(":method"));
    }
    if !required(request, ":protocol")?.value.trim_ascii().eq_ignore_ascii_case(b"websocket") {
        return Err(Error::InvalidHeaderValue(":protocol"));
    }
    required(request, ":scheme")?;
    if required(request, ":path")?.value.is_empty() {
        return Err(Error::InvalidHeaderValue(":path"));
    }
    // The authority is :authority, or Host (RFC 9113 §8.3.1).
    if single(request, ":authority")?.is_none() && single(request, "Host")?.is_none() {
        return Err(Error::MissingHeader(":authority"));
    }
    match ["Sec-WebSocket-Key", "Upgrade", "Connection"].into_iter().find(|n| request.iter().any(|h| h.is(n))) {
        Some(n) => Err(Error::UnexpectedHeader(n)),
        None => Ok(()),
    }
}

/// Checks a client's upgrade request headers (`WebSocketBeginServerHandshake`) and
/// returns the response headers: Connection, Upgrade, Sec-WebSocket-Accept, then the
/// selected subprotocol and extensions; and the permessage-deflate agreement the
/// selection makes, if any (checked to answer one of the request's offers). With
/// `extended`, the request is an extended CONNECT, its pseudo-header fields among the
/// headers, and the response `:status 200` and the selections.
#[cfg_attr(wsengine_size, optimize(size))]
pub(crate) fn server_response_headers(
    request: &[HttpHeader<'_>],
    subprotocol: Option<&str>,
    extensions: &[&str],
    extended: bool,
) -> Result<(Vec<HttpHeader<'static>>, Option<Agreed>)> {
    if let Some(p) = subprotocol
        && !p.is_empty()
        && !is_token(p.as_bytes())
    {
        return Err(Error::InvalidToken);
    }
    extensions.iter().try_for_each(|e| check_extension(e))?;
    if extended {
        check_connect_request(request)?;
    } else {
        required(request, "Host")?;
        check_upgrade(request)?;
    }
    let version = required(request, "Sec-WebSocket-Version")?;
    let version = version.value.trim_ascii();
    if version != b"13" {
        return Err(if !version.is_empty() && version.iter().all(u8::is_ascii_digit) {
            Error::UnsupportedVersion
        } else {
            Error::InvalidHeaderValue("Sec-WebSocket-Version")
        });
    }
    let key = if extended { None } else { Some(required(request, "Sec-WebSocket-Key")?.value.trim_ascii()) };
    if key.is_some_and(|k| !is_key(k)) {
        return Err(Error::InvalidHeaderValue("Sec-WebSocket-Key"));
    }
    let mut agreed = None;
    for e in extensions {
        match deflate::server_selects(request, e.as_bytes()) {
            Some(_) if agreed.is_some() => {
                return Err(Error::InvalidExtensionParameters("permessage-deflate selected twice"));
            }
            Some(a) => agreed = Some(a?),
            None => {}
        }
    }
    let mut out = match key {
        Some(key) => vec![
            HttpHeader::new("Connection", "Upgrade"),
            HttpHeader::new("Upgrade", "websocket"),
            HttpHeader::field("Sec-WebSocket-Accept", accept_key(key)),
        ],
        None => vec![HttpHeader::new(":status", "200")],
    };
    let subprotocol: Option<&str> = subprotocol.filter(|p| !p.is_empty());
    push_selection(&mut out, extended, subprotocol.as_slice(), extensions);
    Ok((out, agreed))
}

/// The subprotocols a client's request offers (`Sec-WebSocket-Protocol`, all
/// occurrences, in order): for a server choosing one before
/// [`Handle::begin_server_handshake`](crate::Handle::begin_server_handshake).
#[must_use]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn offered_subprotocols<'a>(request: &'a [HttpHeader<'_>]) -> Vec<&'a str> {
    request
        .iter()
        .filter(|h| h.is("Sec-WebSocket-Protocol"))
        .flat_map(|h| list_items(&h.value))
        .filter_map(|p| std::str::from_utf8(p).ok())
        .collect()
}

/// The subprotocol a server speaks that the client's request offers: the first of
/// `supported` (the server's order of preference) among [`offered_subprotocols`], or `None`.
#[must_use]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn choose_subprotocol<'a, S: AsRef<str>>(request: &[HttpHeader<'_>], supported: &'a [S]) -> Option<&'a str> {
    let offered = offered_subprotocols(request);
    supported.iter().map(AsRef::as_ref).find(|p| offered.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: &'static str, v: &'static str) -> HttpHeader<'static> {
        HttpHeader::new(n, v)
    }

    #[test]
    fn accept_key_matches_rfc6455_and_the_spec_vectors() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(accept_key(b"AAAAAAAAAAAAAAAAAAAAAA=="), "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
    }

    #[test]
    fn a_key_is_accepted_exactly_when_it_decodes_to_16_bytes() {
        use base64::Engine as _;
        let decodes = |k: &[u8]| matches!(BASE64.decode(k), Ok(raw) if raw.len() == 16);
        let mut keys: Vec<Vec<u8>> = vec![b"dGhlIHNhbXBsZSBub25jZQ==".to_vec(), Vec::new(), b"==".to_vec()];
        // Every character at every place of a valid key, and keys of every length near 24.
        for at in 0..24 {
            for c in 0..=255u8 {
                let mut k = b"dGhlIHNhbXBsZSBub25jZQ==".to_vec();
                k[at] = c;
                keys.push(k);
            }
        }
        for len in 0..40 {
            keys.push(std::iter::repeat_n(b'A', len).collect());
            keys.push([&b"AAAAAAAAAAAAAAAAAAAAAA"[..len.min(22)], b"=="].concat());
        }
        for k in &keys {
            assert_eq!(is_key(k), decodes(k), "{:?}", String::from_utf8_lossy(k));
        }
        assert!(keys.iter().filter(|k| is_key(k)).count() > 60);
    }

    #[test]
    fn extension_lists_are_written_without_the_whitespace_around_items() {
        // Found by the handshake fuzz target: a selection "p " was written as is and read
        // back as "p" (HTTP strips it), so the response did not survive its own encoding.
        let req = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Host", "x"),
            h("Sec-WebSocket-Version", "13"),
            h("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ];
        let (out, _) = server_response_headers(&req, None, &["p ", "\tq; a=1 "], false).unwrap();
        assert_eq!(out[3], h("Sec-WebSocket-Extensions", "p, q; a=1"));
        let bytes = crate::http::encode_response_head(101, "Switching Protocols", &out).unwrap();
        let mut p = crate::HeadParser::new(crate::HeadLimits::default());
        assert!(p.push(&bytes).unwrap());
        assert_eq!(p.response().unwrap().headers, out);
    }

    #[test]
    fn the_server_accepts_the_minimal_dotnet_request() {
        let req = [
            h("Connection", "Upgrade"),
            h("Upgrade", "websocket"),
            h("Host", ""),
            h("Sec-WebSocket-Version", "13"),
            h("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ];
        let (out, _) = server_response_headers(&req, None, &[], false).unwrap();
        assert_eq!(out[2], h("Sec-WebSocket-Accept", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn the_server_checks_each_required_header() {
        let good = [
            h("host", "x"),
            h("upgrade", "WebSocket"),
            h("connection", "keep-alive, Upgrade"),
            h("sec-websocket-version", "13"),
            h("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert!(server_response_headers(&good, Some("chat"), &["x-other"], false).is_ok());
        for (i, err) in [
            Error::MissingHeader("Host"),
            Error::MissingHeader("Upgrade"),
            Error::MissingHeader("Connection"),
            Error::MissingHeader("Sec-WebSocket-Version"),
            Error::MissingHeader("Sec-WebSocket-Key"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut req = good.to_vec();
            req.remove(i);
            assert_eq!(server_response_headers(&req, None, &[], false).map(|r| r.0), Err(err));
        }
        let with = |i: usize, v: &'static str| {
            let mut req = good.to_vec();
            req[i] = HttpHeader::new(good[i].name.as_ref(), v).into_owned();
            server_response_headers(&req, None, &[], false).map(|r| r.0)
        };
        assert_eq!(with(1, "h2c"), Err(Error::InvalidHeaderValue("Upgrade")));
        assert_eq!(with(2, "keep-alive"), Err(Error::InvalidHeaderValue("Connection")));
        assert_eq!(with(3, "8"), Err(Error::UnsupportedVersion));
        assert_eq!(with(3, "x"), Err(Error::InvalidHeaderValue("Sec-WebSocket-Version")));
        assert_eq!(with(4, "c2hvcnQ="), Err(Error::InvalidHeaderValue("Sec-WebSocket-Key")));
        let mut twice = good.to_vec();
        twice.push(h("Host", "y"));
        assert_eq!(server_response_headers(&twice, None, &[], false).map(|r| r.0), Err(Error::DuplicateHeader("Host")));
        assert_eq!(server_response_headers(&good, Some("a b"), &[], false).map(|r| r.0), Err(Error::InvalidToken));
    }

    #[test]
    fn the_client_checks_the_answer() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let offered_p = vec!["chat.v1".to_string(), "chat.v2".to_string()];
        let offered_e = vec!["permessage-deflate; client_max_window_bits".to_string()];
        let base = vec![
            h("Upgrade", "websocket"),
            h("Connection", "Upgrade"),
            h("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &base).map(|r| r.0),
            Ok(ClientHandshakeOutcome::default())
        );
        let mut r = base.clone();
        r.push(h("Sec-WebSocket-Protocol", "chat.v2"));
        r.push(h("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover"));
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &r).map(|r| r.0),
            Ok(ClientHandshakeOutcome { subprotocol: Some(1), extensions: vec![0] })
        );
        let mut r = base.clone();
        r.push(h("Sec-WebSocket-Protocol", "other"));
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &r).map(|r| r.0),
            Err(Error::SubprotocolNotOffered)
        );
        let mut r = base.clone();
        r.push(h("Sec-WebSocket-Extensions", "x-unknown"));
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &r).map(|r| r.0),
            Err(Error::ExtensionNotOffered)
        );
        let mut r = base.clone();
        r[2] = h("Sec-WebSocket-Accept", "S3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &r).map(|r| r.0),
            Err(Error::AcceptMismatch)
        );
        assert_eq!(
            check_client_response(Some(key), &offered_p, &offered_e, &base[..2]).map(|r| r.0),
            Err(Error::MissingHeader("Sec-WebSocket-Accept"))
        );
    }

    #[test]
    fn the_client_request_lists_its_offers() {
        let out = client_request_headers(Some("k"), &["a", "b"], &["permessage-deflate; client_max_window_bits"], &[])
            .unwrap();
        let names: Vec<_> = out.iter().map(|h| String::from_utf8_lossy(&h.name).into_owned()).collect();
        assert_eq!(
            names,
            [
                "Connection",
                "Upgrade",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Extensions"
            ]
        );
        assert_eq!(out[4].value.as_ref(), b"a, b");
        assert_eq!(client_request_headers(Some("k"), &["a,b"], &[], &[]), Err(Error::InvalidToken));
        assert_eq!(client_request_headers(Some("k"), &[], &["x\r\n"], &[]), Err(Error::InvalidToken));
        assert_eq!(client_request_headers(Some("k"), &[], &[], &[h("Bad Name", "v")]), Err(Error::InvalidHeader));
    }

    /// An extended CONNECT request as Chromium sends it over HTTP/2.
    fn connect_request() -> Vec<HttpHeader<'static>> {
        vec![
            h(":method", "CONNECT"),
            h(":protocol", "websocket"),
            h(":scheme", "https"),
            h(":authority", "localhost:8443"),
            h(":path", "/echo"),
            h("sec-websocket-version", "13"),
            h("sec-websocket-protocol", "chat, superchat"),
            h("origin", "https://localhost:8443"),
        ]
    }

    #[test]
    fn an_extended_connect_is_requested_without_a_key_and_answered_200() {
        let out = client_request_headers(None, &["chat"], &["x-ext"], &[]).unwrap();
        assert_eq!(
            out,
            [
                h(":method", "CONNECT"),
                h(":protocol", "websocket"),
                h("sec-websocket-version", "13"),
                h("sec-websocket-protocol", "chat"),
                h("sec-websocket-extensions", "x-ext"),
            ]
        );
        let (out, _) = server_response_headers(&connect_request(), Some("chat"), &["x-ext"], true).unwrap();
        assert_eq!(
            out,
            [h(":status", "200"), h("sec-websocket-protocol", "chat"), h("sec-websocket-extensions", "x-ext")]
        );
        // Host instead of :authority, and :protocol's case, are accepted.
        let mut req = connect_request();
        req[1] = h(":protocol", "WebSocket");
        req[3] = h("host", "localhost");
        assert_eq!(server_response_headers(&req, None, &[], true).unwrap().0, [h(":status", "200")]);
    }

    #[test]
    fn a_malformed_extended_connect_fails_with_its_error_and_status() {
        let without = |name: &str| connect_request().into_iter().filter(|f| !f.is(name)).collect::<Vec<_>>();
        let with = |name: &'static str, value: &'static str| {
            let mut req = without(name);
            req.push(h(name, value));
            req
        };
        let cases: Vec<(Vec<HttpHeader<'static>>, Error, u16)> = vec![
            (without(":protocol"), Error::MissingHeader(":protocol"), 400),
            (without(":method"), Error::MissingHeader(":method"), 400),
            (with(":method", "GET"), Error::InvalidHeaderValue(":method"), 400),
            (with(":method", "connect"), Error::InvalidHeaderValue(":method"), 400),
            (with(":protocol", "h2c"), Error::InvalidHeaderValue(":protocol"), 400),
            (without(":scheme"), Error::MissingHeader(":scheme"), 400),
            (without(":path"), Error::MissingHeader(":path"), 400),
            (with(":path", ""), Error::InvalidHeaderValue(":path"), 400),
            (without(":authority"), Error::MissingHeader(":authority"), 400),
            (with("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), Error::UnexpectedHeader("Sec-WebSocket-Key"), 400),
            (with("upgrade", "websocket"), Error::UnexpectedHeader("Upgrade"), 400),
            (with("connection", "Upgrade"), Error::UnexpectedHeader("Connection"), 400),
            (without("sec-websocket-version"), Error::MissingHeader("Sec-WebSocket-Version"), 400),
            (with("sec-websocket-version", "8"), Error::UnsupportedVersion, 426),
            (
                with(":protocol", "websocket").into_iter().chain([h(":protocol", "websocket")]).collect(),
                Error::DuplicateHeader(":protocol"),
                400,
            ),
        ];
        for (req, err, status) in cases {
            let got = server_response_headers(&req, None, &[], true).map(|r| r.0);
            assert_eq!(got, Err(err), "{req:?}");
            assert_eq!(err.http_status(), Some(status));
            assert!(err.is_peer_error());
        }
        // An HTTP/1.1 upgrade is not an extended CONNECT, nor the other way round.
        let upgrade = [
            h("Host", "x"),
            h("Upgrade", "websocket"),
            h("Connection", "Upgrade"),
            h("Sec-WebSocket-Version", "13"),
            h("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(
            server_response_headers(&upgrade, None, &[], true).map(|r| r.0),
            Err(Error::MissingHeader(":method"))
        );
        assert_eq!(
            server_response_headers(&connect_request(), None, &[], false).map(|r| r.0),
            Err(Error::MissingHeader("Host"))
        );
    }

    #[test]
    fn the_client_checks_an_extended_connect_response_without_an_accept_key() {
        let offered = vec!["chat".to_string()];
        let check = |fields: &[HttpHeader<'_>]| check_client_response(None, &offered, &[], fields).map(|r| r.0);
        assert_eq!(check(&[]), Ok(ClientHandshakeOutcome::default()));
        assert_eq!(
            check(&[h(":status", "200"), h("sec-websocket-protocol", "chat")]),
            Ok(ClientHandshakeOutcome { subprotocol: Some(0), extensions: vec![] })
        );
        assert!(check(&[h(":status", "204")]).is_ok());
        assert_eq!(check(&[h(":status", "101")]), Err(Error::UnexpectedStatus(101)));
        assert_eq!(check(&[h(":status", "403")]), Err(Error::UnexpectedStatus(403)));
        for bad in ["20", "2000", "+20", "abc", ""] {
            assert_eq!(check(&[HttpHeader::new(":status", bad)]), Err(Error::InvalidHeaderValue(":status")), "{bad}");
        }
        assert_eq!(check(&[h("sec-websocket-protocol", "other")]), Err(Error::SubprotocolNotOffered));
        assert_eq!(check(&[h("sec-websocket-extensions", "x")]), Err(Error::ExtensionNotOffered));
    }

    #[test]
    fn the_server_chooses_its_most_preferred_offered_subprotocol() {
        let req = [HttpHeader::new("Sec-WebSocket-Protocol", "a, b"), HttpHeader::new("Sec-WebSocket-Protocol", "c")];
        assert_eq!(choose_subprotocol(&req, &["x", "c", "a"]), Some("c"));
        assert_eq!(choose_subprotocol(&req, &["x"]), None);
        assert_eq!(choose_subprotocol::<&str>(&[], &["a"]), None);
    }

    #[test]
    fn offered_subprotocols_are_listed_in_order() {
        let req = [h("Sec-WebSocket-Protocol", "a, b"), h("sec-websocket-protocol", "c")];
        assert_eq!(offered_subprotocols(&req), ["a", "b", "c"]);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn permessage_deflate_is_negotiated_through_the_extension_arguments() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let offers = vec![
            "x-other".to_string(),
            "permessage-deflate; server_max_window_bits=10".to_string(),
            "permessage-deflate; client_max_window_bits; server_no_context_takeover".to_string(),
        ];
        let base = vec![
            h("Upgrade", "websocket"),
            h("Connection", "Upgrade"),
            h("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ];
        let answer = |ext: &'static str| {
            let mut r = base.clone();
            r.push(h("Sec-WebSocket-Extensions", ext));
            check_client_response(Some(key), &[], &offers, &r).map(|(o, a)| (o.extensions, a.is_some()))
        };
        // The first offer the response answers is the one selected.
        assert_eq!(answer("permessage-deflate; server_max_window_bits=9"), Ok((vec![1], true)));
        assert_eq!(
            answer("permessage-deflate; client_max_window_bits=12; server_no_context_takeover"),
            Ok((vec![2], true))
        );
        assert_eq!(answer("x-other, permessage-deflate; server_max_window_bits=10"), Ok((vec![0, 1], true)));
        // Malformed, or answering no offer: E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED.
        for bad in [
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; mystery",
            "permessage-deflate; server_max_window_bits=11",
        ] {
            let e = answer(bad).unwrap_err();
            assert!(matches!(e, Error::UnacceptableExtensionResponse(_)), "{bad}: {e:?}");
            assert_eq!(e.hresult(), 0x8376_0003);
            assert!(e.is_peer_error());
        }
        assert_eq!(
            answer("permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=9"),
            Err(Error::DuplicateHeader("Sec-WebSocket-Extensions"))
        );
        let none = check_client_response(
            Some(key),
            &[],
            &[],
            &[base.clone(), vec![h("Sec-WebSocket-Extensions", "permessage-deflate")]].concat(),
        );
        assert_eq!(none.map(|r| r.0), Err(Error::ExtensionNotOffered));
        // The client's own offers are checked when it begins.
        assert!(matches!(
            client_request_headers(Some("k"), &[], &["permessage-deflate; server_max_window_bits"], &[]),
            Err(Error::InvalidExtensionParameters(_))
        ));
        // A server's selection must be a response to one of the request's offers.
        let request = [
            h("host", "x"),
            h("upgrade", "websocket"),
            h("connection", "Upgrade"),
            h("sec-websocket-version", "13"),
            h("sec-websocket-key", key),
            h("sec-websocket-extensions", "permessage-deflate; server_no_context_takeover"),
        ];
        let select =
            |ext: &'static str| server_response_headers(&request, None, &[ext], false).map(|(_, a)| a.is_some());
        assert_eq!(select("permessage-deflate; server_no_context_takeover"), Ok(true));
        for bad in ["permessage-deflate", "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"] {
            let e = select(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidExtensionParameters(_)), "{bad}: {e:?}");
            assert_eq!(e.hresult(), 0x8007_0057);
        }
    }
}
