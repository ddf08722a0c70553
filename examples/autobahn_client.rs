//! The Autobahn TestSuite client loop (for `wstest -m fuzzingserver`): asks for the
//! number of cases, runs each one as an echo client, then asks for the reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 wsengine
//! ```

mod common;

use std::io;

use common::{Reply, Session};
use wsengine::Event;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = args.next().unwrap_or_else(|| "wsengine".to_owned());
    let base = base.trim_end_matches('/');

    let mut count = String::new();
    Session::connect(&format!("{base}/getCaseCount"), common::options())?.run(|e| {
        if let Event::Message { text: true, data, .. } = e {
            count.push_str(&String::from_utf8_lossy(data));
        }
        Reply::None
    })?;
    let count: u32 = count.trim().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    eprintln!("autobahn_client: {count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = Session::connect(&url, common::options()).and_then(|mut s| s.run(common::echo)) {
            eprintln!("case {case}: {e}");
        }
    }

    Session::connect(&format!("{base}/updateReports?agent={agent}"), common::options())?.run(|_| Reply::None)?;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}
