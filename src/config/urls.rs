//! The URLs autoprov is given, each parsed once with [`url::Url`] when it
//! is read and kept together with the text as written.
//!
//! Both halves matter: phones, the DHCP options and the import history get
//! the text byte for byte (`url::Url` would normalise it, adding a `/` or
//! lower-casing the host), while the parsed form answers the questions that
//! hand-written splitting used to (which host, which credentials). The
//! textual rules (the exact scheme prefix, no spaces or quotes) stay: they
//! are about what a phone or a quoted DHCP snippet can carry, not about
//! URL syntax.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;

use url::{Host, Url};

/// Why a URL was refused. The messages are the ones autoprov has always
/// printed for these values; the caller adds where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// `[provision] https_url` (prefixed with the key by the config).
    #[error("{0:?} must be an https:// URL without spaces")]
    NotHttps(String),
    /// `[sources.NAME] url` with another scheme.
    #[error("url {0:?} must be http://, https://, ldap:// or ldaps://")]
    NotHttp(String),
    /// `[sources.NAME] url` that does not parse or names no host.
    #[error("url {0:?} is not a valid URL")]
    Invalid(String),
    /// `[sources.NAME] url` with `user:password@` in it.
    #[error(
        "put credentials in bearer_token (or, for LDAP, bind_dn and bind_password_file), not in the url (it is shown in the history)"
    )]
    Credentials,
    /// `--provision-url` / `[dhcp] provision_url`.
    #[error("--provision-url {0:?} must be an http:// or https:// URL without spaces or quotes")]
    NotPhoneUrl(String),
}

/// The text as written and what `url::Url` made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    text: String,
    url: Url,
}

impl Parsed {
    /// `text` parsed, when it is an absolute URL with a host and written
    /// with one of `schemes` exactly (lower case, both slashes): the
    /// prefix test keeps refusing `HTTP://x` and `http:x`, which
    /// `url::Url` would quietly accept and rewrite.
    fn new(text: &str, schemes: &[&str]) -> Option<Parsed> {
        let url = Url::parse(text).ok()?;
        let written = schemes.contains(&url.scheme())
            && text
                .strip_prefix(url.scheme())
                .is_some_and(|rest| rest.starts_with("://"));
        (written && url.host().is_some()).then(|| Parsed {
            text: text.to_string(),
            url,
        })
    }
}

/// Text a phone receives byte for byte: printable ASCII only, so no
/// spaces, control characters or non-ASCII that a config line or a quoted
/// DHCP option would mangle.
fn printable(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `text` starts with `http://` or `https://`, exactly so. An
/// argument that does is a URL to fetch; anything else is a file name.
pub fn is_http(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

macro_rules! url_newtype {
    ($name:ident) => {
        impl $name {
            /// The URL as written.
            pub fn as_str(&self) -> &str {
                &self.0.text
            }

            /// The parsed URL.
            pub fn url(&self) -> &Url {
                &self.0.url
            }
        }

        /// Dereferences to the text as written, which is what every
        /// consumer of the old `String` field read.
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Serialises as the text as written (the admin API lists it).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// `[provision] https_url`: where the plain-HTTP bootstrap sends phones,
/// and a name the generated server certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl(Parsed);

url_newtype!(HttpsUrl);

impl HttpsUrl {
    pub fn parse(text: &str) -> Result<HttpsUrl, UrlError> {
        let refused = || UrlError::NotHttps(text.to_string());
        // Whitespace or control characters anywhere would reach the phone.
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refused());
        }
        Parsed::new(text, &["https"])
            .map(HttpsUrl)
            .ok_or_else(refused)
    }

    /// The host as a certificate names it: a DNS name, or an IP address
    /// without the brackets an IPv6 literal has in a URL.
    pub fn host(&self) -> Option<String> {
        host_name(self.url())
    }
}

/// Whether `text` starts with `ldap://` or `ldaps://`, exactly so: a
/// directory to search rather than a file.
pub fn is_ldap(text: &str) -> bool {
    text.starts_with("ldap://") || text.starts_with("ldaps://")
}

/// `[sources.NAME] url`: where a scheduled import fetches its CSV, or the
/// directory server it searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUrl(Parsed);

url_newtype!(SourceUrl);

impl SourceUrl {
    /// Refuses, in this order, a scheme other than `http://`/`https://`,
    /// an unparsable URL, and credentials in the URL (the history shows
    /// the URL; the token belongs in `bearer_token`).
    pub fn parse(text: &str) -> Result<SourceUrl, UrlError> {
        if !is_http(text) && !is_ldap(text) {
            return Err(UrlError::NotHttp(text.to_string()));
        }
        let parsed = Parsed::new(text, &["http", "https", "ldap", "ldaps"])
            .ok_or(UrlError::Invalid(text.to_string()))?;
        if !parsed.url.username().is_empty() || parsed.url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        Ok(SourceUrl(parsed))
    }

    /// An `ldap://` or `ldaps://` source.
    pub fn is_ldap(&self) -> bool {
        matches!(self.url().scheme(), "ldap" | "ldaps")
    }
}

/// The URL DHCP options 66, 160 and 43 carry (`--provision-url`,
/// `[dhcp] provision_url`): phones get it byte for byte and the DHCP
/// snippets quote it, so it is printable ASCII without quotes or
/// backslashes, at most 1024 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionUrl(Parsed);

url_newtype!(ProvisionUrl);

impl ProvisionUrl {
    pub fn parse(text: &str) -> Result<ProvisionUrl, UrlError> {
        let quotable = printable(text) && !text.contains(['"', '\\', '\'']);
        let parsed = (quotable && text.len() <= 1024)
            .then(|| Parsed::new(text, &["http", "https"]))
            .flatten();
        parsed
            .map(ProvisionUrl)
            .ok_or_else(|| UrlError::NotPhoneUrl(text.to_string()))
    }

    /// The host, when it is an IPv4 address (what option 150, Cisco's
    /// TFTP list, can carry).
    pub fn ipv4_host(&self) -> Option<Ipv4Addr> {
        match self.url().host()? {
            Host::Ipv4(ip) => Some(ip),
            _ => None,
        }
    }
}

/// A URL's host as text: the domain, or the address without brackets.
fn host_name(url: &Url) -> Option<String> {
    Some(match url.host()? {
        Host::Domain(d) => d.to_string(),
        Host::Ipv4(ip) => IpAddr::V4(ip).to_string(),
        Host::Ipv6(ip) => IpAddr::V6(ip).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_keep_their_text() {
        let u = HttpsUrl::parse("https://Prov.example.com:8443/x").expect("valid");
        assert_eq!(u.as_str(), "https://Prov.example.com:8443/x");
        assert_eq!(u.host().as_deref(), Some("prov.example.com"));
        let u = HttpsUrl::parse("https://u:p@[fd00::5]:8443/").expect("valid");
        assert_eq!(u.host().as_deref(), Some("fd00::5"));
        let u = HttpsUrl::parse("https://10.1.2.3").expect("valid");
        assert_eq!(
            (u.as_str(), u.host()),
            ("https://10.1.2.3", Some("10.1.2.3".into()))
        );
        for bad in [
            "http://x/",
            "https://",
            "https://a b/",
            "HTTPS://x/",
            "https:x",
            "ftp://x",
        ] {
            assert_eq!(
                HttpsUrl::parse(bad),
                Err(UrlError::NotHttps(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn source_urls() {
        assert!(SourceUrl::parse("http://x/y.csv").is_ok());
        assert!(SourceUrl::parse("https://hr.example/export?fmt=csv").is_ok());
        assert_eq!(
            SourceUrl::parse("ftp://x/y.csv"),
            Err(UrlError::NotHttp("ftp://x/y.csv".into()))
        );
        assert_eq!(
            SourceUrl::parse("http://a b/"),
            Err(UrlError::Invalid("http://a b/".into()))
        );
        assert_eq!(
            SourceUrl::parse("https://u:p@hr.example/x.csv"),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            SourceUrl::parse("https://token@hr.example/x.csv"),
            Err(UrlError::Credentials)
        );
    }

    #[test]
    fn provision_urls() {
        let ip = |s: &str| ProvisionUrl::parse(s).expect("valid").ipv4_host();
        assert_eq!(
            ip("http://10.0.0.1:8080/"),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            ip("https://u:p@10.0.0.2/x"),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(ip("http://prov.example.com/"), None);
        assert_eq!(ip("http://[fd00::1]/"), None);
        for bad in [
            "ftp://x/",
            "http://x/a b",
            "http://x/\"",
            "http://x/'",
            "nonsense",
        ] {
            assert!(ProvisionUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(ProvisionUrl::parse(&format!("http://x/{}", "a".repeat(1100))).is_err());
        let u = ProvisionUrl::parse("https://prov.example.com:8443/p/").expect("valid");
        assert_eq!(u.to_string(), "https://prov.example.com:8443/p/");
    }
}
