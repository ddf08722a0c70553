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
//! - component `connection`: the same component's `connection` resource, the input handed
//!   in as a transport delivers it (64 KiB reads), one call per read: `read` then one
//!   `send` batch echoing that read's messages (every piece copied out and back in), or
//!   `read-echo` (the component echoes each piece itself; only the read bytes go in and
//!   the bytes to write come out).
//!
//! The ratios are to native, the engine's `Handle` echo; `native conn.` is the same
//! echo through the native `Connection` (`feed`, `poll_event`, `send_received`), for
//! reference. `boundary / native` is the floor of any component echo: a component
//! that does nothing (written below in WAT) is handed each read as a `list<u8>` and
//! hands it straight back, so its time is only the copy in and the copy out that the
//! component model makes for every list.
//!
//! ```sh
//! cargo build --release --example echo_speed --target wasm32-wasip2
//! cargo run --release -p wsengine-host --example echo_speed
//! ```
//! Wall time, best of 5 runs per cell. `ECHO_SIZES=16,65536` and `ECHO_MIB=64` pick the
//! payload sizes and the MiB of payload per run; `ECHO_ONLY=component` measures only the
//! component via WIT, `ECHO_ONLY=connection` only the component's `connection` (for
//! profiling); `ECHO_READ=16384` the size of the connections' reads.

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

/// The size of one transport read: the input reaches the connections in pieces this size
/// (`ECHO_READ` bytes, 65536 unless told).
fn read_size() -> usize {
    std::env::var("ECHO_READ").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(64 * 1024)
}

/// The server connection's options: the largest buffers, nothing timed.
fn connection_options() -> wsengine::Options {
    wsengine::Options {
        properties: workload::properties(),
        ping_interval: None,
        pong_timeout: None,
        close_timeout: None,
        open_timeout: None,
        ..wsengine::Options::default()
    }
}

/// The echo through the native `Connection`: each read handed in, each piece sent back
/// as it is polled (`send_received`), the output taken.
fn native_connection(input: &[u8], count: usize) -> Result<usize> {
    let mut c: wsengine::Connection =
        wsengine::Connection::from_upgraded(wsengine::Role::Server, 0, connection_options())?;
    let (mut messages, mut written) = (0, 0);
    for read in input.chunks(read_size()) {
        c.feed(read, 0)?;
        loop {
            while let Some(e) = c.poll_event() {
                if let wsengine::Event::Message { fin, .. } = e {
                    messages += usize::from(fin);
                    c.send_received()?;
                }
            }
            let n = c.output().len();
            if n == 0 {
                break;
            }
            written += n;
            c.advance(n)?;
        }
    }
    if messages != count {
        bail!("echoed {messages} of {count} messages");
    }
    Ok(written)
}

/// The component's `connection`: one `read` per transport read, then (unless `fused`)
/// one `send` with that read's messages echoed; with `fused`, one `read-echo` per read.
fn component_connection(rt: &Runtime, input: &[u8], len: usize, count: usize, fused: bool) -> Result<usize> {
    let mut s = rt.session()?;
    let mut options = s.default_options()?;
    options.properties = vec![wit::Property::ReceiveBufferSize(65536), wit::Property::SendBufferSize(65536)];
    (options.ping_interval, options.pong_timeout, options.close_timeout, options.open_timeout) =
        (None, None, None, None);
    let c = engine(s.connection_from_upgraded(wit::Role::Server, 0, &options)?)?;
    let mut written = s.connection_handle_timeout(c, 0)?.output.len();
    let mut batch = Vec::new();
    for read in input.chunks(read_size()) {
        let p =
            if fused { engine(s.connection_read_echo(c, read, 0)?)? } else { engine(s.connection_read(c, read, 0)?)? };
        written += p.output.len();
        if fused {
            continue;
        }
        batch.clear();
        for e in p.events {
            if let wit::Event::Message(m) = e {
                let piece = wit::Piece { data: m.data, fin: m.fin };
                batch.push(if m.text { wit::Outgoing::Text(piece) } else { wit::Outgoing::Binary(piece) });
            }
        }
        if !batch.is_empty() {
            match s.connection_send(c, &batch, 0)? {
                Ok(p) => written += p.output.len(),
                Err(e) => bail!("send refused: {}", wsengine_host::EngineError(e.error)),
            }
        }
    }
    // Every message came back: at least its payload and a 2-byte header each.
    if written < count * (len + 2) {
        bail!("wrote {written} bytes for {count} messages of {len} bytes");
    }
    s.drop_handle(c)?;
    Ok(written)
}

/// A component that takes a `list<u8>` and returns it as it lies in its memory: the
/// copies every call makes through the canonical ABI and nothing else.
const BOUNDARY_ONLY: &str = r#"
(component
  (core module $m
    (memory (export "memory") 8)
    ;; One list at a time, always at 64 KiB (reads are at most 256 KiB).
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 65536)
    (func (export "echo") (param i32 i32) (result i32)
      (i32.store (i32.const 0) (local.get 0))
      (i32.store (i32.const 4) (local.get 1))
      i32.const 0))
  (core instance $i (instantiate $m))
  (func (export "echo") (param "input" (list u8)) (result (list u8))
    (canon lift (core func $i "echo") (memory (core memory $i "memory"))
      (realloc (core func $i "realloc")))))
"#;

/// [`BOUNDARY_ONLY`], compiled and instantiated (outside the timing).
struct Boundary {
    store: wasmtime::Store<()>,
    instance: wasmtime::component::Instance,
}

impl Boundary {
    fn new() -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.concurrency_support(false);
        let engine = wasmtime::Engine::new(&config)?;
        let component = wasmtime::component::Component::new(&engine, BOUNDARY_ONLY)?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::component::Linker::<()>::new(&engine).instantiate(&mut store, &component)?;
        Ok(Boundary { store, instance })
    }

    /// The input handed over a read at a time; returns the bytes given back.
    fn run(&mut self, input: &[u8]) -> Result<usize> {
        let echo = self.instance.get_typed_func::<(&[u8],), (Vec<u8>,)>(&mut self.store, "echo")?;
        let mut written = 0;
        for read in input.chunks(read_size().min(256 << 10)) {
            let (out,) = echo.call(&mut self.store, (read,))?;
            written += out.len();
        }
        Ok(written)
    }
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
    let only = std::env::var("ECHO_ONLY").unwrap_or_default();
    let (step, conn) = match only.as_str() {
        "component" => (true, false),
        "connection" => (false, true),
        _ => (true, true),
    };
    let everything = step && conn;
    let guest_times = if everything { guest(&sizes, mib)? } else { vec![f64::NAN; sizes.len()] };
    println!(
        "| payload | native msg/s | native MB/s | native conn. msg/s | wasm guest msg/s | guest / native \
         | component via WIT msg/s | component / native | connection read+send msg/s | read+send / native \
         | connection read-echo msg/s | read-echo / native | boundary / native |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (&len, g) in sizes.iter().zip(guest_times) {
        let count = workload::count(len, mib);
        let input = workload::wire(len, count).map_err(|e| anyhow::anyhow!(e))?;
        let n = workload::best_of(5, || workload::echo(&input, count)).map_err(|e| anyhow::anyhow!(e))?;
        let nc = if everything { workload::best_of(5, || native_connection(&input, count))? } else { f64::NAN };
        let c = if step { workload::best_of(5, || component(&rt, &input, count))? } else { f64::NAN };
        let (rs, re, floor) = if conn {
            (
                workload::best_of(5, || component_connection(&rt, &input, len, count, false))?,
                workload::best_of(5, || component_connection(&rt, &input, len, count, true))?,
                {
                    let mut boundary = Boundary::new()?;
                    workload::best_of(5, || boundary.run(&input))?
                },
            )
        } else {
            (f64::NAN, f64::NAN, f64::NAN)
        };
        let rate = |secs: f64| count as f64 / secs;
        println!(
            "| {len} B | {:.0} k | {:.0} | {:.0} k | {:.0} k | {:.2}x | {:.0} k | {:.2}x | {:.0} k | {:.2}x | {:.0} k | {:.2}x | {:.2}x |",
            rate(n) / 1e3,
            rate(n) * len as f64 / 1e6,
            rate(nc) / 1e3,
            rate(g) / 1e3,
            n / g,
            rate(c) / 1e3,
            n / c,
            rate(rs) / 1e3,
            n / rs,
            rate(re) / 1e3,
            n / re,
            n / floor,
        );
    }
    Ok(())
}
