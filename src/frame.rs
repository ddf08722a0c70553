//! Frame headers (RFC 6455 §5.2): a resumable decoder and an encoder.
//!
//! The decoder keeps one state per header position and resumes on partial input; it
//! never rescans bytes and never needs the whole header in one buffer. It checks only
//! what the header alone decides (the 64-bit length's top bit); the receive path checks
//! the rest against the role and the negotiated extensions in [`check_header`].

use crate::error::{Error, Result};

/// The most bytes a frame header can take: 2 + 8 (64-bit length) + 4 (masking key).
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// The most payload a control frame may carry (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode. Total: reserved values are kept, with predicates beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    /// 3-7 and 0xB-0xF.
    Reserved(u8),
}

impl Opcode {
    pub(crate) const fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => Self::Reserved(other),
        }
    }

    pub(crate) const fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
            Self::Reserved(b) => b,
        }
    }

    /// Control opcodes have the high bit of the nibble set (RFC 6455 §5.5).
    pub(crate) const fn is_control(self) -> bool {
        self.bits() & 0x08 != 0
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub(crate) fin: bool,
    /// RSV1..RSV3 as `0b0000_0RRR`.
    pub(crate) rsv: u8,
    pub(crate) opcode: Opcode,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
}

/// Where the decoder stands within a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pos {
    /// Expecting byte 0 (FIN, RSV, opcode).
    First,
    /// Expecting byte 1 (MASK, 7-bit length).
    Second,
    /// Expecting `left` more bytes of an extended length.
    ExtLen { left: u8 },
    /// Expecting `left` more bytes of the masking key.
    Mask { left: u8 },
}

/// A resumable frame-header decoder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderDecoder {
    pos: Pos,
    first: u8,
    masked: bool,
    len: u64,
    mask: [u8; 4],
}

impl HeaderDecoder {
    pub(crate) const fn new() -> Self {
        Self { pos: Pos::First, first: 0, masked: false, len: 0, mask: [0; 4] }
    }

    /// True when no byte of a header has been consumed yet.
    pub(crate) const fn is_idle(&self) -> bool {
        matches!(self.pos, Pos::First)
    }

    /// Consumes header bytes from `input`. Returns how many bytes were used and the
    /// header once it is complete; then the decoder is ready for the next header.
    pub(crate) fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<FrameHeader>)> {
        if self.is_idle()
            && let Some(done) = Self::decode_whole(input)?
        {
            return Ok(done);
        }
        let mut used = 0;
        for &b in input {
            used += 1;
            match self.pos {
                Pos::First => {
                    self.first = b;
                    self.pos = Pos::Second;
                }
                Pos::Second => {
                    self.masked = b & 0x80 != 0;
                    match b & 0x7F {
                        126 => {
                            self.len = 0;
                            self.pos = Pos::ExtLen { left: 2 };
                        }
                        127 => {
                            self.len = 0;
                            self.pos = Pos::ExtLen { left: 8 };
                        }
                        n => {
                            self.len = u64::from(n);
                            self.pos = self.after_len();
                        }
                    }
                }
                Pos::ExtLen { left } => {
                    if left == 8 && b & 0x80 != 0 {
                        *self = Self::new();
                        return Err(Error::PayloadLengthOverflow);
                    }
                    self.len = (self.len << 8) | u64::from(b);
                    self.pos = if left == 1 { self.after_len() } else { Pos::ExtLen { left: left - 1 } };
                }
                Pos::Mask { left } => {
                    self.mask[4 - usize::from(left)] = b;
                    self.pos = if left == 1 { Pos::First } else { Pos::Mask { left: left - 1 } };
                }
            }
            if self.pos == Pos::First {
                let header = self.header();
                *self = Self::new();
                return Ok((used, Some(header)));
            }
        }
        Ok((used, None))
    }

    fn after_len(&self) -> Pos {
        if self.masked { Pos::Mask { left: 4 } } else { Pos::First }
    }

    fn header(&self) -> FrameHeader {
        FrameHeader {
            fin: self.first & 0x80 != 0,
            rsv: (self.first >> 4) & 0x07,
            opcode: Opcode::from_bits(self.first),
            mask: self.masked.then_some(self.mask),
            len: self.len,
        }
    }

    /// The fast path: the whole header is in `input`.
    #[inline]
    fn decode_whole(input: &[u8]) -> Result<Option<(usize, Option<FrameHeader>)>> {
        let [b0, b1, rest @ ..] = input else { return Ok(None) };
        let (len, ext) = match b1 & 0x7F {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(None),
            },
            127 => match rest {
                [a, b, c, d, e, f, g, h, ..] => {
                    if a & 0x80 != 0 {
                        return Err(Error::PayloadLengthOverflow);
                    }
                    (u64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]), 8)
                }
                _ => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        let masked = b1 & 0x80 != 0;
        let mask = if masked {
            match rest.get(ext..ext + 4) {
                Some(k) => Some([k[0], k[1], k[2], k[3]]),
                None => return Ok(None),
            }
        } else {
            None
        };
        let used = 2 + ext + if masked { 4 } else { 0 };
        let header =
            FrameHeader { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode: Opcode::from_bits(*b0), mask, len };
        Ok(Some((used, Some(header))))
    }
}

/// The checks a complete header must pass before any of its payload is read, in the
/// order RFC 6455 §5.2 lists the fields. `allowed_rsv` holds the RSV bits the
/// negotiated extensions define; `expect_mask` is `Some(true)` on a server (client
/// frames must be masked), `Some(false)` on a client (server frames must not be),
/// `None` on a server whose masking check is disabled.
pub(crate) fn check_header(h: &FrameHeader, allowed_rsv: u8, expect_mask: Option<bool>) -> Result<()> {
    if h.rsv & !allowed_rsv != 0 {
        return Err(Error::ReservedBitsSet { rsv: h.rsv });
    }
    if let Opcode::Reserved(op) = h.opcode {
        return Err(Error::ReservedOpcode(op));
    }
    if h.opcode.is_control() {
        if !h.fin {
            return Err(Error::FragmentedControlFrame);
        }
        if h.len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(Error::ControlFrameTooLong(h.len));
        }
    }
    match (expect_mask, h.mask.is_some()) {
        (Some(true), false) => Err(Error::UnmaskedFrameFromClient),
        (Some(false), true) => Err(Error::MaskedFrameFromServer),
        _ => Ok(()),
    }
}

/// Writes a frame header at the start of `out` (which must have room for
/// [`MAX_HEADER_LEN`] bytes) and returns its length. Writing in place, in fixed-size
/// pieces, spares a temporary and a variable-length copy per frame.
pub(crate) fn encode_header(
    out: &mut [u8],
    fin: bool,
    rsv: u8,
    opcode: Opcode,
    mask: Option<[u8; 4]>,
    len: u64,
) -> usize {
    debug_assert!(out.len() >= MAX_HEADER_LEN);
    out[0] = (u8::from(fin) << 7) | ((rsv & 0x07) << 4) | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut n = if len < 126 {
        out[1] = mask_bit | len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        out[1] = mask_bit | 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        out[1] = mask_bit | 127;
        out[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        out[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    n
}

/// A frame header as it stands on the wire, for tools that show the wire (a protocol
/// inspector, a log): what [`inspect_frame_header`] reads. Nothing here is checked against
/// a connection (RSV bits, opcodes, masking direction, control frame limits): a handle does
/// that when it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireFrameHeader {
    /// FIN.
    pub fin: bool,
    /// RSV1..RSV3 as `0b0000_0RRR`.
    pub rsv: u8,
    /// The 4-bit opcode.
    pub opcode: u8,
    /// The masking key, when MASK is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
    /// The header's own length (2 to 14 bytes).
    pub header_len: usize,
}

/// Reads the frame header at the start of `bytes`: `None` while `bytes` ends inside it;
/// an error when the 64-bit length has its top bit set (RFC 6455 §5.2), the one thing a
/// header alone can get wrong.
pub fn inspect_frame_header(bytes: &[u8]) -> Result<Option<WireFrameHeader>> {
    let mut decoder = HeaderDecoder::new();
    let (used, header) = decoder.decode(bytes)?;
    Ok(header.map(|h| WireFrameHeader {
        fin: h.fin,
        rsv: h.rsv,
        opcode: h.opcode.bits(),
        mask: h.mask,
        payload_len: h.len,
        header_len: used,
    }))
}

#[cfg(test)]
/// The length of the header [`encode_header`] writes for this payload length.
pub(crate) const fn header_len(len: u64, masked: bool) -> usize {
    let base = if len < 126 {
        2
    } else if len <= 0xFFFF {
        4
    } else {
        10
    };
    if masked { base + 4 } else { base }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Result<(usize, Option<FrameHeader>)> {
        HeaderDecoder::new().decode(bytes)
    }

    #[test]
    fn rfc6455_section_5_7_examples_decode() {
        // A single-frame unmasked text message "Hello".
        let (n, h) = decode_all(&[0x81, 0x05]).unwrap();
        assert_eq!(n, 2);
        let h = h.unwrap();
        assert!(h.fin && h.opcode == Opcode::Text && h.len == 5 && h.mask.is_none());
        // A single-frame masked text message "Hello".
        let (n, h) = decode_all(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap();
        assert_eq!((n, h.unwrap().mask), (6, Some([0x37, 0xfa, 0x21, 0x3d])));
        // A fragmented unmasked text message: "Hel" then "lo".
        let h = decode_all(&[0x01, 0x03]).unwrap().1.unwrap();
        assert!(!h.fin && h.opcode == Opcode::Text);
        let h = decode_all(&[0x80, 0x02]).unwrap().1.unwrap();
        assert!(h.fin && h.opcode == Opcode::Continuation);
        // Unmasked ping and masked pong.
        assert_eq!(decode_all(&[0x89, 0x05]).unwrap().1.unwrap().opcode, Opcode::Ping);
        assert_eq!(decode_all(&[0x8a, 0x85, 1, 2, 3, 4]).unwrap().1.unwrap().opcode, Opcode::Pong);
        // 256 bytes binary in a single unmasked frame, and 64 KiB.
        assert_eq!(decode_all(&[0x82, 0x7E, 0x01, 0x00]).unwrap().1.unwrap().len, 256);
        let h = decode_all(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap().1.unwrap();
        assert_eq!(h.len, 65536);
    }

    #[test]
    fn decoding_resumes_at_every_split_point() {
        let mut out = [0u8; MAX_HEADER_LEN];
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let n = encode_header(&mut out, true, 0b101, Opcode::Binary, mask, len);
                assert_eq!(n, header_len(len, mask.is_some()));
                let whole = decode_all(&out[..n]).unwrap();
                assert_eq!(whole.0, n);
                for cut in 0..n {
                    let mut d = HeaderDecoder::new();
                    let (a, h) = d.decode(&out[..cut]).unwrap();
                    assert_eq!((a, h), (cut, None));
                    // one byte at a time for the rest
                    let mut got = None;
                    for i in cut..n {
                        let (used, h) = d.decode(&out[i..i + 1]).unwrap();
                        assert_eq!(used, 1);
                        if h.is_some() {
                            assert_eq!(i, n - 1);
                            got = h;
                        }
                    }
                    assert_eq!(got, whole.1, "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn decoding_stops_at_the_end_of_the_header() {
        let (n, h) = decode_all(&[0x81, 0x02, b'h', b'i', 0x81]).unwrap();
        assert_eq!(n, 2);
        assert_eq!(h.unwrap().len, 2);
    }

    #[test]
    fn inspect_reads_a_header_as_the_wire_has_it() {
        // RFC 6455 §5.7: a masked "Hello" from a client.
        let frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let h = inspect_frame_header(&frame).unwrap().unwrap();
        assert_eq!(
            h,
            WireFrameHeader {
                fin: true,
                rsv: 0,
                opcode: 1,
                mask: Some([0x37, 0xfa, 0x21, 0x3d]),
                payload_len: 5,
                header_len: 6
            }
        );
        // A 256-byte binary frame's header, unmasked, with RSV1 and no FIN; and cut short.
        let h = inspect_frame_header(&[0x42, 0x7e, 0x01, 0x00]).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv, h.opcode, h.mask, h.payload_len, h.header_len), (false, 4, 2, None, 256, 4));
        assert_eq!(inspect_frame_header(&[0x82, 0xfe, 0x01]).unwrap(), None);
        assert!(inspect_frame_header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn a_64_bit_length_with_the_top_bit_set_fails_at_once() {
        assert_eq!(decode_all(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]), Err(Error::PayloadLengthOverflow));
        let mut d = HeaderDecoder::new();
        assert_eq!(d.decode(&[0x82, 0x7F]).unwrap(), (2, None));
        assert_eq!(d.decode(&[0x80]), Err(Error::PayloadLengthOverflow));
    }

    #[test]
    fn header_checks_follow_the_rfc() {
        let h = |b0: u8, len: u64, mask: Option<[u8; 4]>| FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: Opcode::from_bits(b0),
            mask,
            len,
        };
        let m = Some([0; 4]);
        assert_eq!(check_header(&h(0x81, 5, m), 0, Some(true)), Ok(()));
        assert_eq!(check_header(&h(0xC1, 5, m), 0, Some(true)), Err(Error::ReservedBitsSet { rsv: 4 }));
        assert_eq!(check_header(&h(0xC1, 5, m), 4, Some(true)), Ok(()));
        assert_eq!(check_header(&h(0x83, 5, m), 0, Some(true)), Err(Error::ReservedOpcode(3)));
        assert_eq!(check_header(&h(0x8B, 5, m), 0, Some(true)), Err(Error::ReservedOpcode(0xB)));
        assert_eq!(check_header(&h(0x09, 5, m), 0, Some(true)), Err(Error::FragmentedControlFrame));
        assert_eq!(check_header(&h(0x89, 126, m), 0, Some(true)), Err(Error::ControlFrameTooLong(126)));
        assert_eq!(check_header(&h(0x81, 5, None), 0, Some(true)), Err(Error::UnmaskedFrameFromClient));
        assert_eq!(check_header(&h(0x81, 5, None), 0, None), Ok(()));
        assert_eq!(check_header(&h(0x81, 5, m), 0, Some(false)), Err(Error::MaskedFrameFromServer));
    }
}
