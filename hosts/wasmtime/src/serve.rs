//! `wsengine-host serve`: one instance of the component serves every connection, on one
//! thread (tokio's current-thread runtime). Each connection is a task that waits for its
//! socket to be readable or for the component's next deadline, then makes one call (a
//! read goes through `read-echo`: every message piece goes back as it came) and writes
//! what the call handed back. Reads go through one buffer all the tasks share (a task
//! reads only once its socket is readable, and its call is over before it waits again),
//! so a waiting connection holds no buffer of the host's, and the component releases its
//! own between calls: an idle connection is about 1 KiB of the instance's memory and its
//! socket.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use wasmtime::component::ResourceAny;

use crate::{EngineError, Event, Options, Progress, Runtime, Session, engine, net};

/// The most bytes one read takes (and hands to the component in one call).
const READ_SIZE: usize = 64 * 1024;
/// The most connections the instance holds at once (Wasmtime's default is 100,000
/// resources per store).
const MAX_CONNECTIONS: usize = 1 << 20;

/// What the connection tasks share: the instance, and the buffer reads go through.
struct Shared {
    session: RefCell<Session>,
    read: RefCell<Vec<u8>>,
    options: Options,
}

/// Serves `addr` until the process ends: the echo server, `chat.v2` chosen when offered.
pub fn serve(runtime: &Runtime, addr: &str) -> Result<()> {
    let threads = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&threads, async {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        eprintln!("wsengine-host listening on ws://{}", listener.local_addr()?);
        let mut session = runtime.session()?;
        session.set_max_resources(MAX_CONNECTIONS);
        let options = net::options(&mut session, &["chat.v2"])?;
        let shared =
            Rc::new(Shared { session: RefCell::new(session), read: RefCell::new(vec![0; READ_SIZE]), options });
        loop {
            let (tcp, _) = listener.accept().await?;
            let shared = Rc::clone(&shared);
            tokio::task::spawn_local(async move {
                if let Err(e) = connection(&shared, tcp).await {
                    eprintln!("connection failed: {e:#}");
                }
            });
        }
    })
}

/// One connection, run to its end; its resource is dropped after.
async fn connection(shared: &Shared, tcp: TcpStream) -> Result<()> {
    let conn = engine(shared.session.borrow_mut().connection_server(0, &shared.options)?)?;
    let served = run(shared, conn, tcp).await;
    shared.session.borrow_mut().drop_handle(conn)?;
    served
}

async fn run(shared: &Shared, conn: ResourceAny, mut tcp: TcpStream) -> Result<()> {
    tcp.set_nodelay(true)?;
    let start = Instant::now();
    let now = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let session = || shared.session.borrow_mut();
    let mut p = session().connection_handle_timeout(conn, now())?;
    loop {
        if !p.output.is_empty() && tcp.write_all(&p.output).await.is_err() {
            // The peer is gone: nothing more can be written.
            let aborted = session().connection_abort(conn)?;
            p.events.extend(aborted.events);
        }
        for e in &p.events {
            match e {
                Event::Failed(f) => eprintln!("connection failed: {}", EngineError(f.error.clone())),
                Event::Closed(_) => {
                    let _ = tcp.shutdown().await;
                    return Ok(());
                }
                _ => {}
            }
        }
        let wake_up = p.wake_up;
        let deadline = async {
            match wake_up {
                Some(at) => tokio::time::sleep_until(start + Duration::from_millis(at)).await,
                None => std::future::pending().await,
            }
        };
        p = tokio::select! {
            readable = tcp.readable() => {
                readable?;
                let mut buf = shared.read.borrow_mut();
                match tcp.try_read(&mut buf) {
                    Ok(0) => session().connection_read_eof(conn)?,
                    Ok(n) => match session().connection_read_echo(conn, &buf[..n], now())? {
                        Ok(p) => p,
                        // Only a read larger than max-buffered-input is refused.
                        Err(e) => {
                            let _ = session().connection_abort(conn)?;
                            return Err(EngineError(e).into());
                        }
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Progress { events: Vec::new(), output: Vec::new(), wake_up },
                    // The transport failed: as the end of the stream.
                    Err(_) => session().connection_read_eof(conn)?,
                }
            }
            () = deadline => session().connection_handle_timeout(conn, now())?,
        };
    }
}
