//! Vendor settings through the real binary (docs/settings.md): one key at
//! all four levels renders the phone's value and falls back level by level
//! as each is removed; `render --explain` names the level on stderr and
//! leaves stdout byte-identical; an unchanged `settings` cell bumps no
//! version; injections and owned keys are refused with their row and
//! column and the store is left as it was; a bad config key is refused
//! with its path.

use serde_json::Value;

use crate::support::cli::{Env, tree_bytes};
use crate::support::report::{errors, summary};

const MAC: &str = "805ec0aa0001";
const CISCO_MAC: &str = "d0ec35aa0002";
const KEY: &str = "features.sample_key";
const VLAN: &str = "static.network.vlan.internet_port_enable";

/// The config with the levels asked for.
fn config(env: &Env, site: bool, model: bool) -> String {
    let mut toml = String::from("[sites.berlin]\n");
    if site {
        toml.push_str(&format!(
            "[sites.berlin.settings.yealink]\n\"{VLAN}\" = \"1\"\n\"{KEY}\" = \"site\"\n"
        ));
    }
    if model {
        toml.push_str(&format!(
            "[models.\"yealink-t54w\".settings]\n\"{KEY}\" = \"model\"\n"
        ));
    }
    let p = env.file("autoprov.toml", toml);
    p.to_string_lossy().into_owned()
}

fn csv(settings: &str) -> String {
    format!(
        "username,first_name,extension,mac,phone_model,site,settings\n\
         anna,Anna,1001,{MAC},yealink-t54w,berlin,\"{}\"\n\
         carl,Carl,1002,{CISCO_MAC},cisco-8841,berlin,\n",
        settings.replace('"', "\"\"")
    )
}

fn import(env: &Env, cfg: &str, settings: &str) -> Value {
    let p = env.file("users.csv", csv(settings));
    let r = env.run(&[
        "--config",
        cfg,
        "import",
        p.to_str().expect("path"),
        "--format",
        "json",
        "--no-progress",
    ]);
    let v = r.json();
    assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
    v
}

/// `KEY`'s value lines in Anna's rendered file, and the stderr.
fn render(env: &Env, cfg: &str, explain: bool) -> (String, Vec<String>, String) {
    let mut args = vec!["--config", cfg, "render", MAC];
    if explain {
        args.push("--explain");
    }
    let r = env.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let values = r
        .stdout
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .filter(|(k, _)| *k == KEY)
        .map(|(_, v)| v.to_string())
        .collect();
    (r.stdout, values, r.stderr)
}

fn version(env: &Env, cfg: &str) -> i64 {
    let r = env.run(&["--config", cfg, "phones", "show", MAC, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()["config_version"].as_i64().expect("config_version")
}

#[test]
fn levels_override_and_fall_back_one_by_one() {
    let env = Env::new();
    let all = config(&env, true, true);
    let v = import(&env, &all, &format!("{KEY}=phone"));
    assert_eq!(summary(&v, "created"), 2, "{v}");

    let (body, values, _) = render(&env, &all, false);
    assert_eq!(values, ["phone"], "{body}");
    assert!(body.contains(&format!("\n{VLAN} = 1\n")), "{body}");

    // --explain: the same stdout, the levels on stderr.
    let (explained, _, stderr) = render(&env, &all, true);
    assert_eq!(explained, body, "--explain changed stdout");
    assert!(
        stderr.contains(&format!("{KEY} = phone  (phone)")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{VLAN} = 1  (site berlin)")),
        "{stderr}"
    );

    // phones show lists the effective settings with their levels.
    let r = env.run(&["--config", &all, "phones", "show", MAC, "--format", "json"]);
    let shown = r.json()["settings"].clone();
    assert!(
        shown
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["key"] == KEY && s["level"] == "phone")),
        "{shown}"
    );

    // Re-importing the same settings changes nothing.
    let before = version(&env, &all);
    let v = import(&env, &all, &format!("{KEY}=phone"));
    assert_eq!(summary(&v, "unchanged"), 2, "{v}");
    assert_eq!(
        version(&env, &all),
        before,
        "an unchanged cell bumped the version"
    );

    // Phone level removed (empty cell): the model's value, and a new version.
    let v = import(&env, &all, "");
    assert_eq!(summary(&v, "updated"), 1, "{v}");
    assert_eq!(version(&env, &all), before + 1);
    let (_, values, stderr) = render(&env, &all, true);
    assert_eq!(values, ["model"]);
    assert!(
        stderr.contains(&format!("{KEY} = model  (model yealink-t54w)")),
        "{stderr}"
    );

    // Model level removed: the site's.
    let site_only = config(&env, true, false);
    let (_, values, stderr) = render(&env, &site_only, true);
    assert_eq!(values, ["site"]);
    assert!(
        stderr.contains(&format!("{KEY} = site  (site berlin)")),
        "{stderr}"
    );

    // Site level removed: the template's (which has no such key).
    let none = config(&env, false, false);
    let (body, values, stderr) = render(&env, &none, true);
    assert!(values.is_empty(), "{body}");
    assert!(!body.contains(VLAN));
    assert!(
        stderr.contains("no site, model or phone settings"),
        "{stderr}"
    );
}

#[test]
fn injections_and_owned_keys_are_refused_with_row_and_column() {
    let env = Env::new();
    let cfg = config(&env, false, false);
    let v = import(&env, &cfg, &format!("{KEY}=1"));
    assert_eq!(summary(&v, "created"), 2, "{v}");
    let export = env.run(&["--config", &cfg, "export"]).stdout;
    let (rendered, _, _) = render(&env, &cfg, false);
    let tree = tree_bytes(&env.data());

    let bad = [
        (
            format!("{{\"{KEY}\": \"1\\nstatic.auto_provision.server.url = http://evil/\"}}"),
            "E_SETTING_VALUE",
        ),
        (format!("{KEY}=a\"b"), "E_SETTING_VALUE"),
        (format!("{KEY}=<x>"), "E_SETTING_VALUE"),
        (format!("{KEY}=]]>"), "E_SETTING_VALUE"),
        ("a<b=1".to_string(), "E_SETTING_KEY"),
        ("account.1.password=x".to_string(), "E_SETTING"),
        (
            "static.auto_provision.server.url=http://evil/".to_string(),
            "E_SETTING",
        ),
    ];
    for (cell, code) in &bad {
        let v = import(&env, &cfg, cell);
        let errs = errors(&v);
        assert!(
            errs.iter().any(|(row, line, col, c)| *row == Some(1)
                && *line == Some(2)
                && col.as_deref() == Some("settings")
                && c == code),
            "{cell:?}: {v}"
        );
        assert_eq!(summary(&v, "updated"), 0, "{cell:?}: {v}");
    }
    // The value is named in the message, the password's is not.
    let v = import(&env, &cfg, &format!("{KEY}=<x>"));
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"<x>\"")),
        "{v}"
    );

    // Cisco's own SIP password key, on the Cisco phone's row.
    let p = env.file(
        "cisco.csv",
        format!(
            "username,first_name,extension,mac,phone_model,site,settings\n\
             carl,Carl,1002,{CISCO_MAC},cisco-8841,berlin,Password_1_=x\n"
        ),
    );
    let r = env.run(&[
        "--config",
        &cfg,
        "import",
        p.to_str().expect("path"),
        "--format",
        "json",
    ]);
    let v = r.json();
    assert_eq!(r.code, 1, "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Password_1_") && msg.contains("allow_override"),
        "{msg}"
    );
    assert_eq!(v["errors"][0]["column"], "settings");

    assert_eq!(env.run(&["--config", &cfg, "export"]).stdout, export);
    assert_eq!(render(&env, &cfg, false).0, rendered);
    assert_eq!(
        tree_bytes(&env.data()),
        tree,
        "a refused import wrote to the store"
    );

    // Opted in per key, the same setting is taken.
    let opt_in = env.file(
        "opt-in.toml",
        "[sites.berlin]\n[settings]\nallow_override = [\"Password_1_\"]\n",
    );
    let r = env.run(&[
        "--config",
        opt_in.to_str().expect("path"),
        "import",
        p.to_str().expect("path"),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn config_settings_are_checked_with_their_path() {
    let env = Env::new();
    for (toml, path) in [
        (
            "[sites.berlin.settings.yealink]\n\"account.1.password\" = \"x\"\n",
            "sites.berlin.settings.yealink.\"account.1.password\"",
        ),
        (
            "[sites.berlin.settings.yealink]\n\"a.b\" = \"1\\nc = 2\"\n",
            "sites.berlin.settings.yealink.\"a.b\"",
        ),
        (
            "[models.\"cisco-8841\".settings]\n\"Bad-Key\" = \"1\"\n",
            "models.\"cisco-8841\".settings.\"Bad-Key\"",
        ),
        (
            "[models.\"grandstream-gxp2170\".settings]\nP51 = \"]]>\"\n",
            "models.\"grandstream-gxp2170\".settings.\"P51\"",
        ),
    ] {
        let p = env.file("bad.toml", toml);
        let r = env.run(&["--config", p.to_str().expect("path"), "users"]);
        assert_eq!(r.code, 2, "{toml}: {}", r.stderr);
        assert!(r.stderr.contains(path), "{toml}: {}", r.stderr);
    }
}
