//! websocket.dll's C ABI on the wsengine core: the thirteen functions of `websocket.h`
//! (`include/websocket.h`), with Windows' names, structures, error codes and memory rules.
//! Mapping only: every protocol decision is the core's `Handle`.
//!
//! - A `WEB_SOCKET_HANDLE` is a number, never a pointer: handles live in a table, so a
//!   NULL, deleted or made-up handle is detected (`E_INVALIDARG`, or nothing for the
//!   functions that return nothing) instead of read. Each handle has its own lock: calls on
//!   different handles run in parallel, calls on one handle one at a time.
//! - A send's payload and close reason are used where the caller keeps them (the core's
//!   zero copy: a server's payload goes to the network from the caller's memory) until
//!   the send's INDICATE_SEND_COMPLETE, as in Windows.
//! - Headers returned by a Begin call, and buffers returned by WebSocketGetAction, point
//!   into the handle and stay valid until the matching End (or the handle's deletion) and
//!   WebSocketCompleteAction respectively.
//! - No call unwinds into C or aborts: arguments are checked, and a panic (there should
//!   be none) becomes `E_FAIL`.

#![allow(non_snake_case, non_camel_case_types, clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use engine::{
    Action, ActionContext, ActionQueue, BufferType, CloseStatus, Handle, HttpHeader, Property, PropertyType, Received,
    Role, SendBuffer,
};

pub type HRESULT = i32;
pub type WEB_SOCKET_HANDLE = *mut c_void;

pub const S_OK: HRESULT = 0;
const E_INVALIDARG: HRESULT = 0x8007_0057_u32 as i32;
const E_POINTER: HRESULT = 0x8000_4003_u32 as i32;
const E_FAIL: HRESULT = 0x8000_4005_u32 as i32;
const E_NOT_SUFFICIENT_BUFFER: HRESULT = 0x8007_007A_u32 as i32;

/// `WEB_SOCKET_PROPERTY`.
#[repr(C)]
pub struct WEB_SOCKET_PROPERTY {
    pub Type: u32,
    pub pvValue: *mut c_void,
    pub ulValueSize: u32,
}

/// `WEB_SOCKET_HTTP_HEADER`: length-delimited, no NUL needed.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WEB_SOCKET_HTTP_HEADER {
    pub pcName: *mut c_char,
    pub ulNameLength: u32,
    pub pcValue: *mut c_char,
    pub ulValueLength: u32,
}

/// `WEB_SOCKET_BUFFER.Data`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WEB_SOCKET_BUFFER_DATA {
    pub pbBuffer: *mut u8,
    pub ulBufferLength: u32,
}

/// `WEB_SOCKET_BUFFER.CloseStatus`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WEB_SOCKET_BUFFER_CLOSE_STATUS {
    pub pbReason: *mut u8,
    pub ulReasonLength: u32,
    pub usStatus: u16,
}

/// `WEB_SOCKET_BUFFER`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union WEB_SOCKET_BUFFER {
    pub Data: WEB_SOCKET_BUFFER_DATA,
    pub CloseStatus: WEB_SOCKET_BUFFER_CLOSE_STATUS,
}

/// A caller's bytes, used in place: the caller keeps them valid and unchanged until the
/// operation they belong to is indicated complete (websocket.dll's rule for send buffers).
struct CallerBytes {
    ptr: *const u8,
    len: usize,
}

impl AsRef<[u8]> for CallerBytes {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: checked non-NULL when made; the caller keeps the memory valid and
        // unchanged until INDICATE_SEND_COMPLETE, as websocket.h requires.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// One handle: the core's, and what the ABI hands out from it.
struct CHandle {
    inner: Handle<CallerBytes, usize>,
    /// The array a Begin call returned (its strings are the core's handshake data).
    headers: Vec<WEB_SOCKET_HTTP_HEADER>,
    /// How many extensions BeginClientHandshake offered (EndClientHandshake's capacity rule).
    offered_extensions: usize,
    /// A SEND_TO_NETWORK's two buffers as one, for a caller that asked for one buffer.
    joined: Vec<u8>,
    /// A WebSocketReceive's own buffer (pointer, length), while that receive is outstanding.
    receive_into: Option<(*mut u8, usize)>,
    /// The core's copy of a piece for `receive_into`, reused.
    spare: Vec<u8>,
    /// The raw tokens of the actions in flight, by queue (32-bit targets: see `token_out`).
    flight: [u64; 2],
}

// SAFETY: the raw pointers are the caller's memory, which websocket.h's rules keep valid
// for as long as the handle uses it; nothing here is tied to a thread.
unsafe impl Send for CHandle {}

type Shared = Arc<Mutex<CHandle>>;

static HANDLES: LazyLock<RwLock<HashMap<usize, Shared>>> = LazyLock::new(|| RwLock::new(HashMap::new()));
static NEXT: AtomicUsize = AtomicUsize::new(1);

fn lookup(h: WEB_SOCKET_HANDLE) -> Option<Shared> {
    HANDLES.read().unwrap_or_else(|e| e.into_inner()).get(&(h as usize)).cloned()
}

/// Runs `f` on the handle, or fails with `E_INVALIDARG` for an unknown one; a panic
/// becomes `E_FAIL`.
fn with(h: WEB_SOCKET_HANDLE, f: impl FnOnce(&mut CHandle) -> Result<(), HRESULT>) -> HRESULT {
    guard(|| {
        let shared = lookup(h).ok_or(E_INVALIDARG)?;
        let mut c = shared.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c)
    })
}

/// `S_OK` or the error; a panic (there should be none) becomes `E_FAIL`.
fn guard(f: impl FnOnce() -> Result<(), HRESULT>) -> HRESULT {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(E_FAIL)).err().unwrap_or(S_OK)
}

/// The core's error as its HRESULT.
fn hr(e: engine::Error) -> HRESULT {
    e.hresult() as i32
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `count` items at `ptr`; NULL is allowed only for none.
unsafe fn items<'a, T>(ptr: *const T, count: u32) -> Result<&'a [T], HRESULT> {
    match (ptr.is_null(), count) {
        (_, 0) => Ok(&[]),
        (true, _) => Err(E_INVALIDARG),
        // SAFETY: the caller passes `count` valid items at `ptr` (websocket.h's contract).
        (false, n) => Ok(unsafe { std::slice::from_raw_parts(ptr, n as usize) }),
    }
}

/// NUL-terminated strings (`PCSTR *`), as UTF-8.
unsafe fn strings<'a>(ptr: *const *const c_char, count: u32) -> Result<Vec<&'a str>, HRESULT> {
    // SAFETY: as `items`.
    let list = unsafe { items(ptr, count) }?;
    list.iter()
        .map(|&s| {
            if s.is_null() {
                return Err(E_INVALIDARG);
            }
            // SAFETY: a non-NULL PCSTR is NUL-terminated (websocket.h's contract).
            unsafe { CStr::from_ptr(s) }.to_str().map_err(|_| E_INVALIDARG)
        })
        .collect()
}

unsafe fn headers_in<'a>(ptr: *const WEB_SOCKET_HTTP_HEADER, count: u32) -> Result<Vec<HttpHeader<'a>>, HRESULT> {
    // SAFETY: as `items`.
    let list = unsafe { items(ptr, count) }?;
    list.iter()
        .map(|h| {
            // SAFETY: as `items`: each field points at its length of bytes.
            let name = unsafe { items(h.pcName.cast::<u8>(), h.ulNameLength) }?;
            // SAFETY: as above.
            let value = unsafe { items(h.pcValue.cast::<u8>(), h.ulValueLength) }?;
            Ok(HttpHeader::new(name, value))
        })
        .collect()
}

/// Points the handle's returned array at the core's headers and hands it out.
unsafe fn headers_out(
    headers: &mut Vec<WEB_SOCKET_HTTP_HEADER>,
    from: &[HttpHeader<'static>],
    out: *mut *mut WEB_SOCKET_HTTP_HEADER,
    count: *mut u32,
) {
    headers.clear();
    headers.extend(from.iter().map(|h| WEB_SOCKET_HTTP_HEADER {
        pcName: h.name.as_ptr().cast_mut().cast(),
        ulNameLength: len32(h.name.len()),
        pcValue: h.value.as_ptr().cast_mut().cast(),
        ulValueLength: len32(h.value.len()),
    }));
    // SAFETY: both checked non-NULL by the caller of this function.
    unsafe {
        *out = headers.as_mut_ptr();
        *count = len32(headers.len());
    }
}

/// The memory of `ALLOCATED_BUFFER`: its address and length.
type Lent = (*mut u8, usize);

/// The properties of a create call, and the memory of `ALLOCATED_BUFFER` when there is one: `pvValue` points at a slot holding the buffer's address and
/// `ulValueSize` is the buffer's length (.NET's convention).
unsafe fn properties(ptr: *const WEB_SOCKET_PROPERTY, count: u32) -> Result<(Vec<Property>, Option<Lent>), HRESULT> {
    // SAFETY: as `items`.
    let list = unsafe { items(ptr, count) }?;
    let mut lent = None;
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        if p.Type == PropertyType::AllocatedBuffer as u32 {
            if p.pvValue.is_null() {
                return Err(E_INVALIDARG);
            }
            // SAFETY: a non-NULL pvValue points at a pointer-sized slot.
            let address = unsafe { p.pvValue.cast::<*mut u8>().read_unaligned() };
            if lent.is_none() {
                lent = Some((address, p.ulValueSize as usize));
            } else {
                // A second one: the core refuses the repetition.
                out.push(Property::AllocatedBuffer(Vec::new()));
            }
            continue;
        }
        // SAFETY: `pvValue` points at `ulValueSize` bytes.
        let value = unsafe { items(p.pvValue.cast::<u8>().cast_const(), p.ulValueSize) }?;
        out.push(Property::from_raw(p.Type, value).map_err(hr)?);
    }
    Ok((out, lent))
}

unsafe fn create(
    properties_: *const WEB_SOCKET_PROPERTY,
    count: u32,
    out: *mut WEB_SOCKET_HANDLE,
    role: Role,
) -> HRESULT {
    guard(|| {
        if out.is_null() {
            return Err(E_POINTER);
        }
        // SAFETY: checked non-NULL.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: websocket.h's contract for the property array.
        let (props, lent) = unsafe { properties(properties_, count) }?;
        let inner = match lent {
            // SAFETY: websocket.h's contract for ALLOCATED_BUFFER: the memory stays valid
            // until WebSocketDeleteHandle and only the engine writes to it.
            Some((ptr, len)) => unsafe { Handle::with_lent_buffer(role, props, ptr, len) },
            None if role == Role::Client => Handle::new_client(props),
            None => Handle::new_server(props),
        }
        .map_err(hr)?;
        let handle = CHandle {
            inner,
            headers: Vec::new(),
            offered_extensions: 0,
            joined: Vec::new(),
            receive_into: None,
            spare: Vec::new(),
            flight: [0; 2],
        };
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        HANDLES.write().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::new(Mutex::new(handle)));
        // SAFETY: checked non-NULL.
        unsafe { *out = id as WEB_SOCKET_HANDLE };
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCreateClientHandle(
    pProperties: *const WEB_SOCKET_PROPERTY,
    ulPropertyCount: u32,
    phWebSocket: *mut WEB_SOCKET_HANDLE,
) -> HRESULT {
    // SAFETY: the caller's pointers, checked inside.
    unsafe { create(pProperties, ulPropertyCount, phWebSocket, Role::Client) }
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCreateServerHandle(
    pProperties: *const WEB_SOCKET_PROPERTY,
    ulPropertyCount: u32,
    phWebSocket: *mut WEB_SOCKET_HANDLE,
) -> HRESULT {
    // SAFETY: the caller's pointers, checked inside.
    unsafe { create(pProperties, ulPropertyCount, phWebSocket, Role::Server) }
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketBeginClientHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pszSubprotocols: *const *const c_char,
    ulSubprotocolCount: u32,
    pszExtensions: *const *const c_char,
    ulExtensionCount: u32,
    pInitialHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulInitialHeaderCount: u32,
    pAdditionalHeaders: *mut *mut WEB_SOCKET_HTTP_HEADER,
    pulAdditionalHeaderCount: *mut u32,
) -> HRESULT {
    with(hWebSocket, |c| {
        if pAdditionalHeaders.is_null() || pulAdditionalHeaderCount.is_null() {
            return Err(E_POINTER);
        }
        // SAFETY (the three): websocket.h's contract for the input arrays.
        let subprotocols = unsafe { strings(pszSubprotocols, ulSubprotocolCount) }?;
        let extensions = unsafe { strings(pszExtensions, ulExtensionCount) }?;
        let initial = unsafe { headers_in(pInitialHeaders, ulInitialHeaderCount) }?;
        let headers = c.inner.begin_client_handshake(&subprotocols, &extensions, &initial).map_err(hr)?;
        // SAFETY: both out-pointers checked non-NULL.
        unsafe { headers_out(&mut c.headers, headers, pAdditionalHeaders, pulAdditionalHeaderCount) };
        c.offered_extensions = extensions.len();
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketEndClientHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pResponseHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulReponseHeaderCount: u32,
    pulSelectedExtensions: *mut u32,
    pulSelectedExtensionCount: *mut u32,
    pulSelectedSubprotocol: *mut u32,
) -> HRESULT {
    with(hWebSocket, |c| {
        // The capacity is checked before anything changes: at least what Begin offered.
        if !pulSelectedExtensionCount.is_null() {
            // SAFETY: checked non-NULL.
            let capacity = unsafe { *pulSelectedExtensionCount } as usize;
            if capacity < c.offered_extensions || (capacity > 0 && pulSelectedExtensions.is_null()) {
                return Err(E_INVALIDARG);
            }
        }
        // SAFETY: websocket.h's contract for the input array.
        let response = unsafe { headers_in(pResponseHeaders, ulReponseHeaderCount) }?;
        let outcome = c.inner.end_client_handshake(&response).map_err(hr)?;
        c.headers = Vec::new();
        if !pulSelectedExtensionCount.is_null() {
            // SAFETY: checked above: room for every offered extension, which bounds the
            // selected ones.
            unsafe {
                for (i, &index) in outcome.extensions.iter().enumerate() {
                    *pulSelectedExtensions.add(i) = len32(index);
                }
                *pulSelectedExtensionCount = len32(outcome.extensions.len());
            }
        }
        if let (Some(index), false) = (outcome.subprotocol, pulSelectedSubprotocol.is_null()) {
            // SAFETY: checked non-NULL.
            unsafe { *pulSelectedSubprotocol = len32(index) };
        }
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketBeginServerHandshake(
    hWebSocket: WEB_SOCKET_HANDLE,
    pszSubprotocolSelected: *const c_char,
    pszExtensionSelected: *const *const c_char,
    ulExtensionSelectedCount: u32,
    pRequestHeaders: *const WEB_SOCKET_HTTP_HEADER,
    ulRequestHeaderCount: u32,
    pResponseHeaders: *mut *mut WEB_SOCKET_HTTP_HEADER,
    pulResponseHeaderCount: *mut u32,
) -> HRESULT {
    with(hWebSocket, |c| {
        if pResponseHeaders.is_null() || pulResponseHeaderCount.is_null() {
            return Err(E_POINTER);
        }
        let subprotocol = if pszSubprotocolSelected.is_null() {
            None
        } else {
            // SAFETY: a non-NULL PCSTR is NUL-terminated (websocket.h's contract).
            Some(unsafe { CStr::from_ptr(pszSubprotocolSelected) }.to_str().map_err(|_| E_INVALIDARG)?)
        };
        // SAFETY (both): websocket.h's contract for the input arrays.
        let extensions = unsafe { strings(pszExtensionSelected, ulExtensionSelectedCount) }?;
        let request = unsafe { headers_in(pRequestHeaders, ulRequestHeaderCount) }?;
        let headers = c.inner.begin_server_handshake(subprotocol, &extensions, &request).map_err(hr)?;
        // SAFETY: both out-pointers checked non-NULL.
        unsafe { headers_out(&mut c.headers, headers, pResponseHeaders, pulResponseHeaderCount) };
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketEndServerHandshake(hWebSocket: WEB_SOCKET_HANDLE) -> HRESULT {
    with(hWebSocket, |c| {
        c.inner.end_server_handshake().map_err(hr)?;
        c.headers = Vec::new();
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketSend(
    hWebSocket: WEB_SOCKET_HANDLE,
    BufferType: u32,
    pBuffer: *const WEB_SOCKET_BUFFER,
    Context: *mut c_void,
) -> HRESULT {
    with(hWebSocket, |c| {
        let ty = engine::BufferType::from_u32(BufferType).map_err(hr)?;
        let bytes = |ptr: *mut u8, len: u32| {
            if ptr.is_null() && len != 0 {
                return Err(E_INVALIDARG);
            }
            Ok(CallerBytes { ptr, len: len as usize })
        };
        let buffer = if pBuffer.is_null() {
            None
        } else if ty == engine::BufferType::Close {
            // SAFETY: a non-NULL pBuffer points at one WEB_SOCKET_BUFFER, read now.
            let arm = unsafe { (*pBuffer).CloseStatus };
            Some(SendBuffer::Close {
                status: CloseStatus(arm.usStatus),
                reason: bytes(arm.pbReason, arm.ulReasonLength)?,
            })
        } else {
            // SAFETY: as above.
            let arm = unsafe { (*pBuffer).Data };
            Some(SendBuffer::Data(bytes(arm.pbBuffer, arm.ulBufferLength)?))
        };
        c.inner.send(ty, buffer, Context as usize).map_err(hr)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketReceive(
    hWebSocket: WEB_SOCKET_HANDLE,
    pBuffer: *const WEB_SOCKET_BUFFER,
    pvContext: *mut c_void,
) -> HRESULT {
    with(hWebSocket, |c| {
        let into = if pBuffer.is_null() {
            None
        } else {
            // SAFETY: a non-NULL pBuffer points at one WEB_SOCKET_BUFFER, read now.
            let arm = unsafe { (*pBuffer).Data };
            if arm.pbBuffer.is_null() {
                return Err(E_INVALIDARG);
            }
            Some((arm.pbBuffer, arm.ulBufferLength as usize))
        };
        let buffer = into.map(|(_, len)| {
            // The core fills the buffer up to its capacity: exactly the caller's length.
            let mut v = std::mem::take(&mut c.spare);
            v.clear();
            if v.capacity() != len {
                v = Vec::with_capacity(len);
            }
            v
        });
        c.inner.receive(buffer, pvContext as usize).map_err(hr)?;
        c.receive_into = into;
        Ok(())
    })
}

/// An action token as a `PVOID`: the core's raw token (the queue above a 32-bit serial),
/// which a 64-bit pointer holds whole. A 32-bit pointer holds its narrow form (`narrow`);
/// one action per queue is in flight, so the handle keeps its raw token (`flight`) and
/// knows it again by that form (`widen`).
fn token_out(flight: &mut [u64; 2], action: ActionContext) -> *mut c_void {
    let raw = action.to_raw();
    if usize::BITS >= 64 || raw == 0 {
        return raw as usize as *mut c_void;
    }
    flight[(raw >> 32) as usize - 1] = raw;
    narrow(raw) as usize as *mut c_void
}

fn token_in(flight: &[u64; 2], p: *mut c_void) -> engine::Result<ActionContext> {
    let p = p as usize;
    if usize::BITS >= 64 || p == 0 {
        return ActionContext::from_raw(p as u64);
    }
    widen(flight, p as u32).map_or(Err(engine::Error::UnknownActionContext), ActionContext::from_raw)
}

/// A raw token in 32 bits: the queue (1 or 2) in the low two, the serial's low 30 above.
fn narrow(raw: u64) -> u32 {
    (raw as u32) << 2 | (raw >> 32) as u32 & 3
}

/// The raw token in flight whose narrow form is `p`.
fn widen(flight: &[u64; 2], p: u32) -> Option<u64> {
    flight.get(((p & 3) as usize).wrapping_sub(1)).copied().filter(|&raw| raw != 0 && narrow(raw) == p)
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketGetAction(
    hWebSocket: WEB_SOCKET_HANDLE,
    eActionQueue: u32,
    pDataBuffers: *mut WEB_SOCKET_BUFFER,
    pulDataBufferCount: *mut u32,
    pAction: *mut u32,
    pBufferType: *mut u32,
    pvApplicationContext: *mut *mut c_void,
    pvActionContext: *mut *mut c_void,
) -> HRESULT {
    with(hWebSocket, |c| {
        if pulDataBufferCount.is_null() || pAction.is_null() || pBufferType.is_null() || pvActionContext.is_null() {
            return Err(E_POINTER);
        }
        // SAFETY: checked non-NULL.
        let capacity = unsafe { *pulDataBufferCount } as usize;
        if capacity == 0 || pDataBuffers.is_null() {
            return Err(E_INVALIDARG);
        }
        let queue = ActionQueue::from_u32(eActionQueue).map_err(hr)?;
        // Nothing is written unless the call succeeds.
        let CHandle { inner, joined, receive_into, spare, flight, .. } = c;
        let action = inner.get_action(queue).map_err(hr)?;
        let kind = action.code();
        let token = action.context().map_or(std::ptr::null_mut(), |a| token_out(flight, a));
        let data = |ptr: *const u8, len: usize| WEB_SOCKET_BUFFER {
            Data: WEB_SOCKET_BUFFER_DATA { pbBuffer: ptr.cast_mut(), ulBufferLength: len32(len) },
        };
        let mut out = [data(std::ptr::null(), 0); 2];
        let (ty, count, context) = match action {
            Action::NoAction => (0, 0, None),
            Action::SendToNetwork { buffer_type, buffers, context, .. } => {
                let slices = buffers.as_slices();
                let count = if slices.len() <= capacity {
                    for (o, s) in out.iter_mut().zip(slices) {
                        *o = data(s.as_ptr(), s.len());
                    }
                    slices.len()
                } else {
                    // One buffer asked for: the header and payload, copied together.
                    joined.clear();
                    buffers.copy_to(joined);
                    out[0] = data(joined.as_ptr(), joined.len());
                    1
                };
                (buffer_type as u32, count, context.copied())
            }
            Action::IndicateSendComplete { buffer_type, context, .. } => (buffer_type as u32, 0, Some(context)),
            Action::ReceiveFromNetwork { buffer, .. } => {
                out[0] = data(buffer.as_ptr(), buffer.len());
                (0, 1, None)
            }
            Action::IndicateReceiveComplete { buffer_type, data: received, close_status, context, .. } => {
                let (ptr, len) = match received {
                    Received::Borrowed(b) => (b.as_ptr(), b.len()),
                    Received::Owned(v) => {
                        // The caller's own buffer: the piece is copied into it.
                        let (ptr, room) = receive_into.take().unwrap_or((std::ptr::null_mut(), 0));
                        let n = v.len().min(room);
                        if n > 0 {
                            // SAFETY: the caller's receive buffer holds `room` bytes and
                            // stays valid until this indication is completed.
                            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), ptr, n) };
                        }
                        *spare = v;
                        (ptr.cast_const(), n)
                    }
                };
                let ptr = if len == 0 { std::ptr::null() } else { ptr };
                out[0] = match (buffer_type, close_status) {
                    (Some(BufferType::Close), status) => WEB_SOCKET_BUFFER {
                        CloseStatus: WEB_SOCKET_BUFFER_CLOSE_STATUS {
                            pbReason: ptr.cast_mut(),
                            ulReasonLength: len32(len),
                            usStatus: status.map_or(CloseStatus::EMPTY.0, |s| s.0),
                        },
                    },
                    _ => data(ptr, len),
                };
                (buffer_type.map_or(0, |t| t as u32), 1, Some(context))
            }
        };
        // SAFETY: the out-pointers were checked non-NULL (the application context is
        // optional); `pDataBuffers` holds `capacity` >= `count` entries.
        unsafe {
            for (i, b) in out.iter().take(count).enumerate() {
                *pDataBuffers.add(i) = *b;
            }
            *pulDataBufferCount = count as u32;
            *pAction = kind;
            *pBufferType = ty;
            *pvActionContext = token;
            if let (Some(ctx), false) = (context, pvApplicationContext.is_null()) {
                *pvApplicationContext = ctx as *mut c_void;
            }
        }
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCompleteAction(
    hWebSocket: WEB_SOCKET_HANDLE,
    pvActionContext: *mut c_void,
    ulBytesTransferred: u32,
) {
    // It returns nothing: a bad token or count is the core's to absorb (it fails the
    // handle where Windows would).
    with(hWebSocket, |c| {
        if let Ok(token) = token_in(&c.flight, pvActionContext) {
            let _ = c.inner.complete_action(token, ulBytesTransferred as usize);
        }
        Ok(())
    });
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketAbortHandle(hWebSocket: WEB_SOCKET_HANDLE) {
    with(hWebSocket, |c| {
        c.inner.abort();
        Ok(())
    });
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketDeleteHandle(hWebSocket: WEB_SOCKET_HANDLE) {
    guard(|| {
        let mut handles = HANDLES.write().unwrap_or_else(|e| e.into_inner());
        handles.remove(&(hWebSocket as usize));
        if handles.is_empty() {
            // The table's memory goes with the last handle (no leak at exit for valgrind).
            *handles = HashMap::new();
        }
        Ok(())
    });
}

#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketGetGlobalProperty(
    eType: u32,
    pvValue: *mut c_void,
    ulSize: *mut u32,
) -> HRESULT {
    guard(|| {
        if ulSize.is_null() {
            return Err(E_POINTER);
        }
        let value = PropertyType::from_u32(eType).and_then(engine::global_property).map_err(hr)?.to_le_bytes();
        // SAFETY: checked non-NULL; `pvValue` holds `*ulSize` bytes.
        unsafe {
            if (*ulSize as usize) < value.len() {
                *ulSize = len32(value.len());
                return Err(E_NOT_SUFFICIENT_BUFFER);
            }
            if pvValue.is_null() {
                return Err(E_INVALIDARG);
            }
            std::ptr::copy_nonoverlapping(value.as_ptr(), pvValue.cast::<u8>(), value.len());
            *ulSize = len32(value.len());
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::{narrow, widen};

    #[test]
    fn narrow_tokens_name_the_action_in_flight_and_nothing_else() {
        for queue in [1u64, 2] {
            for serial in [1u64, 2, (1 << 30) - 1, 1 << 30, u64::from(u32::MAX)] {
                let raw = queue << 32 | serial;
                let mut flight = [0; 2];
                flight[queue as usize - 1] = raw;
                assert_eq!(widen(&flight, narrow(raw)), Some(raw), "{raw:#x}");
                let stale = queue << 32 | (serial + 1) & u64::from(u32::MAX);
                assert_eq!(widen(&flight, narrow(stale)), None, "{stale:#x}");
                assert_eq!(widen(&flight, narrow(raw) & !3), None, "no queue");
                assert_eq!(widen(&[0; 2], narrow(raw)), None, "nothing in flight");
            }
        }
    }
}
