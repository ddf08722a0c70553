//! Incremental, fail-fast UTF-8 validation across pieces of a message.
//!
//! A message arrives in pieces cut anywhere, even inside a code point. The validator
//! carries at most three bytes of an unfinished code point from one piece to the next
//! and fails at the first byte that no valid continuation could follow, not at the end
//! of the message. Bulk validation is `simdutf8` (SIMD on x86-64, aarch64 and wasm
//! simd128); only the few bytes around a piece boundary are checked one code point at
//! a time.

// The few bytes around a piece boundary go through core's validator, whose error says
// whether more bytes could finish the sequence; simdutf8's `compat` flavour says as
// much but is a second copy of its SIMD code (4 KB of wasm) for at most four bytes.
use core::str::from_utf8;

/// Returns true when `bytes` is complete, valid UTF-8.
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Pieces shorter than this are first checked for plain ASCII, which is cheaper than
/// setting up the SIMD validator for them.
const SHORT: usize = 256;

/// True when every byte is below 0x80: one OR over 8-byte words, no early exit, which
/// LLVM vectorises (`<[u8]>::is_ascii` is slower on these lengths).
fn is_ascii(bytes: &[u8]) -> bool {
    let mut seen = 0u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        seen |= u64::from_ne_bytes(a);
    }
    let tail = words.remainder().iter().fold(0u8, |acc, b| acc | b);
    seen & 0x8080_8080_8080_8080 == 0 && tail < 0x80
}

/// The length of `piece` without a code point that its last 1-3 bytes start but do not
/// finish (judged by the lead byte only; validation checks the rest).
fn complete_prefix_len(piece: &[u8]) -> usize {
    let n = piece.len();
    for back in 1..=n.min(3) {
        let b = piece[n - back];
        if b & 0xC0 != 0x80 {
            // The last byte that is not a continuation: does its sequence end in time?
            return if b >= 0xC0 && sequence_len(b) > back { n - back } else { n };
        }
    }
    n
}

/// The validator's state between pieces: the bytes of an unfinished code point (at
/// most 3) and their count, packed in one `u32` (bytes 0-2 and byte 3) so the state
/// is copied and compared as one word on the per-message path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Utf8Validator {
    state: u32,
}

/// The byte length of the code point that `lead` starts (1 for bytes that cannot start
/// one; validation rejects those).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub(crate) const fn new() -> Self {
        Self { state: 0 }
    }

    /// True when no code point is left unfinished.
    pub(crate) const fn is_at_boundary(&self) -> bool {
        self.state == 0
    }

    /// Keeps `bytes` (at most 3) as the unfinished code point.
    fn set_carry(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 4];
        b[..bytes.len()].copy_from_slice(bytes);
        b[3] = bytes.len() as u8;
        self.state = u32::from_le_bytes(b);
    }

    /// Validates the next piece. On error the state is unspecified; callers that must
    /// keep the state on error (outgoing sends) validate on a copy.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), ()> {
        // Short ASCII pieces (small messages) skip the validator's set-up cost.
        if self.state == 0 && piece.len() < SHORT && is_ascii(piece) {
            return Ok(());
        }
        if self.state != 0 {
            // Finish the carried code point with the first bytes of this piece.
            let mut seq = self.state.to_le_bytes();
            let have = usize::from(seq[3]);
            let take = (sequence_len(seq[0]) - have).min(piece.len());
            seq[have..have + take].copy_from_slice(&piece[..take]);
            let filled = have + take;
            match from_utf8(&seq[..filled]) {
                Ok(_) => self.state = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix: the piece was too short to finish it.
                    self.set_carry(&seq[..filled]);
                    return Ok(());
                }
                Err(_) => return Err(()),
            }
            piece = &piece[take..];
        }
        // A code point cut by the end of the piece goes to the carry; everything before
        // it must be valid, which the fast validator (yes or no only) decides.
        let cut = complete_prefix_len(piece);
        if simdutf8::basic::from_utf8(&piece[..cut]).is_err() {
            return Err(());
        }
        let tail = &piece[cut..];
        match from_utf8(tail) {
            Err(e) if e.error_len().is_none() && e.valid_up_to() == 0 => {
                self.set_carry(tail);
                Ok(())
            }
            // An empty tail, or one that no continuation could make valid.
            Ok(_) => Ok(()),
            Err(_) => Err(()),
        }
    }

    /// Validates the last piece of a message: it must also end on a code point boundary.
    /// Resets the validator for the next message.
    pub(crate) fn finish(&mut self, piece: &[u8]) -> Result<(), ()> {
        self.feed(piece)?;
        let complete = self.is_at_boundary();
        *self = Self::new();
        if complete { Ok(()) } else { Err(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) -> Vec<Result<(), ()>> {
        (0..=bytes.len())
            .map(|cut| {
                let mut v = Utf8Validator::new();
                v.feed(&bytes[..cut])?;
                v.finish(&bytes[cut..])
            })
            .collect()
    }

    #[test]
    fn valid_text_passes_at_every_split_point() {
        let text = "κόσμε · 𝄞 · ascii · 中文".as_bytes();
        assert!(split_everywhere(text).iter().all(Result::is_ok));
    }

    #[test]
    fn byte_at_a_time_matches_whole() {
        let text = "h€llo 𝄞".as_bytes();
        let mut v = Utf8Validator::new();
        for b in text {
            v.feed(core::slice::from_ref(b)).unwrap();
        }
        v.finish(&[]).unwrap();
    }

    #[test]
    fn fails_at_the_first_impossible_byte_not_at_the_end() {
        // 0xF4 0x90 starts a code point above U+10FFFF: impossible after 2 bytes.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[b'a', 0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(()));
        // An overlong lead byte fails alone.
        assert_eq!(Utf8Validator::new().feed(&[0xC0]), Err(()));
        // A surrogate fails on its second byte.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xED]), Ok(()));
        assert_eq!(v.feed(&[0xA0]), Err(()));
    }

    #[test]
    fn a_message_cannot_end_inside_a_code_point() {
        assert_eq!(Utf8Validator::new().finish("€".as_bytes()[..2].as_ref()), Err(()));
        assert!(split_everywhere(&[0xE2, 0x82]).iter().all(Result::is_err));
    }

    #[test]
    fn agrees_with_std_on_random_bytes_cut_at_random_points() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = [0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xA0, 0x9F];
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % 16) as usize]).collect();
            let want = std::str::from_utf8(&bytes).is_ok();
            let mut v = Utf8Validator::new();
            let mut rest = &bytes[..];
            let mut ok = true;
            while rest.len() > 1 && ok {
                let k = (next() as usize) % rest.len();
                ok = v.feed(&rest[..k]).is_ok();
                rest = &rest[k..];
            }
            let got = ok && v.finish(rest).is_ok();
            assert_eq!(got, want, "{bytes:x?}");
        }
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut v = Utf8Validator::new();
        v.finish(b"abc").unwrap();
        assert!(v.is_at_boundary());
        v.feed(&[0xE2]).unwrap();
        assert!(!v.is_at_boundary());
    }
}
