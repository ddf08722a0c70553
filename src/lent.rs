//! The memory a handle works in: its own, the caller's given as a `Vec`
//! ([`Property::AllocatedBuffer`](crate::Property::AllocatedBuffer)), or the caller's lent
//! by address ([`Handle::with_lent_buffer`](crate::Handle::with_lent_buffer), for C ABI
//! bindings, where websocket.dll's `ALLOCATED_BUFFER` is a pointer and a length and the
//! buffers the handle hands out must lie inside it).
//!
//! Every access goes through one pointer and length, whoever owns the bytes: the receive
//! and send paths touch the buffer many times per message, and a `match` on the owner at
//! each cost up to a fifth of a small echo's time.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::pool;

/// A handle's working memory.
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
    owner: Owner,
}

enum Owner {
    /// The handle's own (held for its memory, reached through `ptr`).
    Own(Vec<u8>),
    /// The handle's own, given back to the thread's pool while idle: `len` bytes are
    /// taken again by [`Region::ensure`] (the region is empty meanwhile).
    Released(usize),
    /// Given by the caller (`Property::AllocatedBuffer`), given back by `into_given`.
    Given(Vec<u8>),
    /// Lent by address, never freed here.
    Lent,
}

// SAFETY: the bytes are the region's own (a `Vec` it holds) or lent for the region's life
// on any thread (`Region::lent`'s contract); nothing here is tied to a thread.
unsafe impl Send for Region {}

impl Region {
    /// `len` bytes of the handle's own (from the thread's pool when it has some).
    pub(crate) fn own(len: usize) -> Self {
        Self::holding(pool::take(len), false)
    }

    /// The caller's `Vec`, given back by [`into_given`](Self::into_given).
    pub(crate) fn given(v: Vec<u8>) -> Self {
        Self::holding(v, true)
    }

    fn holding(mut v: Vec<u8>, given: bool) -> Self {
        // The `Vec` is never touched again until it is given back or dropped, so its heap
        // buffer stays where it is.
        let ptr = NonNull::new(v.as_mut_ptr()).unwrap_or(NonNull::dangling());
        let len = v.len();
        Self { ptr, len, owner: if given { Owner::Given(v) } else { Owner::Own(v) } }
    }

    /// Memory lent by address; `None` for a null pointer.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads and writes of `len` bytes for as long as the region lives,
    /// and nothing else reads or writes those bytes meanwhile, except through the slices
    /// the handle hands out while it lends them.
    pub(crate) unsafe fn lent(ptr: *mut u8, len: usize) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Self { ptr, len, owner: Owner::Lent })
    }

    /// The caller's `Vec`, when it was given one.
    pub(crate) fn into_given(mut self) -> Option<Vec<u8>> {
        match std::mem::replace(&mut self.owner, Owner::Lent) {
            Owner::Given(v) => Some(v),
            owner => {
                self.owner = owner;
                None
            }
        }
    }

    /// Gives the handle's own bytes back to the thread's pool; the region is empty
    /// until [`ensure`](Self::ensure). False for bytes the caller gave or lent.
    pub(crate) fn release(&mut self) -> bool {
        if !matches!(self.owner, Owner::Own(_)) {
            return false;
        }
        if let Owner::Own(v) = std::mem::replace(&mut self.owner, Owner::Released(self.len)) {
            pool::give(v);
        }
        self.ptr = NonNull::dangling();
        self.len = 0;
        true
    }

    /// Takes the bytes back after a [`release`](Self::release) (their values are
    /// unspecified); nothing otherwise.
    #[inline]
    pub(crate) fn ensure(&mut self) {
        if let Owner::Released(len) = self.owner {
            self.retake(len);
        }
    }

    #[cold]
    fn retake(&mut self, len: usize) {
        *self = Self::holding(pool::take(len), false);
    }
}

impl Drop for Region {
    /// The handle's own bytes go back to the thread's pool, for the next handle.
    fn drop(&mut self) {
        if let Owner::Own(v) = std::mem::replace(&mut self.owner, Owner::Lent) {
            pool::give(v);
        }
    }
}

impl Deref for Region {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` describe the owned `Vec`'s buffer, which does not move
        // while it is held, or the lent bytes (`Region::lent`'s contract).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Region {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.owner {
            Owner::Own(_) => "own",
            Owner::Given(_) => "given",
            Owner::Released(_) => "released",
            Owner::Lent => "lent",
        };
        write!(f, "Region({kind}, {} bytes)", self.len)
    }
}
