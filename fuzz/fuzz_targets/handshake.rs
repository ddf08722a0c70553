//! The opening handshake: arbitrary HTTP heads through `HeadParser` (in arbitrary
//! chunks, with arbitrary limits), parsed as a request and as a response, and their
//! headers fed to a server's `begin_server_handshake` and to a client's
//! `end_client_handshake`. Then a round trip: the request a client builds
//! (`begin_client_handshake` with arbitrary offers and headers, `encode_request_head`)
//! must parse back unchanged and be accepted by a server, whose answer must parse back
//! and be accepted by the client.
//!
//! In the raw head, `@A` is replaced by the `Sec-WebSocket-Accept` value that matches
//! the client's key and `@K` by a valid `Sec-WebSocket-Key`, so the fuzzer reaches the
//! checks behind them.
//!
//! Checked, beyond "no panic":
//! - `HeadParser::push` completes exactly when the first blank line has arrived within
//!   the length limit, fails with `HeadTooLarge` exactly when it has not and the limit
//!   is reached, and `rest()` is everything after the head;
//! - every error is one the API documents for that call (matched explicitly);
//! - a refused request leaves the server `HandshakeFailed` (but a refused argument
//!   leaves it `Created`), and `encode_rejection` of the error is a well-formed
//!   response with the error's HTTP status, Content-Length and body;
//! - an accepted request gets `Sec-WebSocket-Accept` for its key, and the response
//!   headers survive `encode_response_head` and parsing;
//! - an accepted response's outcome names offers that the response really selected;
//! - the round trip above.
//!
//! The extended CONNECT profile (RFC 8441, RFC 9220: `Property::ExtendedConnect`) gets
//! the same: arbitrary request fields (`f` lines, pseudo-header fields among them) to a
//! server, which accepts exactly what is a WebSocket CONNECT (checked field by field:
//! an error names a field really missing, repeated, wrong or not allowed) and answers
//! `:status 200`; and a round trip of the fields a client makes, with the host's
//! `:scheme`, `:authority` and `:path`, through a server and back.
//!
//! The core is built with permessage-deflate (for the `inflate` target), so its offers,
//! selections and responses are held to RFC 7692: malformed ones are refused with the
//! documented errors, and the round trip's server answers a permessage-deflate offer
//! with `accept_deflate`, as a server does, rather than by echoing it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wsengine::{
    DEFAULT_MAX_HEAD_LEN, DEFAULT_MAX_HEADERS, DeflateOptions, Error, Handle, HeadLimits, HeadParser, HttpHeader,
    PERMESSAGE_DEFLATE, Property, State, accept_deflate, accept_key, encode_rejection, encode_request_head,
    encode_response_head, offered_subprotocols,
};

/// The parts of the input after the raw head: one item a line, named by its first
/// byte (unknown ones are ignored); `\\n` in a line stands for a line feed.
///
/// | line        | meaning                                                        |
/// |-------------|----------------------------------------------------------------|
/// | `p<token>`  | a subprotocol the client offers                                |
/// | `e<offer>`  | an extension the client offers                                 |
/// | `h<n>:<v>`  | a header of the client's own (`initial_headers`)               |
/// | `s#<i>`     | the server picks offer `i` of the raw request (`s<p>`: picks p)|
/// | `x<ext>`    | an extension the server selects for the raw request            |
/// | `t<target>` | the round trip's request target                                |
/// | `o<host>`   | the round trip's Host                                          |
/// | `q<byte>`   | the round trip server's subprotocol pick (index, 0 = none)     |
/// | `k<bytes>`  | the round trip server's extension picks (indices)              |
/// | `f<n>=<v>`  | a field of an extended CONNECT request (`f:method=CONNECT`)    |
#[derive(Debug, Default)]
struct Tail {
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    initial_headers: Vec<(Vec<u8>, Vec<u8>)>,
    server_subprotocol: Option<Result<u8, String>>,
    server_extensions: Vec<String>,
    target: String,
    host: String,
    pick_subprotocol: u8,
    pick_extensions: Vec<u8>,
    connect_fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Tail {
    fn parse(bytes: &[u8]) -> Self {
        let mut t = Self::default();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for line in bytes.split(|&b| b == b'\n') {
            let line = replace(line, b"\\n", b"\n");
            let Some((&kind, rest)) = line.split_first() else { continue };
            match kind {
                b'p' => t.subprotocols.push(text(rest)),
                b'e' => t.extensions.push(text(rest)),
                b'h' => {
                    let i = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
                    let value = rest.get(i + 1..).unwrap_or_default();
                    t.initial_headers.push((rest[..i].to_vec(), value.to_vec()));
                }
                b's' => {
                    t.server_subprotocol = Some(match rest {
                        [b'#', i, ..] => Ok(*i),
                        _ => Err(text(rest)),
                    })
                }
                b'x' => t.server_extensions.push(text(rest)),
                b't' => t.target = text(rest),
                b'o' => t.host = text(rest),
                b'q' => t.pick_subprotocol = rest.first().copied().unwrap_or_default(),
                b'k' => t.pick_extensions = rest.to_vec(),
                b'f' => {
                    let i = rest.iter().position(|&b| b == b'=').unwrap_or(rest.len());
                    let value = rest.get(i + 1..).unwrap_or_default();
                    t.connect_fields.push((rest[..i].to_vec(), value.to_vec()));
                }
                _ => {}
            }
        }
        t
    }
}

/// The input: a few bytes of settings, the raw head as it is (so that dictionary
/// words and seed heads stay readable), then `SEPARATOR` and the [`Tail`] lines.
#[derive(Debug)]
struct Input {
    /// `HeadLimits` for the raw head (0 = the defaults).
    max_len: u16,
    max_headers: u8,
    /// The client's random seed.
    seed: u8,
    /// Push sizes, cycled (0 = the rest).
    chunks: Vec<u8>,
    /// The raw head, with `@A` / `@K` substituted.
    head: Vec<u8>,
    tail: Tail,
}

const SEPARATOR: &[u8] = b"\n==\n";

impl Input {
    fn parse(data: &[u8]) -> Self {
        let mut c = wsengine_fuzz::Cursor::new(data);
        let max_len = u16::from_le_bytes([c.byte(), c.byte()]);
        let max_headers = c.byte();
        let seed = c.byte();
        let n = usize::from(c.byte() & 7);
        let chunks = c.take(n).to_vec();
        let rest = c.rest();
        let (head, tail) = match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => (&rest[..i], &rest[i + SEPARATOR.len()..]),
            None => (rest, &[][..]),
        };
        let tail = Tail::parse(tail);
        Self { max_len, max_headers, seed, chunks, head: head.to_vec(), tail }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    raw_head(&input);
    round_trip(&input);
    connect_request(&input);
    connect_round_trip(&input);
});

fn client(seed: u8) -> Handle {
    Handle::new_client([Property::RandomSeed([seed; 32])]).expect("a seeded client")
}

fn header<'a>(headers: &'a [HttpHeader<'_>], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| h.is(name)).map(|h| h.value.as_ref())
}

fn replace(hay: &[u8], pat: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(pat) {
            out.extend_from_slice(with);
            i += pat.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn is_token(s: &[u8]) -> bool {
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

fn writable(name: &[u8], value: &[u8]) -> bool {
    is_token(name) && value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7F))
}

fn extension_name(offer: &str) -> &str {
    offer.split(';').next().unwrap_or_default().trim_ascii()
}

fn is_deflate(entry: &str) -> bool {
    extension_name(entry).eq_ignore_ascii_case(PERMESSAGE_DEFLATE)
}

/// Pushes `bytes` in the chunk sizes given and checks `HeadParser` against a model.
fn push_all(bytes: &[u8], chunks: &[u8], limits: HeadLimits) -> (HeadParser, Option<Error>) {
    let mut p = HeadParser::new(limits);
    // The model: the head ends after the first blank line, if that lies within the limit.
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).filter(|&e| e <= limits.max_len);
    let mut pushed = 0;
    let mut i = 0;
    let mut first_err = None;
    loop {
        let left = bytes.len() - pushed;
        let size = match chunks.get(i % chunks.len().max(1)) {
            None | Some(0) => left,
            Some(&n) => usize::from(n).min(left),
        };
        i += 1;
        let r = p.push(&bytes[pushed..pushed + size]);
        pushed += size;
        let complete = end.is_some_and(|e| pushed >= e);
        match r {
            Ok(done) => {
                assert_eq!(done, complete, "push reported complete={done} after {pushed} bytes (head end {end:?})");
                assert!(
                    complete || pushed < limits.max_len,
                    "no HeadTooLarge at {pushed} bytes, limit {}",
                    limits.max_len
                );
            }
            Err(Error::HeadTooLarge { limit }) => {
                assert_eq!(limit, limits.max_len);
                assert!(!complete && pushed >= limits.max_len, "HeadTooLarge at {pushed} bytes, head end {end:?}");
                first_err.get_or_insert(Error::HeadTooLarge { limit });
            }
            Err(e) => panic!("push failed with {e:?}"),
        }
        assert_eq!(p.is_complete(), complete);
        if complete {
            assert_eq!(p.rest(), &bytes[end.unwrap()..pushed]);
        } else {
            assert!(p.rest().is_empty());
        }
        if pushed == bytes.len() {
            break;
        }
    }
    (p, first_err)
}

fn check_head_error(e: &Error, limits: HeadLimits) {
    match e {
        Error::TooManyHeaders { limit } => assert_eq!(*limit, limits.max_headers),
        Error::MalformedHead(_) => {}
        other => panic!("parsing a complete head failed with {other:?}"),
    }
    assert!(e.close_status().is_none(), "a head error {e:?} maps to a close status");
}

fn raw_head(input: &Input) {
    let limits = HeadLimits {
        max_len: if input.max_len == 0 { DEFAULT_MAX_HEAD_LEN } else { usize::from(input.max_len) },
        max_headers: if input.max_headers == 0 { DEFAULT_MAX_HEADERS } else { usize::from(input.max_headers) },
    };

    // A client whose key the response may answer.
    let mut c = client(input.seed);
    let subs: Vec<&str> = input.tail.subprotocols.iter().map(String::as_str).collect();
    let exts: Vec<&str> = input.tail.extensions.iter().map(String::as_str).collect();
    let mut offered: (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let hs: Vec<HttpHeader<'static>> = match c.begin_client_handshake(&subs, &exts, &[]) {
        Ok(hs) => {
            offered = (subs.clone(), exts.clone());
            hs.to_vec()
        }
        Err(e) => {
            match e {
                Error::InvalidToken => {}
                // A malformed permessage-deflate offer.
                Error::InvalidExtensionParameters(_) => assert!(exts.iter().any(|e| is_deflate(e)), "{exts:?}"),
                e => panic!("begin_client_handshake failed with {e:?}"),
            }
            assert_eq!(c.state(), State::Created);
            c.begin_client_handshake(&[], &[], &[]).expect("a plain client handshake").to_vec()
        }
    };
    let (offered_subs, offered_exts) = offered;
    assert_eq!(c.state(), State::ClientHandshaking);
    let key = header(&hs, "Sec-WebSocket-Key").expect("the client sends a key").to_vec();
    let accept = accept_key(&key);
    let head = replace(&input.head, b"@A", accept.as_bytes());
    let head = replace(&head, b"@K", b"dGhlIHNhbXBsZSBub25jZQ==");

    let (p, push_err) = push_all(&head, &input.chunks, limits);
    if !p.is_complete() {
        assert_eq!(p.request().err(), Some(Error::HeadIncomplete));
        assert_eq!(p.response().err(), Some(Error::HeadIncomplete));
        assert_eq!(push_err.is_some(), head.len() >= limits.max_len, "an incomplete head of {} bytes", head.len());
        return;
    }

    // ---- as a request, to a server
    match p.request() {
        Err(e) => check_head_error(&e, limits),
        Ok(req) => {
            assert!(req.headers.len() <= limits.max_headers);
            let offers = offered_subprotocols(&req.headers);
            let chosen: Option<&str> = match &input.tail.server_subprotocol {
                None => None,
                Some(Ok(i)) => offers.get(usize::from(*i) % offers.len().max(1)).copied(),
                Some(Err(s)) => Some(s.as_str()),
            };
            let sel: Vec<&str> = input.tail.server_extensions.iter().map(String::as_str).collect();
            server_checks(&req.headers, chosen, &sel);
        }
    }

    // ---- as a response, to the client
    match p.response() {
        Err(e) => check_head_error(&e, limits),
        Ok(res) => match c.end_client_handshake(&res.headers) {
            Ok(outcome) => {
                assert_eq!(c.state(), State::Open);
                let chosen = res.headers.iter().find(|h| h.is("Sec-WebSocket-Protocol"));
                match (outcome.subprotocol, chosen) {
                    (None, None) => {}
                    (Some(i), Some(h)) => assert_eq!(offered_subs[i].as_bytes(), h.value.trim_ascii()),
                    (o, h) => panic!("outcome subprotocol {o:?} but the response says {h:?}"),
                }
                let mut seen = Vec::new();
                for &i in &outcome.extensions {
                    assert!(i < offered_exts.len() && !seen.contains(&i), "bad extension index {i}");
                    seen.push(i);
                }
                assert!(res.headers.iter().any(|h| h.is("Sec-WebSocket-Accept")));
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        Error::MissingHeader(_)
                            | Error::DuplicateHeader(_)
                            | Error::InvalidHeaderValue(_)
                            | Error::AcceptMismatch
                            | Error::SubprotocolNotOffered
                            | Error::ExtensionNotOffered
                            | Error::UnacceptableExtensionResponse(_)
                    ),
                    "end_client_handshake failed with {e:?}"
                );
                assert!(e.close_status().is_none(), "a handshake error {e:?} maps to a close status");
                assert_eq!(c.state(), State::HandshakeFailed);
                assert!(matches!(c.end_client_handshake(&res.headers), Err(Error::InvalidState { .. })));
            }
        },
    }
}

/// A server handle given these request headers and choices.
fn server_checks(request: &[HttpHeader<'_>], chosen: Option<&str>, selections: &[&str]) {
    let mut s: Handle = Handle::new_server([]).expect("a server");
    let r = s.begin_server_handshake(chosen, selections, request).map(<[_]>::to_vec);
    // The server's own choices are checked first, and refused with InvalidToken.
    let bad_sub = chosen.is_some_and(|p| !p.is_empty() && !is_token(p.as_bytes()));
    let bad_ext = selections
        .iter()
        .any(|e| !is_token(extension_name(e).as_bytes()) || e.contains(',') || !writable(b"x", e.as_bytes()));
    assert_eq!(matches!(r, Err(Error::InvalidToken)), bad_sub || bad_ext, "{r:?} for {chosen:?} {selections:?}");
    match r {
        Ok(resp) => {
            assert_eq!(s.state(), State::ServerHandshaking);
            let key = request.iter().find(|h| h.is("Sec-WebSocket-Key")).expect("accepted without a key");
            let want = accept_key(key.value.trim_ascii());
            assert_eq!(header(&resp, "Sec-WebSocket-Accept"), Some(want.as_bytes()));
            assert_eq!(header(&resp, "Upgrade").map(<[u8]>::to_ascii_lowercase), Some(b"websocket".to_vec()));
            match chosen.filter(|p| !p.is_empty()) {
                Some(p) => assert_eq!(header(&resp, "Sec-WebSocket-Protocol"), Some(p.as_bytes())),
                None => assert_eq!(header(&resp, "Sec-WebSocket-Protocol"), None),
            }
            // The response head survives encoding and parsing.
            let bytes = encode_response_head(101, "Switching Protocols", &resp).expect("the response encodes");
            let mut p =
                HeadParser::new(HeadLimits { max_len: bytes.len().max(DEFAULT_MAX_HEAD_LEN), max_headers: 256 });
            assert!(p.push(&bytes).expect("push"));
            let parsed = p.response().expect("an encoded response parses");
            assert_eq!((parsed.status, parsed.reason, parsed.version), (101, "Switching Protocols", 1));
            assert_eq!(parsed.headers, resp);
            assert!(p.rest().is_empty());
            s.end_server_handshake().expect("end_server_handshake");
            assert_eq!(s.state(), State::Open);
        }
        Err(Error::InvalidToken) => {
            // The server's own choices were refused: the handle is unchanged.
            assert_eq!(s.state(), State::Created);
        }
        Err(Error::InvalidExtensionParameters(_)) => {
            // A permessage-deflate selection that is no response to the request's offers:
            // the server's own mistake too.
            assert!(selections.iter().any(|e| is_deflate(e)), "{selections:?}");
            assert_eq!(s.state(), State::Created);
        }
        Err(e) => {
            assert!(
                matches!(
                    e,
                    Error::MissingHeader(_)
                        | Error::DuplicateHeader(_)
                        | Error::InvalidHeaderValue(_)
                        | Error::UnsupportedVersion
                ),
                "begin_server_handshake failed with {e:?}"
            );
            assert_eq!(s.state(), State::HandshakeFailed);
            assert!(e.close_status().is_none(), "a handshake error {e:?} maps to a close status");
            let status = e.http_status().expect("a refused request has an HTTP status");
            assert_eq!(status, if e == Error::UnsupportedVersion { 426 } else { 400 });
            // The rejection is a well-formed response.
            let rejection = encode_rejection(&e);
            let mut p = HeadParser::new(HeadLimits::default());
            assert!(p.push(&rejection).expect("push"), "the rejection has no blank line");
            let parsed = p.response().expect("the rejection parses");
            assert_eq!(parsed.status, status);
            let body = e.to_string();
            assert_eq!(p.rest(), body.as_bytes());
            assert_eq!(header(&parsed.headers, "Content-Length"), Some(body.len().to_string().as_bytes()));
            if status == 426 {
                assert_eq!(header(&parsed.headers, "Sec-WebSocket-Version"), Some(&b"13"[..]));
            }
            assert!(s.end_server_handshake().is_err());
        }
    }
}

fn round_trip(input: &Input) {
    let mut c = client(input.seed.wrapping_add(1));
    let subs: Vec<&str> = input.tail.subprotocols.iter().map(String::as_str).collect();
    let exts: Vec<&str> = input.tail.extensions.iter().map(String::as_str).collect();
    let initial: Vec<HttpHeader<'_>> = input
        .tail
        .initial_headers
        .iter()
        .map(|(n, v)| HttpHeader::new(n.as_slice(), v.as_slice()))
        .filter(|h| !h.is("Host") && !h.name.to_ascii_lowercase().starts_with(b"sec-websocket-"))
        .collect();

    let subs_ok = subs.iter().all(|p| is_token(p.as_bytes()));
    let exts_ok =
        exts.iter().all(|e| is_token(extension_name(e).as_bytes()) && !e.contains(',') && writable(b"x", e.as_bytes()));
    let initial_ok = initial.iter().all(|h| writable(&h.name, &h.value));
    let (offered_subs, offered_exts, initial) = match c.begin_client_handshake(&subs, &exts, &initial) {
        Ok(_) => {
            assert!(subs_ok && exts_ok && initial_ok, "begin_client_handshake accepted {subs:?} {exts:?} {initial:?}");
            (subs.clone(), exts.clone(), initial.clone())
        }
        Err(e) => {
            match e {
                Error::InvalidToken => assert!(!subs_ok || !exts_ok, "InvalidToken for {subs:?} {exts:?}"),
                Error::InvalidHeader => assert!(subs_ok && exts_ok && !initial_ok, "InvalidHeader for {initial:?}"),
                Error::InvalidExtensionParameters(_) => assert!(exts.iter().any(|e| is_deflate(e)), "{exts:?}"),
                other => panic!("begin_client_handshake failed with {other:?}"),
            }
            assert_eq!(c.state(), State::Created);
            (Vec::new(), Vec::new(), Vec::new())
        }
    };
    let mut c = client(input.seed.wrapping_add(1));
    let engine_headers =
        c.begin_client_handshake(&offered_subs, &offered_exts, &initial).expect("the same call again").to_vec();
    let key = header(&engine_headers, "Sec-WebSocket-Key").expect("a key").to_vec();

    let host: &str = if writable(b"Host", input.tail.host.as_bytes()) { &input.tail.host } else { "example.com" };
    let mut request = vec![HttpHeader::new("Host", host)];
    request.extend(initial.iter().cloned());
    request.extend(engine_headers.iter().cloned());

    let target_ok = !input.tail.target.is_empty() && input.tail.target.bytes().all(|b| b > b' ' && b != 0x7F);
    let target = if target_ok { input.tail.target.as_str() } else { "/" };
    if !target_ok {
        assert_eq!(encode_request_head(&input.tail.target, &request), Err(Error::InvalidHeader));
    }
    let bytes = encode_request_head(target, &request).expect("a writable request encodes");

    let (p, err) = push_all(&bytes, &input.chunks, HeadLimits::default());
    if bytes.len() > DEFAULT_MAX_HEAD_LEN {
        assert!(matches!(err, Some(Error::HeadTooLarge { .. })));
        return;
    }
    assert!(p.is_complete() && p.rest().is_empty() && err.is_none());
    let req = match p.request() {
        Ok(req) => req,
        Err(Error::TooManyHeaders { .. }) if request.len() > DEFAULT_MAX_HEADERS => return,
        Err(e) => panic!("an encoded request does not parse: {e:?}\n{:?}", String::from_utf8_lossy(&bytes)),
    };
    assert_eq!((req.method, req.target, req.version), ("GET", target, 1));
    assert_eq!(req.headers.len(), request.len(), "header count changed: {:?}", String::from_utf8_lossy(&bytes));
    for (got, sent) in req.headers.iter().zip(&request) {
        assert_eq!(got.name, sent.name);
        // Leading and trailing white space is not part of a field value.
        assert_eq!(got.value.trim_ascii(), sent.value.trim_ascii(), "value of {sent:?}");
    }
    assert_eq!(offered_subprotocols(&req.headers), offered_subs);

    // The server picks among the offers.
    let chosen = match usize::from(input.tail.pick_subprotocol) % (offered_subs.len() + 1) {
        0 => None,
        i => Some(offered_subs[i - 1]),
    };
    // Other extensions are selected by echoing an offer; permessage-deflate by answering
    // the offers as a server does (`None` in `expect_ext`: the client names whichever of
    // its permessage-deflate offers the answer fits first).
    let deflate_answer = accept_deflate(&req.headers, &DeflateOptions::default()).expect("the default options");
    let mut picked: Vec<&str> = Vec::new();
    let mut expect_ext: Vec<Option<usize>> = Vec::new();
    for &i in &input.tail.pick_extensions {
        let Some(e) = offered_exts.get(usize::from(i) % offered_exts.len().max(1)) else { continue };
        let name = extension_name(e);
        if picked.iter().any(|p| extension_name(p).eq_ignore_ascii_case(name)) {
            continue;
        }
        if is_deflate(e) {
            let Some(answer) = deflate_answer.as_deref() else { continue };
            picked.push(answer);
            expect_ext.push(None);
        } else {
            picked.push(e);
            expect_ext.push(offered_exts.iter().position(|o| extension_name(o).eq_ignore_ascii_case(name)));
        }
    }
    let mut s: Handle = Handle::new_server([]).expect("a server");
    let resp = match s.begin_server_handshake(chosen, &picked, &req.headers) {
        Ok(resp) => resp.to_vec(),
        Err(e) => panic!("the server refused the client's own request: {e:?}\n{:?}", String::from_utf8_lossy(&bytes)),
    };
    assert_eq!(header(&resp, "Sec-WebSocket-Accept"), Some(accept_key(&key).as_bytes()));
    let res_bytes = encode_response_head(101, "Switching Protocols", &resp).expect("the response encodes");
    let (p, err) = push_all(&res_bytes, &input.chunks, HeadLimits::default());
    if res_bytes.len() > DEFAULT_MAX_HEAD_LEN {
        assert!(matches!(err, Some(Error::HeadTooLarge { .. })));
        return;
    }
    let res = p.response().expect("an encoded response parses");
    let outcome = c.end_client_handshake(&res.headers).expect("the client refused the server's own response");
    let want_sub = chosen.map(|p| offered_subs.iter().position(|o| *o == p).unwrap());
    assert_eq!(outcome.subprotocol, want_sub);
    assert_eq!(outcome.extensions.len(), expect_ext.len(), "{:?} for {expect_ext:?}", outcome.extensions);
    for (&got, want) in outcome.extensions.iter().zip(&expect_ext) {
        match want {
            Some(i) => assert_eq!(got, *i),
            None => assert!(is_deflate(offered_exts[got]), "{got} names {:?}", offered_exts[got]),
        }
    }
    assert_eq!(c.state(), State::Open);
    s.end_server_handshake().expect("end_server_handshake");
    assert_eq!(s.state(), State::Open);
}

fn connect_server() -> Handle {
    Handle::new_server([Property::ExtendedConnect(true)]).expect("a server")
}

/// The fields named `name`, by HTTP's case-insensitive match.
fn fields<'a>(request: &'a [HttpHeader<'_>], name: &str) -> Vec<&'a [u8]> {
    request.iter().filter(|h| h.is(name)).map(|h| h.value.as_ref()).collect()
}

/// Arbitrary extended CONNECT fields to a server: accepted exactly when they are one.
fn connect_request(input: &Input) {
    let request: Vec<HttpHeader<'_>> =
        input.tail.connect_fields.iter().map(|(n, v)| HttpHeader::new(n.as_slice(), v.as_slice())).collect();
    let offers = offered_subprotocols(&request);
    let chosen: Option<&str> = match &input.tail.server_subprotocol {
        None => None,
        Some(Ok(i)) => offers.get(usize::from(*i) % offers.len().max(1)).copied(),
        Some(Err(s)) => Some(s.as_str()),
    };
    let selections: Vec<&str> = input.tail.server_extensions.iter().map(String::as_str).collect();
    let mut s = connect_server();
    let r = s.begin_server_handshake(chosen, &selections, &request).map(<[_]>::to_vec);
    let one = |name: &str| match fields(&request, name)[..] {
        [v] => Some(v),
        _ => None,
    };
    let version = one("Sec-WebSocket-Version").map(<[u8]>::trim_ascii);
    match r {
        Ok(response) => {
            // Everything RFC 8441 asks of the request holds.
            assert_eq!(one(":method"), Some(&b"CONNECT"[..]));
            assert!(one(":protocol").is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket")));
            assert!(one(":scheme").is_some() && one(":path").is_some_and(|p| !p.is_empty()));
            assert!(!fields(&request, ":authority").is_empty() || !fields(&request, "Host").is_empty());
            for name in ["Sec-WebSocket-Key", "Upgrade", "Connection"] {
                assert!(fields(&request, name).is_empty(), "accepted with {name}");
            }
            assert_eq!(version, Some(&b"13"[..]));
            assert_eq!(response[0], HttpHeader::new(":status", "200"));
            assert!(response.iter().all(|h| h.name.iter().all(|b| !b.is_ascii_uppercase())), "{response:?}");
            assert_eq!(header(&response, "Sec-WebSocket-Accept"), None);
            match chosen.filter(|p| !p.is_empty()) {
                Some(p) => assert_eq!(header(&response, "Sec-WebSocket-Protocol"), Some(p.as_bytes())),
                None => assert_eq!(header(&response, "Sec-WebSocket-Protocol"), None),
            }
            s.end_server_handshake().expect("end_server_handshake");
        }
        Err(Error::InvalidToken | Error::InvalidExtensionParameters(_)) => assert_eq!(s.state(), State::Created),
        Err(e) => {
            // The error names a real defect.
            match &e {
                Error::MissingHeader(n) if *n == ":authority" => {
                    assert!(fields(&request, ":authority").is_empty() && fields(&request, "Host").is_empty());
                }
                Error::MissingHeader(n) => assert!(fields(&request, n).is_empty(), "{e:?}"),
                Error::DuplicateHeader(n) => assert!(fields(&request, n).len() > 1, "{e:?}"),
                Error::UnexpectedHeader(n) => assert!(!fields(&request, n).is_empty(), "{e:?}"),
                Error::InvalidHeaderValue(":method") => assert_ne!(one(":method"), Some(&b"CONNECT"[..])),
                Error::InvalidHeaderValue(":protocol") => {
                    assert!(!one(":protocol").is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket")));
                }
                Error::InvalidHeaderValue(":path") => assert_eq!(one(":path"), Some(&b""[..])),
                Error::InvalidHeaderValue("Sec-WebSocket-Version") | Error::UnsupportedVersion => {
                    assert_ne!(version, Some(&b"13"[..]));
                }
                other => panic!("begin_server_handshake (extended CONNECT) failed with {other:?}"),
            }
            assert_eq!(s.state(), State::HandshakeFailed);
            assert_eq!(e.http_status(), Some(if e == Error::UnsupportedVersion { 426 } else { 400 }));
            assert!(e.is_peer_error() && e.close_status().is_none());
        }
    }
}

/// The fields a client makes, through a server and back.
fn connect_round_trip(input: &Input) {
    let new_client =
        || Handle::new_client([Property::RandomSeed([input.seed; 32]), Property::ExtendedConnect(true)]).unwrap();
    let subs: Vec<&str> = input.tail.subprotocols.iter().map(String::as_str).collect();
    let exts: Vec<&str> = input.tail.extensions.iter().map(String::as_str).collect();
    let mut c: Handle = new_client();
    let (subs, exts) = match c.begin_client_handshake(&subs, &exts, &[]) {
        Ok(_) => (subs, exts),
        Err(Error::InvalidToken | Error::InvalidExtensionParameters(_)) => (Vec::new(), Vec::new()),
        Err(e) => panic!("begin_client_handshake (extended CONNECT) failed with {e:?}"),
    };
    let mut c: Handle = new_client();
    let made = c.begin_client_handshake(&subs, &exts, &[]).expect("the same call again").to_vec();
    assert_eq!(made[..3], [
        HttpHeader::new(":method", "CONNECT"),
        HttpHeader::new(":protocol", "websocket"),
        HttpHeader::new("sec-websocket-version", "13"),
    ]);
    assert!(made.iter().all(|h| !h.is("Sec-WebSocket-Key")), "{made:?}");
    let target = if input.tail.target.is_empty() { "/" } else { input.tail.target.as_str() };
    let authority = if input.tail.host.is_empty() { "example.com" } else { input.tail.host.as_str() };
    let mut request = made[..2].to_vec();
    request.push(HttpHeader::new(":scheme", "https"));
    request.push(HttpHeader::new(":authority", authority));
    request.push(HttpHeader::new(":path", target));
    request.extend(made[2..].iter().cloned());
    let chosen = match usize::from(input.tail.pick_subprotocol) % (subs.len() + 1) {
        0 => None,
        i => Some(subs[i - 1]),
    };
    let deflate = accept_deflate(&request, &DeflateOptions::default()).expect("the default options");
    let picked: Vec<&str> = deflate.iter().map(String::as_str).collect();
    let mut s = connect_server();
    let response = match s.begin_server_handshake(chosen, &picked, &request) {
        Ok(r) => r.to_vec(),
        Err(e) => panic!("the server refused the client's own CONNECT: {e:?}\n{request:?}"),
    };
    let outcome = c.end_client_handshake(&response).expect("the client refused the server's own response");
    assert_eq!(outcome.subprotocol, chosen.map(|p| subs.iter().position(|o| *o == p).unwrap()));
    assert_eq!(outcome.extensions.len(), picked.len());
    assert_eq!(c.state(), State::Open);
}
