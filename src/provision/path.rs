//! Request path → the vendor file it names.
//!
//! Only a single path segment made of `[A-Za-z0-9._-]` after percent-decoding
//! can match, and only exact vendor patterns do; anything else is "not
//! found". A decoded `/`, `\` or NUL refuses the whole name, so traversal
//! cannot be spelled.

/// Longest file name considered; vendor names are far shorter.
const MAX_NAME: usize = 128;

/// The file name a request path asks for, or `None` if it cannot be one.
pub fn file_name(path: &str) -> Option<String> {
    let raw = path.strip_prefix('/')?;
    if raw.is_empty() || raw.len() > MAX_NAME * 3 || raw.contains('/') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            let v = u8::from_str_radix(hex, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let ok = out.len() <= MAX_NAME
        && out.first() != Some(&b'.')
        && out
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b));
    if !ok {
        return None;
    }
    String::from_utf8(out).ok()
}

pub use crate::vendors::{Match, matches};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            file_name("/805ec0123456.cfg").as_deref(),
            Some("805ec0123456.cfg")
        );
        assert_eq!(
            file_name("/805ec0123456%2ecfg").as_deref(),
            Some("805ec0123456.cfg")
        );
        for bad in [
            "/",
            "",
            "805ec0123456.cfg",
            "/../etc/passwd",
            "/%2e%2e%2fetc%2fpasswd",
            "/%2e%2e%2f",
            "/..",
            "/.hidden",
            "/a%5cb",
            "/a%00b",
            "/a%2",
            "/a%zz",
            "/a%c3%a9",
            "//805ec0123456.cfg",
            "/dir/805ec0123456.cfg",
            "/a b",
        ] {
            assert_eq!(file_name(bad), None, "{bad}");
        }
        assert_eq!(file_name(&format!("/{}", "a".repeat(500))), None);
    }
}
