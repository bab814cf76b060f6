//! The SIP accounts a registrar must know, taken from the same users the
//! phones are provisioned from, with the same names the phone files carry
//! (`provision::context`: user = extension, auth user = `sip_username` or
//! the extension, domain = the site's `sip_server`).
//!
//! Order is fixed (username, then line order), so a re-export after an
//! import differs only in the rows of the users that changed.

use crate::domain::{DEFAULT_SITE, Site, Transport, User};

/// One line of one enabled user, as a registrar sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account<'a> {
    /// autoprov's username (comments only; registrars key on the rest).
    pub owner: &'a str,
    /// The SIP user the phone registers (its To/From user): the extension.
    pub extension: &'a str,
    /// The Digest user name.
    pub auth_user: &'a str,
    pub password: &'a str,
    /// The SIP domain and Digest realm: the site's `sip_server`, what the
    /// phone puts in its REGISTER's To URI.
    pub domain: &'a str,
    pub transport: Transport,
    pub display_name: String,
}

/// Every line of every enabled user. Disabled users get no account: their
/// phones get no files either, and a registrar entry would outlive them.
pub fn accounts<'a>(users: &'a [User], sites: &'a [Site]) -> Vec<Account<'a>> {
    let mut sorted: Vec<&User> = users.iter().filter(|u| u.enabled).collect();
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    let mut out = Vec::new();
    for u in sorted {
        let site = site(sites, &u.site);
        for l in &u.lines {
            out.push(Account {
                owner: &u.username,
                extension: &l.extension,
                auth_user: l.auth_user(),
                password: &l.sip_password,
                domain: &site.sip_server,
                transport: l.transport.unwrap_or(site.transport),
                display_name: u.display(),
            });
        }
    }
    out
}

/// The user's site, else the default site, as the provisioner picks it.
fn site<'a>(sites: &'a [Site], name: &str) -> &'a Site {
    static FALLBACK: std::sync::OnceLock<Site> = std::sync::OnceLock::new();
    sites
        .iter()
        .find(|s| s.name == name)
        .or_else(|| sites.iter().find(|s| s.name == DEFAULT_SITE))
        .unwrap_or_else(|| FALLBACK.get_or_init(Site::default))
}

/// Lower-case hex MD5 of `parts` joined by `:`, the Digest HA1 (RFC 2617
/// §3.2.2.2: `MD5(username ":" realm ":" password)`).
pub fn md5_hex(parts: &[&str]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(parts.join(":").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::Line;

    fn user(name: &str) -> User {
        User::bare(1, name)
    }

    /// Two users on two sites, one disabled, one with two lines and a
    /// separate auth user.
    pub fn users() -> (Vec<User>, Vec<Site>) {
        let line = |ext: &str, auth: Option<&str>, pw: &str, t: Option<Transport>| Line {
            extension: ext.into(),
            sip_username: auth.map(str::to_string),
            sip_password: pw.into(),
            transport: t,
        };
        let mut bob = user("bob");
        bob.first_name = Some("Bob".into());
        bob.lines = vec![line("2001", None, "b:pw\\x", Some(Transport::Udp))];
        bob.site = "berlin".into();
        let mut alice = user("alice");
        alice.display_name = Some("Alice <Martin> & Co".into());
        alice.lines = vec![
            line("1001", Some("alice1001"), "a'pw\"1", None),
            line("1002", None, "a-pw-2", Some(Transport::Tcp)),
        ];
        let mut off = user("zed");
        off.enabled = false;
        off.lines = vec![line("1009", None, "zz", None)];
        let berlin = Site {
            name: "berlin".into(),
            sip_server: "sip.berlin.example".into(),
            transport: Transport::Udp,
            ..Site::default()
        };
        (vec![off, bob, alice], vec![Site::default(), berlin])
    }

    #[test]
    fn accounts_are_sorted_enabled_and_on_their_site() {
        let (users, sites) = users();
        let a = accounts(&users, &sites);
        let ids: Vec<_> = a
            .iter()
            .map(|a| (a.owner, a.extension, a.auth_user))
            .collect();
        assert_eq!(
            ids,
            [
                ("alice", "1001", "alice1001"),
                ("alice", "1002", "1002"),
                ("bob", "2001", "2001")
            ]
        );
        assert_eq!(a[0].domain, "pbx.example.com");
        assert_eq!(a[0].transport, Transport::Tls);
        assert_eq!(a[1].transport, Transport::Tcp);
        assert_eq!(a[2].domain, "sip.berlin.example");
        assert_eq!(a[2].display_name, "Bob");
    }

    #[test]
    fn ha1_matches_rfc_2617_example() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life.
        assert_eq!(
            md5_hex(&["Mufasa", "testrealm@host.com", "Circle Of Life"]),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }
}
