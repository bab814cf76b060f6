//! Secrets: SIP passwords generated with a CSPRNG, web passwords hashed.
//!
//! Web password hashing cost is chosen for bulk imports: argon2id with a small
//! memory cost (see [`IMPORT_PARAMS`]), run in parallel by the import. The PHC
//! string records the parameters, so a login can rehash at a higher cost later.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Length of generated SIP passwords (docs/reference/csv.md asks for at least 16).
pub const SIP_PASSWORD_LEN: usize = 20;

/// argon2id with 1 MiB, 1 pass, 1 lane: ~0.4 ms per hash on one core here,
/// so 100,000 web passwords hash in about 20 s on two cores (the import hashes
/// in parallel), where OWASP's interactive-login settings (19 MiB, 2 passes)
/// would take over half an hour. Each guess still costs an attacker a MiB of
/// memory and ~1000x a plain SHA-256. The PHC string records the parameters,
/// so a login path can rehash at full cost on first use.
pub const IMPORT_PARAMS: (u32, u32, u32) = (1024, 1, 1);

/// A fresh random SIP password from the OS-seeded CSPRNG.
pub fn generate_sip_password() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(SIP_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

fn hasher() -> Argon2<'static> {
    let (m, t, p) = IMPORT_PARAMS;
    // The constants are valid argon2 parameters.
    let params = Params::new(m, t, p, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a web password into a PHC string.
pub fn hash_web_password(password: &str) -> String {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .unwrap_or_else(|_| SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").expect("static salt"));
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// True if `password` matches the stored PHC string.
pub fn verify_web_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// One user name and password a phone may present.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("user", &self.user)
            .field("password", &"..")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_sip_password();
        let b = generate_sip_password();
        assert_eq!(a.len(), SIP_PASSWORD_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn hash_roundtrip() {
        let h = hash_web_password("Secret123");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("Secret123"));
        assert!(verify_web_password("Secret123", &h));
        assert!(!verify_web_password("Secret124", &h));
        assert!(!verify_web_password("Secret123", "garbage"));
    }
}
