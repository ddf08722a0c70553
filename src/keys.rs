//! Where a client's masking keys and handshake nonces come from (RFC 6455 §5.3: from
//! a strong source of entropy, unpredictable to the application).
//!
//! A handle given [`Property::RandomSeed`](crate::Property::RandomSeed) draws from a
//! ChaCha12 generator of its own, so its output is reproducible (tests, fuzzing). Every
//! other client handle draws from its thread's generator: one ChaCha12 stream per thread,
//! all keyed by one seed taken from the operating system when the first client handle is
//! made. A generator is 320 bytes; an idle client connection would otherwise hold one.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20::ChaCha12Rng;
use rand_core::{Rng as _, SeedableRng as _};

use crate::error::{Error, Result};

/// The process's seed, from the operating system, taken once.
static SEED: OnceLock<[u8; 32]> = OnceLock::new();
/// The next thread's stream number.
static STREAMS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD: RefCell<Option<ChaCha12Rng>> = const { RefCell::new(None) };
}

/// A client handle's source of random bytes.
#[derive(Debug)]
pub(crate) enum KeySource {
    /// A generator of the handle's own, from the seed it was given.
    Seeded(Box<ChaCha12Rng>),
    /// The thread's generator.
    Thread,
}

impl KeySource {
    /// The source for a handle: its own generator from `seed`, else the thread's (the
    /// operating system's seed taken now if it was not yet).
    pub(crate) fn new(seed: Option<[u8; 32]>) -> Result<Self> {
        if let Some(seed) = seed {
            return Ok(Self::Seeded(Box::new(ChaCha12Rng::from_seed(seed))));
        }
        if SEED.get().is_none() {
            let _ = SEED.set(os_seed()?);
        }
        Ok(Self::Thread)
    }

    /// Fills `out` with random bytes.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        match self {
            Self::Seeded(rng) => rng.fill_bytes(out),
            Self::Thread => with_thread(|rng| rng.fill_bytes(out)),
        }
    }

    /// Four random bytes: a masking key.
    pub(crate) fn key(&mut self) -> [u8; 4] {
        match self {
            Self::Seeded(rng) => rng.next_u32(),
            Self::Thread => with_thread(|rng| rng.next_u32()),
        }
        .to_ne_bytes()
    }
}

/// Runs `f` on this thread's generator, made on first use: the process's seed, on a
/// stream no other thread uses.
fn with_thread<T>(f: impl FnOnce(&mut ChaCha12Rng) -> T) -> T {
    THREAD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let rng = slot.get_or_insert_with(|| {
            // Set before any `KeySource::Thread` exists (`KeySource::new`).
            let mut rng = ChaCha12Rng::from_seed(SEED.get().copied().unwrap_or_default());
            rng.set_stream(STREAMS.fetch_add(1, Ordering::Relaxed));
            rng
        });
        f(rng)
    })
}

#[cfg(feature = "os-rng")]
fn os_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| Error::RandomSourceFailed)?;
    Ok(seed)
}

#[cfg(not(feature = "os-rng"))]
fn os_seed() -> Result<[u8; 32]> {
    Err(Error::NoRandomSource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_draw_different_keys_and_a_seed_repeats_its_own() {
        let mut a = KeySource::new(Some([1; 32])).unwrap();
        let mut b = KeySource::new(Some([1; 32])).unwrap();
        assert_eq!(a.key(), b.key());
        if cfg!(feature = "os-rng") {
            let mut here = KeySource::new(None).unwrap();
            let mine: Vec<[u8; 4]> = (0..8).map(|_| here.key()).collect();
            let theirs: Vec<[u8; 4]> = std::thread::spawn(|| {
                let mut there = KeySource::new(None).unwrap();
                (0..8).map(|_| there.key()).collect()
            })
            .join()
            .unwrap();
            assert_ne!(mine, theirs, "each thread has a stream of its own");
        }
    }
}
