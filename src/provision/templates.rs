//! Phone templates: defaults compiled into the binary, each overridable by a
//! file of the same name under `--templates DIR`.
//!
//! The defaults are not listed here: each vendor file rule carries its own
//! [`Template`](crate::vendors::Template), so the set is whatever
//! [`VENDORS`] names and a new vendor needs no registration in this file.
//!
//! Rendering is strict: an undefined variable, a printed `none`, a printed
//! boolean or a value with a line break is an error, never output. A line
//! break inside a value would inject extra `key = value` lines.

use std::path::{Path, PathBuf};

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, escape_formatter};

use crate::vendors::{self, VENDORS};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template directory {0} does not exist or is not a directory")]
    NoDir(String),
    #[error("template {name}: {message}")]
    Invalid { name: String, message: String },
}

/// The compiled template set, shared by the server and `autoprov render`.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// Builds the set and compiles every template the vendor table names, so
    /// a broken override fails at start-up rather than on a phone's request.
    pub fn new(override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let dir = match override_dir {
            Some(d) if !d.is_dir() => return Err(TemplateError::NoDir(d.display().to_string())),
            Some(d) => Some(d.to_path_buf()),
            None => None,
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| invalid("(syntax)", &e))?;
        env.set_syntax(syntax);
        env.set_loader(move |name| load(dir.as_deref(), name));
        env.set_auto_escape_callback(auto_escape);
        env.set_formatter(checked_formatter);
        env.add_filter("zpad", zpad);
        let templates = Templates { env };
        for template in VENDORS
            .iter()
            .flat_map(|v| v.provisioning.files)
            .filter_map(|r| r.template.as_ref())
        {
            templates
                .env
                .get_template(template.name)
                .map_err(|e| invalid(template.name, &e))?;
        }
        Ok(templates)
    }

    /// Renders one template with `ctx`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

fn invalid(name: &str, e: &Error) -> TemplateError {
    TemplateError::Invalid {
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// An override file if one exists, else the compiled-in default. Names are
/// checked so an `{% include %}` in an override cannot leave the directory.
fn load(dir: Option<&Path>, name: &str) -> Result<Option<String>, Error> {
    let safe = !name.is_empty()
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if !safe {
        return Ok(None);
    }
    if let Some(dir) = dir {
        let path: PathBuf = dir.join(name);
        if path.is_file() {
            return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::TemplateNotFound,
                    format!("cannot read {}: {e}", path.display()),
                )
            });
        }
    }
    Ok(vendors::default_template(name).map(|t| t.source.to_string()))
}

/// XML-escape every printed value of templates named `*.xml`, `*.htm` or
/// `*.html` (minijinja's HTML escape would also write `/` as `&#x2f;`, which
/// phones' small XML parsers need not understand); nothing for the others.
fn auto_escape(name: &str) -> AutoEscape {
    if [".xml", ".htm", ".html"].iter().any(|e| name.ends_with(e)) {
        AutoEscape::Custom("xml".into())
    } else {
        AutoEscape::None
    }
}

/// `&`, `<`, `>`, `"` and `'` as XML's predefined entities.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The default formatter, refusing what a phone must never receive.
fn checked_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    let refuse = |why: &str| Err(Error::new(ErrorKind::InvalidOperation, why.to_string()));
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => {
            return refuse("template printed an empty (none) value; guard it with `is not none`");
        }
        ValueKind::Bool => return refuse("template printed a boolean; write `1 if x else 0`"),
        _ => {}
    }
    let has_break = match value.as_str() {
        Some(s) => s.chars().any(char::is_control),
        None => value.to_string().chars().any(char::is_control),
    };
    if has_break {
        // The value itself stays out of the message: it may be a password.
        return refuse("a value contains a line break or control character; refusing to emit it");
    }
    if matches!(state.auto_escape(), AutoEscape::Custom(n) if n == "xml") {
        let text = match value.as_str() {
            Some(s) if value.is_safe() => s.to_string(),
            Some(s) => xml_escape(s),
            None => xml_escape(&value.to_string()),
        };
        return std::fmt::Write::write_str(out, &text).map_err(Error::from);
    }
    escape_formatter(out, state, value)
}

/// `{{ 96 | zpad(12) }}` → `000000000096`.
fn zpad(value: u64, width: usize) -> Result<String, Error> {
    if width > 32 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "zpad width too large",
        ));
    }
    Ok(format!("{value:0width$}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    fn env() -> Templates {
        Templates::new(None).unwrap()
    }

    #[test]
    fn refuses_line_breaks_none_and_bools() {
        let t = env();
        let ok = t.env.render_str("a = {{ x }}", context! { x => "plain" });
        assert_eq!(ok.unwrap(), "a = plain");
        for bad in [
            context! { x => "evil\naccount.1.password = x" },
            context! { x => "cr\r" },
            context! { x => () },
            context! { x => true },
        ] {
            let err = t.env.render_str("a = {{ x }}", bad).unwrap_err();
            assert!(!err.to_string().contains("evil"), "{err}");
        }
        assert!(t.env.render_str("a = {{ missing }}", context! {}).is_err());
    }

    #[test]
    fn xml_templates_escape() {
        let mut t = env();
        t.env
            .add_template("x/t.xml", "<a n=\"{{ x }}\">{{ x }}</a>")
            .unwrap();
        t.env.add_template("x/t.cfg", "a = {{ x }}").unwrap();
        let ctx = || context! { x => "Ali \"x\" <b>& 'o' https://h/p" };
        assert_eq!(
            t.render("x/t.xml", ctx()).unwrap(),
            "<a n=\"Ali &quot;x&quot; &lt;b&gt;&amp; &apos;o&apos; https://h/p\">\
             Ali &quot;x&quot; &lt;b&gt;&amp; &apos;o&apos; https://h/p</a>"
        );
        assert_eq!(
            t.render("x/t.cfg", ctx()).unwrap(),
            "a = Ali \"x\" <b>& 'o' https://h/p"
        );
        assert!(t.render("x/t.xml", context! { x => "a\nb" }).is_err());
        assert_eq!(
            t.render("x/t.xml", context! { x => 5 }).unwrap(),
            "<a n=\"5\">5</a>"
        );
    }

    #[test]
    fn zero_padding() {
        let t = env();
        let s = t
            .env
            .render_str("y{{ 96 | zpad(12) }}.cfg", context! {})
            .unwrap();
        assert_eq!(s, "y000000000096.cfg");
    }

    #[test]
    fn overrides_and_safe_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("yealink")).unwrap();
        std::fs::write(
            dir.path().join("yealink/common.cfg"),
            "#!version:1.0.0.1\nover = 1\n",
        )
        .unwrap();
        let t = Templates::new(Some(dir.path())).unwrap();
        let s = t.render("yealink/common.cfg", Value::from(())).unwrap();
        assert_eq!(s, "#!version:1.0.0.1\nover = 1\n");
        assert!(load(Some(dir.path()), "../etc/passwd").unwrap().is_none());
        assert!(load(Some(dir.path()), "yealink/../x").unwrap().is_none());
        assert!(Templates::new(Some(&dir.path().join("nope"))).is_err());
        std::fs::write(dir.path().join("yealink/mac.cfg"), "{% if %}").unwrap();
        assert!(matches!(
            Templates::new(Some(dir.path())),
            Err(TemplateError::Invalid { .. })
        ));
    }
}
