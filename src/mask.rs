//! Masking (RFC 6455 §5.3): XOR with a 4-byte key, in place or fused with a copy.
//!
//! Both loops work on 8-byte words with the key spread over a `u64`; LLVM vectorises
//! them to SSE2 on x86-64 and NEON on aarch64. On x86-64 a second copy compiled for AVX2
//! is chosen at run time. On wasm32 with simd128 the loops are written with its
//! intrinsics instead, 16 bytes a step: the npm wasm builds the engine for size, and at
//! `opt-level = "z"` LLVM neither vectorises nor fully inlines the word loops (the
//! facade's 1 KiB echo ran at half speed).
//! `offset` is the position of `buf[0]` within the frame payload, so a payload can be
//! (un)masked piece by piece.

/// The key rotated so that byte 0 of the result applies to payload position `offset`:
/// one register rotate.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let bits = 8 * (offset % 4) as u32;
    let k = u32::from_ne_bytes(key);
    let k = if cfg!(target_endian = "little") { k.rotate_right(bits) } else { k.rotate_left(bits) };
    k.to_ne_bytes()
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn mask_in_place_body(buf: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// [`mask_in_place_body`] that also ORs every unmasked byte together, so the caller
/// learns in the same pass whether the payload is ASCII.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn mask_in_place_ascii_body(buf: &mut [u8], key: [u8; 4]) -> bool {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut seen = 0u64;
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let clear = u64::from_ne_bytes(w) ^ word;
        seen |= clear;
        chunk.copy_from_slice(&clear.to_ne_bytes());
    }
    let mut tail = 0u8;
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
        tail |= *b;
    }
    (seen & 0x8080_8080_8080_8080) == 0 && tail < 0x80
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn mask_copy_body(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let mut w = [0u8; 8];
        w.copy_from_slice(sc);
        dc.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, (db, sb)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *db = *sb ^ key[i % 4];
    }
}

/// The loops for wasm32 with simd128, in place of the word loops above.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::{u8x16_bitmask, u32x4_splat, v128, v128_load, v128_or, v128_store, v128_xor};

    /// The whole 16-byte steps of a `len`-byte run.
    #[inline(always)]
    fn whole(len: usize) -> usize {
        len & !15
    }

    #[inline(always)]
    pub(super) fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
        let k = u32x4_splat(u32::from_ne_bytes(key));
        let end = whole(buf.len());
        let p = buf.as_mut_ptr();
        let mut i = 0;
        while i < end {
            // SAFETY: i + 16 <= end <= buf.len(); v128_load and v128_store take any alignment.
            unsafe { v128_store(p.add(i).cast::<v128>(), v128_xor(v128_load(p.add(i).cast::<v128>()), k)) };
            i += 16;
        }
        for (j, b) in buf[end..].iter_mut().enumerate() {
            *b ^= key[j % 4];
        }
    }

    #[inline(always)]
    pub(super) fn mask_in_place_ascii(buf: &mut [u8], key: [u8; 4]) -> bool {
        let k = u32x4_splat(u32::from_ne_bytes(key));
        let end = whole(buf.len());
        let p = buf.as_mut_ptr();
        let mut seen = u32x4_splat(0);
        let mut i = 0;
        while i < end {
            // SAFETY: as in mask_in_place.
            unsafe {
                let clear = v128_xor(v128_load(p.add(i).cast::<v128>()), k);
                seen = v128_or(seen, clear);
                v128_store(p.add(i).cast::<v128>(), clear);
            }
            i += 16;
        }
        let mut tail = 0u8;
        for (j, b) in buf[end..].iter_mut().enumerate() {
            *b ^= key[j % 4];
            tail |= *b;
        }
        u8x16_bitmask(seen) == 0 && tail < 0x80
    }

    #[inline(always)]
    pub(super) fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
        let k = u32x4_splat(u32::from_ne_bytes(key));
        let len = dst.len().min(src.len());
        let end = whole(len);
        let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
        let mut i = 0;
        while i < end {
            // SAFETY: i + 16 <= end <= both lengths; any alignment.
            unsafe { v128_store(d.add(i).cast::<v128>(), v128_xor(v128_load(s.add(i).cast::<v128>()), k)) };
            i += 16;
        }
        for (j, (db, sb)) in dst[end..len].iter_mut().zip(&src[end..len]).enumerate() {
            *db = *sb ^ key[j % 4];
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128::{
    mask_copy as mask_copy_body, mask_in_place as mask_in_place_body, mask_in_place_ascii as mask_in_place_ascii_body,
};

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mask_in_place_avx2(buf: &mut [u8], key: [u8; 4]) {
    mask_in_place_body(buf, key);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mask_in_place_ascii_avx2(buf: &mut [u8], key: [u8; 4]) -> bool {
    mask_in_place_ascii_body(buf, key)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mask_copy_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    mask_copy_body(dst, src, key);
}

/// Below this many bytes the run-time dispatch costs more than AVX2 saves.
#[cfg(target_arch = "x86_64")]
const AVX2_MIN: usize = 128;

/// XORs `buf` with `key`, where `buf[0]` is payload byte `offset`.
#[inline]
pub(crate) fn mask_in_place(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= AVX2_MIN && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { mask_in_place_avx2(buf, key) };
        return;
    }
    mask_in_place_body(buf, key);
}

/// [`mask_in_place`] for text: returns true when every unmasked byte is ASCII (then
/// the bytes are valid UTF-8 with no further pass).
#[inline]
pub(crate) fn mask_in_place_ascii(buf: &mut [u8], key: [u8; 4], offset: usize) -> bool {
    let key = rotated(key, offset);
    #[cfg(target_arch = "x86_64")]
    if buf.len() >= AVX2_MIN && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { mask_in_place_ascii_avx2(buf, key) };
    }
    mask_in_place_ascii_body(buf, key)
}

/// Writes `src ^ key` into `dst` (same length) in one pass, where `src[0]` is payload
/// byte `offset`.
#[inline]
pub(crate) fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    debug_assert_eq!(dst.len(), src.len());
    let key = rotated(key, offset);
    #[cfg(target_arch = "x86_64")]
    if src.len() >= AVX2_MIN && std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { mask_copy_avx2(dst, src, key) };
        return;
    }
    mask_copy_body(dst, src, key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(buf: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
        buf.iter().enumerate().map(|(i, b)| b ^ key[(i + offset) % 4]).collect()
    }

    #[test]
    fn in_place_and_copy_match_the_bytewise_definition() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in (0..=40).chain([127, 128, 129, 1000, 4099]) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            for offset in 0..4 {
                let want = reference(&data, key, offset);
                let mut a = data.clone();
                mask_in_place(&mut a, key, offset);
                assert_eq!(a, want, "in place len {len} offset {offset}");
                let mut b = vec![0; len];
                mask_copy(&mut b, &data, key, offset);
                assert_eq!(b, want, "copy len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn unmasking_text_tells_ascii_in_the_same_pass() {
        let key = [0x80, 0x01, 0x7f, 0xff];
        for len in (0usize..=40).chain([127, 128, 200, 4099]) {
            for offset in 0..4 {
                let ascii: Vec<u8> = (0..len).map(|i| (i % 128) as u8).collect();
                let mut masked = reference(&ascii, key, offset);
                assert!(mask_in_place_ascii(&mut masked, key, offset), "len {len}");
                assert_eq!(masked, ascii);
                for bad in [0, len / 2, len.saturating_sub(1)] {
                    if len == 0 {
                        continue;
                    }
                    let mut text = ascii.clone();
                    text[bad] = 0xC3;
                    let mut masked = reference(&text, key, offset);
                    assert!(!mask_in_place_ascii(&mut masked, key, offset), "len {len} at {bad}");
                    assert_eq!(masked, text);
                }
            }
        }
    }

    #[test]
    fn piecewise_unmasking_equals_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let mut whole = data.clone();
        mask_in_place(&mut whole, key, 0);
        let mut pieces = data.clone();
        let (a, rest) = pieces.split_at_mut(5);
        let (b, c) = rest.split_at_mut(130);
        mask_in_place(a, key, 0);
        mask_in_place(b, key, 5);
        mask_in_place(c, key, 135);
        assert_eq!(pieces, whole);
    }

    #[test]
    fn rfc6455_section_5_7_masked_hello() {
        let mut payload = *b"Hello";
        mask_in_place(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
