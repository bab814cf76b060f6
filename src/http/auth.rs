//! HTTP authentication for provisioning requests: Digest (RFC 7616, MD5 and
//! SHA-256, `qop=auth`) and Basic, against the `[[policy.credentials]]` the
//! admin configured. Several credentials are valid at once so a fleet can be
//! moved from an old password to a new one without a flag day.
//!
//! Nonces are stateless: `hex(unix seconds) || hex(HMAC-SHA256(key, ...))`,
//! so nothing is stored per client (no table a flood could grow) and a
//! restart with the same key (kept in the data directory) keeps outstanding
//! nonces valid. An HMAC that does not verify is a forged nonce; one that
//! verifies but is older than the lifetime is stale and gets a fresh
//! challenge with `stale=true`, so the phone retries without asking anyone
//! for a password.
//!
//! Replays: the one thing kept per client is which nonce counts (`nc`) each
//! (nonce, cnonce, user, uri, algorithm) has used, in two time buckets of
//! one nonce lifetime each (a nonce is only accepted within its lifetime,
//! so older entries are useless) and at most [`MAX_TRACKED`] entries per
//! bucket. Only requests whose response verified are tracked, so only a
//! credential holder can fill it; if one does, every older nonce becomes
//! stale rather than replayable. A captured Authorization header replayed
//! within the nonce lifetime is therefore refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

pub use crate::config::AuthScheme;
pub use crate::domain::secret::Credential;
pub use crate::keys::ServerKey;

/// Bytes of the HMAC kept in a nonce: 128 bits cannot be guessed.
const NONCE_TAG_LEN: usize = 16;
/// Longest Authorization header parsed; longer ones are refused unparsed.
const MAX_AUTHORIZATION: usize = 4096;
/// Digest uses tracked per time bucket (two buckets): ~50 bytes each, so
/// a few MiB at most; a boot storm of 10,000 phones × 3 files fits.
const MAX_TRACKED: usize = 65_536;

/// What the Authorization header amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Good credentials.
    Ok,
    /// No (usable) credentials: challenge, not a miss. Phones always try
    /// without credentials first.
    Missing,
    /// A correct response to a nonce past its lifetime: challenge again
    /// with `stale=true`, not a miss.
    Stale,
    /// Wrong password, unknown user, forged nonce, unparsable header: a
    /// challenge like any other, but counted as a miss.
    Bad(&'static str),
}

/// Checks credentials and makes challenges.
#[derive(Debug, Clone)]
pub struct Authenticator {
    scheme: AuthScheme,
    realm: String,
    credentials: Vec<Credential>,
    key: ServerKey,
    nonce_lifetime: Duration,
    /// Nonce counts already used (shared by clones).
    replays: std::sync::Arc<ReplayGuard>,
}

/// The request facts Digest covers.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub method: &'a str,
    /// The request target as sent (path and query).
    pub uri: &'a str,
    pub authorization: Option<&'a [u8]>,
}

impl Authenticator {
    pub fn new(
        scheme: AuthScheme,
        realm: String,
        credentials: Vec<Credential>,
        key: ServerKey,
        nonce_lifetime: Duration,
    ) -> Authenticator {
        Authenticator {
            scheme,
            realm,
            credentials,
            key,
            nonce_lifetime,
            replays: std::sync::Arc::new(ReplayGuard::new(nonce_lifetime)),
        }
    }

    /// Checks one request's Authorization header against the configured
    /// credentials.
    pub fn check(&self, req: &Presented<'_>) -> Verdict {
        self.check_as(req, &self.credentials)
    }

    /// The server key (nonces, per-device credentials).
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// Checks one request's Authorization header against `credentials`
    /// (e.g. one phone's own).
    pub fn check_as(&self, req: &Presented<'_>, credentials: &[Credential]) -> Verdict {
        let Some(raw) = req.authorization else {
            return Verdict::Missing;
        };
        if raw.len() > MAX_AUTHORIZATION {
            return Verdict::Bad("authorization header too long");
        }
        let Ok(value) = std::str::from_utf8(raw) else {
            return Verdict::Bad("authorization header not UTF-8");
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        if scheme.eq_ignore_ascii_case("digest") && self.scheme.digest() {
            self.check_digest(req, rest, credentials)
        } else if scheme.eq_ignore_ascii_case("basic") && self.scheme.basic() {
            check_basic(rest.trim(), credentials)
        } else {
            Verdict::Bad("authentication scheme not accepted")
        }
    }

    fn check_digest(
        &self,
        req: &Presented<'_>,
        params: &str,
        credentials: &[Credential],
    ) -> Verdict {
        let Some(p) = DigestParams::parse(params) else {
            return Verdict::Bad("digest parameters unparsable");
        };
        let Some(alg) = Algorithm::from_param(p.algorithm) else {
            return Verdict::Bad("digest algorithm not supported");
        };
        if p.realm != self.realm {
            return Verdict::Bad("digest realm differs");
        }
        if p.qop != "auth" || p.nc.is_empty() || p.cnonce.is_empty() {
            return Verdict::Bad("digest without qop=auth");
        }
        if p.uri != req.uri {
            return Verdict::Bad("digest uri differs from the request");
        }
        let Some(nc) = parse_nc(p.nc) else {
            return Verdict::Bad("digest nc is not 8 hex digits");
        };
        let Some((made, age)) = self.nonce_age(p.nonce) else {
            return Verdict::Bad("forged or unknown nonce");
        };
        let fresh = age <= self.nonce_lifetime;
        let ha2 = alg.hash(&format!("{}:{}", req.method, p.uri));
        let mut ok = subtle::Choice::from(0);
        for c in credentials.iter().filter(|c| c.user == p.username) {
            let ha1 = alg.hash(&format!("{}:{}:{}", c.user, self.realm, c.password));
            let expected = alg.hash(&format!(
                "{ha1}:{}:{}:{}:{}:{ha2}",
                p.nonce, p.nc, p.cnonce, p.qop
            ));
            ok |= expected
                .as_bytes()
                .ct_eq(p.response.to_ascii_lowercase().as_bytes());
        }
        match (bool::from(ok), fresh) {
            (true, true) => {
                let id = self.key.tag(&[
                    b"autoprov digest use",
                    p.nonce.as_bytes(),
                    p.cnonce.as_bytes(),
                    p.username.as_bytes(),
                    p.uri.as_bytes(),
                    alg.name().as_bytes(),
                ]);
                match self
                    .replays
                    .admit(id, nc, made, unix_secs(SystemTime::now()))
                {
                    Use::First => Verdict::Ok,
                    Use::Replayed => Verdict::Bad("digest nonce count replayed"),
                    Use::Forgotten => Verdict::Stale,
                }
            }
            (true, false) => Verdict::Stale,
            (false, _) => Verdict::Bad("wrong digest response"),
        }
    }

    /// The `WWW-Authenticate` values for a 401, strongest first (RFC 7616
    /// §3.7: SHA-256 before MD5).
    pub fn challenges(&self, stale: bool) -> Vec<String> {
        let mut out = Vec::new();
        if self.scheme.digest() {
            let nonce = self.nonce(SystemTime::now());
            let stale = if stale { ", stale=true" } else { "" };
            for alg in ["SHA-256", "MD5"] {
                out.push(format!(
                    "Digest realm=\"{}\", qop=\"auth\", algorithm={alg}, nonce=\"{nonce}\"{stale}",
                    self.realm
                ));
            }
        }
        if self.scheme.basic() {
            out.push(format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm));
        }
        out
    }

    /// `hex(seconds) + hex(tag)` for the given time.
    pub fn nonce(&self, at: SystemTime) -> String {
        let secs = unix_secs(at);
        let tag = self.nonce_tag(secs);
        format!("{secs:016x}{}", hex::encode(tag))
    }

    fn nonce_tag(&self, secs: u64) -> [u8; NONCE_TAG_LEN] {
        let full = self.key.tag(&[
            b"autoprov digest nonce",
            self.realm.as_bytes(),
            &secs.to_be_bytes(),
        ]);
        let mut tag = [0u8; NONCE_TAG_LEN];
        tag.copy_from_slice(&full[..NONCE_TAG_LEN]);
        tag
    }

    /// When a nonce this server made was made (unix seconds) and how old it
    /// is; `None` for anything it did not make. A nonce from the future
    /// (clock stepped back) counts as age 0.
    fn nonce_age(&self, nonce: &str) -> Option<(u64, Duration)> {
        if nonce.len() != 16 + 2 * NONCE_TAG_LEN || !nonce.is_ascii() {
            return None;
        }
        let (secs_hex, tag_hex) = nonce.split_at(16);
        let secs = u64::from_str_radix(secs_hex, 16).ok()?;
        let tag = hex::decode(tag_hex).ok()?;
        if !bool::from(tag.as_slice().ct_eq(&self.nonce_tag(secs))) {
            return None;
        }
        let made = UNIX_EPOCH.checked_add(Duration::from_secs(secs))?;
        Some((
            secs,
            SystemTime::now().duration_since(made).unwrap_or_default(),
        ))
    }
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `nc`: exactly 8 hex digits (RFC 7616 §3.4), never 0.
fn parse_nc(nc: &str) -> Option<u64> {
    if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(nc, 16).ok().filter(|n| *n > 0)
}

/// What the replay guard made of one verified Digest response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// This nonce count was not used before: accept.
    First,
    /// Seen before: a replay.
    Replayed,
    /// The nonce is older than what the guard still remembers (it had to
    /// forget early): ask for a fresh nonce with `stale=true`.
    Forgotten,
}

/// The nonce counts used per Digest "conversation", in two buckets that
/// each cover one nonce lifetime. See the module comment.
#[derive(Debug)]
struct ReplayGuard {
    lifetime: u64,
    state: std::sync::Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    /// When `current` started (unix seconds).
    started: u64,
    current: std::collections::HashMap<[u8; 16], NcWindow>,
    previous: std::collections::HashMap<[u8; 16], NcWindow>,
    /// Nonces made at or before this second are no longer tracked.
    forgot_until: Option<u64>,
}

/// The highest `nc` seen and which of the 63 below it were seen too, so
/// requests sent in parallel on one nonce may arrive out of order.
#[derive(Debug, Clone, Copy, Default)]
struct NcWindow {
    highest: u64,
    seen: u64,
}

impl NcWindow {
    /// Records `nc`; false if it was seen before or is too far behind.
    fn admit(&mut self, nc: u64) -> bool {
        if nc > self.highest {
            let shift = nc - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = nc;
            return true;
        }
        let back = self.highest - nc;
        if back >= 64 || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

impl ReplayGuard {
    fn new(lifetime: Duration) -> ReplayGuard {
        ReplayGuard {
            lifetime: lifetime.as_secs().max(1),
            state: std::sync::Mutex::new(ReplayState::default()),
        }
    }

    /// Records use `nc` of conversation `id` on a nonce made at `made`.
    fn admit(&self, id: [u8; 32], nc: u64, made: u64, now: u64) -> Use {
        let mut key = [0u8; 16];
        key.copy_from_slice(&id[..16]);
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if now >= st.started.saturating_add(2 * self.lifetime) {
            st.current.clear();
            st.previous.clear();
            st.started = now;
        } else if now >= st.started.saturating_add(self.lifetime) {
            st.previous = std::mem::take(&mut st.current);
            st.started = now;
        }
        if st.forgot_until.is_some_and(|t| made <= t) {
            return Use::Forgotten;
        }
        let mut window = match st.previous.remove(&key) {
            Some(w) => w,
            None => st.current.get(&key).copied().unwrap_or_default(),
        };
        if !st.current.contains_key(&key) && st.current.len() >= MAX_TRACKED {
            // Full: forget everything, and with it every nonce made so far.
            st.current.clear();
            st.previous.clear();
            st.forgot_until = Some(now);
            return Use::Forgotten;
        }
        let first = window.admit(nc);
        st.current.insert(key, window);
        if first { Use::First } else { Use::Replayed }
    }
}

/// Basic credentials: `base64(user:password)`.
fn check_basic(b64: &str, credentials: &[Credential]) -> Verdict {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        return Verdict::Bad("basic credentials not base64");
    };
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return Verdict::Bad("basic credentials without a colon");
    };
    let (user, password) = (&bytes[..colon], &bytes[colon + 1..]);
    // Compare against every credential so timing does not tell which
    // user names exist.
    let mut ok = subtle::Choice::from(0);
    for c in credentials {
        ok |= c.user.as_bytes().ct_eq(user) & c.password.as_bytes().ct_eq(password);
    }
    if bool::from(ok) {
        Verdict::Ok
    } else {
        Verdict::Bad("wrong basic credentials")
    }
}

#[derive(Debug, Clone, Copy)]
enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// RFC 7616: absent means MD5. The `-sess` variants are not offered.
    fn from_param(p: Option<&str>) -> Option<Algorithm> {
        match p {
            None => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, s: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(s.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(s.as_bytes())),
        }
    }
}

/// The parameters of a Digest Authorization header that are checked.
#[derive(Debug, Default)]
struct DigestParams<'a> {
    username: String,
    realm: String,
    nonce: &'a str,
    uri: String,
    response: &'a str,
    algorithm: Option<&'a str>,
    qop: &'a str,
    nc: &'a str,
    cnonce: &'a str,
}

impl<'a> DigestParams<'a> {
    /// Parses `name=value, name="quoted \" value", ...`. `None` on any
    /// syntax error or a missing required parameter.
    fn parse(s: &'a str) -> Option<DigestParams<'a>> {
        let mut p = DigestParams::default();
        let (mut have_user, mut have_realm, mut have_uri) = (false, false, false);
        let mut rest = s.trim_start();
        while !rest.is_empty() {
            let (name, value, after) = param(rest)?;
            match name.to_ascii_lowercase().as_str() {
                "username" => (p.username, have_user) = (value.unescaped(), true),
                "realm" => (p.realm, have_realm) = (value.unescaped(), true),
                "uri" => (p.uri, have_uri) = (value.unescaped(), true),
                "nonce" => p.nonce = value.raw,
                "response" => p.response = value.raw,
                "algorithm" => p.algorithm = Some(value.raw),
                "qop" => p.qop = value.raw,
                "nc" => p.nc = value.raw,
                "cnonce" => p.cnonce = value.raw,
                _ => {}
            }
            rest = after;
        }
        (have_user && have_realm && have_uri && !p.nonce.is_empty() && !p.response.is_empty())
            .then_some(p)
    }
}

/// A parameter value: the text between the quotes (escapes still in) or
/// the bare token.
struct Value<'a> {
    raw: &'a str,
    quoted: bool,
}

impl Value<'_> {
    fn unescaped(&self) -> String {
        if !self.quoted {
            return self.raw.to_string();
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        out
    }
}

/// One `name=value` and the text after it (past the comma).
fn param(s: &str) -> Option<(&str, Value<'_>, &str)> {
    let (name, rest) = s.split_once('=')?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let rest = rest.trim_start();
    let (value, after) = if let Some(inner) = rest.strip_prefix('"') {
        let end = closing_quote(inner)?;
        let after = &inner[end + 1..];
        (
            Value {
                raw: &inner[..end],
                quoted: true,
            },
            after,
        )
    } else {
        let end = rest.find(',').unwrap_or(rest.len());
        (
            Value {
                raw: rest[..end].trim(),
                quoted: false,
            },
            &rest[end..],
        )
    };
    let after = after.trim_start();
    let after = match after.strip_prefix(',') {
        Some(a) => a.trim_start(),
        None if after.is_empty() => after,
        None => return None,
    };
    Some((name, value, after))
}

/// Byte index of the quote that ends a quoted string (escapes skipped).
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(scheme: AuthScheme) -> Authenticator {
        Authenticator::new(
            scheme,
            "autoprov".into(),
            vec![
                Credential {
                    user: "prov".into(),
                    password: "old-pass".into(),
                },
                Credential {
                    user: "prov".into(),
                    password: "new-pass".into(),
                },
            ],
            ServerKey::from_bytes([7; 32]),
            Duration::from_secs(300),
        )
    }

    /// A first use (nc 1) with a cnonce of its own per password, so the
    /// replay guard sees separate conversations.
    fn digest_header(a: &Authenticator, nonce: &str, password: &str, alg: Algorithm) -> String {
        let ha1 = alg.hash(&format!("prov:autoprov:{password}"));
        let ha2 = alg.hash("GET:/x.cfg");
        let resp = alg.hash(&format!("{ha1}:{nonce}:00000001:{password}:auth:{ha2}"));
        let name = match alg {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        };
        let _ = a;
        format!(
            "Digest username=\"prov\", realm=\"autoprov\", nonce=\"{nonce}\", uri=\"/x.cfg\", \
             algorithm={name}, response=\"{resp}\", qop=auth, nc=00000001, cnonce=\"{password}\""
        )
    }

    fn check(a: &Authenticator, h: &str) -> Verdict {
        a.check(&Presented {
            method: "GET",
            uri: "/x.cfg",
            authorization: Some(h.as_bytes()),
        })
    }

    #[test]
    fn digest_good_bad_stale_forged() {
        let a = auth(AuthScheme::Digest);
        let nonce = a.nonce(SystemTime::now());
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            for pw in ["old-pass", "new-pass"] {
                assert_eq!(check(&a, &digest_header(&a, &nonce, pw, alg)), Verdict::Ok);
            }
            assert!(matches!(
                check(&a, &digest_header(&a, &nonce, "nope", alg)),
                Verdict::Bad(_)
            ));
        }
        let old = a.nonce(SystemTime::now() - Duration::from_secs(301));
        let h = digest_header(&a, &old, "new-pass", Algorithm::Md5);
        assert_eq!(check(&a, &h), Verdict::Stale);
        let forged = format!("{}{}", &nonce[..16], "0".repeat(32));
        let h = digest_header(&a, &forged, "new-pass", Algorithm::Md5);
        assert!(matches!(check(&a, &h), Verdict::Bad(_)));
        // Basic is not accepted in digest mode.
        assert!(matches!(
            check(&a, "Basic cHJvdjpuZXctcGFzcw=="),
            Verdict::Bad(_)
        ));
    }

    fn header_nc(a: &Authenticator, nonce: &str, nc: &str, cnonce: &str) -> String {
        let alg = Algorithm::Sha256;
        let ha1 = alg.hash("prov:autoprov:new-pass");
        let ha2 = alg.hash("GET:/x.cfg");
        let resp = alg.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        let _ = a;
        format!(
            "Digest username=\"prov\", realm=\"autoprov\", nonce=\"{nonce}\", uri=\"/x.cfg\", \
             algorithm=SHA-256, response=\"{resp}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
        )
    }

    #[test]
    fn replayed_nonce_counts_are_refused() {
        let a = auth(AuthScheme::Digest);
        let nonce = a.nonce(SystemTime::now());
        let first = header_nc(&a, &nonce, "00000001", "c1");
        assert_eq!(check(&a, &first), Verdict::Ok);
        // The same header again: a replay.
        assert!(matches!(check(&a, &first), Verdict::Bad(_)));
        // A clone (the policy is shared) remembers it too.
        assert!(matches!(check(&a.clone(), &first), Verdict::Bad(_)));
        // The next count, and one sent in parallel arriving late, are fine once.
        for nc in ["00000003", "00000002"] {
            let h = header_nc(&a, &nonce, nc, "c1");
            assert_eq!(check(&a, &h), Verdict::Ok, "{nc}");
            assert!(matches!(check(&a, &h), Verdict::Bad(_)), "{nc}");
        }
        // Another cnonce is another conversation; nc 0 and junk are refused.
        assert_eq!(
            check(&a, &header_nc(&a, &nonce, "00000001", "c2")),
            Verdict::Ok
        );
        for nc in ["00000000", "1", "0000000g"] {
            assert!(
                matches!(check(&a, &header_nc(&a, &nonce, nc, "c3")), Verdict::Bad(_)),
                "{nc}"
            );
        }
    }

    #[test]
    fn replay_guard_buckets_and_overflow() {
        let g = ReplayGuard::new(Duration::from_secs(300));
        let id = |n: u32| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&n.to_be_bytes());
            id
        };
        assert_eq!(g.admit(id(1), 1, 1000, 1000), Use::First);
        // Still remembered one lifetime later (moved to the old bucket)...
        assert_eq!(g.admit(id(1), 1, 1000, 1299), Use::Replayed);
        assert_eq!(g.admit(id(1), 1, 1000, 1301), Use::Replayed);
        // ... and a count far behind the highest is refused.
        assert_eq!(g.admit(id(1), 100, 1000, 1302), Use::First);
        assert_eq!(g.admit(id(1), 2, 1000, 1302), Use::Replayed);
        // Full: everything made so far is forgotten and turns stale.
        for n in 2..=(MAX_TRACKED as u32) {
            assert_eq!(g.admit(id(n), 1, 1302, 1302), Use::First);
        }
        assert_eq!(g.admit(id(u32::MAX), 1, 1302, 1302), Use::Forgotten);
        assert_eq!(g.admit(id(1), 1, 1000, 1303), Use::Forgotten);
        assert_eq!(g.admit(id(7), 1, 1303, 1303), Use::First);
    }

    #[test]
    fn basic_and_garbage() {
        let a = auth(AuthScheme::Any);
        assert_eq!(check(&a, "Basic cHJvdjpuZXctcGFzcw=="), Verdict::Ok);
        assert_eq!(check(&a, "basic cHJvdjpvbGQtcGFzcw=="), Verdict::Ok);
        for bad in [
            "Basic cHJvdjp3cm9uZw==",
            "Basic !!!",
            "Basic",
            "Digest",
            "Digest username=",
            "Digest username=\"unterminated",
            "Digest a=b c=d",
            "Bearer x",
            "",
            "Digest username=\"prov\", realm=\"autoprov\", nonce=\"zz\", uri=\"/x.cfg\", response=\"1\", qop=auth, nc=1, cnonce=x",
        ] {
            assert!(matches!(check(&a, bad), Verdict::Bad(_)), "{bad}");
        }
        assert!(matches!(
            a.check(&Presented {
                method: "GET",
                uri: "/",
                authorization: Some(&[0xff, 0xfe]),
            }),
            Verdict::Bad(_)
        ));
        assert_eq!(
            a.check(&Presented {
                method: "GET",
                uri: "/",
                authorization: None
            }),
            Verdict::Missing
        );
        assert_eq!(a.challenges(false).len(), 3);
        assert!(a.challenges(true)[0].ends_with("stale=true"));
    }

    #[test]
    fn quoted_params() {
        let p = DigestParams::parse(
            r#"username="a\"b", realm="r", uri="/u", nonce="n", response="r", x=1"#,
        )
        .unwrap();
        assert_eq!(p.username, "a\"b");
        assert!(DigestParams::parse(r#"username="a" realm="r""#).is_none());
    }
}
