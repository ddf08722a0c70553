//! The in-memory echo workload, shared by `examples/echo_speed` (native, and compiled to
//! wasm32-wasip2 to run inside Wasmtime) and `hosts/wasmtime/examples/echo_speed` (which
//! also drives the component through WIT): a server handle receives masked text frames
//! (zero copy) and echoes each piece with `SendBuffer::LastReceived`.

use std::error::Error;
use std::time::Instant;

use wsengine::{Action, ActionQueue, BufferType, Handle, Property, Role, SendBuffer};

/// The payload sizes measured unless told otherwise.
pub const SIZES: [usize; 4] = [16, 1024, 16 * 1024, 64 * 1024];

/// The number of messages of `len` bytes in `mib` MiB of payload (at least 64 bytes'
/// worth each, so small sizes do not run for ever).
pub fn count(len: usize, mib: usize) -> usize {
    (mib << 20) / len.max(64)
}

/// What the workload fails with: an engine error, or an action the echo did not expect.
pub type Outcome<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// `count` masked text frames of `len` bytes, as a client writes them.
pub fn wire(len: usize, count: usize) -> Outcome<Vec<u8>> {
    let mut client: Handle = Handle::from_upgraded(Role::Client, [Property::RandomSeed([9; 32])])?;
    let mut out = Vec::new();
    let payload = vec![b'x'; len];
    for _ in 0..count {
        client.send(BufferType::Utf8Message, Some(SendBuffer::Data(payload.clone())), ())?;
        loop {
            let (a, n) = match client.get_action(ActionQueue::Send)? {
                Action::SendToNetwork { buffers, action, .. } => {
                    buffers.copy_to(&mut out);
                    (action, buffers.len())
                }
                Action::IndicateSendComplete { action, .. } => (action, 0),
                _ => break,
            };
            client.complete_action(a, n)?;
        }
    }
    Ok(out)
}

/// The server's buffer sizes: the largest the engine allows.
pub fn properties() -> Vec<Property> {
    vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)]
}

/// Echoes `count` messages from `input` with the engine; returns the bytes written.
pub fn echo(input: &[u8], count: usize) -> Outcome<usize> {
    let mut h: Handle = Handle::from_upgraded(Role::Server, properties())?;
    let (mut pos, mut messages, mut written) = (0, 0, 0);
    while messages < count {
        h.receive(None, ())?;
        let ty = loop {
            match h.get_action(ActionQueue::Receive)? {
                Action::ReceiveFromNetwork { buffer, action } => {
                    let n = buffer.len().min(input.len() - pos);
                    buffer[..n].copy_from_slice(&input[pos..pos + n]);
                    pos += n;
                    h.complete_action(action, n)?;
                }
                Action::IndicateReceiveComplete { buffer_type, action, .. } => {
                    h.complete_action(action, 0)?;
                    break buffer_type.ok_or("the input ended inside a message")?;
                }
                other => return Err(format!("unexpected {other:?}").into()),
            }
        };
        h.send(ty, Some(SendBuffer::LastReceived), ())?;
        loop {
            let (a, n) = match h.get_action(ActionQueue::Send)? {
                Action::SendToNetwork { buffers, action, .. } => {
                    written += buffers.len();
                    (action, buffers.len())
                }
                Action::IndicateSendComplete { action, .. } => (action, 0),
                _ => break,
            };
            h.complete_action(a, n)?;
        }
        if !ty.is_fragment() {
            messages += 1;
        }
    }
    Ok(written)
}

/// The best wall time of `runs` runs of `f`, in seconds.
pub fn best_of<E>(runs: usize, mut f: impl FnMut() -> Result<usize, E>) -> Result<f64, E> {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Payload sizes from `ECHO_SIZES` (`16,65536`), or [`SIZES`].
pub fn sizes() -> Vec<usize> {
    std::env::var("ECHO_SIZES")
        .ok()
        .and_then(|list| list.split(',').map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| SIZES.to_vec())
}

/// MiB of payload per run from `ECHO_MIB`, or 8.
pub fn mib() -> usize {
    std::env::var("ECHO_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}
