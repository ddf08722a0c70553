//! Buffers that idle connections gave back ([`Connection::release_buffers`],
//! [`Handle::release_buffer`]), kept by each thread for the next connection that needs
//! one, so that releasing and retaking them costs no allocation in steady state.
//!
//! A buffer keeps the bytes it held (nothing is cleared): they are only ever read by
//! the engine after it wrote them again, or lent for a read that overwrites them.
//!
//! [`Connection::release_buffers`]: crate::Connection::release_buffers
//! [`Handle::release_buffer`]: crate::Handle::release_buffer

use std::cell::RefCell;

/// The most buffers a thread keeps; more given back are freed.
const KEEP: usize = 64;
/// The largest buffer kept (the largest receive + send area, and then some): a larger
/// one is freed rather than held for a connection that may never need it.
const KEEP_MAX: usize = 256 * 1024;
/// The smallest buffer kept: smaller ones (a host's short read handed over whole) would
/// take the places of buffers worth keeping.
const KEEP_MIN: usize = 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `v` for reuse on this thread, or frees it.
pub(crate) fn give(v: Vec<u8>) {
    if !(KEEP_MIN..=KEEP_MAX).contains(&v.capacity()) {
        return;
    }
    // `try_with`: a buffer dropped while the thread ends is just freed.
    let _ = FREE.try_with(|free| {
        if let Ok(mut free) = free.try_borrow_mut()
            && free.len() < KEEP
        {
            free.push(v);
        }
    });
}

/// The kept buffer `pick` chooses, taken out of the pool.
fn take_kept(pick: impl Fn(&[Vec<u8>]) -> Option<usize>) -> Option<Vec<u8>> {
    FREE.try_with(|free| {
        let mut free = free.try_borrow_mut().ok()?;
        let i = pick(&free)?;
        Some(free.swap_remove(i))
    })
    .ok()
    .flatten()
}

/// True for a capacity from `n` to twice `n`: a larger buffer would hold memory its
/// taker never uses.
fn fits(capacity: usize, n: usize) -> bool {
    (n..=n.saturating_mul(2)).contains(&capacity)
}

/// A buffer of `len` bytes (their values unspecified), kept or new: one of exactly
/// that length first (handles of one configuration share it), else one of up to twice
/// that capacity, else a new one.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let kept = take_kept(|free| {
        free.iter().rposition(|v| v.len() == len).or_else(|| free.iter().rposition(|v| fits(v.capacity(), len)))
    });
    match kept {
        Some(mut v) => {
            v.resize(len, 0);
            v
        }
        None => vec![0; len],
    }
}

/// An empty buffer with room for at least `capacity` bytes, kept or new: an output
/// buffer given back empty is taken again at the size it had grown to.
pub(crate) fn take_empty(capacity: usize) -> Vec<u8> {
    let kept = take_kept(|free| {
        free.iter()
            .rposition(|v| v.is_empty() && v.capacity() >= capacity)
            .or_else(|| free.iter().rposition(|v| fits(v.capacity(), capacity)))
    });
    match kept {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(capacity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_without_allocating() {
        let v = take(5000);
        let ptr = v.as_ptr();
        give(v);
        let again = take(5000);
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), 5000);
        give(again);
        let empty = take_empty(100);
        assert!(empty.is_empty() && empty.capacity() >= 100);
        give(vec![0; KEEP_MAX + 1]);
        give(vec![0; KEEP_MIN - 1]);
        assert!(FREE.with(|f| f.borrow().iter().all(|v| (KEEP_MIN..=KEEP_MAX).contains(&v.capacity()))));
        // A buffer far larger than asked for is left for a need of its size.
        give(vec![0; 200_000]);
        assert!(take(5000).capacity() < 200_000);
    }
}
