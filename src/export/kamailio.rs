//! Kamailio's `subscriber` table (what `auth_db` checks a REGISTER's
//! Digest against), as SQL and as a db_text file.
//!
//! Sources:
//! - columns and table version 7: Kamailio 5.6 schema,
//!   kamailio/kamailio `utils/kamctl/dbtext/kamailio/subscriber` and
//!   `.../version` (Debian ships them as
//!   /usr/share/kamailio/dbtext/kamailio/{subscriber,version}):
//!   `id(int,auto) username(string) domain(string) password(string)
//!   ha1(string) ha1b(string)`, version row `subscriber:7`;
//! - `ha1` = MD5(username:realm:password), `ha1b` =
//!   MD5(username@domain:realm:password): auth_db module docs
//!   (kamailio.org/docs/modules/5.6.x/modules/auth_db.html, parameters
//!   `password_column` "ha1", `password_column_2` "ha1b", `calculate_ha1`);
//!   with the defaults (`calculate_ha1` 0) auth_db reads `ha1`, with
//!   `calculate_ha1` 1 and `password_column` "password" the plain one;
//! - db_text format: db_text module docs §1.2 "Internal format of a dbtext
//!   table" (first line the column definitions, `:` between fields, an empty
//!   field is NULL, `\n \r \t : \ NUL` escaped) and
//!   kamailio/kamailio `src/modules/db_text/dbt_file.c` (`dbt_load_file`,
//!   `dbt_print_table`: the same escapes, and an empty `auto` int takes the
//!   next value, `dbt_table_check_row` in `dbt_lib.c`).

use std::io::Write;

use super::ExportError;
use super::registrar::{Account, md5_hex};

/// The db_text `subscriber` header, as Kamailio 5.6 ships it.
pub const DBTEXT_HEADER: &str =
    "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string)";

/// The `version` table row auth_db checks for `subscriber` (5.6: 7).
pub const SUBSCRIBER_VERSION: u32 = 7;

/// The db_text `version` table's header line.
pub const DBTEXT_VERSION_HEADER: &str = "id(int,auto) table_name(string) table_version(int)";

/// HA1 for user@realm, and HA1b for the `user@domain` form some phones send.
fn hashes(a: &Account) -> (String, String) {
    let ha1 = md5_hex(&[a.auth_user, a.domain, a.password]);
    let ha1b = md5_hex(&[
        &format!("{}@{}", a.auth_user, a.domain),
        a.domain,
        a.password,
    ]);
    (ha1, ha1b)
}

/// A SQL string literal. `'` doubles (SQL standard); a backslash is
/// refused, because MySQL reads it as an escape and PostgreSQL does not,
/// so no one literal means the same to both.
fn sql_str(a: &Account, field: &'static str, v: &str) -> Result<String, ExportError> {
    if v.contains('\\') || v.chars().any(char::is_control) {
        return Err(ExportError::Unwritable {
            user: a.owner.to_string(),
            field,
            format: "kamailio (SQL)",
            why: "a backslash or control character reads differently in MySQL and PostgreSQL; use --format kamailio-dbtext or change the value",
        });
    }
    Ok(format!("'{}'", v.replace('\'', "''")))
}

/// One transaction of `DELETE` + `INSERT` per account (portable across
/// MySQL, PostgreSQL and SQLite; re-running it replaces the same rows and
/// leaves subscribers autoprov does not know alone).
pub fn write_sql<W: Write>(mut out: W, accounts: &[Account]) -> Result<(), ExportError> {
    writeln!(
        out,
        "-- Kamailio auth_db subscriber rows (table version {SUBSCRIBER_VERSION}) from autoprov; secrets inside, keep 0600."
    )?;
    writeln!(out, "BEGIN;")?;
    for a in accounts {
        let (ha1, ha1b) = hashes(a);
        let user = sql_str(a, "sip_username", a.auth_user)?;
        let domain = sql_str(a, "site sip_server", a.domain)?;
        let password = sql_str(a, "sip_password", a.password)?;
        writeln!(
            out,
            "DELETE FROM subscriber WHERE username = {user} AND domain = {domain};"
        )?;
        writeln!(
            out,
            "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES ({user}, {domain}, {password}, '{ha1}', '{ha1b}');"
        )?;
    }
    writeln!(out, "COMMIT;")?;
    Ok(())
}

/// A db_text string field with dbt_print_table's escapes.
fn dbtext_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\\' => s.push_str("\\\\"),
            ':' => s.push_str("\\:"),
            '\0' => s.push_str("\\0"),
            c => s.push(c),
        }
    }
    s
}

/// The `subscriber` file: header, then one row per account with an empty
/// `id` (db_text numbers it on load), so adding a user shifts no other row.
pub fn write_dbtext<W: Write>(mut out: W, accounts: &[Account]) -> Result<(), ExportError> {
    writeln!(out, "{DBTEXT_HEADER}")?;
    for a in accounts {
        let (ha1, ha1b) = hashes(a);
        writeln!(
            out,
            ":{}:{}:{}:{ha1}:{ha1b}",
            dbtext_str(a.auth_user),
            dbtext_str(a.domain),
            dbtext_str(a.password)
        )?;
    }
    Ok(())
}

/// The db_text `version` file with the `subscriber` row set to
/// [`SUBSCRIBER_VERSION`]: `existing`'s other rows kept as they are, or a
/// new file with only that row.
pub fn dbtext_version(existing: Option<&str>) -> String {
    let row = format!("0:subscriber:{SUBSCRIBER_VERSION}");
    let mut lines: Vec<String> = match existing {
        Some(text) if text.lines().next().is_some() => text.lines().map(str::to_string).collect(),
        _ => vec![DBTEXT_VERSION_HEADER.to_string()],
    };
    let is_subscriber = |l: &str| {
        let mut f = l.split(':');
        f.nth(1) == Some("subscriber")
    };
    match lines.iter().skip(1).position(|l| is_subscriber(l)) {
        Some(i) => lines[i + 1] = row,
        None => lines.push(row),
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::registrar::{accounts, tests::users};

    #[test]
    fn sql_rows_escape_quotes_and_refuse_backslashes() {
        let (users, sites) = users();
        let all = accounts(&users, &sites);
        let mut buf = Vec::new();
        write_sql(&mut buf, &all[..2]).expect("alice's lines");
        let text = String::from_utf8(buf).expect("utf-8");
        assert!(text.contains("VALUES ('alice1001', 'pbx.example.com', 'a''pw\"1', '"));
        assert_eq!(text.matches("DELETE FROM subscriber").count(), 2);
        assert!(text.trim_end().ends_with("COMMIT;"));
        // bob's password has a backslash: refused, naming him, not the value.
        let err = write_sql(Vec::new(), &all).expect_err("backslash");
        let msg = err.to_string();
        assert!(msg.contains("bob") && !msg.contains("b:pw"), "{msg}");
    }

    #[test]
    fn dbtext_rows_escape_like_dbt_print_table() {
        let (users, sites) = users();
        let all = accounts(&users, &sites);
        let mut buf = Vec::new();
        write_dbtext(&mut buf, &all).expect("write");
        let text = String::from_utf8(buf).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], DBTEXT_HEADER);
        assert_eq!(lines.len(), 4);
        let ha1 = md5_hex(&["2001", "sip.berlin.example", "b:pw\\x"]);
        assert!(lines[3].starts_with(":2001:sip.berlin.example:b\\:pw\\\\x:"));
        assert!(lines[3].contains(&ha1));
    }

    #[test]
    fn version_file_keeps_other_rows() {
        assert_eq!(
            dbtext_version(None),
            format!("{DBTEXT_VERSION_HEADER}\n0:subscriber:7\n")
        );
        let old = format!("{DBTEXT_VERSION_HEADER}\n0:location:9\n0:subscriber:6\n");
        assert_eq!(
            dbtext_version(Some(&old)),
            format!("{DBTEXT_VERSION_HEADER}\n0:location:9\n0:subscriber:7\n")
        );
    }
}
