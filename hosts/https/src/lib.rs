//! wsengine-https: WebSockets over HTTP/1.1, HTTP/2 and HTTP/3 on loopback, echoed by the
//! engine. The binary (`src/main.rs`) is the example server; [`h3`] is its HTTP/3 side and
//! the HTTP/3 client of its tests (quiche under a tokio task, each request stream an
//! `AsyncRead + AsyncWrite` for [`wsengine_tokio::WebSocketStream`]).

pub mod h3;
