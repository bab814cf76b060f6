//! Reading the JSON import report (`import --format json`).

use serde_json::Value;

/// Summary field of a JSON report.
pub fn summary(v: &Value, key: &str) -> i64 {
    v["summary"][key]
        .as_i64()
        .unwrap_or_else(|| panic!("summary.{key} missing in {v}"))
}

/// (row, line, column, code) of one report entry.
pub type ErrorAt = (Option<i64>, Option<i64>, Option<String>, String);

/// The (row, line, column, code) of every error in a report.
pub fn errors(v: &Value) -> Vec<ErrorAt> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["row"].as_i64(),
                        e["line"].as_i64(),
                        e["column"].as_str().map(str::to_string),
                        e["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The code of every error in a report.
pub fn codes(v: &Value) -> Vec<String> {
    errors(v).into_iter().map(|e| e.3).collect()
}
