//! The memory a handle works in: its own, the caller's given as a `Vec`
//! ([`Property::AllocatedBuffer`](crate::Property::AllocatedBuffer)), or the caller's lent
//! by address ([`Handle::with_lent_buffer`](crate::Handle::with_lent_buffer), for C ABI
//! bindings, where websocket.dll's `ALLOCATED_BUFFER` is a pointer and a length and the
//! buffers the handle hands out must lie inside it).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Bytes lent by address. Made only by [`Region::lent`], whose caller promises what
/// makes the slices below sound.
pub(crate) struct Lent {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the lender keeps the memory valid and untouched for the handle's life, on any
// thread (`Region::lent`'s contract); nothing here is tied to a thread.
unsafe impl Send for Lent {}

/// A handle's working memory.
pub(crate) enum Region {
    /// Allocated by the handle.
    Own(Vec<u8>),
    /// Given by the caller as a `Vec` (`Property::AllocatedBuffer`), given back by
    /// `into_allocated_buffer`.
    Given(Vec<u8>),
    /// Lent by address.
    Lent(Lent),
}

impl Region {
    /// Memory lent by address; `None` for a null pointer.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for reads and writes of `len` bytes for as long as the region lives,
    /// and nothing else reads or writes those bytes meanwhile, except through the slices
    /// the handle hands out while it lends them.
    pub(crate) unsafe fn lent(ptr: *mut u8, len: usize) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Self::Lent(Lent { ptr, len }))
    }
}

impl Deref for Region {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Own(v) | Self::Given(v) => v,
            // SAFETY: `Region::lent`'s contract.
            Self::Lent(l) => unsafe { std::slice::from_raw_parts(l.ptr.as_ptr(), l.len) },
        }
    }
}

impl DerefMut for Region {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Own(v) | Self::Given(v) => v,
            // SAFETY: `Region::lent`'s contract; `&mut self` makes this the only view.
            Self::Lent(l) => unsafe { std::slice::from_raw_parts_mut(l.ptr.as_ptr(), l.len) },
        }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, len) = match self {
            Self::Own(v) => ("own", v.len()),
            Self::Given(v) => ("given", v.len()),
            Self::Lent(l) => ("lent", l.len),
        };
        write!(f, "Region({kind}, {len} bytes)")
    }
}
