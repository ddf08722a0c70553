//! An echo server written with another WebSocket library (tests/peers/), run as a child
//! process for the length of a test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running server and the port it listens on; dropping it stops the process.
pub struct Server(Child, pub u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program script args...` from the repository root; the script prints its port
/// first (./dev installs the peers' packages).
pub fn start(program: &str, script: &str, args: &[&str]) -> Server {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(program)
        .arg(format!("{root}/{script}"))
        .args(args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("the port line");
    let port = line.trim().parse().unwrap_or_else(|_| panic!("{script} printed {line:?}: is its library installed?"));
    Server(child, port)
}
