//! Asterisk PJSIP: `pjsip.conf` sections per line (endpoint, auth, aor).
//!
//! Sources (Asterisk docs, Configuration → res_pjsip, "PJSIP Configuration
//! Sections and Relationships" and the res_pjsip module configuration
//! reference, docs.asterisk.org):
//! - `type=endpoint` with `auth=` (the auth section for inbound Digest),
//!   `aors=` (where REGISTERs land: the AOR named like the To user),
//!   `transport=` (a `type=transport` section; named here `transport-udp`,
//!   `transport-tcp`, `transport-tls`, which the admin defines),
//!   `callerid=`, `context=`, `disallow=`/`allow=`, `media_encryption=sdes`
//!   (SRTP keys in SDP, which the phones use on TLS lines),
//!   `identify_by=username,auth_username` (match by From user or Digest user);
//! - `type=auth`, `auth_type=userpass`, `username=`, `password=`;
//! - `type=aor`, `max_contacts=1`, `remove_existing=yes` (a re-registering
//!   phone replaces its old contact);
//! - templates `[name](!)` and `[section](template)`: Asterisk config file
//!   syntax (docs.asterisk.org, "Templates" in Configuration Files), so the
//!   admin edits context and codecs in one place;
//! - `;` starts a comment unless written `\;` (same page, "Comments").

use std::io::Write;

use super::ExportError;
use super::registrar::Account;
use crate::domain::Transport;

/// The template every endpoint inherits: context and codecs to edit once.
const TEMPLATE: &str = "\
[autoprov-endpoint](!)
type=endpoint
context=from-internal
disallow=all
allow=ulaw,alaw,g722
identify_by=username,auth_username
";

fn transport_section(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "transport-udp",
        Transport::Tcp => "transport-tcp",
        Transport::Tls => "transport-tls",
    }
}

/// A value as pjsip.conf reads it back: `;` escaped; control characters,
/// brackets in names and edge spaces (trimmed by the parser) refused.
fn value(a: &Account, field: &'static str, v: &str, name: bool) -> Result<String, ExportError> {
    let bad = v.chars().any(char::is_control)
        || v.trim() != v
        || v.is_empty()
        || (name && v.contains(['[', ']', '(', ')', '=']));
    if bad {
        return Err(ExportError::Unwritable {
            user: a.owner.to_string(),
            field,
            format: "asterisk",
            why: "pjsip.conf cannot carry control characters, edge spaces or (in section names) brackets",
        });
    }
    Ok(v.replace(';', "\\;"))
}

/// One endpoint/auth/aor triple per line, named after the extension
/// (`[1001]`, `[1001-auth]`, `[1001]` aor), in export order.
pub fn write_pjsip<W: Write>(mut out: W, accounts: &[Account]) -> Result<(), ExportError> {
    writeln!(
        out,
        "; Asterisk PJSIP accounts from autoprov; secrets inside, keep 0600.\n\
         ; Define transport-udp, transport-tcp and transport-tls (type=transport) yourself.\n"
    )?;
    writeln!(out, "{TEMPLATE}")?;
    for a in accounts {
        let ext = value(a, "extension", a.extension, true)?;
        let user = value(a, "sip_username", a.auth_user, false)?;
        let password = value(a, "sip_password", a.password, false)?;
        let name = a.display_name.replace(['"', ';', '<', '>'], "");
        let name = name.trim();
        writeln!(out, "; {} ({})", a.owner, a.domain)?;
        writeln!(out, "[{ext}](autoprov-endpoint)")?;
        writeln!(out, "transport={}", transport_section(a.transport))?;
        writeln!(out, "auth={ext}-auth")?;
        writeln!(out, "aors={ext}")?;
        writeln!(out, "callerid=\"{name}\" <{ext}>")?;
        if a.transport == Transport::Tls {
            writeln!(out, "media_encryption=sdes")?;
        }
        writeln!(out, "\n[{ext}-auth]\ntype=auth\nauth_type=userpass")?;
        writeln!(out, "username={user}\npassword={password}")?;
        writeln!(
            out,
            "\n[{ext}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::registrar::{accounts, tests::users};

    #[test]
    fn sections_per_line_with_transport_and_escapes() {
        let (users, sites) = users();
        let mut buf = Vec::new();
        write_pjsip(&mut buf, &accounts(&users, &sites)).expect("write");
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(text.contains("[1001](autoprov-endpoint)\ntransport=transport-tls\nauth=1001-auth\naors=1001\ncallerid=\"Alice Martin & Co\" <1001>\nmedia_encryption=sdes\n"), "{text}");
        assert!(text.contains(
            "[1001-auth]\ntype=auth\nauth_type=userpass\nusername=alice1001\npassword=a'pw\"1\n"
        ));
        assert!(text.contains("[1002](autoprov-endpoint)\ntransport=transport-tcp\n"));
        assert!(text.contains("[2001](autoprov-endpoint)\ntransport=transport-udp\n"));
        assert!(!text.contains("1009"), "disabled user written");
        assert_eq!(text.matches("type=aor").count(), 3);
    }
}
