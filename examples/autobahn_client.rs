//! The Autobahn TestSuite client loop (for `wstest -m fuzzingserver`): asks for the
//! number of cases, runs each one as an echo client, then asks for the reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 wsengine
//! ```

mod common;

use std::io;

use wsengine::{BufferType, Role};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "wsengine".to_owned());
    let base = base.trim_end_matches('/');

    let (mut handle, mut stream) = common::connect(&format!("{base}/getCaseCount"))?;
    let mut count = String::new();
    common::run(&mut handle, &mut stream, |ty, data| {
        if ty == BufferType::Utf8Message || ty == BufferType::Utf8Fragment {
            count.push_str(&String::from_utf8_lossy(data));
        }
        None
    })?;
    common::finish(&mut stream, Role::Client);
    let count: u32 = count.trim().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    eprintln!("autobahn_client: {count} cases");

    for case in 1..=count {
        match common::connect(&format!("{base}/runCase?case={case}&agent={agent}")) {
            Ok((mut handle, mut stream)) => {
                if let Err(e) = common::run(&mut handle, &mut stream, common::echo) {
                    eprintln!("case {case}: {e}");
                }
                common::finish(&mut stream, Role::Client);
            }
            Err(e) => eprintln!("case {case}: connect failed: {e}"),
        }
    }

    let (mut handle, mut stream) = common::connect(&format!("{base}/updateReports?agent={agent}"))?;
    common::run(&mut handle, &mut stream, |_, _| None)?;
    common::finish(&mut stream, Role::Client);
    eprintln!("autobahn_client: reports updated");
    Ok(())
}
