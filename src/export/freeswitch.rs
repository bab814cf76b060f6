//! FreeSWITCH directory XML: one `<domain>` per SIP domain, one `<user>`
//! per line, for `conf/directory/autoprov.xml`.
//!
//! Sources (FreeSWITCH docs, developer.signalwire.com/freeswitch,
//! "XML User Directory" and "Directory"; the stock
//! `conf/vanilla/directory/default.xml` and `default/1000.xml` of
//! signalwire/freeswitch):
//! - `<user id="…">`: the SIP (Digest) user name; `number-alias` gives the
//!   extension when it differs;
//! - `<param name="password">`: the SIP password;
//! - `<variable name="user_context">`, `effective_caller_id_name`,
//!   `effective_caller_id_number`: the channel variables of the stock user;
//! - `<domain name="…">` with the stock `dial-string` param
//!   (`{^^:sip_invite_domain=…}${sofia_contact(*/…)}`), so `user/1001`
//!   bridges reach the registered phone.

use std::io::Write;

use super::ExportError;
use super::registrar::Account;

/// The stock directory's dial-string (conf/vanilla/directory/default.xml,
/// its verto half left out: these are SIP phones).
const DIAL_STRING: &str = "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_user}@${dialed_domain})}";

fn xml(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c => s.push(c),
        }
    }
    s
}

/// Accounts grouped by domain (domains sorted, accounts in export order).
pub fn write_directory<W: Write>(mut out: W, accounts: &[Account]) -> Result<(), ExportError> {
    let mut domains: Vec<&str> = accounts.iter().map(|a| a.domain).collect();
    domains.sort_unstable();
    domains.dedup();
    writeln!(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>")?;
    writeln!(
        out,
        "<!-- FreeSWITCH directory from autoprov; secrets inside, keep 0600. -->"
    )?;
    writeln!(out, "<include>")?;
    for d in domains {
        writeln!(out, "  <domain name=\"{}\">", xml(d))?;
        writeln!(
            out,
            "    <params>\n      <param name=\"dial-string\" value=\"{}\"/>\n    </params>",
            xml(DIAL_STRING)
        )?;
        writeln!(
            out,
            "    <groups>\n      <group name=\"autoprov\">\n        <users>"
        )?;
        for a in accounts.iter().filter(|a| a.domain == d) {
            write_user(&mut out, a)?;
        }
        writeln!(
            out,
            "        </users>\n      </group>\n    </groups>\n  </domain>"
        )?;
    }
    writeln!(out, "</include>")?;
    Ok(())
}

fn write_user<W: Write>(out: &mut W, a: &Account) -> Result<(), ExportError> {
    let alias = if a.auth_user == a.extension {
        String::new()
    } else {
        format!(" number-alias=\"{}\"", xml(a.extension))
    };
    writeln!(
        out,
        "          <user id=\"{}\"{alias}><!-- {} -->",
        xml(a.auth_user),
        xml(&a.owner.replace("--", "- -"))
    )?;
    writeln!(
        out,
        "            <params><param name=\"password\" value=\"{}\"/></params>",
        xml(a.password)
    )?;
    writeln!(out, "            <variables>")?;
    for (k, v) in [
        ("user_context", "default"),
        ("effective_caller_id_name", a.display_name.as_str()),
        ("effective_caller_id_number", a.extension),
    ] {
        writeln!(
            out,
            "              <variable name=\"{k}\" value=\"{}\"/>",
            xml(v)
        )?;
    }
    writeln!(out, "            </variables>\n          </user>")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::registrar::{accounts, tests::users};

    #[test]
    fn users_grouped_by_domain_and_escaped() {
        let (users, sites) = users();
        let mut buf = Vec::new();
        write_directory(&mut buf, &accounts(&users, &sites)).expect("write");
        let text = String::from_utf8(buf).expect("utf-8");
        let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
        let domains: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("domain"))
            .map(|n| n.attribute("name").unwrap_or_default())
            .collect();
        assert_eq!(domains, ["pbx.example.com", "sip.berlin.example"]);
        let alice = doc
            .descendants()
            .find(|n| n.attribute("id") == Some("alice1001"))
            .expect("alice's first line");
        assert_eq!(alice.attribute("number-alias"), Some("1001"));
        let pw = alice
            .descendants()
            .find(|n| n.attribute("name") == Some("password"))
            .and_then(|n| n.attribute("value"));
        assert_eq!(pw, Some("a'pw\"1"));
        let name = alice
            .descendants()
            .find(|n| n.attribute("name") == Some("effective_caller_id_name"))
            .and_then(|n| n.attribute("value"));
        assert_eq!(name, Some("Alice <Martin> & Co"));
    }
}
