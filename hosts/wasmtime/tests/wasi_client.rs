//! `examples/wasi_client` built for `wasm32-wasip2` (a WASI command that opens its TCP
//! connection with wasi:sockets) run by the host's `run-wasi` code: against the native
//! `echo_server` on loopback it succeeds, and pointed anywhere else it is refused by the
//! loopback-only socket check before any system call is made.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wasmtime_wasi::sockets::SocketAddrUse;
use wsengine_host::wasi::{Captured, loopback_only, run_wasi_captured};

/// The workspace's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A prerequisite built outside this crate; panics with the command that builds it.
fn built(relative: &str, command: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(path.exists(), "{} is missing: build it first with `{command}` (./dev builds it too)", path.display());
    path
}

fn wasi_client() -> PathBuf {
    built(
        "target/wasm32-wasip2/release/examples/wasi_client.wasm",
        "cargo build --release --example wasi_client --target wasm32-wasip2",
    )
}

/// The native echo server on a free loopback port, stopped when dropped.
struct EchoServer {
    child: Child,
    port: u16,
}

impl EchoServer {
    fn start() -> Self {
        let exe = built("target/release/examples/echo_server", "cargo build --release --examples");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(&exe)
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        // Wait for "listening" on its stderr, then keep draining it so it never blocks.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let listening = stderr.read_line(&mut line).is_ok() && line.contains("listening");
        let mut server = EchoServer { child, port };
        assert!(listening, "echo_server did not start: {line:?} (exit: {:?})", server.child.try_wait());
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        server
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the WASI client with `url`, failing the test if it takes longer than `limit`.
fn run_client(url: &str, limit: Duration) -> Captured {
    let wasm = wasi_client();
    let args = vec![url.to_owned()];
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(run_wasi_captured(&wasm, &args).map_err(|e| format!("{e:#}"))));
    match rx.recv_timeout(limit) {
        Ok(Ok(run)) => run,
        Ok(Err(e)) => panic!("run-wasi failed: {e}"),
        Err(_) => panic!("the WASI client did not finish within {limit:?}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn wasi_client_talks_to_echo_server_on_loopback() {
    let server = EchoServer::start();
    let run = run_client(&format!("ws://127.0.0.1:{}/", server.port), Duration::from_secs(120));
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status, 0, "stdout:\n{out}\nstderr:\n{err}");
    for expected in [
        "text echoed: \"hello from wasi ✓\" (same)",
        "binary echoed: 5 bytes (same)",
        "text echoed: 70000 bytes (same)",
        "closed cleanly",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in stdout:\n{out}\nstderr:\n{err}");
    }
}

#[test]
fn wasi_client_is_denied_a_non_loopback_address() {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed. The check refuses it before
    // wasmtime-wasi calls connect, so nothing is sent and the refusal is immediate.
    let started = Instant::now();
    let run = run_client("ws://192.0.2.1:9/", Duration::from_secs(30));
    let (out, err) = (text(&run.stdout), text(&run.stderr));
    assert_ne!(run.status, 0, "the client must fail; stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains("closed cleanly"), "stdout:\n{out}");
    let lower = err.to_lowercase();
    assert!(
        lower.contains("permission") || lower.contains("denied"),
        "expected a permission/denied error, stderr:\n{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn the_socket_check_allows_loopback_only() {
    let v4 = |a, b, c, d, port| SocketAddr::from((Ipv4Addr::new(a, b, c, d), port));
    let v6 = |ip: Ipv6Addr, port| SocketAddr::from((ip, port));
    for usage in [
        SocketAddrUse::TcpConnect,
        SocketAddrUse::TcpBind,
        SocketAddrUse::TcpListen,
        SocketAddrUse::TcpAccept,
        SocketAddrUse::UdpBind,
        SocketAddrUse::UdpSend,
        SocketAddrUse::UdpReceive,
    ] {
        assert!(loopback_only(v4(127, 0, 0, 1, 9002), usage), "{usage:?}");
        assert!(loopback_only(v4(127, 9, 8, 7, 1), usage), "{usage:?}");
        assert!(loopback_only(v6(Ipv6Addr::LOCALHOST, 9002), usage), "{usage:?}");
        assert!(loopback_only(v6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped(), 9002), usage), "{usage:?}");
        assert!(!loopback_only(v4(192, 0, 2, 1, 9), usage), "{usage:?}");
        assert!(!loopback_only(v4(10, 0, 0, 1, 80), usage), "{usage:?}");
        assert!(!loopback_only(v6("2001:db8::1".parse().unwrap(), 9), usage), "{usage:?}");
        assert!(!loopback_only(v6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped(), 9), usage), "{usage:?}");
    }
    // The unspecified address: the implicit bind before a connect, never a peer or a listener.
    assert!(loopback_only(v4(0, 0, 0, 0, 0), SocketAddrUse::TcpBind));
    assert!(loopback_only(v6(Ipv6Addr::UNSPECIFIED, 0), SocketAddrUse::TcpBind));
    assert!(!loopback_only(v4(0, 0, 0, 0, 0), SocketAddrUse::TcpConnect));
    assert!(!loopback_only(v4(0, 0, 0, 0, 9002), SocketAddrUse::TcpListen));
    assert!(!loopback_only(v6(Ipv6Addr::UNSPECIFIED, 9002), SocketAddrUse::TcpListen));
}
