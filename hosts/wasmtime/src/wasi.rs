//! Running a WASI 0.2 command component (such as `examples/wasi_client` built for
//! `wasm32-wasip2`) with wasmtime-wasi, with networking confined to loopback.
//!
//! ```sh
//! wsengine-host run-wasi target/wasm32-wasip2/release/examples/wasi_client.wasm ws://127.0.0.1:9002/
//! ```
//!
//! The guest gets its arguments, the host's stdout and stderr (or memory pipes, for
//! tests), TCP (no UDP), and no name lookup. Every socket address it uses passes
//! [`loopback_only`] first, before wasmtime-wasi makes the system call: a connect,
//! listen, accept or datagram to anything outside 127.0.0.0/8 and ::1 fails with
//! `access-denied` and no packet leaves the machine.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// What a captured run's guest wrote to each stream is kept up to this many bytes.
const CAPTURE_LIMIT: usize = 1 << 20;

/// The store's data: the WASI context and the table of the guest's resources.
struct State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

/// Whether the guest may use `addr` for `usage`: only loopback addresses (127.0.0.0/8,
/// ::1, and IPv4 loopback mapped into IPv6). The unspecified address (0.0.0.0, ::) is
/// allowed for binds only: wasmtime-wasi checks it as the implicit bind before every
/// connect, and a bind sends nothing; a listen on it is refused, and so is every peer
/// address outside loopback.
pub fn loopback_only(addr: SocketAddr, usage: SocketAddrUse) -> bool {
    let ip = addr.ip().to_canonical();
    if ip.is_loopback() {
        return true;
    }
    ip.is_unspecified() && matches!(usage, SocketAddrUse::TcpBind | SocketAddrUse::UdpBind)
}

/// Where the guest's stdout and stderr go.
enum Output {
    Inherit,
    Capture(MemoryOutputPipe, MemoryOutputPipe),
}

/// A run whose output was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The guest's exit status (0 on success).
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs the WASI command component at `path` with `args` (the guest's argv after its
/// name), its stdout and stderr going to the host's; returns the guest's exit status.
/// The error is for a component that cannot be loaded, linked or run (a trap).
pub fn run_wasi(path: &Path, args: &[String]) -> Result<i32> {
    run(path, args, &Output::Inherit)
}

/// As [`run_wasi`], with the guest's stdout and stderr kept in memory (up to 1 MiB each).
pub fn run_wasi_captured(path: &Path, args: &[String]) -> Result<Captured> {
    let (stdout, stderr) = (MemoryOutputPipe::new(CAPTURE_LIMIT), MemoryOutputPipe::new(CAPTURE_LIMIT));
    let status = run(path, args, &Output::Capture(stdout.clone(), stderr.clone()))?;
    Ok(Captured { status, stdout: stdout.contents().to_vec(), stderr: stderr.contents().to_vec() })
}

fn run(path: &Path, args: &[String], output: &Output) -> Result<i32> {
    let engine = Engine::default();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the WASI component {}", path.display()))?;
    let component = Component::new(&engine, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a valid component", path.display()))?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;

    let mut builder = WasiCtxBuilder::new();
    match output {
        Output::Inherit => builder.inherit_stdout().inherit_stderr(),
        Output::Capture(out, err) => builder.stdout(out.clone()).stderr(err.clone()),
    };
    // argv[0] is the program's name, as a shell would pass it.
    let name = path.file_name().map_or_else(|| "main.wasm".into(), |n| n.to_string_lossy());
    builder.arg(name.as_ref()).args(args);
    // The socket check must come after inherit_network, which installs an allow-all check.
    // TCP must be switched on: in 48.0.8 a new builder has TCP, UDP and name lookup off
    // (whatever its documentation says), and every socket call then fails `access-denied`
    // before the address check runs. UDP stays off: nothing here needs it.
    builder
        .inherit_network()
        .allow_tcp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|addr, usage| Box::pin(std::future::ready(loopback_only(addr, usage))));
    let mut store = Store::new(&engine, State { ctx: builder.build(), table: ResourceTable::new() });

    let command = Command::instantiate(&mut store, &component, &linker)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot instantiate {} as a WASI command", path.display()))?;
    match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => bail!("{} trapped: {:#}", path.display(), anyhow::Error::from(e)),
        },
    }
}

/// `wsengine-host run-wasi FILE.wasm [ARGS...]`: `args` are the words after `run-wasi`.
/// Exits with the guest's status (one that does not fit a process status becomes 1),
/// or reports a host failure as one line and 1.
pub fn main(mut args: impl Iterator<Item = String>) -> std::process::ExitCode {
    let Some(file) = args.next() else {
        eprintln!("usage: wsengine-host run-wasi FILE.wasm [ARGS...]");
        return std::process::ExitCode::FAILURE;
    };
    let args: Vec<String> = args.collect();
    match run_wasi(Path::new(&file), &args) {
        Ok(status) => u8::try_from(status).map_or(std::process::ExitCode::FAILURE, std::process::ExitCode::from),
        Err(e) => {
            eprintln!("wsengine-host: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
