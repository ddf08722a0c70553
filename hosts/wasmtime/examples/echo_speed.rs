//! The echo path in memory, native engine against the component on Wasmtime, in one run:
//! a server handle receives masked text frames (zero copy) and echoes each piece with
//! `last-received`, the host copying bytes in and out of the instance.
//!
//! ```sh
//! cargo run --release -p wsengine-host --example echo_speed
//! ```
//! Wall time, best of 5 runs per cell; the ratio is component / native.

use std::time::Instant;

use anyhow::Result;
use wsengine::{Action, ActionQueue, BufferType, Handle, Property, Role, SendBuffer};
use wsengine_host::{
    Completion, Operation, ReceiveOperation, Runtime, SendOperation, Transferred, default_component_path, engine, wit,
};

/// `count` masked text frames of `len` bytes, as a client writes them.
fn wire(len: usize, count: usize) -> Vec<u8> {
    let mut client: Handle = Handle::from_upgraded(Role::Client, [Property::RandomSeed([9; 32])]).unwrap();
    let mut out = Vec::new();
    let payload = vec![b'x'; len];
    for _ in 0..count {
        client.send(BufferType::Utf8Message, Some(SendBuffer::Data(payload.clone())), ()).unwrap();
        loop {
            let (a, n) = match client.get_action(ActionQueue::Send).unwrap() {
                Action::SendToNetwork { buffers, action, .. } => {
                    buffers.copy_to(&mut out);
                    (action, buffers.len())
                }
                Action::IndicateSendComplete { action, .. } => (action, 0),
                _ => break,
            };
            client.complete_action(a, n).unwrap();
        }
    }
    out
}

fn props() -> Vec<Property> {
    vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)]
}

/// Echoes `count` messages from `input` with the native engine; returns bytes written.
fn native(input: &[u8], count: usize) -> usize {
    let mut h: Handle = Handle::from_upgraded(Role::Server, props()).unwrap();
    let (mut pos, mut messages, mut written) = (0, 0, 0);
    while messages < count {
        h.receive(None, ()).unwrap();
        let ty = loop {
            match h.get_action(ActionQueue::Receive).unwrap() {
                Action::ReceiveFromNetwork { buffer, action } => {
                    let n = buffer.len().min(input.len() - pos);
                    buffer[..n].copy_from_slice(&input[pos..pos + n]);
                    pos += n;
                    h.complete_action(action, n).unwrap();
                }
                Action::IndicateReceiveComplete { buffer_type, action, .. } => {
                    h.complete_action(action, 0).unwrap();
                    break buffer_type.unwrap();
                }
                other => panic!("{other:?}"),
            }
        };
        h.send(ty, Some(SendBuffer::LastReceived), ()).unwrap();
        loop {
            let (a, n) = match h.get_action(ActionQueue::Send).unwrap() {
                Action::SendToNetwork { buffers, action, .. } => {
                    written += buffers.len();
                    (action, buffers.len())
                }
                Action::IndicateSendComplete { action, .. } => (action, 0),
                _ => break,
            };
            h.complete_action(a, n).unwrap();
        }
        if !ty.is_fragment() {
            messages += 1;
        }
    }
    written
}

/// The same echo through the component, one `step` per action: complete the last action,
/// queue the next operation and get the next action in one call (three per message).
fn component(rt: &Runtime, input: &[u8], count: usize) -> Result<usize> {
    let mut s = rt.session()?;
    let props: Vec<wit::Property> = vec![wit::Property::ReceiveBufferSize(65536), wit::Property::SendBufferSize(65536)];
    let h = engine(s.from_upgraded(wit::Role::Server, &props)?)?;
    let (mut pos, mut messages, mut written) = (0, 0, 0);
    let mut done: Option<Completion> = None;
    let receive = Operation::Receive(ReceiveOperation { max_piece: None, context: 0 });
    while messages < count {
        let mut then = Some(&receive);
        let ty = loop {
            match s.step(h, done.take().as_ref(), then.take(), wit::ActionQueue::Receive)? {
                Ok(wit::Action::ReceiveFromNetwork(r)) => {
                    let n = (r.max_bytes as usize).min(input.len() - pos);
                    engine(s.complete_receive(h, r.action, &input[pos..pos + n])?)?;
                    pos += n;
                }
                Ok(wit::Action::IndicateReceiveComplete(i)) => {
                    done = Some(Completion::Transferred(Transferred { action: i.action, bytes: 0 }));
                    break i.buffer_type.expect("a data piece");
                }
                other => anyhow::bail!("unexpected {other:?}"),
            }
        };
        let echo =
            Operation::Send(SendOperation { buffer_type: ty, buffer: Some(wit::SendBuffer::LastReceived), context: 0 });
        let mut then = Some(&echo);
        loop {
            match s.step(h, done.take().as_ref(), then.take(), wit::ActionQueue::Send)? {
                Ok(wit::Action::SendToNetwork(f)) => {
                    written += f.data.len();
                    done = Some(Completion::Transferred(Transferred { action: f.action, bytes: f.data.len() as u32 }));
                }
                Ok(wit::Action::IndicateSendComplete(i)) => {
                    done = Some(Completion::Transferred(Transferred { action: i.action, bytes: 0 }));
                    break;
                }
                other => anyhow::bail!("unexpected {other:?}"),
            }
        }
        if matches!(ty, wit::BufferType::Utf8Message | wit::BufferType::BinaryMessage) {
            messages += 1;
        }
    }
    s.drop_handle(h)?;
    Ok(written)
}

fn best_of(runs: usize, mut f: impl FnMut() -> Result<usize>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn main() -> Result<()> {
    let rt = Runtime::load(&default_component_path())?;
    println!("| payload | native msg/s | native MB/s | component msg/s | component MB/s | component / native |");
    println!("|---:|---:|---:|---:|---:|---:|");
    // `ECHO_SIZES=16,65536` picks the payload sizes (for profiling one of them).
    let sizes: Vec<usize> = match std::env::var("ECHO_SIZES") {
        Ok(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        Err(_) => vec![16, 1024, 16 * 1024, 64 * 1024],
    };
    // `ECHO_MIB=64` sets the megabytes of wire per run (default 8).
    let mib: usize = std::env::var("ECHO_MIB").map_or(Ok(8), |v| v.parse())?;
    for len in sizes {
        let count = (mib << 20) / len.max(64);
        let input = wire(len, count);
        // `ECHO_ONLY=component` skips the native side (to profile the component alone).
        let only_component = std::env::var("ECHO_ONLY").is_ok_and(|v| v == "component");
        let n = if only_component { f64::NAN } else { best_of(5, || Ok(native(&input, count)))? };
        let c = best_of(5, || component(&rt, &input, count))?;
        let (nm, cm) = (count as f64 / n, count as f64 / c);
        println!(
            "| {len} B | {:.0} k | {:.0} | {:.0} k | {:.0} | {:.2}x |",
            nm / 1e3,
            nm * len as f64 / 1e6,
            cm / 1e3,
            cm * len as f64 / 1e6,
            cm / nm
        );
    }
    Ok(())
}
