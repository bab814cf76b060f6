//! Column mapping and row filter: turns a foreign table (an HR export, an
//! LDAP result) into autoprov's canonical columns, so the rows then go through
//! the one validation every CSV goes through.
//!
//! A mapping names, per target field (docs/reference/csv.md), a source column,
//! a minijinja template over `row`, or a constant; a column or template may
//! carry a default used when it yields an empty value. An optional filter (a
//! minijinja expression over `row`) skips rows it rejects.
//!
//! Templates run in an environment of their own: no loader (so `include`,
//! `import` and `extends` find nothing and are refused up front), no globals
//! beyond minijinja's pure builtins, bounded fuel, recursion and output. The
//! engine has no function that reads a file, the environment or the network.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

use super::columns::Column;

/// Instructions one template or filter may spend per row: ample for string
/// surgery on a few cells, far too few for a runaway loop.
const FUEL: u64 = 50_000;
/// Bytes one template may write per row.
const MAX_OUTPUT: usize = 64 * 1024;
/// Nesting depth a template may reach (macros, nested expressions).
const RECURSION_LIMIT: usize = 64;

/// Where a target field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A source column, by its header as written.
    Column(String),
    /// A minijinja template over `row`.
    Template(String),
    /// A constant.
    Default(String),
}

/// One target field and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    /// Canonical target field name (`extension`, `last_name`...).
    pub field: String,
    pub source: Source,
    /// Used when a column or template yields an empty value.
    pub default: Option<String>,
}

/// A parsed, validated mapping (see the module docs).
#[derive(Clone)]
pub struct Mapping {
    /// In key order (TOML tables are sorted).
    pub fields: Vec<FieldRule>,
    /// A minijinja expression over `row`; false skips the row.
    pub filter: Option<String>,
    /// File path or `sources.NAME.map`, for messages.
    pub origin: String,
    /// The mapping file's text, when it came from one: what a client sends
    /// a running server (`map` in an import request).
    pub text: Option<String>,
    env: Arc<Environment<'static>>,
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("fields", &self.fields)
            .field("filter", &self.filter)
            .field("origin", &self.origin)
            .finish()
    }
}

impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields && self.filter == other.filter
    }
}

/// A mapping that cannot be used: refused before any row is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{origin}: {key}: unknown target field {key:?}{hint} (fields: {known})")]
    UnknownField {
        origin: String,
        key: String,
        hint: String,
        known: String,
    },
    #[error("{origin}: {key}: {reason}")]
    Invalid {
        origin: String,
        key: String,
        reason: String,
    },
    #[error("{origin}: {key}: template error: {reason}")]
    Template {
        origin: String,
        key: String,
        reason: String,
    },
    #[error("{origin}: the mapping is empty: map at least one target field (username is required)")]
    Empty { origin: String },
    #[error("{origin}: {key}: the file has no column {column:?} (its columns: {headers})")]
    UnknownColumn {
        origin: String,
        key: String,
        column: String,
        headers: String,
    },
    #[error("{origin}: {reason}")]
    File { origin: String, reason: String },
}

impl MappingError {
    /// The mapping key the error is about (`last_name`, `filter`), if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            MappingError::UnknownField { key, .. }
            | MappingError::Invalid { key, .. }
            | MappingError::Template { key, .. }
            | MappingError::UnknownColumn { key, .. } => Some(key),
            MappingError::Empty { .. } | MappingError::File { .. } => None,
        }
    }
}

/// A row the mapping could not produce: a row error, never a file error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping of {field}: {reason}")]
pub struct RowMappingError {
    /// The target field (or `filter`).
    pub field: String,
    pub reason: String,
}

/// One mapped row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedRow {
    /// Canonical field → value, in the mapping's order.
    Kept(Vec<(String, String)>),
    /// The filter rejected the row; the reason for the report.
    Skipped(String),
}

fn template_name(field: &str) -> String {
    format!("map:{field}")
}

impl Mapping {
    /// Parses a mapping table (`[sources.NAME.map]`, or a map file's `[map]`)
    /// and an optional filter. `origin` names it in every error.
    pub fn from_toml(table: &toml::Table, origin: &str) -> Result<Mapping, MappingError> {
        Mapping::build(table, None, origin)
    }

    /// Like [`Mapping::from_toml`], with the filter expression beside it.
    pub fn from_toml_with_filter(
        table: &toml::Table,
        filter: Option<&str>,
        origin: &str,
    ) -> Result<Mapping, MappingError> {
        Mapping::build(table, filter, origin)
    }

    /// Reads a `--map FILE`: a top-level `[map]` table and an optional
    /// top-level `filter = "..."`. Errors name the file and the key's line.
    pub fn from_file_text(text: &str, origin: &str) -> Result<Mapping, MappingError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| MappingError::File {
                origin: origin.to_string(),
                reason: format!("not valid TOML: {}", e.message()),
            })?;
        for key in doc.keys() {
            if key != "map" && key != "filter" {
                return Err(MappingError::File {
                    origin: located(origin, text, key),
                    reason: format!(
                        "unknown key {key:?}: a mapping file has a [map] table and an optional filter"
                    ),
                });
            }
        }
        let filter = match doc.get("filter") {
            None => None,
            Some(toml::Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                return Err(MappingError::Invalid {
                    origin: located(origin, text, "filter"),
                    key: "filter".into(),
                    reason: "must be a string (a minijinja expression over row)".into(),
                });
            }
        };
        let empty = toml::Table::new();
        let map = match doc.get("map") {
            None => &empty,
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                return Err(MappingError::File {
                    origin: origin.to_string(),
                    reason: "map must be a table ([map])".into(),
                });
            }
        };
        let mut m = Mapping::build(map, filter, origin).map_err(|e| with_line(e, text))?;
        m.text = Some(text.to_string());
        Ok(m)
    }

    fn build(
        table: &toml::Table,
        filter: Option<&str>,
        origin: &str,
    ) -> Result<Mapping, MappingError> {
        let invalid = |key: &str, reason: String| MappingError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            reason,
        };
        let mut env = sandbox();
        let mut fields = Vec::with_capacity(table.len());
        for (key, value) in table {
            if !Column::ALL.iter().any(|c| c.name() == key) {
                return Err(unknown_field(origin, key));
            }
            let rule = parse_rule(key, value).map_err(|r| invalid(key, r))?;
            if let Source::Template(t) = &rule.source {
                check_template(&mut env, key, t).map_err(|reason| MappingError::Template {
                    origin: origin.to_string(),
                    key: key.clone(),
                    reason,
                })?;
            }
            fields.push(rule);
        }
        if fields.is_empty() {
            return Err(MappingError::Empty {
                origin: origin.to_string(),
            });
        }
        if !fields.iter().any(|r| r.field == "username") {
            return Err(MappingError::Invalid {
                origin: origin.to_string(),
                key: "username".into(),
                reason: "the mapping must give every row a username (username = \"Column\")".into(),
            });
        }
        let filter = filter.map(str::trim).filter(|f| !f.is_empty());
        if let Some(f) = filter {
            check_filter(&env, f).map_err(|reason| MappingError::Template {
                origin: origin.to_string(),
                key: "filter".into(),
                reason,
            })?;
        }
        Ok(Mapping {
            fields,
            filter: filter.map(str::to_string),
            origin: origin.to_string(),
            text: None,
            env: Arc::new(env),
        })
    }

    /// The canonical fields this mapping produces, in order: the header the
    /// mapped table gets.
    pub fn targets(&self) -> Vec<String> {
        self.fields.iter().map(|r| r.field.clone()).collect()
    }

    /// Every source column the mapping reads (plain columns, `row[...]` in
    /// templates and the filter), in order, each once: what an LDAP search
    /// asks the server for.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let named = self.fields.iter().flat_map(|r| match &r.source {
            Source::Column(c) => vec![c.clone()],
            Source::Template(t) => row_references(t),
            Source::Default(_) => Vec::new(),
        });
        let filtered = self.filter.iter().flat_map(|f| row_references(f));
        for c in named.chain(filtered) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The source column a target field is read from, when it is a plain column.
    pub fn source_column(&self, field: &str) -> Option<&str> {
        self.fields.iter().find_map(|r| match &r.source {
            Source::Column(c) if r.field == field => Some(c.as_str()),
            _ => None,
        })
    }

    /// Refuses a mapping that names a column `headers` lacks: by a column
    /// rule, or by `row["..."]` / `row.name` in a template or the filter.
    pub fn check_columns(&self, headers: &[String]) -> Result<(), MappingError> {
        let has = |c: &str| headers.iter().any(|h| h == c);
        let missing = |key: &str, column: &str| MappingError::UnknownColumn {
            origin: self.origin.clone(),
            key: key.to_string(),
            column: column.to_string(),
            headers: headers
                .iter()
                .map(|h| format!("{h:?}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        for rule in &self.fields {
            let named = match &rule.source {
                Source::Column(c) => vec![c.clone()],
                Source::Template(t) => row_references(t),
                Source::Default(_) => Vec::new(),
            };
            if let Some(c) = named.iter().find(|c| !has(c)) {
                return Err(missing(&rule.field, c));
            }
        }
        if let Some(f) = &self.filter
            && let Some(c) = row_references(f).iter().find(|c| !has(c))
        {
            return Err(missing("filter", c));
        }
        Ok(())
    }

    /// Maps one record. `headers` are the source's column names, `row` its
    /// cells in the same order (missing trailing cells read as empty).
    pub fn apply(&self, headers: &[String], row: &[String]) -> Result<MappedRow, RowMappingError> {
        let ctx = row_context(headers, row);
        if let Some(filter) = &self.filter
            && !self.keeps(filter, &ctx)?
        {
            return Ok(MappedRow::Skipped(format!("filter is false: {filter}")));
        }
        let mut out = Vec::with_capacity(self.fields.len());
        for rule in &self.fields {
            let value = match &rule.source {
                Source::Column(c) => cell(headers, row, c).to_string(),
                Source::Template(_) => self.render(&rule.field, &ctx)?,
                Source::Default(d) => d.clone(),
            };
            let value = match &rule.default {
                Some(d) if value.trim().is_empty() => d.clone(),
                _ => value,
            };
            out.push((rule.field.clone(), value));
        }
        Ok(MappedRow::Kept(out))
    }

    /// The username a row maps to, for a row whose other fields failed:
    /// the import still knows which user the row meant.
    pub fn username_of(&self, headers: &[String], row: &[String]) -> Option<String> {
        let rule = self.fields.iter().find(|r| r.field == "username")?;
        let ctx = row_context(headers, row);
        let value = match &rule.source {
            Source::Column(c) => cell(headers, row, c).to_string(),
            Source::Template(_) => self.render(&rule.field, &ctx).ok()?,
            Source::Default(d) => d.clone(),
        };
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    /// Where a target field comes from, for a report: `column "Durchwahl"`,
    /// `the mapping's template`, `the mapping's default`.
    pub fn describe_source(&self, field: &str) -> Option<String> {
        let rule = self.fields.iter().find(|r| r.field == field)?;
        Some(match &rule.source {
            Source::Column(c) => format!("column {c:?}"),
            Source::Template(_) => "the mapping's template".to_string(),
            Source::Default(_) => "the mapping's default".to_string(),
        })
    }

    fn keeps(&self, filter: &str, ctx: &Value) -> Result<bool, RowMappingError> {
        let err = |e: minijinja::Error| RowMappingError {
            field: "filter".into(),
            reason: describe(&e),
        };
        let expr = self.env.compile_expression(filter).map_err(err)?;
        Ok(expr.eval(ctx.clone()).map_err(err)?.is_true())
    }

    fn render(&self, field: &str, ctx: &Value) -> Result<String, RowMappingError> {
        let err = |reason: String| RowMappingError {
            field: field.to_string(),
            reason,
        };
        let tmpl = self
            .env
            .get_template(&template_name(field))
            .map_err(|e| err(describe(&e)))?;
        let mut out = Bounded::default();
        match tmpl.render_captured_to(ctx.clone(), &mut out) {
            Ok(_) => {}
            Err(_) if out.overflow => {
                return Err(err(format!(
                    "the template wrote more than {MAX_OUTPUT} bytes"
                )));
            }
            Err(e) => return Err(err(describe(&e))),
        }
        String::from_utf8(out.buf).map_err(|_| err("the template wrote invalid UTF-8".into()))
    }
}

/// The engine every mapping's templates run in: no loader, no file or
/// environment access, limits on fuel, depth and output.
fn sandbox() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    // No HTML escaping: values are CSV cells, not markup.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // `debug()` dumps the engine's state; nothing a mapping needs.
    env.remove_global("debug");
    env
}

fn parse_rule(key: &str, value: &toml::Value) -> Result<FieldRule, String> {
    let field = key.to_string();
    match value {
        toml::Value::String(c) => Ok(FieldRule {
            field,
            source: Source::Column(non_empty_column(c)?),
            default: None,
        }),
        toml::Value::Table(t) => {
            let text = |k: &str| -> Result<Option<String>, String> {
                match t.get(k) {
                    None => Ok(None),
                    Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!("{k} must be a string")),
                }
            };
            if let Some(k) = t
                .keys()
                .find(|k| !matches!(k.as_str(), "column" | "template" | "default"))
            {
                return Err(format!(
                    "unknown key {k:?} (use column, template and/or default)"
                ));
            }
            let (column, template, default) = (text("column")?, text("template")?, text("default")?);
            let source = match (column, template, default.clone()) {
                (Some(_), Some(_), _) => {
                    return Err("give column or template, not both".into());
                }
                (Some(c), None, _) => Source::Column(non_empty_column(&c)?),
                (None, Some(t), _) => Source::Template(t),
                (None, None, Some(d)) => {
                    return Ok(FieldRule {
                        field,
                        source: Source::Default(d),
                        default: None,
                    });
                }
                (None, None, None) => {
                    return Err("give a column, a template or a default".into());
                }
            };
            Ok(FieldRule {
                field,
                source,
                default,
            })
        }
        _ => Err(
            "must be a column name (\"Durchwahl\") or a table ({ column = ..., template = ..., default = ... })"
                .into(),
        ),
    }
}

fn non_empty_column(c: &str) -> Result<String, String> {
    let c = c.trim();
    if c.is_empty() {
        Err("the column name is empty".into())
    } else {
        Ok(c.to_string())
    }
}

fn unknown_field(origin: &str, key: &str) -> MappingError {
    let best = Column::ALL
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&key.to_lowercase(), c.name()),
                c.name(),
            )
        })
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    MappingError::UnknownField {
        origin: origin.to_string(),
        key: key.to_string(),
        hint: best
            .map(|(_, n)| format!("; did you mean {n}?"))
            .unwrap_or_default(),
        known: Column::ALL
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Tags that would reach beyond the template itself.
const FORBIDDEN_TAGS: [&str; 4] = ["include", "import", "from", "extends"];

fn forbidden_tag(src: &str) -> Option<&'static str> {
    let mut rest = src;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let body = rest.trim_start_matches(['-', '+', '~']).trim_start();
        if let Some(tag) = FORBIDDEN_TAGS.iter().find(|t| {
            body.strip_prefix(**t)
                .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        }) {
            return Some(tag);
        }
    }
    None
}

/// Names a template may use besides `row`: minijinja's pure builtins.
const GLOBALS: [&str; 3] = ["range", "dict", "namespace"];

fn check_template(env: &mut Environment<'static>, field: &str, src: &str) -> Result<(), String> {
    if let Some(tag) = forbidden_tag(src) {
        return Err(format!(
            "{{% {tag} %}} is not allowed: a mapping template sees only the row"
        ));
    }
    env.add_template_owned(template_name(field), src.to_string())
        .map_err(|e| describe(&e))?;
    let tmpl = env
        .get_template(&template_name(field))
        .map_err(|e| describe(&e))?;
    check_variables(tmpl.undeclared_variables(false))
}

fn check_filter(env: &Environment<'static>, src: &str) -> Result<(), String> {
    env.compile_expression(src).map_err(|e| describe(&e))?;
    // Expressions do not report their variables; a template of the same
    // expression does.
    let probe = format!("{{{{ {src} }}}}");
    let tmpl = env.template_from_str(&probe).map_err(|e| describe(&e))?;
    check_variables(tmpl.undeclared_variables(false))
}

fn check_variables(vars: std::collections::HashSet<String>) -> Result<(), String> {
    let unknown: BTreeSet<String> = vars
        .into_iter()
        .filter(|v| v != "row" && !GLOBALS.contains(&v.as_str()))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = unknown.into_iter().collect();
        Err(format!(
            "unknown variable {}: a template sees only row (write row[\"Column\"])",
            list.join(", ")
        ))
    }
}

/// The columns a template names literally: `row["X"]`, `row['X']`, `row.X`.
fn row_references(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("row") {
        let before = src.len() - rest.len() + i;
        rest = &rest[i + 3..];
        let boundary = src[..before]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        if !boundary {
            continue;
        }
        let after = rest.trim_start();
        if let Some(a) = after.strip_prefix('[') {
            let a = a.trim_start();
            if let Some(q) = a.chars().next().filter(|q| *q == '"' || *q == '\'')
                && let Some(end) = a[1..].find(q)
            {
                out.push(a[1..1 + end].to_string());
            }
        } else if let Some(a) = after.strip_prefix('.') {
            let name: String = a
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn cell<'a>(headers: &[String], row: &'a [String], column: &str) -> &'a str {
    headers
        .iter()
        .position(|h| h == column)
        .and_then(|i| row.get(i))
        .map(String::as_str)
        .unwrap_or("")
}

/// `{"row": {header: cell}}`; the first of two equal headers wins.
fn row_context(headers: &[String], row: &[String]) -> Value {
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(headers.len());
    let mut pairs = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        if seen.insert(h.as_str(), ()).is_none() {
            let v = row.get(i).map(String::as_str).unwrap_or("");
            pairs.push((Value::from(h.as_str()), Value::from(v)));
        }
    }
    minijinja::context! { row => Value::from_pairs(pairs) }
}

/// minijinja's message with its detail, on one line.
fn describe(e: &minijinja::Error) -> String {
    e.to_string().replace('\n', " ")
}

/// A writer that refuses output past [`MAX_OUTPUT`].
#[derive(Default)]
struct Bounded {
    buf: Vec<u8>,
    overflow: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT {
            self.overflow = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Adds `:LINE` to an error's origin, where the key stands in `text`.
fn with_line(e: MappingError, text: &str) -> MappingError {
    match e {
        MappingError::UnknownField {
            origin,
            key,
            hint,
            known,
        } => MappingError::UnknownField {
            origin: located(&origin, text, &key),
            key,
            hint,
            known,
        },
        MappingError::Invalid {
            origin,
            key,
            reason,
        } => MappingError::Invalid {
            origin: located(&origin, text, &key),
            key,
            reason,
        },
        MappingError::Template {
            origin,
            key,
            reason,
        } => MappingError::Template {
            origin: located(&origin, text, &key),
            key,
            reason,
        },
        other => other,
    }
}

/// `origin:LINE` for the first line that assigns `key`, else `origin`.
fn located(origin: &str, text: &str, key: &str) -> String {
    let quoted = [format!("\"{key}\""), format!("'{key}'")];
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        let head = quoted
            .iter()
            .find_map(|q| l.strip_prefix(q.as_str()))
            .or_else(|| {
                l.strip_prefix(key).filter(|r| {
                    !r.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
                })
            });
        if head.is_some_and(|r| r.trim_start().starts_with('=')) {
            return format!("{origin}:{}", i + 1);
        }
    }
    origin.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(text: &str) -> Result<Mapping, MappingError> {
        Mapping::from_file_text(text, "hr.toml")
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const HR: &str = r#"
filter = 'row["Durchwahl"] != ""'

[map]
username = "Personalnummer"
last_name = { template = '{{ row["Nachname, Vorname"] | split(", ") | first }}' }
first_name = { template = '{{ row["Nachname, Vorname"] | split(", ") | last }}' }
extension = "Durchwahl"
mac = { column = "Telefon-MAC", default = "" }
site = { default = "berlin" }
"#;

    /// The HR export's header row.
    const HR_HEADERS: &[&str] = &[
        "Personalnummer",
        "Nachname, Vorname",
        "Durchwahl",
        "Telefon-MAC",
    ];

    #[test]
    fn maps_columns_templates_and_defaults() {
        let m = mapping(HR).unwrap();
        let h = strings(HR_HEADERS);
        let r = strings(&["4711", "Müller, Jürgen", "201", ""]);
        let MappedRow::Kept(out) = m.apply(&h, &r).unwrap() else {
            panic!("row skipped")
        };
        let get = |f: &str| out.iter().find(|(k, _)| k == f).map(|(_, v)| v.as_str());
        assert_eq!(get("username"), Some("4711"));
        assert_eq!(get("last_name"), Some("Müller"));
        assert_eq!(get("first_name"), Some("Jürgen"));
        assert_eq!(get("extension"), Some("201"));
        assert_eq!(get("mac"), Some(""));
        assert_eq!(get("site"), Some("berlin"));
        assert!(m.check_columns(&h).is_ok());
    }

    #[test]
    fn filter_skips_with_reason() {
        let m = mapping(HR).unwrap();
        let h = strings(HR_HEADERS);
        let r = strings(&["4712", "Schmidt, Eva", "", ""]);
        match m.apply(&h, &r).unwrap() {
            MappedRow::Skipped(reason) => assert!(reason.contains("Durchwahl"), "{reason}"),
            other => panic!("kept: {other:?}"),
        }
    }

    #[test]
    fn unknown_target_names_line_and_suggests() {
        let e = mapping("[map]\nusername = \"a\"\nlastname = \"b\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("hr.toml:3: lastname"), "{msg}");
        assert!(msg.contains("did you mean last_name"), "{msg}");
    }

    #[test]
    fn syntax_error_and_unknown_variable_are_refused() {
        let e = mapping("[map]\nusername = { template = '{{ row[\"a\"] | }}' }\n").unwrap_err();
        assert!(matches!(e, MappingError::Template { .. }), "{e}");
        assert!(e.to_string().starts_with("hr.toml:2: username"), "{e}");
        let e = mapping("[map]\nusername = { template = '{{ Nachname }}' }\n").unwrap_err();
        assert!(e.to_string().contains("unknown variable Nachname"), "{e}");
        let e = mapping("filter = 'row[\"a\"] =='\n[map]\nusername = \"a\"\n").unwrap_err();
        assert_eq!(e.key(), Some("filter"));
    }

    #[test]
    fn empty_mapping_is_refused() {
        assert!(matches!(
            mapping("[map]\n"),
            Err(MappingError::Empty { .. })
        ));
        assert!(matches!(mapping(""), Err(MappingError::Empty { .. })));
    }

    #[test]
    fn username_is_required() {
        let e = mapping("[map]\nsite = { default = \"berlin\" }\n").unwrap_err();
        assert_eq!(e.key(), Some("username"));
    }

    #[test]
    fn config_table_and_filter() {
        let table: toml::Table = "username = \"login\"\nsite = { default = \"b\" }\n"
            .parse()
            .unwrap();
        let m = Mapping::from_toml_with_filter(&table, Some("row.login != 'x'"), "sources.hr.map")
            .unwrap();
        let h = strings(&["login"]);
        assert_eq!(
            m.apply(&h, &strings(&["anna"])).unwrap(),
            MappedRow::Kept(vec![
                ("site".into(), "b".into()),
                ("username".into(), "anna".into())
            ])
        );
        assert!(matches!(
            m.apply(&h, &strings(&["x"])).unwrap(),
            MappedRow::Skipped(_)
        ));
        let bad: toml::Table = "username = 3\n".parse().unwrap();
        let e = Mapping::from_toml(&bad, "sources.hr.map").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("sources.hr.map: username: must be"),
            "{e}"
        );
    }

    #[test]
    fn include_and_import_are_refused() {
        for t in [
            r#"{% include "/etc/passwd" %}"#,
            r#"{%- import "x" as y %}"#,
            r#"{% from "x" import y %}"#,
            r#"{% extends "/etc/passwd" %}"#,
        ] {
            let text = format!("[map]\nusername = {{ template = '{t}' }}\n");
            let e = mapping(&text).unwrap_err();
            assert!(e.to_string().contains("not allowed"), "{t}: {e}");
        }
    }

    #[test]
    fn runaway_template_runs_out_of_fuel() {
        let m = mapping(
            "[map]\nusername = { template = '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}' }\n",
        )
        .unwrap();
        let e = m.apply(&[], &[]).unwrap_err();
        assert_eq!(e.field, "username");
        assert!(e.reason.contains("fuel"), "{e}");
    }

    #[test]
    fn output_is_bounded() {
        let m = mapping("[map]\nusername = { template = '{{ \"x\" * 1000000 }}' }\n").unwrap();
        let e = m.apply(&[], &[]).unwrap_err();
        assert!(e.reason.contains("more than"), "{e}");
    }

    #[test]
    fn check_columns_names_the_missing_column() {
        let m = mapping(HR).unwrap();
        let e = m
            .check_columns(&strings(&["Personalnummer", "Durchwahl", "Telefon-MAC"]))
            .unwrap_err();
        // Fields are checked in key order: first_name is the first to name it.
        assert_eq!(e.key(), Some("first_name"));
        assert!(e.to_string().contains("Nachname, Vorname"), "{e}");
    }

    #[test]
    fn row_references_are_found() {
        assert_eq!(
            row_references(r#"{{ row["A b"] ~ row.c ~ row[ 'd' ] ~ arrow.x }}"#),
            strings(&["A b", "c", "d"])
        );
    }
}
