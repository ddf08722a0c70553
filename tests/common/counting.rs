//! A global allocator that counts, per thread: allocations, bytes held and the most
//! held. Counting is exact and does not depend on timing. A test file that includes
//! this module gets it as its global allocator.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run in parallel threads).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread holds allocated, and the most it held since `reset_peak`.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

pub fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Starts watching the most bytes held: returns what is held now.
pub fn watch_peak() -> isize {
    let now = live();
    PEAK.with(|p| p.set(now));
    now
}

/// The most bytes held since `watch_peak` returned `start`, above `start`.
pub fn peak_above(start: isize) -> isize {
    PEAK.with(Cell::get) - start
}

fn count(grow: isize) {
    // `try_with`: the allocator may be called while thread-locals are torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = LIVE.try_with(|l| {
        l.set(l.get() + grow);
        let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
    });
}

// SAFETY: forwards to the system allocator unchanged; only counts calls and bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get() - layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
