//! In-memory benchmark: wsengine against tungstenite 0.30 and fastwebsockets 0.10 on the
//! workloads of perf-anchors.md (W1 receive, W1r receive one frame per read, W2 client
//! send, W3 echo), side by side in one run. See bench/README.md.
//!
//! `cargo run --release -p wsengine-bench -- [--quick] [--filter S]... [--peer S]...`

// The modules (sys, wire, mock, peers) are inline at the end: this one file is the whole harness.

use std::fmt::Write as _;
use std::rc::Rc;

use mock::Io;
use peers::{Capture, Peer, Runner, Setup, Work};
use wire::Rng;

#[global_allocator]
static GLOBAL: sys::CountingAlloc = sys::CountingAlloc;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// Payload per wire (perf-anchors §3): ~2 MiB, between 2 and 4096 frames.
const WIRE_PAYLOAD: usize = 2 * MIB;
/// Placement shift between instances of a cell (perf-anchors §5.3).
const PLACEMENT_SHIFT: usize = 1096;
/// Throughput goal: wsengine at this multiple of the better peer.
const GOAL: f64 = 1.3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    Ascii,
    Mixed,
}

#[derive(Clone, Copy)]
struct Row {
    work: Work,
    size: usize,
    text: Text,
}

impl Row {
    fn name(&self) -> String {
        let w = match self.work {
            Work::W1 => "W1",
            Work::W1r => "W1r",
            Work::W2 => "W2",
            Work::W3 => "W3",
        };
        let t = if self.text == Text::Mixed { " mixed" } else { "" };
        format!("{w} {}{t}", size_name(self.size))
    }
}

fn size_name(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

fn rows() -> Vec<Row> {
    let sizes = [16, 125, KIB, 16 * KIB, 64 * KIB, MIB];
    let mut v = Vec::new();
    for &size in &sizes {
        v.push(Row { work: Work::W1, size, text: Text::Ascii });
    }
    for size in [KIB, 64 * KIB] {
        v.push(Row { work: Work::W1, size, text: Text::Mixed });
    }
    for &size in &sizes[..4] {
        v.push(Row { work: Work::W1r, size, text: Text::Ascii });
    }
    for work in [Work::W2, Work::W3] {
        for &size in &sizes {
            v.push(Row { work, size, text: Text::Ascii });
        }
    }
    v
}

struct Cfg {
    quick: bool,
    warm_ns: u64,
    sample_ns: u64,
    samples: usize,
    placements: usize,
    filters: Vec<String>,
    peers: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: wsengine-bench [--quick] [--filter S]... [--peer S]... [--samples N] [--placements N] [--list]\n\
         \n  --quick        1 placement, 11 samples of ~10 ms (about 15 s in all)\n\
         \n  --filter S     only rows whose name contains S (case-insensitive; repeatable, OR), e.g. \"W1 16 B\", \"W3\", \"mixed\"\n\
         \n  --peer S       only peers whose name contains S (repeatable, OR)\n\
         \n  --samples N    timed samples per instance (default 21, quick 7)\n\
         \n  --placements N instances per cell at different addresses (default 2, quick 1)\n\
         \n  --list         print the row names and exit"
    );
    std::process::exit(2)
}

fn parse_args() -> Cfg {
    let mut cfg = Cfg {
        quick: false,
        warm_ns: 50_000_000,
        sample_ns: 20_000_000,
        samples: 21,
        placements: 2,
        filters: Vec::new(),
        peers: Vec::new(),
    };
    let (mut samples, mut placements) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--filter" => cfg.filters.push(value().to_lowercase()),
            "--peer" => cfg.peers.push(value().to_lowercase()),
            "--samples" => samples = Some(value().parse().unwrap_or_else(|_| usage())),
            "--placements" => placements = Some(value().parse().unwrap_or_else(|_| usage())),
            "--list" => {
                for r in rows() {
                    println!("{}", r.name());
                }
                std::process::exit(0)
            }
            "--bench" => {} // passed by `cargo bench`
            _ => usage(),
        }
    }
    if cfg.quick {
        cfg.warm_ns = 20_000_000;
        cfg.sample_ns = 10_000_000;
        cfg.samples = 11;
        cfg.placements = 1;
    }
    cfg.samples = samples.unwrap_or(cfg.samples).max(1);
    cfg.placements = placements.unwrap_or(cfg.placements).max(1);
    cfg
}

/// One connection object of one peer at one placement.
struct Inst {
    peer: Peer,
    runner: Box<dyn Runner>,
    io: Rc<Io>,
    batch: usize,
    /// ns/msg of each sample (CPU time).
    ns: Vec<f64>,
    cpu: u64,
    wall: u64,
    allocs: f64,
    alloc_bytes: f64,
    reads: f64,
    writes: f64,
    /// Exact bytes written per message (W2), or a lower bound (W3).
    out_per_msg: u64,
    exact_out: bool,
}

/// What a cell (row × peer) reports.
struct Cell {
    peer: Peer,
    /// Median ns/msg of the better placement, and of the worse.
    best: f64,
    worst: f64,
    /// Fastest and slowest sample over all placements, ns/msg.
    fastest: f64,
    slowest: f64,
    allocs: f64,
    alloc_bytes: f64,
    reads: f64,
    writes: f64,
}

struct RowResult {
    row: Row,
    cells: Vec<Cell>,
    /// CPU and wall time of the timed samples.
    cpu: u64,
    wall: u64,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 { s[m] } else { (s[m - 1] + s[m]) / 2.0 }
}

/// Runs `inst` for `n` messages and checks what it produced; returns the CPU ns spent.
fn timed_batch(inst: &mut Inst, n: usize, want_sum: u64, receives: bool) -> (u64, u64) {
    let written0 = inst.io.written.get();
    let (w0, t0) = (sys::wall_ns(), sys::thread_cpu_ns());
    let sum = inst.runner.run(n, None);
    let (t1, w1) = (sys::thread_cpu_ns(), sys::wall_ns());
    if receives {
        assert_eq!(sum, want_sum, "{}: checksum of a timed batch", inst.peer.name());
    }
    let out = inst.io.written.get() - written0;
    if inst.exact_out {
        assert_eq!(out, inst.out_per_msg * n as u64, "{}: bytes written in a timed batch", inst.peer.name());
    } else {
        assert!(out >= inst.out_per_msg * n as u64, "{}: too few bytes written in a timed batch", inst.peer.name());
    }
    (t1 - t0, w1 - w0)
}

/// Untimed: processes enough messages to cross the wire's wrap point and compares
/// everything received and sent with the payload.
fn verify(inst: &mut Inst, row: &Row, payload: &[u8], frames: usize) -> Result<(), String> {
    let n = if row.work.receives() { 2 * frames + 1 } else { 2 * frames.min(64) + 1 };
    if row.work.sends() {
        *inst.io.capture.borrow_mut() = Some(Vec::new());
    }
    let mut cap = Capture::default();
    let sum = inst.runner.run(n, Some(&mut cap));
    let out = inst.io.capture.borrow_mut().take();
    if row.work.receives() {
        if cap.msgs.len() != n {
            return Err(format!("received {} messages, expected {n}", cap.msgs.len()));
        }
        if let Some(i) = cap.msgs.iter().position(|m| m != payload) {
            return Err(format!(
                "received message {i} differs from the payload ({} B vs {} B)",
                cap.msgs[i].len(),
                payload.len()
            ));
        }
        if sum != peers::expected_sum(payload, n) {
            return Err("checksum mismatch".to_owned());
        }
    }
    if let Some(out) = out {
        let msgs = match inst.runner.decode_output(&out) {
            Some(decoded) => decoded?,
            None => wire::decode_text_messages(&out, row.work == Work::W2)?,
        };
        if msgs.len() != n {
            return Err(format!("sent {} messages, expected {n}", msgs.len()));
        }
        if let Some(i) = msgs.iter().position(|m| m != payload) {
            return Err(format!(
                "sent message {i} differs from the payload ({} B vs {} B)",
                msgs[i].len(),
                payload.len()
            ));
        }
        let len = out.len() as u64;
        if inst.peer == Peer::WsengineDeflate {
            // Compressed with context: no length to expect per message.
            inst.out_per_msg = 0;
            inst.exact_out = false;
        } else if row.work == Work::W2 && len.is_multiple_of(n as u64) {
            inst.out_per_msg = len / n as u64;
            inst.exact_out = true;
        } else {
            // Frame boundaries may depend on where a message sat in a receive buffer.
            inst.out_per_msg = payload.len() as u64 + 2;
            inst.exact_out = false;
        }
    }
    Ok(())
}

fn run_row(row: &Row, cfg: &Cfg, peers: &[Peer]) -> RowResult {
    let mut rng = Rng::new(0x5753_454e_4749_4e45 ^ (row.size as u64) ^ ((row.text == Text::Mixed) as u64) << 40);
    let payload = match row.text {
        Text::Ascii => wire::ascii_payload(row.size, &mut rng),
        Text::Mixed => wire::mixed_payload(row.size, &mut rng),
    };
    let frames = (WIRE_PAYLOAD / row.size).clamp(2, 4096);
    let wire_bytes = wire::client_wire(&payload, frames, &mut rng);
    let frame_len = wire_bytes.len() / frames;
    let receives = row.work.receives();
    let want_sum = |n: usize| peers::expected_sum(&payload, n);

    // Build every instance; heap spacers between placements shift the peers' own buffers too.
    let mut spacers: Vec<Vec<u8>> = Vec::new();
    let mut insts = Vec::new();
    for placement in 0..cfg.placements {
        for &peer in peers {
            spacers.push(vec![1u8; PLACEMENT_SHIFT * (placement + 1) + 8 * insts.len()]);
            let setup = Setup {
                work: row.work,
                wire: &wire_bytes,
                frame_len,
                payload: &payload,
                shift: PLACEMENT_SHIFT * placement,
            };
            let (runner, io) = peers::make(peer, &setup);
            insts.push(Inst {
                peer,
                runner,
                io,
                batch: 1,
                ns: Vec::new(),
                cpu: 0,
                wall: 0,
                allocs: 0.0,
                alloc_bytes: 0.0,
                reads: 0.0,
                writes: 0.0,
                out_per_msg: 0,
                exact_out: false,
            });
        }
    }
    std::hint::black_box(&spacers);

    for inst in &mut insts {
        if let Err(e) = verify(inst, row, &payload, frames) {
            panic!("{}: {} failed verification: {e}", row.name(), inst.peer.name());
        }
    }

    // Warm up and calibrate each instance, then count allocations and I/O calls over
    // one steady-state batch.
    for inst in &mut insts {
        let (mut spent, mut n) = (0u64, 1usize);
        let mut per_msg = 1.0;
        while spent < cfg.warm_ns {
            let (t, _) = timed_batch(inst, n, want_sum(n), receives);
            spent += t;
            per_msg = t.max(1) as f64 / n as f64;
            if t < cfg.warm_ns / 8 {
                n *= 2;
            }
        }
        inst.batch = ((cfg.sample_ns as f64 / per_msg) as usize).max(1);
        let (a0, b0) = sys::alloc_counts();
        let (r0, w0) = (inst.io.reads.get(), inst.io.writes.get());
        timed_batch(inst, inst.batch, want_sum(inst.batch), receives);
        let (a1, b1) = sys::alloc_counts();
        let n = inst.batch as f64;
        inst.allocs = (a1 - a0) as f64 / n;
        inst.alloc_bytes = (b1 - b0) as f64 / n;
        inst.reads = (inst.io.reads.get() - r0) as f64 / n;
        inst.writes = (inst.io.writes.get() - w0) as f64 / n;
    }

    // Round-robin sampling.
    for _ in 0..cfg.samples {
        for inst in &mut insts {
            let n = inst.batch;
            let (t, w) = timed_batch(inst, n, want_sum(n), receives);
            inst.ns.push(t as f64 / n as f64);
            inst.cpu += t;
            inst.wall += w;
        }
    }

    let cells = peers
        .iter()
        .map(|&peer| {
            let mine: Vec<&Inst> = insts.iter().filter(|i| i.peer == peer).collect();
            let medians: Vec<f64> = mine.iter().map(|i| median(&i.ns)).collect();
            let all = mine.iter().flat_map(|i| i.ns.iter().copied());
            let first = mine[0];
            Cell {
                peer,
                best: medians.iter().copied().fold(f64::MAX, f64::min),
                worst: medians.iter().copied().fold(0.0, f64::max),
                fastest: all.clone().fold(f64::MAX, f64::min),
                slowest: all.fold(0.0, f64::max),
                allocs: mine.iter().map(|i| i.allocs).fold(0.0, f64::max),
                alloc_bytes: mine.iter().map(|i| i.alloc_bytes).fold(0.0, f64::max),
                reads: first.reads,
                writes: first.writes,
            }
        })
        .collect();
    let (cpu, wall): (u64, u64) = insts.iter().fold((0, 0), |(c, w), i| (c + i.cpu, w + i.wall));
    eprintln!(
        "  {:<18} done: {} instances, {:.0} ms CPU in samples, CPU share {:.0}%",
        row.name(),
        insts.len(),
        cpu as f64 / 1e6,
        100.0 * cpu as f64 / wall.max(1) as f64
    );
    RowResult { row: *row, cells, cpu, wall }
}

fn mbps(size: usize, ns: f64) -> f64 {
    size as f64 / ns * 1e3
}

fn fmt_mbps(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}").chars().take(4).collect::<String>().trim_end_matches('.').to_owned()
    }
}

fn fmt_rate(msgs_per_s: f64) -> String {
    if msgs_per_s >= 1e6 {
        format!("{:.2} M", msgs_per_s / 1e6)
    } else if msgs_per_s >= 1e3 {
        format!("{:.0} k", msgs_per_s / 1e3)
    } else {
        format!("{msgs_per_s:.0}")
    }
}

/// Exactly "0" when nothing was allocated, so that a rare allocation still shows.
fn fmt_allocs(a: f64) -> String {
    if a == 0.0 { "0".to_owned() } else { format!("{a:.3}") }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1000.0 { format!("{ns:.0}") } else { format!("{ns:.1}") }
}

fn section_title(work: Work, text: Text) -> &'static str {
    match (work, text) {
        (Work::W1, Text::Ascii) => "W1 — server receive: parse + unmask + UTF-8 validate (ASCII)",
        (Work::W1, Text::Mixed) => "W1 — server receive, mixed UTF-8",
        (Work::W1r, _) => "W1r — server receive, one frame per read() (ASCII)",
        (Work::W2, _) => "W2 — client send: encode + mask (ASCII)",
        (Work::W3, _) => "W3 — echo: receive masked, send back unmasked (ASCII)",
    }
}

fn report(results: &[RowResult], cfg: &Cfg, started: &str, load0: &str, elapsed_s: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## wsengine-bench results\n");
    let _ = writeln!(o, "- date: {started}; machine: {}", sys::machine());
    let _ = writeln!(
        o,
        "- build: {}; release profile of the workspace (lto = \"fat\", codegen-units = 1), no target-cpu",
        sys::build_info()
    );
    let _ = writeln!(
        o,
        "- mode: {}; {} placement(s) per cell, {} samples of ~{} ms CPU each, round-robin; load average {} at start, {} at end; {:.0} s wall",
        if cfg.quick { "--quick" } else { "full" },
        cfg.placements,
        cfg.samples,
        cfg.sample_ns / 1_000_000,
        load0,
        sys::loadavg(),
        elapsed_s
    );
    let (cpu, wall) = results.iter().fold((0u64, 0u64), |(c, w), r| (c + r.cpu, w + r.wall));
    let _ = writeln!(
        o,
        "- the timed samples got {:.0}% of a CPU (CPU time / wall time)",
        100.0 * cpu as f64 / wall.max(1) as f64
    );
    let _ = writeln!(
        o,
        "- per-thread CPU time; ns/msg = median of the better placement; MB = 10^6 B of payload; \
         ratio = wsengine throughput / the better of tungstenite and fastwebsockets (goal {GOAL}x; \
         \"in-place\" is a lower bound and not counted)\n"
    );
    let mut i = 0;
    while i < results.len() {
        let (work, text) = (results[i].row.work, results[i].row.text);
        let mut j = i;
        while j < results.len() && results[j].row.work == work && results[j].row.text == text {
            j += 1;
        }
        let group = &results[i..j];
        let peers: Vec<Peer> = group[0].cells.iter().map(|c| c.peer).collect();
        let _ = writeln!(o, "#### {}\n", section_title(work, text));
        let _ = writeln!(o, "Payload MB/s (ns/msg in brackets), median:\n");
        let mut head = String::from("| size |");
        let mut rule = String::from("|---:|");
        for p in &peers {
            let _ = write!(head, " {} |", p.name());
            rule.push_str("---:|");
        }
        let _ = writeln!(o, "{head} wsengine / best peer |\n{rule}---:|");
        for r in group {
            let mut line = format!("| {} |", size_name(r.row.size));
            for c in &r.cells {
                let _ = write!(line, " {} ({}) |", fmt_mbps(mbps(r.row.size, c.best)), fmt_ns(c.best));
            }
            let ours = r.cells.iter().find(|c| c.peer == Peer::Wsengine);
            let best_peer = r.cells.iter().filter(|c| c.peer.is_reference()).min_by(|a, b| a.best.total_cmp(&b.best));
            match (ours, best_peer) {
                (Some(w), Some(b)) => {
                    // Truncated, not rounded: 1.296 shows as 1.29x, under the goal.
                    let ratio = (b.best / w.best * 100.0).floor() / 100.0;
                    let mark = if ratio >= GOAL { "✓" } else { "✗" };
                    let _ = writeln!(line, " **{ratio:.2}x** {mark} (vs {}) |", b.peer.name());
                }
                _ => line.push_str(" – |\n"),
            }
            o.push_str(&line);
        }
        let _ = writeln!(
            o,
            "\n| size | peer | ns/msg | msg/s | MB/s | MB/s min–max | layout Δ | allocs/msg | alloc B/msg | reads/msg | writes/msg |\n\
             |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in group {
            for c in &r.cells {
                let delta = c.worst / c.best;
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {}–{} | {:.2}{} | {} | {:.0} | {:.2} | {:.2} |",
                    size_name(r.row.size),
                    c.peer.name(),
                    fmt_ns(c.best),
                    fmt_rate(1e9 / c.best),
                    fmt_mbps(mbps(r.row.size, c.best)),
                    fmt_mbps(mbps(r.row.size, c.slowest)),
                    fmt_mbps(mbps(r.row.size, c.fastest)),
                    delta,
                    if delta > 1.5 { " ⚠" } else { "" },
                    fmt_allocs(c.allocs),
                    c.alloc_bytes,
                    c.reads,
                    c.writes
                );
            }
        }
        o.push('\n');
        i = j;
    }
    o
}

fn main() {
    let cfg = parse_args();
    let started = sys::utc_now();
    let load0 = sys::loadavg();
    let w0 = sys::wall_ns();
    let peers_all: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| cfg.peers.is_empty() || cfg.peers.iter().any(|f| p.name().contains(f.as_str())))
        .collect();
    let selected: Vec<Row> = rows()
        .into_iter()
        .filter(|r| cfg.filters.is_empty() || cfg.filters.iter().any(|f| r.name().to_lowercase().contains(f.as_str())))
        .collect();
    if selected.is_empty() || peers_all.is_empty() {
        eprintln!("no row or no peer selected (see --list)");
        std::process::exit(2);
    }
    eprintln!(
        "wsengine-bench: {} rows, peers: {}",
        selected.len(),
        peers_all.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
    );
    let mut results = Vec::new();
    for row in &selected {
        let peers: Vec<Peer> = peers_all.iter().copied().filter(|p| p.supports(row.work)).collect();
        if peers.is_empty() {
            continue;
        }
        results.push(run_row(row, &cfg, &peers));
    }
    let elapsed = (sys::wall_ns() - w0) as f64 / 1e9;
    print!("{}", report(&results, &cfg, &started, &load0, elapsed));
}

mod sys {
    //! The clock, the counting allocator and what the report says about the machine.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Wraps the system allocator and counts every allocation (alloc, alloc_zeroed and
    /// realloc calls, and their bytes). Relaxed atomics: one uncontended add per call.
    pub struct CountingAlloc;

    static ALLOCS: AtomicU64 = AtomicU64::new(0);
    static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

    // SAFETY: every call is forwarded to `System` unchanged; only counters are added.
    unsafe impl GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            // SAFETY: forwarded unchanged.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded unchanged.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// (allocation calls, allocated bytes) so far.
    pub fn alloc_counts() -> (u64, u64) {
        (ALLOCS.load(Ordering::Relaxed), ALLOC_BYTES.load(Ordering::Relaxed))
    }

    /// CPU time consumed by the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
    /// On a shared host, wall time mostly measures how long the thread was descheduled.
    pub fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// Monotonic wall time in nanoseconds since an arbitrary start.
    pub fn wall_ns() -> u64 {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }

    /// "YYYY-MM-DD HH:MM UTC" for now.
    pub fn utc_now() -> String {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
    }

    /// The CPU model from /proc/cpuinfo, the number of CPUs, and SIMD levels detected.
    pub fn machine() -> String {
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        #[cfg(target_arch = "x86_64")]
        let simd = format!(
            "sse4.2={} avx2={} avx512f={}",
            std::is_x86_feature_detected!("sse4.2"),
            std::is_x86_feature_detected!("avx2"),
            std::is_x86_feature_detected!("avx512f")
        );
        #[cfg(not(target_arch = "x86_64"))]
        let simd = String::new();
        format!("{model}, {cpus} CPUs, {simd}")
    }

    /// The 1-minute load average.
    pub fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map_or_else(|_| "?".to_owned(), |s| s.split_whitespace().next().unwrap_or("?").to_owned())
    }

    /// The wsengine commit the bench sits in ("+dirty" when src/ has uncommitted changes),
    /// and the rustc version; best effort, at run time.
    pub fn build_info() -> String {
        let run = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let commit = run("git", &["-C", root, "rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".to_owned());
        let dirty = run("git", &["-C", root, "status", "--porcelain", "--", "src"]).is_some_and(|s| !s.is_empty());
        let rustc = run("rustc", &["-V"]).unwrap_or_else(|| "rustc ?".to_owned());
        format!("wsengine {commit}{}, {rustc}", if dirty { "+dirty" } else { "" })
    }
}

mod wire {
    //! An independent reference encoder and decoder for the input wires and the verifier,
    //! and the payload generators. Nothing here is timed.

    /// SplitMix64: deterministic inputs from a fixed seed.
    pub struct Rng(u64);

    impl Rng {
        pub const fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..n` (n small; the bias is irrelevant here).
        pub fn below(&mut self, n: u32) -> u32 {
            (self.next_u64() % u64::from(n)) as u32
        }
    }

    /// `len` bytes of printable ASCII.
    pub fn ascii_payload(len: usize, rng: &mut Rng) -> Vec<u8> {
        (0..len).map(|_| 0x20 + rng.below(0x5F) as u8).collect()
    }

    /// `len` bytes of random characters: 40% 1-byte, 20% 2-byte, 30% 3-byte, 10% 4-byte
    /// (the last few bytes are ASCII so that the length is exact).
    pub fn mixed_payload(len: usize, rng: &mut Rng) -> Vec<u8> {
        let mut s = String::with_capacity(len);
        while len - s.len() > 4 {
            let c = match rng.below(10) {
                0..=3 => char::from(0x20 + rng.below(0x5F) as u8),
                4..=5 => char::from_u32(0x80 + rng.below(0x800 - 0x80)).unwrap(),
                6..=8 => loop {
                    let v = 0x800 + rng.below(0x1_0000 - 0x800);
                    if let Some(c) = char::from_u32(v) {
                        break c; // skips the surrogates
                    }
                },
                _ => char::from_u32(0x1_0000 + rng.below(0x11_0000 - 0x1_0000)).unwrap(),
            };
            s.push(c);
        }
        while s.len() < len {
            s.push(char::from(0x20 + rng.below(0x5F) as u8));
        }
        debug_assert_eq!(s.len(), len);
        s.into_bytes()
    }

    pub const OP_CONTINUATION: u8 = 0x0;
    pub const OP_TEXT: u8 = 0x1;

    /// Appends one frame: FIN, RSV = 0, `opcode`, optional mask.
    pub fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) {
        out.push(if fin { 0x80 } else { 0 } | opcode);
        let mbit = if mask.is_some() { 0x80 } else { 0 };
        let len = payload.len();
        if len < 126 {
            out.push(mbit | len as u8);
        } else if len <= 0xFFFF {
            out.push(mbit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mbit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        match mask {
            Some(k) => {
                out.extend_from_slice(&k);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
    }

    /// `frames` masked FIN text frames carrying `payload`, each with its own key.
    pub fn client_wire(payload: &[u8], frames: usize, rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::with_capacity(frames * (payload.len() + 14));
        for _ in 0..frames {
            let mut k = (rng.next_u64() as u32).to_ne_bytes();
            if k == [0; 4] {
                k = [1, 2, 3, 4];
            }
            encode_frame(&mut out, true, OP_TEXT, Some(k), payload);
        }
        out
    }

    /// Decodes a byte stream of text messages (possibly fragmented into a text frame and
    /// continuations). Checks RSV = 0, the opcodes, and the MASK bit (`masked`: every frame
    /// must be masked with a key; otherwise none may be). Returns the messages.
    pub fn decode_text_messages(mut bytes: &[u8], masked: bool) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        let mut open: Option<Vec<u8>> = None;
        let mut frame_no = 0usize;
        while !bytes.is_empty() {
            let err = |m: &str| format!("frame {frame_no}: {m}");
            if bytes.len() < 2 {
                return Err(err("truncated header"));
            }
            let (b0, b1) = (bytes[0], bytes[1]);
            let fin = b0 & 0x80 != 0;
            if b0 & 0x70 != 0 {
                return Err(err("RSV bits set"));
            }
            let opcode = b0 & 0x0F;
            let has_mask = b1 & 0x80 != 0;
            if has_mask != masked {
                return Err(err(if masked { "MASK=0 from a client" } else { "MASK=1 from a server" }));
            }
            let mut pos = 2;
            let len = match b1 & 0x7F {
                126 => {
                    let l =
                        u16::from_be_bytes(bytes.get(2..4).ok_or_else(|| err("truncated length"))?.try_into().unwrap());
                    if l < 126 {
                        return Err(err("non-minimal 16-bit length"));
                    }
                    pos = 4;
                    usize::from(l)
                }
                127 => {
                    let l = u64::from_be_bytes(
                        bytes.get(2..10).ok_or_else(|| err("truncated length"))?.try_into().unwrap(),
                    );
                    if l <= 0xFFFF {
                        return Err(err("non-minimal 64-bit length"));
                    }
                    pos = 10;
                    usize::try_from(l).map_err(|_| err("length too large"))?
                }
                n => usize::from(n),
            };
            let key = if has_mask {
                let k: [u8; 4] = bytes.get(pos..pos + 4).ok_or_else(|| err("truncated key"))?.try_into().unwrap();
                pos += 4;
                Some(k)
            } else {
                None
            };
            let body = bytes.get(pos..pos + len).ok_or_else(|| err("truncated payload"))?;
            let mut msg = match (opcode, open.take()) {
                (OP_TEXT, None) => Vec::with_capacity(len),
                (OP_CONTINUATION, Some(m)) => m,
                (OP_TEXT, Some(_)) => return Err(err("text frame inside an open message")),
                (OP_CONTINUATION, None) => return Err(err("continuation without a message")),
                (op, _) => return Err(err(&format!("unexpected opcode {op:#x}"))),
            };
            match key {
                Some(k) => msg.extend(body.iter().enumerate().map(|(i, b)| b ^ k[i % 4])),
                None => msg.extend_from_slice(body),
            }
            if fin {
                out.push(msg);
            } else {
                open = Some(msg);
            }
            bytes = &bytes[pos + len..];
            frame_no += 1;
        }
        if open.is_some() {
            return Err("the stream ends inside a message".to_owned());
        }
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trip_and_rfc_example() {
            let mut w = Vec::new();
            encode_frame(&mut w, true, OP_TEXT, Some([0x37, 0xfa, 0x21, 0x3d]), b"Hello");
            assert_eq!(w, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
            let mut rng = Rng::new(1);
            for len in [0, 125, 126, 65535, 65536, 70000] {
                let p = mixed_payload(len, &mut rng);
                assert!(std::str::from_utf8(&p).is_ok());
                let w = client_wire(&p, 3, &mut rng);
                assert_eq!(decode_text_messages(&w, true).unwrap(), vec![p.clone(); 3]);
                assert!(decode_text_messages(&w, false).is_err());
            }
        }
    }
}

mod mock {
    //! The in-memory transport: a source that replays a wire cyclically and a sink that
    //! only counts what is written. It implements std `Read`/`Write` (tungstenite), tokio
    //! `AsyncRead`/`AsyncWrite` (fastwebsockets, every poll is `Ready`), and plain methods
    //! for wsengine's action loop.

    use std::cell::{Cell, RefCell};
    use std::hint::black_box;
    use std::io::{self, IoSlice};
    use std::pin::Pin;
    use std::rc::Rc;
    use std::task::{Context, Poll};

    /// Counters shared between a stream and the harness.
    #[derive(Default)]
    pub struct Io {
        pub reads: Cell<u64>,
        pub writes: Cell<u64>,
        pub written: Cell<u64>,
        /// When `Some`, written bytes are also appended here (verification only).
        pub capture: RefCell<Option<Vec<u8>>>,
    }

    pub struct MockStream {
        /// The wire lives at `store[off..off + len]`: `off` shifts it for placements.
        store: Box<[u8]>,
        off: usize,
        len: usize,
        pos: usize,
        /// 0: a read returns as much as asked (up to the wrap point). Otherwise a read
        /// never crosses a multiple of `chunk` (one frame per read when every frame of the
        /// wire has this length).
        chunk: usize,
        pub io: Rc<Io>,
    }

    impl MockStream {
        /// A stream replaying `wire` (may be empty for a write-only sink), placed `shift`
        /// bytes into its own allocation.
        pub fn new(wire: &[u8], shift: usize, chunk: usize) -> Self {
            let mut store = vec![0u8; shift + wire.len()].into_boxed_slice();
            store[shift..].copy_from_slice(wire);
            Self { store, off: shift, len: wire.len(), pos: 0, chunk, io: Rc::new(Io::default()) }
        }

        /// What a `recv` into `dst` would do: copies `min(dst.len(), left before the wrap)`.
        #[inline]
        pub fn read_into(&mut self, dst: &mut [u8]) -> usize {
            let mut n = dst.len().min(self.len - self.pos);
            if self.chunk != 0 {
                n = n.min(self.chunk - self.pos % self.chunk);
            }
            let start = self.off + self.pos;
            dst[..n].copy_from_slice(&self.store[start..start + n]);
            self.pos += n;
            if self.pos == self.len {
                self.pos = 0;
            }
            self.io.reads.set(self.io.reads.get() + 1);
            n
        }

        /// One write call of all `bufs` (a `writev`), accepted whole.
        #[inline]
        pub fn write_slices(&self, bufs: &[&[u8]]) -> usize {
            let mut n = 0;
            for b in bufs {
                black_box(b.as_ptr());
                n += b.len();
            }
            self.count_write(bufs.iter().copied(), n)
        }

        #[inline]
        fn count_write<'a>(&self, bufs: impl Iterator<Item = &'a [u8]>, n: usize) -> usize {
            let io = &*self.io;
            io.writes.set(io.writes.get() + 1);
            io.written.set(io.written.get() + n as u64);
            if let Some(c) = io.capture.borrow_mut().as_mut() {
                for b in bufs {
                    c.extend_from_slice(b);
                }
            }
            n
        }
    }

    impl io::Read for MockStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Ok(self.read_into(buf))
        }
    }

    impl io::Write for MockStream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            black_box(buf.as_ptr());
            Ok(self.count_write(std::iter::once(buf), buf.len()))
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let n = bufs.iter().map(|b| b.len()).sum();
            black_box(bufs.as_ptr());
            Ok(self.count_write(bufs.iter().map(|b| &**b), n))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl tokio::io::AsyncRead for MockStream {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            let mut n = buf.remaining().min(this.len - this.pos);
            if this.chunk != 0 {
                n = n.min(this.chunk - this.pos % this.chunk);
            }
            let start = this.off + this.pos;
            // Copies into the unfilled (possibly uninitialised) part: no zero-fill.
            buf.put_slice(&this.store[start..start + n]);
            this.pos += n;
            if this.pos == this.len {
                this.pos = 0;
            }
            this.io.reads.set(this.io.reads.get() + 1);
            Poll::Ready(Ok(()))
        }
    }

    impl tokio::io::AsyncWrite for MockStream {
        fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            black_box(buf.as_ptr());
            Poll::Ready(Ok(self.count_write(std::iter::once(buf), buf.len())))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let n = bufs.iter().map(|b| b.len()).sum();
            black_box(bufs.as_ptr());
            Poll::Ready(Ok(self.count_write(bufs.iter().map(|b| &**b), n)))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
}

mod peers {
    //! One runner per (peer, workload). A runner owns one connection object over a
    //! [`MockStream`] and processes `n` messages per call, in steady state.

    use std::hint::black_box;
    use std::rc::Rc;

    use crate::mock::{Io, MockStream};

    /// The workloads (perf-anchors §3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Work {
        /// Server receives masked client text frames: parse, unmask, validate UTF-8.
        W1,
        /// W1 with at most one frame's bytes per read().
        W1r,
        /// Client sends one text message per call: header, random mask, masked payload.
        W2,
        /// Server echo: W1, then the payload goes back unmasked.
        W3,
    }

    impl Work {
        pub fn receives(self) -> bool {
            self != Self::W2
        }

        pub fn sends(self) -> bool {
            matches!(self, Self::W2 | Self::W3)
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Peer {
        Wsengine,
        /// wsengine through its connection layer (`Connection`): events, a send queue,
        /// gathered output. Informational beside the action-loop column.
        WsengineConnection,
        Tungstenite,
        Fastwebsockets,
        /// fastwebsockets W2 with `Payload::BorrowedMut`: masks the caller's buffer in
        /// place and never refills it. A lower bound, not an API a caller can use as is.
        FastwebsocketsInPlace,
        /// wsengine's connection layer with permessage-deflate: the client compresses
        /// every message (no context takeover, so its wire can be replayed), the server
        /// compresses its echo (context takeover on). What compression costs against the
        /// uncompressed column; not compared with the peers, which have no compression.
        WsengineDeflate,
    }

    impl Peer {
        pub const ALL: [Peer; 6] = [
            Self::Wsengine,
            Self::WsengineConnection,
            Self::Tungstenite,
            Self::Fastwebsockets,
            Self::FastwebsocketsInPlace,
            Self::WsengineDeflate,
        ];

        pub fn name(self) -> &'static str {
            match self {
                Self::Wsengine => "wsengine",
                Self::WsengineConnection => "wsengine (connection)",
                Self::Tungstenite => "tungstenite",
                Self::Fastwebsockets => "fastwebsockets",
                Self::FastwebsocketsInPlace => "fastwebsockets (in-place)",
                Self::WsengineDeflate => "wsengine (deflate)",
            }
        }

        pub fn supports(self, w: Work) -> bool {
            match self {
                Self::FastwebsocketsInPlace => w == Work::W2,
                // Compressed frames have no fixed length to read one at a time.
                Self::WsengineDeflate => w != Work::W1r,
                _ => true,
            }
        }

        /// Counted as a peer for "wsengine / best peer".
        pub fn is_reference(self) -> bool {
            matches!(self, Self::Tungstenite | Self::Fastwebsockets)
        }
    }

    /// Received messages, kept during verification.
    #[derive(Default)]
    pub struct Capture {
        pub msgs: Vec<Vec<u8>>,
        cur: Vec<u8>,
    }

    impl Capture {
        fn piece(&mut self, d: &[u8], last: bool) {
            self.cur.extend_from_slice(d);
            if last {
                self.msgs.push(std::mem::take(&mut self.cur));
            }
        }
    }

    /// The cheap per-batch check: the sum over messages of length + first byte + last byte.
    #[derive(Default)]
    struct Acc {
        sum: u64,
        len: u64,
        first: u8,
        last: u8,
    }

    impl Acc {
        #[inline(always)]
        fn piece(&mut self, d: &[u8]) {
            if let (Some(&f), Some(&l)) = (d.first(), d.last()) {
                if self.len == 0 {
                    self.first = f;
                }
                self.last = l;
            }
            self.len += d.len() as u64;
        }

        #[inline(always)]
        fn end(&mut self) {
            self.sum += self.len + u64::from(self.first) + u64::from(self.last);
            self.len = 0;
        }
    }

    /// The checksum `n` correct messages of `payload` give.
    pub fn expected_sum(payload: &[u8], n: usize) -> u64 {
        let one = payload.len() as u64
            + payload.first().map_or(0, |&b| u64::from(b))
            + payload.last().map_or(0, |&b| u64::from(b));
        one * n as u64
    }

    pub trait Runner {
        /// Processes `n` messages. Receiving runners return the checksum of what they
        /// received, sending-only runners 0. With `cap`, received messages are recorded
        /// (and a runner whose timed mode is a lower bound does the real work).
        fn run(&mut self, n: usize, cap: Option<&mut Capture>) -> u64;

        /// The messages in what this runner wrote, for a runner whose frames the plain
        /// decoder cannot read (compressed); `None` for the others.
        fn decode_output(&mut self, _out: &[u8]) -> Option<Result<Vec<Vec<u8>>, String>> {
            None
        }
    }

    /// What a runner is built from.
    pub struct Setup<'a> {
        pub work: Work,
        /// The client's wire (masked frames), for receiving workloads.
        pub wire: &'a [u8],
        /// Length of one frame of `wire` (for W1r).
        pub frame_len: usize,
        pub payload: &'a [u8],
        /// Placement shift of the instance's copies of wire and payload.
        pub shift: usize,
    }

    pub fn make(peer: Peer, s: &Setup<'_>) -> (Box<dyn Runner>, Rc<Io>) {
        let chunk = if s.work == Work::W1r { s.frame_len } else { 0 };
        let stream = MockStream::new(if s.work.receives() { s.wire } else { &[] }, s.shift, chunk);
        let io = Rc::clone(&stream.io);
        let runner: Box<dyn Runner> = match (peer, s.work) {
            (Peer::Wsengine, Work::W1 | Work::W1r) => Box::new(wse::Recv::new(stream)),
            (Peer::Wsengine, Work::W2) => Box::new(wse::Send::new(stream, leak_shifted(s.payload, s.shift))),
            (Peer::Wsengine, Work::W3) => Box::new(wse::Echo::new(stream)),
            (Peer::WsengineConnection, Work::W1 | Work::W1r) => Box::new(wsc::Recv::new(stream)),
            (Peer::WsengineConnection, Work::W2) => Box::new(wsc::Send::new(stream, leak_shifted(s.payload, s.shift))),
            (Peer::WsengineConnection, Work::W3) => Box::new(wsc::Echo::new(stream)),
            (Peer::Tungstenite, Work::W1 | Work::W1r) => Box::new(tung::Recv::new(stream)),
            (Peer::Tungstenite, Work::W2) => Box::new(tung::Send::new(stream, leak_shifted(s.payload, s.shift))),
            (Peer::Tungstenite, Work::W3) => Box::new(tung::Echo::new(stream)),
            (Peer::Fastwebsockets, Work::W1 | Work::W1r) => Box::new(fws::Recv::new(stream)),
            (Peer::Fastwebsockets, Work::W2) => Box::new(fws::Send::new(stream, leak_shifted(s.payload, s.shift))),
            (Peer::Fastwebsockets, Work::W3) => Box::new(fws::Echo::new(stream)),
            (Peer::FastwebsocketsInPlace, Work::W2) => Box::new(fws::SendInPlace::new(stream, s.payload, s.shift)),
            (Peer::WsengineDeflate, w) => wsd::runner(w, s.payload, s.shift, Rc::clone(&stream.io)),
            (p, w) => panic!("{} does not run {w:?}", p.name()),
        };
        (runner, io)
    }

    /// A `'static` copy of `payload` placed `shift` bytes into its own allocation
    /// (leaked: a few MiB per run, for `from_static`-style zero-cost clones).
    fn leak_shifted(payload: &[u8], shift: usize) -> &'static [u8] {
        let mut v = vec![0u8; shift + payload.len()];
        v[shift..].copy_from_slice(payload);
        &Vec::leak(v)[shift..]
    }

    // ---------------------------------------------------------------------- wsengine

    mod wse {
        use super::*;
        use wsengine::{Action, ActionQueue, BufferType, Handle, Property, Role, SendBuffer};

        /// The engine's largest buffers.
        fn props() -> Vec<Property> {
            vec![Property::ReceiveBufferSize(65536), Property::SendBufferSize(65536)]
        }

        pub struct Recv {
            h: Handle<Vec<u8>, ()>,
            s: MockStream,
        }

        impl Recv {
            pub fn new(s: MockStream) -> Self {
                Self { h: Handle::from_upgraded(Role::Server, props()).expect("server handle"), s }
            }
        }

        impl Runner for Recv {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let mut acc = Acc::default();
                let mut msgs = 0;
                if n == 0 {
                    return 0;
                }
                self.h.receive(None, ()).expect("receive");
                loop {
                    match self.h.get_action(ActionQueue::Receive).expect("get_action") {
                        Action::ReceiveFromNetwork { buffer, action } => {
                            let k = self.s.read_into(buffer);
                            self.h.complete_action(action, k).expect("complete read");
                        }
                        Action::IndicateReceiveComplete { buffer_type, data, action, .. } => {
                            let d = data.as_slice();
                            black_box(d);
                            acc.piece(d);
                            let last = match buffer_type {
                                Some(BufferType::Utf8Message) => true,
                                Some(BufferType::Utf8Fragment) => false,
                                t => panic!("wsengine indicated {t:?}"),
                            };
                            if let Some(c) = cap.as_deref_mut() {
                                c.piece(d, last);
                            }
                            self.h.complete_action(action, 0).expect("complete indication");
                            if last {
                                acc.end();
                                msgs += 1;
                                if msgs == n {
                                    return acc.sum;
                                }
                            }
                            self.h.receive(None, ()).expect("receive");
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
        }

        pub struct Send {
            h: Handle<&'static [u8], ()>,
            s: MockStream,
            p: &'static [u8],
        }

        impl Send {
            pub fn new(s: MockStream, p: &'static [u8]) -> Self {
                let mut props = props();
                props.push(Property::RandomSeed(*b"wsengine-bench fixed seed 32 B!!"));
                Self { h: Handle::from_upgraded(Role::Client, props).expect("client handle"), s, p }
            }
        }

        impl Runner for Send {
            fn run(&mut self, n: usize, _cap: Option<&mut Capture>) -> u64 {
                for _ in 0..n {
                    self.h.send(BufferType::Utf8Message, Some(SendBuffer::Data(self.p)), ()).expect("send");
                    loop {
                        match self.h.get_action(ActionQueue::Send).expect("get_action") {
                            Action::SendToNetwork { buffers, action, .. } => {
                                let k = self.s.write_slices(buffers.as_slices());
                                self.h.complete_action(action, k).expect("complete write");
                            }
                            Action::IndicateSendComplete { action, completed, .. } => {
                                assert!(completed);
                                self.h.complete_action(action, 0).expect("complete indication");
                                break;
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
                0
            }
        }

        /// Receives each piece zero-copy and sends it back from the receive buffer
        /// (`SendBuffer::LastReceived`): header from the engine, payload where it was
        /// unmasked and validated, no copy and no second UTF-8 pass.
        pub struct Echo {
            h: Handle<Vec<u8>, ()>,
            s: MockStream,
        }

        impl Echo {
            pub fn new(s: MockStream) -> Self {
                Self { h: Handle::from_upgraded(Role::Server, props()).expect("server handle"), s }
            }
        }

        impl Runner for Echo {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let mut acc = Acc::default();
                let mut msgs = 0;
                while msgs < n {
                    self.h.receive(None, ()).expect("receive");
                    let last = loop {
                        match self.h.get_action(ActionQueue::Receive).expect("get_action") {
                            Action::ReceiveFromNetwork { buffer, action } => {
                                let k = self.s.read_into(buffer);
                                self.h.complete_action(action, k).expect("complete read");
                            }
                            Action::IndicateReceiveComplete { buffer_type, data, action, .. } => {
                                let d = data.as_slice();
                                let last = match buffer_type {
                                    Some(BufferType::Utf8Message) => true,
                                    Some(BufferType::Utf8Fragment) => false,
                                    t => panic!("wsengine indicated {t:?}"),
                                };
                                acc.piece(d);
                                if let Some(c) = cap.as_deref_mut() {
                                    c.piece(d, last);
                                }
                                self.h.complete_action(action, 0).expect("complete indication");
                                break last;
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    };
                    let ty = if last { BufferType::Utf8Message } else { BufferType::Utf8Fragment };
                    self.h.send(ty, Some(SendBuffer::LastReceived), ()).expect("send");
                    loop {
                        match self.h.get_action(ActionQueue::Send).expect("get_action") {
                            Action::SendToNetwork { buffers, action, .. } => {
                                let k = self.s.write_slices(buffers.as_slices());
                                self.h.complete_action(action, k).expect("complete write");
                            }
                            Action::IndicateSendComplete { action, completed, .. } => {
                                assert!(completed);
                                self.h.complete_action(action, 0).expect("complete indication");
                                break;
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    if last {
                        acc.end();
                        msgs += 1;
                    }
                }
                acc.sum
            }
        }
    }

    // ---------------------------------------------------------------------- wsengine connection

    mod wsc {
        use super::*;
        use wsengine::{Connection, Event, Options, Property, Role};

        fn options() -> Options {
            Options {
                properties: vec![
                    Property::ReceiveBufferSize(65536),
                    Property::SendBufferSize(65536),
                    Property::RandomSeed(*b"wsengine-bench fixed seed 32 B!!"),
                ],
                ping_interval: None,
                ..Options::default()
            }
        }

        fn open<B: AsRef<[u8]>>(role: Role) -> Connection<B> {
            let mut c = Connection::from_upgraded(role, 0, options()).expect("connection");
            assert!(matches!(c.poll_event(), Some(Event::Open { .. })));
            c
        }

        /// Polls message pieces until `n` messages ended, reading whenever the
        /// connection needs bytes; `echo` sends each piece back.
        pub(super) fn pump(
            c: &mut Connection,
            s: &mut MockStream,
            n: usize,
            echo: bool,
            mut cap: Option<&mut Capture>,
        ) -> u64 {
            let mut acc = Acc::default();
            let mut msgs = 0;
            while msgs < n {
                let ended;
                if let Some(Event::Message { data, fin, .. }) = c.poll_event() {
                    black_box(data);
                    acc.piece(data);
                    if let Some(cap) = cap.as_deref_mut() {
                        cap.piece(data, fin);
                    }
                    ended = fin;
                    if echo {
                        c.send_received().expect("echo");
                    }
                } else if c.wants_write() {
                    let k = s.write_slices(&c.output().as_array());
                    c.advance(k).expect("advance");
                    continue;
                } else {
                    let buffer = c.read_buffer().expect("the connection reads");
                    let k = s.read_into(buffer);
                    c.commit(k, 0);
                    continue;
                }
                if ended {
                    acc.end();
                    msgs += 1;
                }
            }
            while c.wants_write() {
                let k = s.write_slices(&c.output().as_array());
                c.advance(k).expect("advance");
            }
            acc.sum
        }

        pub struct Recv {
            c: Connection,
            s: MockStream,
        }

        impl Recv {
            pub fn new(s: MockStream) -> Self {
                Self { c: open(Role::Server), s }
            }
        }

        impl Runner for Recv {
            fn run(&mut self, n: usize, cap: Option<&mut Capture>) -> u64 {
                pump(&mut self.c, &mut self.s, n, false, cap)
            }
        }

        pub struct Echo {
            c: Connection,
            s: MockStream,
        }

        impl Echo {
            pub fn new(s: MockStream) -> Self {
                Self { c: open(Role::Server), s }
            }
        }

        impl Runner for Echo {
            fn run(&mut self, n: usize, cap: Option<&mut Capture>) -> u64 {
                pump(&mut self.c, &mut self.s, n, true, cap)
            }
        }

        pub struct Send {
            c: Connection<&'static [u8]>,
            s: MockStream,
            p: &'static [u8],
        }

        impl Send {
            pub fn new(s: MockStream, p: &'static [u8]) -> Self {
                Self { c: open(Role::Client), s, p }
            }
        }

        impl Runner for Send {
            fn run(&mut self, n: usize, _cap: Option<&mut Capture>) -> u64 {
                for _ in 0..n {
                    self.c.send_text(self.p, true).expect("send");
                    while self.c.wants_write() {
                        let k = self.s.write_slices(&self.c.output().as_array());
                        self.c.advance(k).expect("advance");
                    }
                }
                0
            }
        }
    }

    // ---------------------------------------------------------------------- wsengine, deflate

    mod wsd {
        use super::*;
        use wsengine::{ClientRequest, Connection, DeflateOptions, Event, Options, Property};

        fn options(d: DeflateOptions) -> Options {
            Options {
                properties: vec![
                    Property::ReceiveBufferSize(65536),
                    Property::SendBufferSize(65536),
                    Property::RandomSeed(*b"wsengine-bench fixed seed 32 B!!"),
                ],
                deflate: Some(d),
                ping_interval: None,
                ..Options::default()
            }
        }

        /// Moves every byte of `from`'s output into `to`.
        fn carry<B: AsRef<[u8]>, C: AsRef<[u8]>>(from: &mut Connection<B>, to: &mut Connection<C>) {
            let mut bytes = Vec::new();
            from.take_output(&mut bytes);
            to.feed(&bytes, 0).expect("feed");
        }

        /// A client and a server with permessage-deflate agreed: the defaults, every message
        /// compressed, the client's without context takeover.
        fn pair<B: AsRef<[u8]>>() -> (Connection<B>, Connection) {
            let d = DeflateOptions { client_no_context_takeover: true, threshold: 0, ..DeflateOptions::default() };
            let request = ClientRequest::from_url("ws://bench/").expect("url");
            let mut c = Connection::client(0, options(d.clone()), &request).expect("client");
            let mut s = Connection::server(0, options(d)).expect("server");
            carry(&mut c, &mut s);
            assert!(matches!(s.poll_event(), Some(Event::Open { .. })));
            carry(&mut s, &mut c);
            assert!(matches!(c.poll_event(), Some(Event::Open { .. })));
            assert!(c.extensions().is_some_and(|e| e.contains("client_no_context_takeover")));
            (c, s)
        }

        /// The runner of a row: W1 and W3 run the server of a pair, fed the client's
        /// compressed frames of the payload (each message compresses alike: the wire
        /// replays); W2 runs the client, compressing the payload (context takeover off).
        pub fn runner(work: Work, payload: &[u8], shift: usize, io: Rc<Io>) -> Box<dyn super::Runner> {
            if work == Work::W2 {
                let (client, server) = pair::<&'static [u8]>();
                let mut s = MockStream::new(&[], shift, 0);
                s.io = io;
                return Box::new(Send { c: client, other: server, s, p: leak_shifted(payload, shift) });
            }
            let (mut client, server) = pair::<Vec<u8>>();
            let frames = (crate::WIRE_PAYLOAD / payload.len().max(1)).clamp(2, 4096);
            let mut wire = Vec::new();
            for _ in 0..frames {
                client.send_text(payload.to_vec(), true).expect("send");
                client.take_output(&mut wire);
            }
            let mut s = MockStream::new(&wire, shift, 0);
            s.io = io;
            Box::new(Runner { work, c: server, other: client, s })
        }

        pub struct Runner {
            work: Work,
            /// The end that runs; the other decodes what it wrote.
            c: Connection,
            other: Connection,
            s: MockStream,
        }

        pub struct Send {
            c: Connection<&'static [u8]>,
            other: Connection,
            s: MockStream,
            p: &'static [u8],
        }

        impl super::Runner for Send {
            fn run(&mut self, n: usize, _cap: Option<&mut Capture>) -> u64 {
                for _ in 0..n {
                    self.c.send_text(self.p, true).expect("send");
                    while self.c.wants_write() {
                        let k = self.s.write_slices(&self.c.output().as_array());
                        self.c.advance(k).expect("advance");
                    }
                }
                0
            }

            fn decode_output(&mut self, out: &[u8]) -> Option<Result<Vec<Vec<u8>>, String>> {
                Some(decode(&mut self.other, out))
            }
        }

        /// The messages in `out`, as `other` (the peer with the same agreement) reads them.
        fn decode(other: &mut Connection, out: &[u8]) -> Result<Vec<Vec<u8>>, String> {
            let mut msgs = Vec::new();
            let mut cur = Vec::new();
            for chunk in out.chunks(64 * 1024) {
                other.feed(chunk, 0).map_err(|e| e.to_string())?;
                while let Some(e) = other.poll_event() {
                    match e {
                        Event::Message { data, fin, .. } => {
                            cur.extend_from_slice(data);
                            if fin {
                                msgs.push(std::mem::take(&mut cur));
                            }
                        }
                        Event::Ping(_) | Event::Pong(_) => {}
                        other => return Err(format!("{other:?}")),
                    }
                }
            }
            Ok(msgs)
        }

        impl super::Runner for Runner {
            fn run(&mut self, n: usize, cap: Option<&mut Capture>) -> u64 {
                super::wsc::pump(&mut self.c, &mut self.s, n, self.work == Work::W3, cap)
            }

            fn decode_output(&mut self, out: &[u8]) -> Option<Result<Vec<Vec<u8>>, String>> {
                Some(decode(&mut self.other, out))
            }
        }
    }

    // ---------------------------------------------------------------------- tungstenite

    mod tung {
        use super::*;
        use tungstenite::Message;
        use tungstenite::Utf8Bytes;
        use tungstenite::protocol::{Role, WebSocket};

        pub struct Recv {
            ws: WebSocket<MockStream>,
        }

        impl Recv {
            pub fn new(s: MockStream) -> Self {
                Self { ws: WebSocket::from_raw_socket(s, Role::Server, None) }
            }
        }

        impl Runner for Recv {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let mut acc = Acc::default();
                for _ in 0..n {
                    match self.ws.read().expect("read") {
                        Message::Text(t) => {
                            let d: &[u8] = t.as_ref();
                            black_box(d);
                            acc.piece(d);
                            acc.end();
                            if let Some(c) = cap.as_deref_mut() {
                                c.piece(d, true);
                            }
                        }
                        other => panic!("tungstenite read {other:?}"),
                    }
                }
                acc.sum
            }
        }

        pub struct Send {
            ws: WebSocket<MockStream>,
            p: Utf8Bytes,
        }

        impl Send {
            pub fn new(s: MockStream, p: &'static [u8]) -> Self {
                let p = Utf8Bytes::from_static(std::str::from_utf8(p).expect("UTF-8 payload"));
                Self { ws: WebSocket::from_raw_socket(s, Role::Client, None), p }
            }
        }

        impl Runner for Send {
            fn run(&mut self, n: usize, _cap: Option<&mut Capture>) -> u64 {
                for _ in 0..n {
                    self.ws.send(Message::Text(self.p.clone())).expect("send");
                }
                0
            }
        }

        pub struct Echo {
            ws: WebSocket<MockStream>,
        }

        impl Echo {
            pub fn new(s: MockStream) -> Self {
                Self { ws: WebSocket::from_raw_socket(s, Role::Server, None) }
            }
        }

        impl Runner for Echo {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let mut acc = Acc::default();
                for _ in 0..n {
                    match self.ws.read().expect("read") {
                        Message::Text(t) => {
                            let d: &[u8] = t.as_ref();
                            acc.piece(d);
                            acc.end();
                            if let Some(c) = cap.as_deref_mut() {
                                c.piece(d, true);
                            }
                            self.ws.send(Message::Text(t)).expect("send");
                        }
                        other => panic!("tungstenite read {other:?}"),
                    }
                }
                acc.sum
            }
        }
    }

    // ---------------------------------------------------------------------- fastwebsockets

    mod fws {
        use super::*;
        use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
        use tokio::runtime::{Builder, Runtime};

        fn runtime() -> Runtime {
            Builder::new_current_thread().build().expect("tokio runtime")
        }

        pub struct Recv {
            rt: Runtime,
            ws: WebSocket<MockStream>,
        }

        impl Recv {
            pub fn new(s: MockStream) -> Self {
                Self { rt: runtime(), ws: WebSocket::after_handshake(s, Role::Server) }
            }
        }

        impl Runner for Recv {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let ws = &mut self.ws;
                self.rt.block_on(async move {
                    let mut acc = Acc::default();
                    for _ in 0..n {
                        let f = ws.read_frame().await.expect("read_frame");
                        assert!(f.fin && f.opcode == OpCode::Text, "fastwebsockets read a non-text frame");
                        let d: &[u8] = &f.payload;
                        black_box(d);
                        acc.piece(d);
                        acc.end();
                        if let Some(c) = cap.as_deref_mut() {
                            c.piece(d, true);
                        }
                    }
                    acc.sum
                })
            }
        }

        pub struct Send {
            rt: Runtime,
            ws: WebSocket<MockStream>,
            p: &'static [u8],
        }

        impl Send {
            pub fn new(s: MockStream, p: &'static [u8]) -> Self {
                Self { rt: runtime(), ws: WebSocket::after_handshake(s, Role::Client), p }
            }
        }

        impl Runner for Send {
            fn run(&mut self, n: usize, _cap: Option<&mut Capture>) -> u64 {
                let (ws, p) = (&mut self.ws, self.p);
                self.rt.block_on(async move {
                    for _ in 0..n {
                        ws.write_frame(Frame::text(Payload::Borrowed(p))).await.expect("write_frame");
                    }
                });
                0
            }
        }

        pub struct SendInPlace {
            rt: Runtime,
            ws: WebSocket<MockStream>,
            /// The payload at `store[shift..]`, masked in place by every send.
            store: Vec<u8>,
            shift: usize,
            original: Vec<u8>,
        }

        impl SendInPlace {
            pub fn new(s: MockStream, p: &[u8], shift: usize) -> Self {
                let mut store = vec![0u8; shift + p.len()];
                store[shift..].copy_from_slice(p);
                Self {
                    rt: runtime(),
                    ws: WebSocket::after_handshake(s, Role::Client),
                    store,
                    shift,
                    original: p.to_vec(),
                }
            }
        }

        impl Runner for SendInPlace {
            fn run(&mut self, n: usize, cap: Option<&mut Capture>) -> u64 {
                let refill = cap.is_some();
                let (ws, buf, orig) = (&mut self.ws, &mut self.store[self.shift..], &self.original);
                self.rt.block_on(async move {
                    for _ in 0..n {
                        if refill {
                            buf.copy_from_slice(orig);
                        }
                        ws.write_frame(Frame::text(Payload::BorrowedMut(&mut *buf))).await.expect("write_frame");
                    }
                });
                0
            }
        }

        pub struct Echo {
            rt: Runtime,
            ws: WebSocket<MockStream>,
        }

        impl Echo {
            pub fn new(s: MockStream) -> Self {
                Self { rt: runtime(), ws: WebSocket::after_handshake(s, Role::Server) }
            }
        }

        impl Runner for Echo {
            fn run(&mut self, n: usize, mut cap: Option<&mut Capture>) -> u64 {
                let ws = &mut self.ws;
                self.rt.block_on(async move {
                    let mut acc = Acc::default();
                    for _ in 0..n {
                        let f = ws.read_frame().await.expect("read_frame");
                        assert!(f.fin && f.opcode == OpCode::Text, "fastwebsockets read a non-text frame");
                        acc.piece(&f.payload);
                        acc.end();
                        if let Some(c) = cap.as_deref_mut() {
                            c.piece(&f.payload, true);
                        }
                        // perf-anchors §1 item 7: a raw read_frame keeps mask = Some(key);
                        // re-wrap with mask None or the server emits MASK=1 over clear text.
                        ws.write_frame(Frame::new(f.fin, f.opcode, None, f.payload)).await.expect("write_frame");
                    }
                    acc.sum
                })
            }
        }
    }
}
