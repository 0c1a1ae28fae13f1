//! Identifiers shaped like the real services' ones.
//!
//! Clients never parse these, but some log or assert on the prefixes, so the prefixes match reality.

use uuid::Uuid;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(Uuid::new_v4().as_bytes());
    }
    out.truncate(n);
    out
}

fn hex(n: usize) -> String {
    random_bytes(n.div_ceil(2))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..n]
        .to_owned()
}

fn base62(n: usize) -> String {
    random_bytes(n)
        .iter()
        .map(|b| char::from(BASE62[usize::from(*b) % BASE62.len()]))
        .collect()
}

/// `msg_01` + 22 base62 characters, like the Messages API.
pub(crate) fn message_id() -> String {
    format!("msg_01{}", base62(22))
}

/// `toolu_` + 24 hex digits.
pub(crate) fn tool_use_id() -> String {
    format!("toolu_{}", hex(24))
}

/// `req_` + 24 base62 characters, sent as `request-id` and in error bodies.
pub(crate) fn request_id() -> String {
    format!("req_{}", base62(24))
}

/// `chatcmpl-` + 29 base62 characters.
pub(crate) fn chat_completion_id() -> String {
    format!("chatcmpl-{}", base62(29))
}

/// `call_` + 24 base62 characters.
pub(crate) fn tool_call_id() -> String {
    format!("call_{}", base62(24))
}

/// A base64 string like a real thinking signature (clients must echo it back untouched).
pub(crate) fn thinking_signature() -> String {
    base64(&random_bytes(96))
}

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = tool_use_id();
        assert_eq!(id.len(), "toolu_".len() + 24);
        assert!(id["toolu_".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert!(message_id().starts_with("msg_01"));
        assert_ne!(tool_use_id(), tool_use_id());
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
