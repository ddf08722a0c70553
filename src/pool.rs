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

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `v` for reuse on this thread, or frees it.
pub(crate) fn give(v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > KEEP_MAX {
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

/// A buffer of `len` bytes (their values unspecified), kept or new: one of exactly
/// that length first (connections of one configuration share it), else one large
/// enough, else a new one.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let kept = FREE
        .try_with(|free| {
            let mut free = free.try_borrow_mut().ok()?;
            let i =
                free.iter().rposition(|v| v.len() == len).or_else(|| free.iter().rposition(|v| v.capacity() >= len))?;
            Some(free.swap_remove(i))
        })
        .ok()
        .flatten();
    match kept {
        Some(mut v) => {
            v.resize(len, 0);
            v
        }
        None => vec![0; len],
    }
}

/// An empty buffer with room for at least `capacity` bytes, kept or new.
pub(crate) fn take_empty(capacity: usize) -> Vec<u8> {
    let mut v = take(capacity);
    v.clear();
    v
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
        assert!(FREE.with(|f| f.borrow().iter().all(|v| v.capacity() <= KEEP_MAX)));
    }
}
