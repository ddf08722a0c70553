//! permessage-deflate (RFC 7692): its negotiation, and the compression streams a handle
//! keeps once it is in force.
//!
//! Negotiation goes through websocket.dll's own extension arguments: a client offers
//! `permessage-deflate; ...` strings to
//! [`begin_client_handshake`](crate::Handle::begin_client_handshake) and the engine
//! checks the server's answer in `end_client_handshake`; a server passes the response it
//! chose (see [`accept_deflate`]) to
//! [`begin_server_handshake`](crate::Handle::begin_server_handshake). Extensions with
//! other names stay header handling only.
//!
//! Received compressed messages are inflated as they arrive, in pieces of at most the
//! receive buffer size; sent messages are compressed whole (one frame per send, as
//! without compression).

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Status};

use crate::error::{Error, Result};
use crate::http::HttpHeader;
use crate::property::{DEFAULT_DEFLATE_LEVEL, DEFAULT_DEFLATE_MEM_LEVEL, DEFAULT_DEFLATE_THRESHOLD, Property};

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The bytes a sender strips from the end of each compressed message and a receiver
/// appends before inflating its end (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// What one end wants of permessage-deflate: the four RFC 7692 parameters from its side,
/// and how it compresses. Used by a client to build its offer ([`DeflateOptions::offer`]),
/// by a server to choose its response ([`accept_deflate`]), and by the
/// [`Connection`](crate::Connection) for both.
///
/// The default keeps the memory a connection holds modest: windows of 2^12 bytes both
/// ways, memory level 5 and context takeover on, about 210 KiB per connection against
/// 420 KiB at zlib's defaults (15 bits, level 8); bench/README.md has every setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateOptions {
    /// The largest window (9 to 15, as a power of two) the server compresses with. A
    /// client asks for it (omitted from the offer at 15); a server uses at most this.
    pub server_max_window_bits: u8,
    /// The largest window (9 to 15) the client compresses with. A client offers it
    /// (as a hint below 15); a server asks for it when the client allows.
    pub client_max_window_bits: u8,
    /// The server starts every message with an empty window. Memory is the same; the
    /// ratio falls for small, similar messages.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty window.
    pub client_no_context_takeover: bool,
    /// The compression level, 0 (stored) to 9 (best).
    pub level: u32,
    /// zlib's memory level for the compressor, 1 to 9 (see
    /// [`DEFAULT_DEFLATE_MEM_LEVEL`](crate::DEFAULT_DEFLATE_MEM_LEVEL)).
    pub mem_level: u32,
    /// Messages shorter than this many bytes go uncompressed (fragmented messages are
    /// always compressed: their length is not known at their first piece).
    pub threshold: usize,
}

impl Default for DeflateOptions {
    fn default() -> Self {
        Self {
            server_max_window_bits: 12,
            client_max_window_bits: 12,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: DEFAULT_DEFLATE_LEVEL,
            mem_level: DEFAULT_DEFLATE_MEM_LEVEL,
            threshold: DEFAULT_DEFLATE_THRESHOLD as usize,
        }
    }
}

impl DeflateOptions {
    /// Checks the ranges: window bits 9 to 15, level 0 to 9, memory level 1 to 9.
    pub fn check(&self) -> Result<()> {
        let bits_ok = |b: u8| (9..=15).contains(&b);
        if !bits_ok(self.server_max_window_bits) || !bits_ok(self.client_max_window_bits) {
            return Err(Error::InvalidExtensionParameters("window bits must be 9 to 15"));
        }
        if self.level > 9 {
            return Err(Error::InvalidExtensionParameters("the level must be 0 to 9"));
        }
        if !(1..=9).contains(&self.mem_level) {
            return Err(Error::InvalidExtensionParameters("the memory level must be 1 to 9"));
        }
        Ok(())
    }

    /// The handle properties that carry the level, memory level and threshold.
    #[must_use]
    pub fn properties(&self) -> [Property; 3] {
        [
            Property::DeflateLevel(self.level),
            Property::DeflateMemLevel(self.mem_level),
            Property::DeflateThreshold(u32::try_from(self.threshold).unwrap_or(u32::MAX)),
        ]
    }

    /// The client's offer, one entry of `begin_client_handshake`'s extensions: it always
    /// lets the server limit the client's window (`client_max_window_bits`). Fails with
    /// `E_INVALIDARG` on options out of range ([`DeflateOptions::check`]).
    pub fn offer(&self) -> Result<String> {
        self.check()?;
        let mut s = String::from(PERMESSAGE_DEFLATE);
        if self.client_max_window_bits < 15 {
            s.push_str(&format!("; client_max_window_bits={}", self.client_max_window_bits));
        } else {
            s.push_str("; client_max_window_bits");
        }
        if self.server_max_window_bits < 15 {
            s.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        Ok(s)
    }
}

/// The parameters of one permessage-deflate offer or response, as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in an offer only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Is this extension entry permessage-deflate? (Its name, case-insensitively.)
pub(crate) fn is_deflate(entry: &[u8]) -> bool {
    let name = entry.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE.as_bytes())
}

/// A window-bits value: 8 to 15, digits only, optionally quoted (RFC 7692 §7.1.2).
fn window_bits(value: &[u8]) -> Option<u8> {
    let v = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// Parses a permessage-deflate entry's parameters (the entry is known to have the name).
/// `offer` allows `client_max_window_bits` without a value. An unknown parameter, a
/// repeated one or a bad value is refused (RFC 7692 §7.1: a server declines such an
/// offer, a client fails on such a response).
pub(crate) fn parse(entry: &[u8], offer: bool) -> core::result::Result<Params, &'static str> {
    let mut p = Params::default();
    let mut seen = 0u8;
    for param in entry.split(|&b| b == b';').skip(1) {
        let param = param.trim_ascii();
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => (param[..i].trim_ascii(), Some(param[i + 1..].trim_ascii())),
            None => (param, None),
        };
        let bit = match name {
            b"server_no_context_takeover" => 1,
            b"client_no_context_takeover" => 2,
            b"server_max_window_bits" => 4,
            b"client_max_window_bits" => 8,
            _ => return Err("an unknown permessage-deflate parameter"),
        };
        if seen & bit != 0 {
            return Err("a repeated permessage-deflate parameter");
        }
        seen |= bit;
        match (bit, value) {
            (1, None) => p.server_no_context_takeover = true,
            (2, None) => p.client_no_context_takeover = true,
            (1 | 2, Some(_)) => return Err("a no_context_takeover parameter with a value"),
            (4, Some(v)) => p.server_max_window_bits = Some(window_bits(v).ok_or("window bits not 8 to 15")?),
            (4, None) => return Err("server_max_window_bits without a value"),
            (_, Some(v)) => p.client_max_window_bits = Some(Some(window_bits(v).ok_or("window bits not 8 to 15")?)),
            (_, None) if offer => p.client_max_window_bits = Some(None),
            (_, None) => return Err("client_max_window_bits without a value in a response"),
        }
    }
    Ok(p)
}

/// Checks that `response` may answer `offer` (RFC 7692 §7.1.1, §7.1.2).
pub(crate) fn answers(offer: &Params, response: &Params) -> core::result::Result<(), &'static str> {
    if offer.server_no_context_takeover && !response.server_no_context_takeover {
        return Err("the response drops the server_no_context_takeover the offer asked for");
    }
    match (offer.server_max_window_bits, response.server_max_window_bits) {
        (Some(_), None) => return Err("the response drops the server_max_window_bits the offer asked for"),
        (Some(o), Some(r)) if r > o => return Err("server_max_window_bits above the offer's"),
        _ => {}
    }
    match (offer.client_max_window_bits, response.client_max_window_bits) {
        (None, Some(_)) => Err("client_max_window_bits that the offer did not allow"),
        (Some(Some(o)), Some(Some(r))) if r > o => Err("client_max_window_bits above the offer's"),
        _ => Ok(()),
    }
}

/// A server's response as a client that offered `offer` takes it: a
/// client_max_window_bits above the offer's breaks RFC 7692 §7.1.2.2 but harms nothing
/// (it allows the client a larger window than it said it would use), so the client
/// reads it as the offer's value and keeps to that. Autobahn's server (cases 13.4 and
/// 13.6) answers 15 whatever the offer said.
fn as_client_reads(offer: &Params, mut response: Params) -> Params {
    if let (Some(Some(o)), Some(Some(r))) = (offer.client_max_window_bits, response.client_max_window_bits)
        && r > o
    {
        response.client_max_window_bits = Some(Some(o));
    }
    response
}

/// What is in force for one end once a response was agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The window this end compresses with; 8 means it sends uncompressed (zlib cannot
    /// compress with a 2^8 window, and sending uncompressed is always allowed).
    pub(crate) send_window: u8,
    /// This end empties its window after every message.
    pub(crate) send_reset: bool,
    /// The window the peer compresses with (this end inflates with at least 2^9).
    pub(crate) receive_window: u8,
    /// The peer empties its window after every message.
    pub(crate) receive_reset: bool,
}

impl Agreed {
    /// What a response means for a client that offered `offer`, or for a server.
    pub(crate) fn from_response(response: &Params, offer: Option<&Params>, server: bool) -> Self {
        let server_window = response.server_max_window_bits.unwrap_or(15);
        // A client's offered value is a promise it keeps even when the server is silent.
        let client_window = response
            .client_max_window_bits
            .flatten()
            .or_else(|| offer.and_then(|o| o.client_max_window_bits.flatten()))
            .unwrap_or(15);
        let server_reset = response.server_no_context_takeover;
        // Offering client_no_context_takeover is a promise too (RFC 7692 §7.1.1.2), kept
        // whether or not the server repeats it.
        let client_reset = response.client_no_context_takeover || offer.is_some_and(|o| o.client_no_context_takeover);
        if server {
            Self {
                send_window: server_window,
                send_reset: server_reset,
                receive_window: client_window,
                receive_reset: client_reset,
            }
        } else {
            Self {
                send_window: client_window,
                send_reset: client_reset,
                receive_window: server_window,
                receive_reset: server_reset,
            }
        }
    }
}

/// The response a server makes to the first of the client's permessage-deflate offers
/// it can accept with `options`, for `begin_server_handshake`'s extensions; `None` when
/// the request offers none it can accept (then the connection goes on uncompressed).
/// Fails with `E_INVALIDARG` on options out of range ([`DeflateOptions::check`]).
///
/// An offer with an unknown, repeated or malformed parameter is declined, as RFC 7692
/// §7.1 says. So is one that asks for a server window of 2^8 bytes (zlib cannot compress
/// with it); the next offer may still be taken.
pub fn accept_deflate(request: &[HttpHeader<'_>], options: &DeflateOptions) -> Result<Option<String>> {
    options.check()?;
    Ok(offered_entries(request).find_map(|entry| respond(&parse(entry, true).ok()?, options)))
}

/// The response to one well-formed offer, if `options` can accept it.
fn respond(offer: &Params, options: &DeflateOptions) -> Option<String> {
    let server_bits = match offer.server_max_window_bits {
        Some(8) => return None,
        Some(o) => Some(o.min(options.server_max_window_bits)),
        None => (options.server_max_window_bits < 15).then_some(options.server_max_window_bits),
    };
    let client_bits = match offer.client_max_window_bits {
        None => None,
        Some(o) => {
            let bits = options.client_max_window_bits.min(o.unwrap_or(15));
            (bits < 15).then_some(bits)
        }
    };
    let mut s = String::from(PERMESSAGE_DEFLATE);
    if offer.server_no_context_takeover || options.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if offer.client_no_context_takeover || options.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if let Some(b) = server_bits {
        s.push_str(&format!("; server_max_window_bits={b}"));
    }
    if let Some(b) = client_bits {
        s.push_str(&format!("; client_max_window_bits={b}"));
    }
    Some(s)
}

/// Checks a client's permessage-deflate offers (`begin_client_handshake`'s extensions;
/// entries with other names are not the engine's business).
pub(crate) fn check_offers(extensions: &[&str]) -> Result<()> {
    for e in extensions.iter().filter(|e| is_deflate(e.as_bytes())) {
        parse(e.as_bytes(), true).map_err(Error::InvalidExtensionParameters)?;
    }
    Ok(())
}

/// For a client, a response entry naming permessage-deflate (`None` for other names):
/// the index of the first offer it answers, and what is then in force.
pub(crate) fn client_accepts(offers: &[String], entry: &[u8]) -> Option<Result<(usize, Agreed)>> {
    if !is_deflate(entry) {
        return None;
    }
    let response = match parse(entry, false) {
        Ok(r) => r,
        Err(why) => return Some(Err(Error::UnacceptableExtensionResponse(why))),
    };
    let mut why = None;
    for (i, o) in offers.iter().enumerate().filter(|(_, o)| is_deflate(o.as_bytes())) {
        let Ok(offer) = parse(o.as_bytes(), true) else { continue };
        let response = as_client_reads(&offer, response);
        match answers(&offer, &response) {
            Ok(()) => return Some(Ok((i, Agreed::from_response(&response, Some(&offer), false)))),
            Err(w) => why = why.or(Some(w)),
        }
    }
    Some(Err(why.map_or(Error::ExtensionNotOffered, Error::UnacceptableExtensionResponse)))
}

/// For a server, its selected entry naming permessage-deflate (`None` for other names):
/// checked to be a response that answers one of the request's offers, and what is then
/// in force.
pub(crate) fn server_selects(request: &[HttpHeader<'_>], entry: &[u8]) -> Option<Result<Agreed>> {
    if !is_deflate(entry) {
        return None;
    }
    let response = match parse(entry, false) {
        Ok(r) => r,
        Err(why) => return Some(Err(Error::InvalidExtensionParameters(why))),
    };
    let answered =
        offered_entries(request).filter_map(|o| parse(o, true).ok()).any(|offer| answers(&offer, &response).is_ok());
    Some(if answered {
        Ok(Agreed::from_response(&response, None, true))
    } else {
        Err(Error::InvalidExtensionParameters("the selection answers no permessage-deflate offer of the request"))
    })
}

/// The extension entries of a request's `Sec-WebSocket-Extensions` headers, in order.
fn offered_entries<'a>(request: &'a [HttpHeader<'_>]) -> impl Iterator<Item = &'a [u8]> {
    request
        .iter()
        .filter(|h| h.is("Sec-WebSocket-Extensions"))
        .flat_map(|h| h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii))
        .filter(|e| is_deflate(e))
}

/// The compression state of a handle with permessage-deflate in force. The zlib streams
/// and buffers are made at the first message that needs them, then kept.
pub(crate) struct Streams {
    agreed: Agreed,
    level: u32,
    mem_level: u32,
    threshold: usize,
    inflater: Option<Inflate>,
    deflater: Option<Deflate>,
    /// The output area for inflated pieces (the receive buffer's size, made once).
    inflated: Vec<u8>,
    /// A send's payload as it goes on the wire (compressed, or a copy of an inflated
    /// piece sent back).
    staged: Vec<u8>,
    /// True while the message being received is compressed.
    receiving: bool,
    /// How much of [`TAIL`] the inflater took for the message being received.
    tail_fed: usize,
    /// True while the message being sent is compressed.
    sending: bool,
    /// Inflated bytes of the message being received so far.
    message_out: u64,
}

impl core::fmt::Debug for Streams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Streams").field("agreed", &self.agreed).field("receiving", &self.receiving).finish()
    }
}

/// The most capacity a handle keeps in its staging buffer between sends.
const STAGED_KEEP: usize = 1 << 20;

/// The bytes of a send to compress: the caller's, or an inflated piece sent back.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Piece<'a> {
    Bytes(&'a [u8]),
    Inflated(usize, usize),
}

/// What one inflate step did.
pub(crate) struct Inflated {
    /// Compressed bytes consumed.
    pub(crate) consumed: usize,
    /// Bytes written to the output.
    pub(crate) produced: usize,
    /// True when the message's end (its tail) is fully inflated.
    pub(crate) message_end: bool,
}

impl Streams {
    pub(crate) fn new(agreed: Agreed, level: u32, mem_level: u32, threshold: usize) -> Self {
        Self {
            agreed,
            level,
            mem_level,
            threshold,
            inflater: None,
            deflater: None,
            inflated: Vec::new(),
            staged: Vec::new(),
            receiving: false,
            tail_fed: 0,
            sending: false,
            message_out: 0,
        }
    }

    /// A received message starts: compressed when its first frame has RSV1.
    pub(crate) fn message_started(&mut self, compressed: bool) {
        self.receiving = compressed;
        self.tail_fed = 0;
        self.message_out = 0;
    }

    /// Inflates `input` (compressed payload of the message) into the first `cap` bytes
    /// of the output area (of `area` bytes, made at the first call), and, when `last`
    /// (the message's last byte is in `input`), its tail once `input` is all consumed.
    /// Fails on invalid compressed data.
    pub(crate) fn inflate(&mut self, input: &[u8], area: usize, cap: usize, last: bool) -> Result<Inflated> {
        if self.inflated.len() != area {
            self.inflated.resize(area, 0);
        }
        let out = &mut self.inflated[..cap.min(area)];
        let window = self.agreed.receive_window.max(9);
        let z = self.inflater.get_or_insert_with(|| Inflate::new(false, window));
        let (in0, out0) = (z.total_in(), z.total_out());
        let status = z.decompress(input, out, InflateFlush::NoFlush).map_err(|_| Error::InvalidCompressedData)?;
        let consumed = (z.total_in() - in0) as usize;
        let mut produced = (z.total_out() - out0) as usize;
        let mut ended = status == Status::StreamEnd;
        if ended && consumed < input.len() {
            // Bytes after a final block within the message.
            return Err(Error::InvalidCompressedData);
        }
        if last && consumed == input.len() && !ended && produced < out.len() {
            let (in1, out1) = (z.total_in(), z.total_out());
            let status = z
                .decompress(&TAIL[self.tail_fed..], &mut out[produced..], InflateFlush::SyncFlush)
                .map_err(|_| Error::InvalidCompressedData)?;
            self.tail_fed += (z.total_in() - in1) as usize;
            produced += (z.total_out() - out1) as usize;
            ended = status == Status::StreamEnd;
        }
        self.message_out += produced as u64;
        let message_end =
            last && consumed == input.len() && (ended || self.tail_fed == TAIL.len()) && produced < out.len();
        // A final block ends the peer's stream: the next message starts a new one (rare:
        // senders flush instead). Without one the inflater is kept as it is, also when
        // the peer empties its window per message: its data then never reaches back.
        if ended {
            *z = Inflate::new(false, window);
        }
        Ok(Inflated { consumed, produced, message_end })
    }

    /// Decides whether a send is compressed and, if so, compresses it into the staging
    /// buffer. `first`: the piece opens a message; `fin`: it ends it. Returns true when
    /// the send goes compressed.
    pub(crate) fn compress(&mut self, payload: Piece<'_>, first: bool, fin: bool) -> Result<bool> {
        let payload = match payload {
            Piece::Bytes(b) => b,
            Piece::Inflated(start, end) => &self.inflated[start..end],
        };
        if first {
            self.sending = self.agreed.send_window >= 9 && (!fin || payload.len() >= self.threshold);
        }
        if !self.sending {
            return Ok(false);
        }
        let config = DeflateConfig {
            level: self.level as i32,
            window_bits: -i32::from(self.agreed.send_window),
            mem_level: self.mem_level as i32,
            ..DeflateConfig::default()
        };
        let z = self.deflater.get_or_insert_with(|| Deflate::new_with_config(config));
        let staged = &mut self.staged;
        staged.clear();
        staged.reserve(payload.len() / 2 + 64);
        let mut done = 0;
        loop {
            if staged.capacity() - staged.len() < 16 {
                staged.reserve(staged.len().max(256));
            }
            // Compressed into the spare capacity, zeroed first (safe code cannot hand
            // zlib uninitialised memory; the fill costs little beside compressing).
            let (len, room) = (staged.len(), staged.capacity() - staged.len());
            staged.resize(len + room, 0);
            let (in0, out0) = (z.total_in(), z.total_out());
            // A sync flush never fails with valid settings.
            let r = z.compress(&payload[done..], &mut staged[len..], DeflateFlush::SyncFlush);
            done += (z.total_in() - in0) as usize;
            let wrote = (z.total_out() - out0) as usize;
            staged.truncate(len + wrote);
            r.map_err(|_| Error::InvalidCompressedData)?;
            if done == payload.len() && wrote < room {
                break;
            }
        }
        if fin {
            // A sync flush ends with the empty stored block's 00 00 FF FF: stripped, the
            // receiver appends it (RFC 7692 §7.2.1). When the piece added nothing (an
            // empty last fragment, the compressor already flushed), zlib writes no block
            // at all: the piece is then one byte opening an empty stored block, which the
            // receiver's 00 00 FF FF completes (§7.2.3.6).
            if staged.ends_with(&TAIL) {
                staged.truncate(staged.len() - TAIL.len());
            } else if staged.is_empty() {
                staged.push(0x00);
            }
            if self.agreed.send_reset {
                z.reset();
            }
            self.sending = false;
        }
        Ok(true)
    }

    /// Stages a copy of the inflated piece `start..end`, to be sent as it is.
    pub(crate) fn stage_inflated(&mut self, start: usize, end: usize) {
        self.staged.clear();
        self.staged.extend_from_slice(&self.inflated[start..end]);
    }

    /// A send's staged bytes are written: a large buffer is let go.
    pub(crate) fn staged_done(&mut self) {
        if self.staged.capacity() > STAGED_KEEP {
            self.staged = Vec::new();
        }
    }

    /// True while the message being received is compressed.
    pub(crate) fn receiving(&self) -> bool {
        self.receiving
    }

    /// Inflated bytes of the message being received so far.
    pub(crate) fn message_out(&self) -> u64 {
        self.message_out
    }

    /// The inflate output area (pieces are indicated from it).
    pub(crate) fn inflated(&self) -> &[u8] {
        &self.inflated
    }

    /// The staged payload of the send in progress.
    pub(crate) fn staged(&self) -> &[u8] {
        &self.staged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(s: &str) -> Params {
        parse(s.as_bytes(), true).unwrap()
    }

    #[test]
    fn parameters_parse_as_rfc_7692_writes_them() {
        let p = offer("permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"");
        assert_eq!(p.client_max_window_bits, Some(None));
        assert_eq!(p.server_max_window_bits, Some(10));
        for bad in [
            "permessage-deflate; x=1",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert!(parse(bad.as_bytes(), true).is_err(), "{bad}");
        }
        assert!(parse(b"permessage-deflate; client_max_window_bits", false).is_err());
    }

    #[test]
    fn a_response_must_answer_the_offer() {
        let r = |s: &str| parse(s.as_bytes(), false).unwrap();
        let o = offer("permessage-deflate; server_max_window_bits=10; server_no_context_takeover");
        assert!(answers(&o, &r("permessage-deflate; server_max_window_bits=10; server_no_context_takeover")).is_ok());
        assert!(answers(&o, &r("permessage-deflate; server_max_window_bits=11; server_no_context_takeover")).is_err());
        assert!(answers(&o, &r("permessage-deflate; server_max_window_bits=9")).is_err());
        assert!(answers(&o, &r("permessage-deflate; server_no_context_takeover")).is_err());
        let plain = offer("permessage-deflate");
        assert!(answers(&plain, &r("permessage-deflate; client_max_window_bits=10")).is_err());
        assert!(
            answers(&plain, &r("permessage-deflate; server_max_window_bits=9; client_no_context_takeover")).is_ok()
        );
    }

    #[test]
    fn the_server_takes_the_first_offer_it_can_accept() {
        let req = [HttpHeader::new(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; bogus, permessage-deflate; client_max_window_bits",
        )];
        let opts = DeflateOptions { server_max_window_bits: 15, ..DeflateOptions::default() };
        assert_eq!(
            accept_deflate(&req, &opts).unwrap().as_deref(),
            Some("permessage-deflate; client_max_window_bits=12")
        );
        let none = [HttpHeader::new("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=8")];
        assert_eq!(accept_deflate(&none, &opts), Ok(None), "an offer of 8 is declined, not failed");
    }

    #[test]
    fn incompressible_messages_round_trip_in_pieces() {
        let agreed = Agreed { send_window: 15, send_reset: false, receive_window: 15, receive_reset: false };
        let (mut a, mut b) = (Streams::new(agreed, 6, 8, 0), Streams::new(agreed, 6, 8, 0));
        let mut x = 1u64;
        let msg: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for (i, piece) in msg.chunks(65536).enumerate() {
            let fin = (i + 1) * 65536 >= msg.len();
            assert!(a.compress(Piece::Bytes(piece), i == 0, fin).unwrap());
            if i == 0 {
                b.message_started(true);
            }
            let (mut got, mut at) = (Vec::new(), 0);
            loop {
                let step = b.inflate(&a.staged[at..], 65536, 65536, fin).unwrap();
                at += step.consumed;
                got.extend_from_slice(&b.inflated()[..step.produced]);
                if step.message_end || (!fin && at == a.staged.len() && step.produced == 0) {
                    break;
                }
            }
            assert_eq!(got, piece, "piece {i}");
        }
    }

    #[test]
    fn a_message_ending_in_an_empty_fragment_still_inflates() {
        let agreed = Agreed { send_window: 15, send_reset: false, receive_window: 15, receive_reset: false };
        let mut a = Streams::new(agreed, 6, 8, 0);
        let text: Vec<u8> = (0..70_000u64).map(|i| b"abcdefghij{}:,0123"[(i * i / 7 % 18) as usize]).collect();
        let mut wire = Vec::new();
        for m in 0..3 {
            a.compress(Piece::Bytes(&text[m * 997..m * 997 + 65536]), true, false).unwrap();
            wire.extend_from_slice(&a.staged);
            a.compress(Piece::Bytes(&[]), false, true).unwrap();
            assert_eq!(a.staged, [0]);
            wire.extend_from_slice(&a.staged);
            wire.extend_from_slice(&TAIL);
        }
        let mut z = Inflate::new(false, 15);
        let mut out = vec![0; 300_000];
        z.decompress(&wire, &mut out, InflateFlush::SyncFlush).unwrap();
        assert_eq!(z.total_out(), 3 * 65536);
    }

    #[test]
    fn a_client_keeps_what_its_offer_promised() {
        let offer = offer("permessage-deflate; client_max_window_bits=10; client_no_context_takeover");
        let silent = parse(b"permessage-deflate", false).unwrap();
        let agreed = Agreed::from_response(&silent, Some(&offer), false);
        assert_eq!((agreed.send_window, agreed.send_reset), (10, true));
        assert_eq!((agreed.receive_window, agreed.receive_reset), (15, false));
        // A server that allows more than the offer (Autobahn 13.4, 13.6) gets the offer's
        // window from a client; a server's own selection may not do it.
        let offers = ["permessage-deflate; client_max_window_bits=10".to_string()];
        let agreed = |response: &str| client_accepts(&offers, response.as_bytes()).unwrap().unwrap().1;
        assert_eq!(agreed("permessage-deflate; client_max_window_bits=15").send_window, 10);
        assert_eq!(agreed("permessage-deflate; client_max_window_bits=9").send_window, 9);
        let request = [HttpHeader::new("Sec-WebSocket-Extensions", offers[0].as_str())];
        assert!(server_selects(&request, b"permessage-deflate; client_max_window_bits=15").unwrap().is_err());
        assert!(server_selects(&request, b"permessage-deflate; client_max_window_bits=10").unwrap().is_ok());
    }

    #[test]
    fn messages_round_trip_at_every_window() {
        for bits in 9..=15 {
            let agreed = Agreed { send_window: bits, send_reset: false, receive_window: bits, receive_reset: false };
            let (mut a, mut b) = (Streams::new(agreed, 6, 8, 0), Streams::new(agreed, 6, 8, 0));
            for round in 0..3 {
                let msg: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251 + round) as u8).collect();
                assert!(a.compress(Piece::Bytes(&msg), true, true).unwrap());
                b.message_started(true);
                let (mut got, mut at) = (Vec::new(), 0);
                loop {
                    let step = b.inflate(&a.staged[at..], 256, 256, true).unwrap();
                    at += step.consumed;
                    got.extend_from_slice(&b.inflated()[..step.produced]);
                    if step.message_end {
                        break;
                    }
                }
                assert_eq!(got, msg, "window {bits}");
            }
        }
    }
}
