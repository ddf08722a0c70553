//! wsengine for JavaScript: the core's `Connection` and websocket.dll's API as wasm-bindgen
//! classes. Mapping only: every protocol and policy decision is the core's. The npm
//! package's hand-written glue (`js/`) builds the transport drivers and the WebSocket
//! facade on `Connection` (see `connection.rs`); `Handle` is websocket.dll's raw API (see
//! `handle.rs`).
//!
//! Each is a cargo feature, both on by default. The npm package builds them as separate
//! wasm files: `connection` is what every entry point loads, `handle` only
//! `wsengine/engine`, so the facade's users do not download websocket.dll's API.
//!
//! Errors are thrown as JavaScript `Error`s named `WebSocketError` with `hresult`,
//! `kind`, and where they apply `closeStatus` and `httpStatus`.

#![deny(unsafe_op_in_unsafe_fn)]
// The npm build (./dev, nightly) sets `--cfg wsengine_size`: the crate is built for speed
// (the engine's hot path is inlined into its calls), and the functions marked
// `optimize(size)`, which run once per connection or on errors, for size (what each step
// saved, with the echo rate unchanged: bench/README.md).
#![cfg_attr(wsengine_size, feature(optimize_attribute))]

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wsengine as core;

#[cfg(feature = "connection")]
mod connection;
#[cfg(feature = "connection")]
pub use connection::*;
#[cfg(feature = "handle")]
mod handle;
#[cfg(feature = "handle")]
pub use handle::*;

// dlmalloc, std's allocator on wasm32, is 2 KB gzipped more than talc, and no faster on the
// facade's echo (bench/README.md).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` of the global scope (browsers, Node 20, workerd).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<(), JsValue>;
}

#[cfg_attr(wsengine_size, optimize(size))]
fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), &value.into());
}

#[cfg_attr(wsengine_size, optimize(size))]
fn kind_name(k: core::ErrorKind) -> &'static str {
    match k {
        core::ErrorKind::InvalidProtocolOperation => "invalid-protocol-operation",
        core::ErrorKind::InvalidProtocolFormat => "invalid-protocol-format",
        core::ErrorKind::ExtensionsNotSupported => "extensions-not-supported",
        core::ErrorKind::SubprotocolNotSupported => "subprotocol-not-supported",
        core::ErrorKind::VersionNotSupported => "version-not-supported",
        core::ErrorKind::InvalidArgument => "invalid-argument",
        core::ErrorKind::InvalidState => "invalid-state",
        core::ErrorKind::Timeout => "timeout",
        _ => "fail",
    }
}

thread_local! {
    /// The glue's `WebSocketError` class (`setErrorClass`), which errors are made with.
    static ERROR_CLASS: std::cell::RefCell<Option<js_sys::Function>> = const { std::cell::RefCell::new(None) };
}

/// Called once by the package's entry point with its `WebSocketError` class (a subclass of
/// `Error`), so that the errors the engine throws are instances of it.
#[wasm_bindgen(js_name = setErrorClass)]
#[cfg_attr(wsengine_size, optimize(size))]
pub fn set_error_class(class: js_sys::Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(class));
}

/// A `WebSocketError` (a plain `Error` so named before `setErrorClass`) with the kind's
/// `hresult` and name.
#[cfg_attr(wsengine_size, optimize(size))]
fn js_error(message: &str, kind: core::ErrorKind) -> js_sys::Error {
    let made = ERROR_CLASS.with(|c| {
        let class = c.borrow();
        Reflect::construct(class.as_ref()?, &Array::of1(&JsValue::from_str(message))).ok()
    });
    let err: js_sys::Error = made.map_or_else(|| js_sys::Error::new(message), JsCast::unchecked_into);
    err.set_name("WebSocketError");
    let o: &Object = err.as_ref();
    set(o, "hresult", kind.hresult());
    set(o, "kind", kind_name(kind));
    err
}

/// An engine error as a thrown JavaScript `Error`, with the close or HTTP status to answer
/// with where there is one.
#[cfg_attr(wsengine_size, optimize(size))]
fn error(e: &core::Error) -> JsValue {
    let err = js_error(&e.to_string(), e.kind());
    let o: &Object = err.as_ref();
    if let Some(s) = e.close_status() {
        set(o, "closeStatus", s.0);
    }
    if let Some(s) = e.http_status() {
        set(o, "httpStatus", s);
    }
    err.into()
}

#[cfg_attr(wsengine_size, optimize(size))]
fn invalid_argument(message: &str) -> JsValue {
    js_error(message, core::ErrorKind::InvalidArgument).into()
}

/// Properties from a plain object: `receiveBufferSize`, `sendBufferSize`,
/// `disableMasking`, `disableUtf8Verification`, `randomSeed` (32 bytes). A client without
/// a seed gets 32 bytes from `crypto.getRandomValues`.
#[cfg_attr(wsengine_size, optimize(size))]
fn properties(props: &JsValue, client: bool) -> Result<Vec<core::Property>, JsValue> {
    let mut out = Vec::new();
    if !props.is_undefined() && !props.is_null() {
        let obj: &Object = props.dyn_ref().ok_or_else(|| invalid_argument("properties must be an object"))?;
        for key in Object::keys(obj).iter() {
            let name = key.as_string().unwrap_or_default();
            let value = Reflect::get(obj, &key)?;
            let number = || {
                value
                    .as_f64()
                    .filter(|v| v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(v))
                    .map(|v| v as u32)
                    .ok_or_else(|| invalid_argument(&format!("{name} must be a whole number")))
            };
            let flag = || value.as_bool().ok_or_else(|| invalid_argument(&format!("{name} must be a boolean")));
            out.push(match name.as_str() {
                "receiveBufferSize" => core::Property::ReceiveBufferSize(number()?),
                "sendBufferSize" => core::Property::SendBufferSize(number()?),
                "disableMasking" => core::Property::DisableMasking(flag()?),
                "disableUtf8Verification" => core::Property::DisableUtf8Verification(flag()?),
                // A Connection takes its profile from its constructor (clientConnect,
                // acceptConnect): only a handle takes it as a property.
                #[cfg(feature = "handle")]
                "extendedConnect" => core::Property::ExtendedConnect(flag()?),
                "randomSeed" => {
                    let bytes = value
                        .dyn_ref::<Uint8Array>()
                        .map(Uint8Array::to_vec)
                        .ok_or_else(|| invalid_argument("randomSeed must be a Uint8Array"))?;
                    let size = bytes.len();
                    core::Property::RandomSeed(<[u8; 32]>::try_from(bytes).map_err(|_| {
                        error(&core::Error::PropertySize { property: "randomSeed", size, expected: 32 })
                    })?)
                }
                _ => return Err(invalid_argument(&format!("unknown property {name}"))),
            });
        }
    }
    if client && !out.iter().any(|p| matches!(p, core::Property::RandomSeed(_))) {
        let mut seed = [0u8; 32];
        get_random_values(&mut seed)?;
        out.push(core::Property::RandomSeed(seed));
    }
    Ok(out)
}

/// A header string as bytes: HTTP fields are octets, one per character (ISO-8859-1), so
/// a character above U+00FF cannot be sent.
#[cfg_attr(wsengine_size, optimize(size))]
fn latin1_in(v: JsValue) -> Result<Vec<u8>, JsValue> {
    let s = v.as_string().ok_or_else(|| invalid_argument("header names and values are strings"))?;
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| invalid_argument("a header character above U+00FF")))
        .collect()
}

/// Header bytes as a string, one character per octet.
#[cfg_attr(wsengine_size, optimize(size))]
fn latin1_out(bytes: &[u8]) -> JsValue {
    JsValue::from_str(&bytes.iter().map(|&b| char::from(b)).collect::<String>())
}

/// `[[name, value], ...]` (strings) as header fields.
#[cfg_attr(wsengine_size, optimize(size))]
fn headers_in(headers: &JsValue) -> Result<Vec<core::HttpHeader<'static>>, JsValue> {
    let list: &Array = headers.dyn_ref().ok_or_else(|| invalid_argument("headers must be an array of pairs"))?;
    list.iter()
        .map(|pair| {
            let pair: Array = pair.dyn_into().map_err(|_| invalid_argument("a header must be [name, value]"))?;
            Ok(core::HttpHeader::owned(latin1_in(pair.get(0))?, latin1_in(pair.get(1))?))
        })
        .collect()
}

#[cfg_attr(wsengine_size, optimize(size))]
fn headers_out(headers: &[core::HttpHeader<'_>]) -> Array {
    headers
        .iter()
        .map(|h| {
            let pair = Array::new();
            pair.push(&latin1_out(&h.name));
            pair.push(&latin1_out(&h.value));
            JsValue::from(pair)
        })
        .collect()
}

#[cfg_attr(wsengine_size, optimize(size))]
fn strings(list: &JsValue) -> Result<Vec<String>, JsValue> {
    if list.is_undefined() || list.is_null() {
        return Ok(Vec::new());
    }
    let list: &Array = list.dyn_ref().ok_or_else(|| invalid_argument("expected an array of strings"))?;
    list.iter().map(|s| s.as_string().ok_or_else(|| invalid_argument("expected an array of strings"))).collect()
}
