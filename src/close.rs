//! Close status codes and close-frame bodies (RFC 6455 §5.5.1, §7.4).

use crate::action::SendBuffer;
use crate::error::{Error, Result};
use crate::utf8;

/// The longest close reason, in bytes: a control payload holds 125 bytes, 2 go to the
/// status code (`WEB_SOCKET_MAX_CLOSE_REASON_LENGTH`).
pub const MAX_CLOSE_REASON_LENGTH: usize = 123;

/// A close status code (`WEB_SOCKET_CLOSE_STATUS`). Total over `u16`: any value can be
/// held, and the predicates say what may be sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseStatus(pub u16);

impl CloseStatus {
    /// 1000: normal closure.
    pub const SUCCESS: Self = Self(1000);
    /// 1001: the endpoint is going away.
    pub const ENDPOINT_UNAVAILABLE: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: data of a type the endpoint cannot accept.
    pub const INVALID_DATA_TYPE: Self = Self(1003);
    /// 1005: the close frame carried no status (reporting only, never on the wire).
    pub const EMPTY: Self = Self(1005);
    /// 1006: the connection ended without a close frame (reporting only).
    pub const ABORTED: Self = Self(1006);
    /// 1007: message data does not fit its type (invalid UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: message too big.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const UNSUPPORTED_EXTENSIONS: Self = Self(1010);
    /// 1011: unexpected server condition.
    pub const SERVER_ERROR: Self = Self(1011);
    /// 1015: TLS handshake failure (reporting only).
    pub const SECURE_HANDSHAKE_ERROR: Self = Self(1015);

    /// True for the codes only reported locally and never put on the wire: 1005, 1006
    /// and 1015 (RFC 6455 §7.4.1).
    #[must_use]
    pub const fn is_reporting_only(self) -> bool {
        matches!(self.0, 1005 | 1006 | 1015)
    }

    /// True when a received close frame may carry this code (RFC 6455 §7.4): 1000-1003,
    /// 1007-1011 and the registered 1012-1014, and 3000-4999 for libraries and
    /// applications. Everything else fails the connection.
    #[must_use]
    pub const fn is_valid_received(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// True when [`Handle::send`](crate::Handle::send) accepts this code: not below
    /// 1000 and not reporting-only. Other values pass through unchecked, as
    /// websocket.dll does.
    #[must_use]
    pub const fn is_sendable(self) -> bool {
        self.0 >= 1000 && !self.is_reporting_only()
    }
}

impl CloseStatus {
    /// The close that answers a peer's close of this status and `reason` (what
    /// [`Action::IndicateReceiveComplete`](crate::Action::IndicateReceiveComplete) carries
    /// for [`BufferType::Close`](crate::BufferType::Close)): the same status and reason, as
    /// RFC 6455 §5.5.1 suggests, or an empty close (`None`) when the peer's had no body
    /// (1005, which is never sent). Pass it to `send(BufferType::Close, ..)`.
    #[must_use]
    pub fn reply<B: for<'a> From<&'a [u8]>>(self, reason: &[u8]) -> Option<SendBuffer<B>> {
        (self != Self::EMPTY).then(|| SendBuffer::Close { status: self, reason: B::from(reason) })
    }
}

impl From<u16> for CloseStatus {
    fn from(v: u16) -> Self {
        Self(v)
    }
}

impl From<CloseStatus> for u16 {
    fn from(v: CloseStatus) -> Self {
        v.0
    }
}

/// Checks an outgoing close status and reason: a sendable status, a reason of at most
/// 123 bytes, UTF-8 unless `verify_utf8` is off.
pub(crate) fn check_outgoing(status: CloseStatus, reason: &[u8], verify_utf8: bool) -> Result<()> {
    if !status.is_sendable() {
        return Err(Error::ReservedCloseStatus(status.0));
    }
    if reason.len() > MAX_CLOSE_REASON_LENGTH {
        return Err(Error::CloseReasonTooLong(reason.len()));
    }
    if verify_utf8 && !utf8::is_valid(reason) {
        return Err(Error::InvalidOutgoingUtf8);
    }
    Ok(())
}

/// Parses a received close body: empty means 1005 with no reason; otherwise a valid
/// status code followed by a UTF-8 reason (checked unless `verify_utf8` is off).
pub(crate) fn parse_body(body: &[u8], verify_utf8: bool) -> Result<(CloseStatus, &[u8])> {
    match body {
        [] => Ok((CloseStatus::EMPTY, &[])),
        [_] => Err(Error::CloseBodyTooShort),
        [hi, lo, reason @ ..] => {
            let status = CloseStatus(u16::from_be_bytes([*hi, *lo]));
            if !status.is_valid_received() {
                return Err(Error::InvalidCloseStatus(status.0));
            }
            if verify_utf8 && !utf8::is_valid(reason) {
                return Err(Error::InvalidCloseReason);
            }
            Ok((status, reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_is_answered_with_its_status_and_reason_or_empty() {
        assert_eq!(
            CloseStatus(4001).reply::<Vec<u8>>(b"bye"),
            Some(SendBuffer::Close { status: CloseStatus(4001), reason: b"bye".to_vec() })
        );
        assert_eq!(CloseStatus::EMPTY.reply::<Vec<u8>>(b""), None);
        // Every status a peer can send comes back as one this side can send.
        for code in (0..=u16::MAX).map(CloseStatus).filter(|s| s.is_valid_received()) {
            let Some(SendBuffer::Close { status, .. }) = code.reply::<Vec<u8>>(b"") else { panic!("{code:?}") };
            assert!(status.is_sendable(), "{code:?}");
        }
    }

    #[test]
    fn received_codes_follow_rfc6455_section_7_4() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            assert!(CloseStatus(ok).is_valid_received(), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!CloseStatus(bad).is_valid_received(), "{bad}");
        }
    }

    #[test]
    fn sendable_codes_exclude_reporting_only_and_below_1000() {
        for bad in [0, 999, 1005, 1006, 1015] {
            assert!(!CloseStatus(bad).is_sendable(), "{bad}");
        }
        for ok in [1000, 1004, 2999, 4999, 65535] {
            assert!(CloseStatus(ok).is_sendable(), "{ok}");
        }
    }

    #[test]
    fn close_bodies_parse() {
        assert_eq!(parse_body(&[], true), Ok((CloseStatus::EMPTY, &[][..])));
        assert_eq!(parse_body(&[3], true), Err(Error::CloseBodyTooShort));
        assert_eq!(parse_body(&[0x03, 0xe8, b'o', b'k'], true), Ok((CloseStatus::SUCCESS, &b"ok"[..])));
        assert_eq!(parse_body(&[0x03, 0xed], true), Err(Error::InvalidCloseStatus(1005)));
        assert_eq!(parse_body(&[0x03, 0xe8, 0xff], true), Err(Error::InvalidCloseReason));
        assert_eq!(parse_body(&[0x03, 0xe8, 0xff], false), Ok((CloseStatus::SUCCESS, &[0xff][..])));
    }

    #[test]
    fn outgoing_close_checks() {
        assert_eq!(check_outgoing(CloseStatus(1005), b"", true), Err(Error::ReservedCloseStatus(1005)));
        assert_eq!(check_outgoing(CloseStatus(1000), &[b'a'; 124], true), Err(Error::CloseReasonTooLong(124)));
        assert_eq!(check_outgoing(CloseStatus(1000), &[0xc3], true), Err(Error::InvalidOutgoingUtf8));
        assert_eq!(check_outgoing(CloseStatus(1000), &[0xc3], false), Ok(()));
        assert_eq!(check_outgoing(CloseStatus(1000), &[b'a'; 123], true), Ok(()));
    }
}
