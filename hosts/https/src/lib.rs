//! wsengine-https: WebSockets over HTTP/1.1, HTTP/2 and HTTP/3 on loopback, echoed by the
//! engine. The binary (`src/main.rs`) is the example server; [`h3`] is its HTTP/3 side and
//! the HTTP/3 client of its tests (quiche under a tokio task, each request stream an
//! `AsyncRead + AsyncWrite` for [`wsengine_tokio::WebSocketStream`]).
//!
//! HTTP/3 runs on quiche rather than quinn and h3: h3 0.0.8, the newest release, parses
//! `:protocol` into the values it knows (`webtransport`, `connect-udp`) and refuses
//! `websocket` (hyperium/h3#236 adds it, not released). Building quiche's BoringSSL takes
//! CMake and libclang (`./dev` installs them).

pub mod h3;
