//! The one JSON document every command writes to stdout with `--output json`, on success and
//! on failure: `schema_version`, `ok`, and on failure an `error` object (docs/json.md, the
//! schema in docs/schema/orchestrate-output.json).

use orchestrate_core::ErrorKind;
use orchestrate_core::sensitive::redact;
use serde_json::{Map, Value};

use crate::output::outln;

/// Version of every JSON document and progress line; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A success document: `body`'s fields with `schema_version` and `ok: true`.
pub fn success(body: Value) -> Value {
    with_envelope(body, None)
}

/// A failed command's document: `body`'s fields (what the command still has to say, e.g. the
/// findings of `validate`) with `ok: false` and the `error` object.
pub fn failure(body: Value, error: &Failure<'_>) -> Value {
    with_envelope(body, Some(error))
}

/// A verdict command's document (`validate`, `verify`, `doctor`): `body` with `ok: true`, or
/// with `ok: false` and `failure` when there is one.
pub fn outcome(body: Value, failure: Option<&Failure<'_>>) -> Value {
    with_envelope(body, failure)
}

/// What a failed command reports.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// What went wrong (its id is the document's `error.kind`).
    pub kind: ErrorKind,
    /// The process's exit code.
    pub exit_code: u8,
    /// The error and its causes.
    pub message: &'a str,
    /// The fix, when it is the user's.
    pub hint: Option<&'a str>,
}

fn with_envelope(body: Value, error: Option<&Failure<'_>>) -> Value {
    let mut map = match body {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            let mut map = Map::new();
            map.insert("result".into(), other);
            map
        }
    };
    map.insert("schema_version".into(), SCHEMA_VERSION.into());
    map.insert("ok".into(), error.is_none().into());
    if let Some(e) = error {
        map.insert(
            "error".into(),
            serde_json::json!({
                "kind": e.kind.id(),
                "exit_code": e.exit_code,
                "message": redact(e.message),
                "hint": e.hint,
            }),
        );
    }
    Value::Object(map)
}

/// Writes `doc` to stdout, pretty-printed and redacted.
pub fn print(doc: &Value) {
    let text = serde_json::to_string_pretty(doc).unwrap_or_else(|e| {
        format!(
            "{{\"schema_version\": {SCHEMA_VERSION}, \"ok\": false, \"error\": {{\"kind\": \"internal\", \
             \"exit_code\": 1, \"message\": \"cannot serialise the document: {e}\", \"hint\": null}}}}"
        )
    });
    outln!("{}", redact(&text));
}

/// Serialises a result type into a document body.
pub fn body<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::json!({ "serialisation_error": e.to_string() }))
}

/// True when raw command-line arguments ask for `--output json` (read when clap refused the
/// command line, so a usage error can still answer in JSON).
pub fn json_requested<I: IntoIterator<Item = String>>(args: I) -> bool {
    let mut previous_was_flag = false;
    for arg in args {
        if previous_was_flag && arg == "json" {
            return true;
        }
        if matches!(arg.as_str(), "--output=json" | "-ojson" | "-o=json") {
            return true;
        }
        previous_was_flag = matches!(arg.as_str(), "--output" | "-o");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_failure_carry_the_envelope() {
        let ok = success(serde_json::json!({"phase": 2}));
        assert_eq!(ok["schema_version"], 1);
        assert_eq!(ok["ok"], true);
        assert_eq!(ok["phase"], 2);
        assert!(ok.get("error").is_none());
        let failed = failure(
            serde_json::json!({"findings": []}),
            &Failure {
                kind: ErrorKind::Invalid,
                exit_code: 2,
                message: "bad",
                hint: None,
            },
        );
        assert_eq!(failed["ok"], false);
        assert_eq!(failed["error"]["kind"], "invalid");
        assert_eq!(failed["error"]["exit_code"], 2);
        assert!(failed["findings"].is_array());
    }

    #[test]
    fn json_is_found_in_every_spelling_of_the_flag() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(json_requested(args(&[
            "orchestrate",
            "--output",
            "json",
            "up"
        ])));
        assert!(json_requested(args(&["orchestrate", "up", "-o", "json"])));
        assert!(json_requested(args(&["orchestrate", "--output=json"])));
        assert!(json_requested(args(&["orchestrate", "-ojson"])));
        assert!(!json_requested(args(&["orchestrate", "render", "json"])));
        assert!(!json_requested(args(&["orchestrate", "--output", "text"])));
    }
}
