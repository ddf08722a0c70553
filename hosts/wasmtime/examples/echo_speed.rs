//! The echo path in memory, in one run, three ways (the workload of
//! `examples/echo_speed/workload.rs`: a server handle receives masked text frames and
//! echoes each piece with last-received):
//!
//! - native: the engine as a Rust crate, in this process;
//! - wasm guest: the same loop compiled for wasm32-wasip2 (`examples/echo_speed`), the
//!   engine inside it, run by Wasmtime: what a WASI application that embeds the engine gets;
//! - component via WIT: the engine component (`target/component/wsengine.wasm`) driven
//!   from this host through `handle.step`, every frame and piece copied across the
//!   boundary: what a host that loads the component gets.
//!
//! ```sh
//! cargo build --release --example echo_speed --target wasm32-wasip2
//! cargo run --release -p wsengine-host --example echo_speed
//! ```
//! Wall time, best of 5 runs per cell. `ECHO_SIZES=16,65536` and `ECHO_MIB=64` pick the
//! payload sizes and the MiB of payload per run; `ECHO_ONLY=component` measures only the
//! component via WIT (for profiling).

#[path = "../../../examples/echo_speed/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use wsengine_host::{
    Completion, Operation, ReceiveOperation, Runtime, SendOperation, Transferred, default_component_path, engine, wit,
};

/// The same echo through the component, one `step` per action: complete the last action,
/// queue the next operation and get the next action in one call (three per message).
fn component(rt: &Runtime, input: &[u8], count: usize) -> Result<usize> {
    let mut s = rt.session()?;
    let props = [wit::Property::ReceiveBufferSize(65536), wit::Property::SendBufferSize(65536)];
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
                    break i.buffer_type.context("the stream ended before the last message")?;
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

/// The wasm32-wasip2 build of examples/echo_speed.
fn guest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm32-wasip2/release/examples/echo_speed.wasm")
}

/// Best seconds per size from the wasm guest, which prints `echo LEN COUNT SECONDS`.
fn guest(sizes: &[usize], mib: usize) -> Result<Vec<f64>> {
    let path = guest_path();
    if !path.exists() {
        bail!("{} is missing: cargo build --release --example echo_speed --target wasm32-wasip2", path.display());
    }
    let list = sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let run = wsengine_host::wasi::run_wasi_captured(&path, &[list, mib.to_string()])?;
    if run.status != 0 {
        bail!("the wasm guest failed: {}", String::from_utf8_lossy(&run.stderr));
    }
    let out = String::from_utf8(run.stdout)?;
    let times: Vec<f64> = out
        .lines()
        .map(|line| line.split(' ').nth(3).context("echo LEN COUNT SECONDS")?.parse().context("seconds"))
        .collect::<Result<_>>()?;
    if times.len() != sizes.len() {
        bail!("the wasm guest printed {} lines for {} sizes", times.len(), sizes.len());
    }
    Ok(times)
}

fn main() -> Result<()> {
    let rt = Runtime::load(&default_component_path())?;
    let (sizes, mib) = (workload::sizes(), workload::mib());
    let only_component = std::env::var("ECHO_ONLY").is_ok_and(|v| v == "component");
    let guest_times = if only_component { vec![f64::NAN; sizes.len()] } else { guest(&sizes, mib)? };
    println!(
        "| payload | native msg/s | native MB/s | wasm guest msg/s | guest / native | component via WIT msg/s \
         | component / native |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (&len, g) in sizes.iter().zip(guest_times) {
        let count = workload::count(len, mib);
        let input = workload::wire(len, count).map_err(|e| anyhow::anyhow!(e))?;
        let n = if only_component {
            f64::NAN
        } else {
            workload::best_of(5, || workload::echo(&input, count)).map_err(|e| anyhow::anyhow!(e))?
        };
        let c = workload::best_of(5, || component(&rt, &input, count))?;
        let rate = |secs: f64| count as f64 / secs;
        println!(
            "| {len} B | {:.0} k | {:.0} | {:.0} k | {:.2}x | {:.0} k | {:.2}x |",
            rate(n) / 1e3,
            rate(n) * len as f64 / 1e6,
            rate(g) / 1e3,
            n / g,
            rate(c) / 1e3,
            n / c
        );
    }
    Ok(())
}
