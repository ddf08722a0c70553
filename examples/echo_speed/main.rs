//! The engine's echo path in memory (see `workload.rs`), best of 5 runs per size; prints
//! one line per size: `echo <payload bytes> <messages> <best seconds>`.
//!
//! It runs natively, and compiled for wasm32-wasip2 inside a WASI host, which is how
//! `hosts/wasmtime/examples/echo_speed` measures the engine running as wasm:
//!
//! ```sh
//! cargo run --release --example echo_speed
//! cargo build --release --example echo_speed --target wasm32-wasip2
//! ECHO_SIZES=16,1024 cargo run -p wsengine-host -- run-wasi \
//!     target/wasm32-wasip2/release/examples/echo_speed.wasm
//! ```
//! `ECHO_SIZES` and `ECHO_MIB` are read from the environment natively, or from the
//! arguments `SIZES [MIB]` (a WASI guest sees no host environment).

mod workload;

fn main() -> workload::Outcome<()> {
    let mut args = std::env::args().skip(1);
    let sizes = match args.next() {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => workload::sizes(),
    };
    let mib = match args.next() {
        Some(m) => m.parse()?,
        None => workload::mib(),
    };
    for len in sizes {
        let count = workload::count(len, mib);
        let input = workload::wire(len, count)?;
        let best = workload::best_of(5, || workload::echo(&input, count))?;
        println!("echo {len} {count} {best:.9}");
    }
    Ok(())
}
