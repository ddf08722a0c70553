//! `wsengine-host`: the wsengine component on Wasmtime: `serve` holds every connection
//! in one instance (tokio, one thread; src/serve.rs), the clients run over `std::net`.
//!
//! ```sh
//! wsengine-host serve 127.0.0.1:9012 [--component PATH]
//! wsengine-host autobahn-client ws://127.0.0.1:9001 wsengine-component [--component PATH]
//! wsengine-host run-wasi FILE.wasm [ARGS...]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use wsengine_host::net::{self, Ended};
use wsengine_host::{EngineError, Event, Outgoing, Runtime, default_component_path};

const USAGE: &str = "usage:
  wsengine-host serve ADDR [--component PATH]
  wsengine-host autobahn-client URL AGENT [--component PATH]
  wsengine-host run-wasi FILE.wasm [ARGS...]";

fn main() -> std::process::ExitCode {
    // A WASI command needs no wsengine component, and its arguments are its own.
    if std::env::args().nth(1).as_deref() == Some("run-wasi") {
        return wsengine_host::wasi::main(std::env::args().skip(2));
    }
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsengine-host: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = Vec::new();
    let mut component = default_component_path();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--component" {
            component = PathBuf::from(it.next().context("--component needs a path")?);
        } else if let Some(p) = a.strip_prefix("--component=") {
            component = PathBuf::from(p);
        } else {
            args.push(a);
        }
    }
    let runtime = Runtime::load(&component)?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["serve"] => wsengine_host::serve::serve(&runtime, "127.0.0.1:9012"),
        ["serve", addr] => wsengine_host::serve::serve(&runtime, addr),
        ["autobahn-client"] => autobahn_client(&runtime, "ws://127.0.0.1:9001", "wsengine-component"),
        ["autobahn-client", url] => autobahn_client(&runtime, url, "wsengine-component"),
        ["autobahn-client", url, agent] => autobahn_client(&runtime, url, agent),
        _ => bail!("{USAGE}"),
    }
}

/// One client connection to `url`, run to its end (`echo`: see `net::Connection::run`).
fn client(runtime: &Runtime, url: &str, echo: bool, on_event: impl FnMut(Event, &mut Vec<Outgoing>)) -> Result<Ended> {
    let mut session = runtime.session()?;
    let options = net::options(&mut session, &[])?;
    net::connect(session, url, &options)?.run(echo, on_event)
}

/// The Autobahn TestSuite client loop (for `wstest -m fuzzingserver`).
fn autobahn_client(runtime: &Runtime, base: &str, agent: &str) -> Result<()> {
    let base = base.trim_end_matches('/');
    let mut count = Vec::new();
    client(runtime, &format!("{base}/getCaseCount"), false, |e, _| {
        if let Event::Message(m) = e {
            count.extend(m.data);
        }
    })?;
    let count = String::from_utf8_lossy(&count);
    let count: u32 = count.trim().parse().with_context(|| format!("bad case count {count:?}"))?;
    eprintln!("autobahn-client: {count} cases");

    for case in 1..=count {
        match client(runtime, &format!("{base}/runCase?case={case}&agent={agent}"), true, |_, _| {}) {
            Ok(Ended { failure: Some(f), .. }) => eprintln!("case {case}: {}", EngineError(f.error)),
            Ok(_) => {}
            Err(e) => eprintln!("case {case}: {e:#}"),
        }
    }

    client(runtime, &format!("{base}/updateReports?agent={agent}"), false, |_, _| {})?;
    eprintln!("autobahn-client: reports updated");
    Ok(())
}
