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

/// Length of generated phone web (admin and user) passwords: 20 of 62
/// characters, about 119 bits. Within every vendor's limits we found
/// (Cisco MPP 4-127, docs/lockdown.md lists the others).
pub const PHONE_PASSWORD_LEN: usize = 20;

/// Longest fixed phone password a site may set in the config.
pub const PHONE_PASSWORD_MAX: usize = 32;

/// Shortest fixed phone password a site may set in the config.
pub const PHONE_PASSWORD_MIN: usize = 12;

/// A fresh phone web password from the OS-seeded CSPRNG: ASCII letters and
/// digits only, with at least one upper-case letter, one lower-case letter
/// and one digit.
///
/// Letters and digits because no vendor forbids them and no file format
/// needs them escaped: Yealink's `admin:<pw>` splits on `:`, Cisco expands
/// `$` macros, `;`, `,` and `#` separate or comment in several formats, and
/// XML specials would depend on escaping being right everywhere. The three
/// classes satisfy the strictest rule we know, Cisco MPP's "three of the
/// four types" (docs/lockdown.md).
pub fn generate_phone_password() -> String {
    let mut rng = rand::rng();
    loop {
        let pw: String = (&mut rng)
            .sample_iter(Alphanumeric)
            .take(PHONE_PASSWORD_LEN)
            .map(char::from)
            .collect();
        // Rejection keeps the distribution uniform over the valid passwords;
        // about 1 in 50 draws lacks a class.
        if has_three_classes(&pw) {
            return pw;
        }
    }
}

fn has_three_classes(pw: &str) -> bool {
    pw.bytes().any(|b| b.is_ascii_uppercase())
        && pw.bytes().any(|b| b.is_ascii_lowercase())
        && pw.bytes().any(|b| b.is_ascii_digit())
}

/// Characters a fixed phone password may use besides letters and digits:
/// none of them is special in XML, in `key = value` files, in Yealink's
/// `name:password` value or in Cisco's `$` macros.
pub const PHONE_PASSWORD_SPECIALS: &str = "-_.!@*+";

/// Checks a phone password an administrator fixed in the config against
/// the rules every vendor accepts: [`PHONE_PASSWORD_MIN`] to
/// [`PHONE_PASSWORD_MAX`] characters, letters, digits and
/// [`PHONE_PASSWORD_SPECIALS`] only, and the three classes of
/// [`generate_phone_password`]. The message never repeats the value.
pub fn check_phone_password(pw: &str) -> Result<(), String> {
    let len = pw.chars().count();
    if !(PHONE_PASSWORD_MIN..=PHONE_PASSWORD_MAX).contains(&len) {
        return Err(format!(
            "must be {PHONE_PASSWORD_MIN} to {PHONE_PASSWORD_MAX} characters long (it has {len})"
        ));
    }
    if let Some(at) = pw
        .chars()
        .position(|c| !c.is_ascii_alphanumeric() && !PHONE_PASSWORD_SPECIALS.contains(c))
    {
        return Err(format!(
            "may only use letters, digits and {PHONE_PASSWORD_SPECIALS} (character {} is another)",
            at + 1
        ));
    }
    if !has_three_classes(pw) {
        return Err("needs an upper-case letter, a lower-case letter and a digit".into());
    }
    Ok(())
}

/// A phone's own web passwords: the administrator's and, where the vendor
/// has one, the user level's. Kept retrievable (the phone needs them in
/// its file), shown only on an explicit reveal, never in `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhonePasswords {
    pub admin: String,
    pub user: String,
}

impl PhonePasswords {
    /// A fresh pair from [`generate_phone_password`].
    pub fn generate() -> PhonePasswords {
        PhonePasswords {
            admin: generate_phone_password(),
            user: generate_phone_password(),
        }
    }
}

impl std::fmt::Debug for PhonePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhonePasswords")
            .field("admin", &"..")
            .field("user", &"..")
            .finish()
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
    fn phone_passwords_are_long_safe_distinct_and_pass_the_config_check() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let pw = generate_phone_password();
            assert_eq!(pw.len(), PHONE_PASSWORD_LEN);
            assert!(pw.bytes().all(|b| b.is_ascii_alphanumeric()), "{pw}");
            assert_eq!(check_phone_password(&pw), Ok(()));
            assert!(seen.insert(pw), "a password came twice");
        }
    }

    #[test]
    fn fixed_phone_passwords_are_checked() {
        assert_eq!(check_phone_password("Site-Admin-2026"), Ok(()));
        assert_eq!(check_phone_password("Abcdefghij1!*"), Ok(()));
        for bad in [
            "Short1a",
            "alllowercase123",
            "ALLUPPERCASE123",
            "NoDigitsAtAllHere",
            "Has:Colon12345",
            "Has Space12345",
            "Has$Dollar12345",
            "Has<Angle12345",
            "Has\"Quote12345",
            "Has#Hash123456",
            "Has,Comma12345",
            "Line\nBreak12345",
            "Ünïcödé12345Ab",
            "ThisIsFarTooLongForEveryPhone12345678",
        ] {
            let e = check_phone_password(bad).expect_err(bad);
            assert!(!e.contains(bad), "the message repeats the value: {e}");
        }
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
