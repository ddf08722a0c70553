//! Shared pieces of the wsengine fuzz targets: a reference RFC 6455 frame decoder
//! written independently of the engine (the oracle the receive paths are compared
//! with), and helpers to compare what a handle indicated with what it should have.
//!
//! The model is deliberately naive: it walks the whole byte stream at once, frame by
//! frame, and says what a correct receiver must indicate and where it must fail. It
//! knows nothing about receive buffers, read sizes or pieces: [`normalize`] erases
//! those from both sides before they are compared.

use wsengine::{Error, Role};

/// One thing a receiver shows its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Data of a text or binary message; `end` on the message's last piece.
    Data { text: bool, bytes: Vec<u8>, end: bool },
    /// A pong frame arrived (indicated as `PingPong`).
    Pong(Vec<u8>),
    /// The automatic pong answering a ping, with the ping's payload.
    PongSent(Vec<u8>),
    /// A close frame arrived: its status (1005 for an empty body) and reason.
    Close(u16, Vec<u8>),
}

/// How the reference decoding of a stream ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The input ran out (possibly inside a frame).
    Incomplete,
    /// A close frame was received: nothing after it is read.
    Closed,
    /// The peer broke the protocol: the receiver must fail with one of `allowed`.
    /// `min_items` are what it must have indicated before failing (the items of the
    /// failing frame may be indicated only in part, or not at all).
    Error { allowed: Vec<Error>, min_items: Vec<Item> },
}

/// How the receiver is configured.
#[derive(Clone, Copy, Debug)]
pub struct RefConfig {
    /// The receiver's role: a client rejects masked frames, a server unmasked ones.
    pub role: Role,
    /// Server with `DisableMasking`: unmasked client frames are accepted.
    pub accept_unmasked: bool,
    /// UTF-8 verification of text messages and close reasons is on.
    pub verify_utf8: bool,
}

/// The length of the longest prefix of `b` that is valid UTF-8 or a valid UTF-8
/// prefix cut inside a code point (what a fail-fast validator accepts).
#[must_use]
pub fn longest_valid_prefix(b: &[u8]) -> usize {
    match std::str::from_utf8(b) {
        Ok(_) => b.len(),
        Err(e) => {
            let v = e.valid_up_to();
            // At most 3 more bytes can be an unfinished code point.
            (v..=b.len().min(v + 3))
                .rev()
                .find(|&j| match std::str::from_utf8(&b[v..j]) {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                })
                .unwrap_or(v)
        }
    }
}

/// True when `b` is valid UTF-8 or a valid prefix of it.
#[must_use]
pub fn is_valid_prefix(b: &[u8]) -> bool {
    longest_valid_prefix(b) == b.len()
}

/// Incremental UTF-8 check of a growing message: `checked` is how far it is known to
/// be valid (kept between calls; start at 0). Returns true while `msg` is valid UTF-8
/// or a valid prefix of it, in time linear in the bytes added since the last call.
pub fn check_prefix(msg: &[u8], checked: &mut usize) -> bool {
    match std::str::from_utf8(&msg[*checked..]) {
        Ok(_) => {
            *checked = msg.len();
            true
        }
        Err(e) => {
            *checked += e.valid_up_to();
            e.error_len().is_none()
        }
    }
}

/// The end of a message: true when `msg` (already checked up to `checked`) is
/// complete, valid UTF-8.
pub fn check_complete(msg: &[u8], checked: &mut usize) -> bool {
    check_prefix(msg, checked) && *checked == msg.len()
}

fn is_valid_received_status(s: u16) -> bool {
    matches!(s, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Decodes `input` as the byte stream a receiver configured by `cfg` reads, from its
/// first byte. Returns the items a correct receiver indicates, in order, and how the
/// stream ends.
#[must_use]
pub fn reference(cfg: RefConfig, input: &[u8]) -> (Vec<Item>, End) {
    let mut items = Vec::new();
    let mut pos = 0usize;
    // The open message: (text, its bytes so far).
    let mut message: Option<(bool, Vec<u8>, usize)> = None;
    loop {
        // ---- header
        let Some(&b0) = input.get(pos) else { return (items, End::Incomplete) };
        let Some(&b1) = input.get(pos + 1) else { return (items, End::Incomplete) };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x07;
        let op = b0 & 0x0F;
        let masked = b1 & 0x80 != 0;
        let mut p = pos + 2;
        let len: u64 = match b1 & 0x7F {
            126 => {
                let Some(x) = input.get(p..p + 2) else { return (items, End::Incomplete) };
                p += 2;
                u64::from(u16::from_be_bytes([x[0], x[1]]))
            }
            127 => {
                if let Some(&first) = input.get(p) {
                    if first & 0x80 != 0 {
                        let min_items = items.clone();
                        return (items, End::Error { allowed: vec![Error::PayloadLengthOverflow], min_items });
                    }
                }
                let Some(x) = input.get(p..p + 8) else { return (items, End::Incomplete) };
                p += 8;
                u64::from_be_bytes(x.try_into().unwrap())
            }
            n => u64::from(n),
        };
        let key = if masked {
            let Some(k) = input.get(p..p + 4) else { return (items, End::Incomplete) };
            p += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        // ---- header checks (any of those that apply is a correct answer)
        let mut errs = Vec::new();
        if rsv != 0 {
            errs.push(Error::ReservedBitsSet { rsv });
        }
        let reserved = matches!(op, 3..=7 | 0xB..=0xF);
        if reserved {
            errs.push(Error::ReservedOpcode(op));
        }
        let control = op & 0x08 != 0;
        if control && !fin {
            errs.push(Error::FragmentedControlFrame);
        }
        if control && len > 125 {
            errs.push(Error::ControlFrameTooLong(len));
        }
        match cfg.role {
            Role::Client if masked => errs.push(Error::MaskedFrameFromServer),
            Role::Server if !masked && !cfg.accept_unmasked => errs.push(Error::UnmaskedFrameFromClient),
            _ => {}
        }
        if errs.is_empty() {
            match (op, &message) {
                (1 | 2, Some(_)) => errs.push(Error::ExpectedContinuation),
                (0, None) => errs.push(Error::UnexpectedContinuation),
                _ => {}
            }
        }
        if !errs.is_empty() {
            let min_items = items.clone();
            return (items, End::Error { allowed: errs, min_items });
        }
        // ---- payload
        let avail = usize::try_from(len).map_or(input.len() - p, |l| l.min(input.len() - p));
        let mut payload = input[p..p + avail].to_vec();
        if let Some(k) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= k[i % 4];
            }
        }
        let complete = avail as u64 == len;
        if control {
            if !complete {
                return (items, End::Incomplete);
            }
            pos = p + avail;
            match op {
                0x9 => items.push(Item::PongSent(payload)),
                0xA => items.push(Item::Pong(payload)),
                _ => {
                    // Close.
                    let err = match payload.as_slice() {
                        [] => {
                            items.push(Item::Close(1005, Vec::new()));
                            return (items, End::Closed);
                        }
                        [_] => Error::CloseBodyTooShort,
                        [hi, lo, reason @ ..] => {
                            let status = u16::from_be_bytes([*hi, *lo]);
                            if !is_valid_received_status(status) {
                                Error::InvalidCloseStatus(status)
                            } else if cfg.verify_utf8 && std::str::from_utf8(reason).is_err() {
                                Error::InvalidCloseReason
                            } else {
                                items.push(Item::Close(status, reason.to_vec()));
                                return (items, End::Closed);
                            }
                        }
                    };
                    let min_items = items.clone();
                    return (items, End::Error { allowed: vec![err], min_items });
                }
            }
            continue;
        }
        // A data frame.
        let text = match &message {
            Some((t, _, _)) => *t,
            None => op == 1,
        };
        let msg = message.get_or_insert_with(|| (text, Vec::new(), 0));
        let before = msg.1.len();
        msg.1.extend_from_slice(&payload);
        if text && cfg.verify_utf8 {
            let whole_message = complete && fin;
            let ok = if whole_message { check_complete(&msg.1, &mut msg.2) } else { check_prefix(&msg.1, &mut msg.2) };
            if !ok {
                // Pieces of this frame up to the longest valid prefix may have been
                // indicated before the validator failed.
                let min_items = items.clone();
                let upto = longest_valid_prefix(&msg.1).max(before);
                let upto = if whole_message { upto.min(msg.1.len().saturating_sub(1)).max(before) } else { upto };
                items.push(Item::Data { text, bytes: msg.1[before..upto].to_vec(), end: false });
                return (items, End::Error { allowed: vec![Error::InvalidUtf8], min_items });
            }
        }
        if !complete {
            items.push(Item::Data { text, bytes: payload, end: false });
            return (items, End::Incomplete);
        }
        items.push(Item::Data { text, bytes: payload, end: fin });
        if fin {
            message = None;
        }
        pos = p + avail;
    }
}

/// Erases piece boundaries: drops empty data pieces that do not end a message, and
/// joins each data piece with the next when it did not end its message. Two
/// receivers that indicated the same stream in different piece sizes normalize the
/// same. With `drop_pongs_sent`, automatic pongs are left out.
#[must_use]
pub fn normalize(items: &[Item], drop_pongs_sent: bool) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for it in items {
        match it {
            Item::Data { bytes, end: false, .. } if bytes.is_empty() => {}
            Item::PongSent(_) if drop_pongs_sent => {}
            Item::Data { text, bytes, end } => match out.last_mut() {
                Some(Item::Data { text: t0, bytes: b0, end: e0 }) if !*e0 => {
                    assert_eq!(*t0, *text, "a message changed between text and binary: {items:?}");
                    b0.extend_from_slice(bytes);
                    *e0 = *end;
                }
                _ => out.push(it.clone()),
            },
            other => out.push(other.clone()),
        }
    }
    out
}

/// True when normalized `a` is a prefix of normalized `b`: equal item by item, except
/// that `a`'s last item may be a data piece that `b`'s continues.
#[must_use]
pub fn is_prefix(a: &[Item], b: &[Item]) -> bool {
    if a.len() > b.len() {
        return false;
    }
    let Some((last, init)) = a.split_last() else { return true };
    if init != &b[..init.len()] {
        return false;
    }
    let other = &b[init.len()];
    if last == other {
        return true;
    }
    match (last, other) {
        (Item::Data { text: t1, bytes: b1, end: false }, Item::Data { text: t2, bytes: b2, .. }) => {
            t1 == t2 && b2.starts_with(b1)
        }
        _ => false,
    }
}

/// One frame parsed from the start of `bytes`, leniently (no checks but the
/// lengths): what a sender put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub key: Option<[u8; 4]>,
    /// Unmasked.
    pub payload: Vec<u8>,
    /// Bytes of header + payload.
    pub len: usize,
    /// True when the shortest length encoding was used.
    pub minimal_length: bool,
}

/// Parses one whole frame at the start of `bytes`; `None` when it is cut short.
#[must_use]
pub fn parse_frame(bytes: &[u8]) -> Option<Frame> {
    let (&b0, rest) = bytes.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    let mut hlen = 2;
    let (len, minimal) = match b1 & 0x7F {
        126 => {
            let x = rest.get(..2)?;
            rest = &rest[2..];
            hlen += 2;
            let l = u64::from(u16::from_be_bytes([x[0], x[1]]));
            (l, l >= 126)
        }
        127 => {
            let x = rest.get(..8)?;
            rest = &rest[8..];
            hlen += 8;
            let l = u64::from_be_bytes(x.try_into().ok()?);
            (l, l > 0xFFFF)
        }
        n => (u64::from(n), true),
    };
    let key = if b1 & 0x80 != 0 {
        let k = rest.get(..4)?;
        rest = &rest[4..];
        hlen += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let len = usize::try_from(len).ok()?;
    let mut payload = rest.get(..len)?.to_vec();
    if let Some(k) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    Some(Frame {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 7,
        opcode: b0 & 0x0F,
        key,
        payload,
        len: hlen + len,
        minimal_length: minimal,
    })
}

/// Reads little pieces of fuzzer input, with defaults once it runs out.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    #[must_use]
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// Cycles through a list of read sizes.
pub struct Splits {
    sizes: Vec<usize>,
    i: usize,
}

impl Splits {
    /// Sizes from bytes: 0 means "as much as fits".
    #[must_use]
    pub fn new(bytes: &[u8]) -> Self {
        let sizes = bytes.iter().map(|&b| if b == 0 { usize::MAX } else { usize::from(b) }).collect::<Vec<_>>();
        Self { sizes: if sizes.is_empty() { vec![usize::MAX] } else { sizes }, i: 0 }
    }
    pub fn next_size(&mut self) -> usize {
        let s = self.sizes[self.i % self.sizes.len()];
        self.i += 1;
        s
    }
}
