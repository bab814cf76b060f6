//! `autoprov import ldap://...`: the flags are an LDAP source's keys (the
//! same checks as a `[sources.NAME]` section: no clear-text bind unless
//! allowed, a password only from a file or the environment), the search
//! runs here, and its table goes to the import like any file, each row
//! named by its DN. With the server running, the table, its mapping and
//! the labels travel over the admin socket.

use anyhow::{Context, anyhow};

use crate::cli::args::{ImportArgs, LdapArgs};
use crate::{Fail, runtime, usage};
use autoprov::app::ops::ImportRequest;
use autoprov::app::sources::ldap;
use autoprov::config::Config;

/// Searches the directory `args.file` names; the CSV and its name for
/// the report, with `req` told how to read it.
pub fn search(args: &ImportArgs, req: &mut ImportRequest) -> Result<(Vec<u8>, String), Fail> {
    let (map, filter) = match &args.map {
        Some(path) => read_map_file(path)?,
        None => (None, None),
    };
    let section = section(&args.file, &args.ldap, map.as_ref(), filter.as_deref());
    let mut sources = toml::Table::new();
    sources.insert("cli".into(), toml::Value::Table(section));
    let mut doc = toml::Table::new();
    doc.insert("sources".into(), toml::Value::Table(sources));
    let text = toml::to_string(&doc).unwrap_or_default();
    let config = Config::parse(&text).map_err(|m| {
        let m = m.replace("sources.cli: ", "");
        usage(anyhow!("cannot import {}: {m}", args.file))
    })?;
    let src = config
        .sources
        .get("cli")
        .ok_or_else(|| usage(anyhow!("cannot import {}", args.file)))?;
    let origin = match &args.map {
        Some(p) => p.display().to_string(),
        None => "--preset".to_string(),
    };
    let l = &args.ldap;
    let mapping = ldap::mapping_of(
        l.preset.as_deref(),
        map.as_ref(),
        l.mac_attribute.as_deref(),
        filter.as_deref(),
        &origin,
    )
    .map_err(|e| usage(anyhow!(e)))?;
    let search = ldap::search_for(src, &mapping, std::time::Duration::from_secs(60))
        .map_err(|m| usage(anyhow!("cannot import {}: {m}", args.file)))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(runtime)?;
    let found = rt.block_on(ldap::fetch(&search)).map_err(|e| {
        usage(anyhow!(
            "cannot import {}: {e}; nothing imported",
            args.file
        ))
    })?;
    let o = &mut req.options;
    o.mapping = Some(mapping);
    o.label_column = Some(ldap::DN.to_string());
    o.notes = found.notes;
    o.read.delimiter = Some(b',');
    Ok((found.csv, args.file.clone()))
}

/// The flags as a source section, for the config's checks.
fn section(
    url: &str,
    l: &LdapArgs,
    map: Option<&toml::Table>,
    filter: Option<&str>,
) -> toml::Table {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.insert(k.to_string(), v);
        }
    };
    let s = |v: &Option<String>| v.clone().map(toml::Value::String);
    let p = |v: &Option<std::path::PathBuf>| {
        v.as_ref()
            .map(|p| toml::Value::String(p.display().to_string()))
    };
    put("url", Some(toml::Value::String(url.to_string())));
    put("every", Some(toml::Value::String("1d".into())));
    put("bind_dn", s(&l.bind_dn));
    put("bind_password_file", p(&l.bind_password_file));
    put("bind_password_env", s(&l.bind_password_env));
    put("base", s(&l.base));
    put("ldap_filter", s(&l.ldap_filter));
    put("scope", s(&l.scope));
    put("preset", s(&l.preset));
    put("mac_attribute", s(&l.mac_attribute));
    put("ca", p(&l.ca));
    put("starttls", l.starttls.then_some(toml::Value::Boolean(true)));
    put(
        "allow_plaintext",
        l.allow_plaintext.then_some(toml::Value::Boolean(true)),
    );
    put("map", map.cloned().map(toml::Value::Table));
    put("filter", filter.map(|f| toml::Value::String(f.to_string())));
    t
}

/// A `--map` file's `[map]` table and `filter`, to go on top of the preset.
fn read_map_file(path: &std::path::Path) -> Result<(Option<toml::Table>, Option<String>), Fail> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping {}", path.display()))
        .map_err(usage)?;
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        usage(anyhow!(
            "{}: not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let map = match doc.get("map") {
        Some(toml::Value::Table(t)) => Some(t.clone()),
        _ => None,
    };
    let filter = doc
        .get("filter")
        .and_then(|f| f.as_str())
        .map(str::to_string);
    Ok((map, filter))
}
