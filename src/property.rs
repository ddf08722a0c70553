//! Handle properties (`WEB_SOCKET_PROPERTY`) and the global properties
//! (`WebSocketGetGlobalProperty`), with websocket.dll's defaults and limits.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::handle::Role;

/// Default receive buffer size, in bytes, on both roles.
pub const DEFAULT_RECEIVE_BUFFER_SIZE: u32 = 4096;
/// Default send buffer size on client handles (a masking client copies payloads through it).
pub const DEFAULT_CLIENT_SEND_BUFFER_SIZE: u32 = 4096;
/// Default send buffer size on server handles: a server never masks, so its payloads go
/// out zero-copy and the send buffer only holds a frame header.
pub const DEFAULT_SERVER_SEND_BUFFER_SIZE: u32 = 16;
/// Smallest receive buffer: room for the largest control frame, and more.
pub const MIN_RECEIVE_BUFFER_SIZE: u32 = 256;
/// Smallest send buffer: room for the largest frame header (14 bytes).
pub const MIN_SEND_BUFFER_SIZE: u32 = 16;
/// Largest receive or send buffer.
pub const MAX_BUFFER_SIZE: u32 = 65536;
/// Space a handle needs beyond its receive and send buffers: one whole control frame
/// (125 bytes of payload + 14 of header, rounded up to 8).
pub const CONTROL_AREA_SIZE: usize = 144;
/// Default keep-alive interval advised to hosts, in milliseconds.
pub const DEFAULT_KEEPALIVE_INTERVAL_MS: u32 = 30_000;
/// Smallest keep-alive interval; smaller values are raised to it.
pub const MIN_KEEPALIVE_INTERVAL_MS: u32 = 15_000;
/// Default permessage-deflate compression level (zlib's default), for
/// [`Property::DeflateLevel`].
pub const DEFAULT_DEFLATE_LEVEL: u32 = 6;
/// Default zlib memory level for permessage-deflate's compressor, for
/// [`Property::DeflateMemLevel`]: its symbol and output buffers take 7 * 2^(level + 6)
/// bytes, 14 KiB at 5 against 112 KiB at zlib's default of 8.
pub const DEFAULT_DEFLATE_MEM_LEVEL: u32 = 5;
/// Default permessage-deflate threshold, for [`Property::DeflateThreshold`]: shorter
/// messages go uncompressed (a few bytes gain nothing and cost a compressor call).
pub const DEFAULT_DEFLATE_THRESHOLD: u32 = 128;
/// The WebSocket protocol versions this engine speaks.
pub const SUPPORTED_VERSIONS: &[u32] = &[13];

/// `WEB_SOCKET_PROPERTY_TYPE`: the property kinds, with their Windows values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PropertyType {
    /// `WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE` (0).
    ReceiveBufferSize = 0,
    /// `WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE` (1).
    SendBufferSize = 1,
    /// `WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE` (2).
    DisableMasking = 2,
    /// `WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE` (3).
    AllocatedBuffer = 3,
    /// `WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE` (4).
    DisableUtf8Verification = 4,
    /// `WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE` (5), global only.
    KeepaliveInterval = 5,
    /// `WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE` (6), global only.
    SupportedVersions = 6,
}

impl PropertyType {
    /// The property type with this Windows value.
    pub fn from_u32(v: u32) -> Result<Self> {
        Ok(match v {
            0 => Self::ReceiveBufferSize,
            1 => Self::SendBufferSize,
            2 => Self::DisableMasking,
            3 => Self::AllocatedBuffer,
            4 => Self::DisableUtf8Verification,
            5 => Self::KeepaliveInterval,
            6 => Self::SupportedVersions,
            _ => return Err(Error::UnknownPropertyType(v)),
        })
    }

    /// The Windows name, e.g. `"WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ReceiveBufferSize => "WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE",
            Self::SendBufferSize => "WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE",
            Self::DisableMasking => "WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE",
            Self::AllocatedBuffer => "WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE",
            Self::DisableUtf8Verification => "WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE",
            Self::KeepaliveInterval => "WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE",
            Self::SupportedVersions => "WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE",
        }
    }
}

/// One property passed to [`Handle::new_client`](crate::Handle::new_client) or
/// [`Handle::new_server`](crate::Handle::new_server) (`WEB_SOCKET_PROPERTY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Property {
    /// Size of the receive buffer, 256..=65536 bytes (default 4096). Received data is
    /// indicated in pieces of at most this size.
    ReceiveBufferSize(u32),
    /// Size of the send buffer, 16..=65536 bytes (default 4096 on clients, 16 on
    /// servers). A masking client sends payloads in frames of at most this size less
    /// the header; servers send payloads zero-copy whatever this size.
    SendBufferSize(u32),
    /// On a client: mask with the key `00 00 00 00`, so payloads go out zero-copy. On a
    /// server: accept unmasked client frames. Off by default; turning it on weakens
    /// the protection masking gives against cache poisoning of intermediaries.
    DisableMasking(bool),
    /// The buffer the handle works in, supplied by the caller so the handle allocates
    /// nothing of its own. It must hold at least receive size + send size + 144 bytes;
    /// [`Handle::into_allocated_buffer`](crate::Handle::into_allocated_buffer) gives
    /// it back.
    AllocatedBuffer(Vec<u8>),
    /// Do not check that text messages and close reasons (received and sent) are UTF-8.
    DisableUtf8Verification(bool),
    /// Global only; rejected by create with `E_INVALIDARG`.
    KeepaliveInterval(u32),
    /// Global only; rejected by create with `E_INVALIDARG`.
    SupportedVersions(Vec<u32>),
    /// wsengine extension: the 32-byte seed of the handle's ChaCha random generator,
    /// which makes masking keys and the handshake key. Without it a client seeds from
    /// the operating system (`getrandom`). For tests, and for hosts whose random
    /// source is outside this crate's reach (pass fresh random bytes from it).
    RandomSeed([u8; 32]),
    /// wsengine extension: the permessage-deflate compression level, 0 (stored) to 9
    /// (best); default 6. Used when a handshake agrees on permessage-deflate (feature
    /// `deflate`).
    DeflateLevel(u32),
    /// wsengine extension: zlib's memory level for permessage-deflate's compressor, 1
    /// to 9 (see [`DEFAULT_DEFLATE_MEM_LEVEL`]).
    DeflateMemLevel(u32),
    /// wsengine extension: messages shorter than this many bytes go uncompressed when
    /// permessage-deflate is in force; default 128. A message sent in fragments is
    /// compressed whatever its first fragment's size.
    DeflateThreshold(u32),
    /// wsengine extension: the opening handshake is an extended CONNECT (RFC 8441 over
    /// HTTP/2, RFC 9220 over HTTP/3) instead of HTTP/1.1's `Upgrade: websocket` (off,
    /// the default): a client's request is `:method CONNECT` and `:protocol websocket`
    /// with no key, a server checks that and answers `:status 200`, and the client
    /// checks no `Sec-WebSocket-Accept`. Field names are then in lower case, as HTTP/2
    /// and HTTP/3 write them. Framing and masking do not change.
    ExtendedConnect(bool),
}

impl Property {
    /// The Windows property type, or `None` for the wsengine extensions
    /// ([`Property::RandomSeed`], the deflate ones, [`Property::ExtendedConnect`]).
    #[must_use]
    pub fn property_type(&self) -> Option<PropertyType> {
        Some(match self {
            Self::ReceiveBufferSize(_) => PropertyType::ReceiveBufferSize,
            Self::SendBufferSize(_) => PropertyType::SendBufferSize,
            Self::DisableMasking(_) => PropertyType::DisableMasking,
            Self::AllocatedBuffer(_) => PropertyType::AllocatedBuffer,
            Self::DisableUtf8Verification(_) => PropertyType::DisableUtf8Verification,
            Self::KeepaliveInterval(_) => PropertyType::KeepaliveInterval,
            Self::SupportedVersions(_) => PropertyType::SupportedVersions,
            Self::RandomSeed(_)
            | Self::DeflateLevel(_)
            | Self::DeflateMemLevel(_)
            | Self::DeflateThreshold(_)
            | Self::ExtendedConnect(_) => {
                return None;
            }
        })
    }

    /// Builds a property from its Windows type and the raw value bytes (a ULONG or a
    /// BOOL is 4 little-endian bytes), checking the size as websocket.dll does. For
    /// bindings that receive properties as (type, bytes) pairs.
    pub fn from_raw(ty: u32, value: &[u8]) -> Result<Self> {
        let ty = PropertyType::from_u32(ty)?;
        let four = || -> Result<u32> {
            <[u8; 4]>::try_from(value).map(u32::from_le_bytes).map_err(|_| Error::PropertySize {
                property: ty.name(),
                size: value.len(),
                expected: 4,
            })
        };
        Ok(match ty {
            PropertyType::ReceiveBufferSize => Self::ReceiveBufferSize(four()?),
            PropertyType::SendBufferSize => Self::SendBufferSize(four()?),
            PropertyType::DisableMasking => Self::DisableMasking(four()? != 0),
            PropertyType::DisableUtf8Verification => Self::DisableUtf8Verification(four()? != 0),
            PropertyType::AllocatedBuffer => Self::AllocatedBuffer(value.to_vec()),
            PropertyType::KeepaliveInterval | PropertyType::SupportedVersions => {
                return Err(Error::GlobalOnlyProperty(ty.name()));
            }
        })
    }
}

/// What a handle's creation takes from its properties besides its [`Config`].
#[derive(Debug)]
pub(crate) struct Setup {
    /// `Property::AllocatedBuffer`.
    pub(crate) allocated: Option<Vec<u8>>,
    /// `Property::RandomSeed`.
    pub(crate) seed: Option<[u8; 32]>,
}

/// A handle's settled configuration.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) receive_buffer_size: usize,
    pub(crate) send_buffer_size: usize,
    pub(crate) disable_masking: bool,
    pub(crate) verify_utf8: bool,
    pub(crate) deflate_level: u32,
    pub(crate) deflate_mem_level: u32,
    pub(crate) deflate_threshold: usize,
    /// [`Property::ExtendedConnect`].
    pub(crate) extended_connect: bool,
}

impl Config {
    /// Checks the properties of a create call and fills in the role's defaults.
    #[cfg(test)]
    pub(crate) fn from_properties(role: Role, props: impl IntoIterator<Item = Property>) -> Result<Self> {
        Self::with_setup(role, props).map(|(config, _)| config)
    }

    /// Checks the properties of a create call and fills in the role's defaults; also
    /// returns what only creation uses: the caller's buffer and the random seed.
    pub(crate) fn with_setup(role: Role, props: impl IntoIterator<Item = Property>) -> Result<(Self, Setup)> {
        let mut rbs = None;
        let mut sbs = None;
        let mut masking = None;
        let mut utf8 = None;
        let mut allocated = None;
        let mut seed = None;
        let mut level = None;
        let mut mem_level = None;
        let mut threshold = None;
        let mut extended = None;
        fn once<T>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<()> {
            if slot.replace(v).is_some() { Err(Error::DuplicateProperty(name)) } else { Ok(()) }
        }
        fn range(name: &'static str, v: u32, min: u32) -> Result<u32> {
            if (min..=MAX_BUFFER_SIZE).contains(&v) {
                Ok(v)
            } else {
                Err(Error::PropertyOutOfRange {
                    property: name,
                    value: v.into(),
                    min: min.into(),
                    max: MAX_BUFFER_SIZE.into(),
                })
            }
        }
        for p in props {
            let name = match &p {
                Property::DeflateLevel(_) => "wsengine DeflateLevel",
                Property::DeflateMemLevel(_) => "wsengine DeflateMemLevel",
                Property::DeflateThreshold(_) => "wsengine DeflateThreshold",
                Property::ExtendedConnect(_) => "wsengine ExtendedConnect",
                p => p.property_type().map_or("wsengine RandomSeed", PropertyType::name),
            };
            match p {
                Property::ReceiveBufferSize(v) => once(&mut rbs, range(name, v, MIN_RECEIVE_BUFFER_SIZE)?, name)?,
                Property::SendBufferSize(v) => once(&mut sbs, range(name, v, MIN_SEND_BUFFER_SIZE)?, name)?,
                Property::DisableMasking(v) => once(&mut masking, v, name)?,
                Property::DisableUtf8Verification(v) => once(&mut utf8, v, name)?,
                Property::AllocatedBuffer(v) => once(&mut allocated, v, name)?,
                Property::RandomSeed(v) => once(&mut seed, v, name)?,
                Property::DeflateLevel(v) if v > 9 => {
                    return Err(Error::PropertyOutOfRange { property: name, value: v.into(), min: 0, max: 9 });
                }
                Property::DeflateLevel(v) => once(&mut level, v, name)?,
                Property::DeflateMemLevel(v) if !(1..=9).contains(&v) => {
                    return Err(Error::PropertyOutOfRange { property: name, value: v.into(), min: 1, max: 9 });
                }
                Property::DeflateMemLevel(v) => once(&mut mem_level, v, name)?,
                Property::DeflateThreshold(v) => once(&mut threshold, v, name)?,
                Property::ExtendedConnect(v) => once(&mut extended, v, name)?,
                Property::KeepaliveInterval(_) | Property::SupportedVersions(_) => {
                    return Err(Error::GlobalOnlyProperty(name));
                }
            }
        }
        let default_sbs = match role {
            Role::Client => DEFAULT_CLIENT_SEND_BUFFER_SIZE,
            Role::Server => DEFAULT_SERVER_SEND_BUFFER_SIZE,
        };
        let config = Self {
            receive_buffer_size: rbs.unwrap_or(DEFAULT_RECEIVE_BUFFER_SIZE) as usize,
            send_buffer_size: sbs.unwrap_or(default_sbs) as usize,
            disable_masking: masking.unwrap_or(false),
            verify_utf8: !utf8.unwrap_or(false),
            deflate_level: level.unwrap_or(DEFAULT_DEFLATE_LEVEL),
            deflate_mem_level: mem_level.unwrap_or(DEFAULT_DEFLATE_MEM_LEVEL),
            deflate_threshold: threshold.unwrap_or(DEFAULT_DEFLATE_THRESHOLD) as usize,
            extended_connect: extended.unwrap_or(false),
        };
        if let Some(buf) = &allocated {
            let needed = config.buffer_len();
            if buf.len() < needed {
                return Err(Error::AllocatedBufferTooSmall { len: buf.len(), needed });
            }
        }
        Ok((config, Setup { allocated, seed }))
    }

    /// The bytes a handle works in: receive + send + one control frame.
    pub(crate) fn buffer_len(&self) -> usize {
        self.receive_buffer_size + self.send_buffer_size + CONTROL_AREA_SIZE
    }
}

static KEEPALIVE_INTERVAL_MS: AtomicU32 = AtomicU32::new(DEFAULT_KEEPALIVE_INTERVAL_MS);

/// The value of a global property (`WebSocketGetGlobalProperty`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalProperty {
    /// The keep-alive interval in milliseconds that hosts should use to send
    /// unsolicited pongs. The engine keeps no time and sends nothing by itself.
    KeepaliveInterval(u32),
    /// The protocol versions this engine speaks: `[13]`.
    SupportedVersions(&'static [u32]),
}

impl GlobalProperty {
    /// The value as websocket.dll writes it into the caller's buffer: little-endian
    /// ULONGs.
    #[must_use]
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Self::KeepaliveInterval(ms) => ms.to_le_bytes().to_vec(),
            Self::SupportedVersions(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// Reads a global property (`WebSocketGetGlobalProperty`). Only
/// [`PropertyType::KeepaliveInterval`] and [`PropertyType::SupportedVersions`] are
/// global; the others fail with `E_INVALIDARG`.
pub fn global_property(ty: PropertyType) -> Result<GlobalProperty> {
    match ty {
        PropertyType::KeepaliveInterval => {
            Ok(GlobalProperty::KeepaliveInterval(KEEPALIVE_INTERVAL_MS.load(Ordering::Relaxed)))
        }
        PropertyType::SupportedVersions => Ok(GlobalProperty::SupportedVersions(SUPPORTED_VERSIONS)),
        other => Err(Error::NotAGlobalProperty(other.name())),
    }
}

/// Sets the process-wide keep-alive interval that [`global_property`] reports (what
/// the registry value `KeepaliveInterval` does on Windows). Values below 15000 ms are
/// raised to 15000; the value in force is returned.
pub fn set_keepalive_interval(ms: u32) -> u32 {
    let ms = ms.max(MIN_KEEPALIVE_INTERVAL_MS);
    KEEPALIVE_INTERVAL_MS.store(ms, Ordering::Relaxed);
    ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_role() {
        let c = Config::from_properties(Role::Client, []).unwrap();
        assert_eq!((c.receive_buffer_size, c.send_buffer_size), (4096, 4096));
        assert!(!c.disable_masking && c.verify_utf8);
        let s = Config::from_properties(Role::Server, []).unwrap();
        assert_eq!((s.receive_buffer_size, s.send_buffer_size), (4096, 16));
    }

    #[test]
    fn sizes_are_range_checked() {
        for (p, ok) in [
            (Property::ReceiveBufferSize(255), false),
            (Property::ReceiveBufferSize(256), true),
            (Property::ReceiveBufferSize(65536), true),
            (Property::ReceiveBufferSize(65537), false),
            (Property::SendBufferSize(15), false),
            (Property::SendBufferSize(16), true),
            (Property::SendBufferSize(65537), false),
        ] {
            let r = Config::from_properties(Role::Client, [p.clone()]);
            assert_eq!(r.is_ok(), ok, "{p:?}");
            if let Err(e) = r {
                assert_eq!(e.hresult(), 0x8007_0057);
            }
        }
    }

    #[test]
    fn global_only_and_duplicate_properties_are_rejected() {
        assert_eq!(
            Config::from_properties(Role::Server, [Property::KeepaliveInterval(1)]).unwrap_err(),
            Error::GlobalOnlyProperty("WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE")
        );
        assert!(matches!(
            Config::from_properties(Role::Server, [Property::DisableMasking(true), Property::DisableMasking(false)]),
            Err(Error::DuplicateProperty(_))
        ));
    }

    #[test]
    fn allocated_buffer_must_hold_both_buffers_and_a_control_frame() {
        let small = Property::AllocatedBuffer(vec![0; 4096 + 16 + 143]);
        assert_eq!(
            Config::from_properties(Role::Server, [small]).unwrap_err(),
            Error::AllocatedBufferTooSmall { len: 4255, needed: 4256 }
        );
        let exact = Property::AllocatedBuffer(vec![0; 4096 + 16 + 144]);
        assert!(Config::from_properties(Role::Server, [exact]).is_ok());
    }

    #[test]
    fn raw_properties_check_their_size() {
        assert_eq!(Property::from_raw(0, &512u32.to_le_bytes()), Ok(Property::ReceiveBufferSize(512)));
        assert_eq!(Property::from_raw(2, &1u32.to_le_bytes()), Ok(Property::DisableMasking(true)));
        assert!(matches!(Property::from_raw(0, &[1, 2]), Err(Error::PropertySize { expected: 4, .. })));
        assert_eq!(Property::from_raw(9, &[]), Err(Error::UnknownPropertyType(9)));
        assert!(matches!(Property::from_raw(6, &[]), Err(Error::GlobalOnlyProperty(_))));
    }

    #[test]
    fn global_properties() {
        assert_eq!(global_property(PropertyType::SupportedVersions), Ok(GlobalProperty::SupportedVersions(&[13])));
        assert_eq!(GlobalProperty::SupportedVersions(&[13]).to_le_bytes(), vec![13, 0, 0, 0]);
        assert!(matches!(global_property(PropertyType::ReceiveBufferSize), Err(Error::NotAGlobalProperty(_))));
        assert_eq!(set_keepalive_interval(1000), 15_000);
        assert_eq!(global_property(PropertyType::KeepaliveInterval), Ok(GlobalProperty::KeepaliveInterval(15_000)));
        assert_eq!(set_keepalive_interval(DEFAULT_KEEPALIVE_INTERVAL_MS), 30_000);
    }
}
