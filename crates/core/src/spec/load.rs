//! Reading a spec from disk: the TOML file, a `.env` file beside it, and environment overrides.
//!
//! Overrides use `ORCHESTRATE__<SECTION>__<KEY>` (double underscores separate path segments,
//! case-insensitive), for example `ORCHESTRATE__DATABASE__INSTANCE_CLASS=db.t4g.medium` or
//! `ORCHESTRATE__COMPONENTS__WORKER__MEMORY=4096`. A value is read as TOML when it parses as a
//! TOML value (numbers, booleans, arrays) and as a plain string otherwise. In a table whose
//! keys are the user's own ([`FREE_FORM_TABLES`]: `deployment.tags`, `airflow.environment`)
//! the rest of the variable is one key, verbatim, and the value a string:
//! `ORCHESTRATE__AIRFLOW__ENVIRONMENT__AIRFLOW__CORE__PARALLELISM=64`. Real environment
//! variables win over the `.env` file. Every finding carries the place it came from: a file
//! line and column, or the name of the environment variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Spec;
use crate::escape::escape_control;

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "ORCHESTRATE__";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A place in the spec file (1-based line and column).
    File {
        /// The spec file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// An environment variable (or a `.env` entry) overrode the value.
    Env {
        /// The variable's name.
        variable: String,
    },
    /// The value is a default; it appears nowhere.
    Default {
        /// The spec file the default belongs to.
        path: PathBuf,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => write!(f, "{}:{line}:{column}", shown(path)),
            Origin::Env { variable } => {
                write!(f, "environment variable {}", escape_control(variable))
            }
            Origin::Default { path } => write!(f, "{} (default value)", shown(path)),
        }
    }
}

/// Largest spec or `.env` file read: a real spec is a few KiB, and reading `/dev/zero` or a
/// multi-GiB file must fail at once instead of exhausting memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Failure to read or parse a spec.
///
/// No variant quotes the content of the file: a `.env` value or a misplaced spec value may be
/// a secret. Paths and parser messages have their control characters escaped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", shown(path))]
    Read {
        /// The spec file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory, FIFO, device or socket: refused before reading.
    #[error(
        "{}: refusing to read {kind}; a spec (and the .env beside it) must be a regular file",
        shown(path)
    )]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead (`a directory`, `a FIFO`, ...).
        kind: &'static str,
    },
    /// The file is larger than [`MAX_FILE_BYTES`]: refused before reading.
    #[error(
        "{}: refusing to read {size} bytes; a spec (and the .env beside it) may hold at most {limit} bytes",
        shown(path)
    )]
    TooLarge {
        /// The path given.
        path: PathBuf,
        /// Its size (or the bytes read before giving up).
        size: u64,
        /// [`MAX_FILE_BYTES`].
        limit: u64,
    },
    /// The `.env` file beside the spec could not be parsed. Never quotes the file.
    #[error("{}{}: invalid .env entry: {message}\n  fix: {fix}", shown(path), place(*line, *column))]
    DotEnv {
        /// The `.env` file.
        path: PathBuf,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column of the problem, when known.
        column: Option<usize>,
        /// What is wrong, without any of the file's text.
        message: String,
        /// What to do about it.
        fix: String,
    },
    /// The TOML is malformed or does not fit the spec (unknown key, wrong type, missing field).
    #[error("{origin}: invalid spec [rule: spec-schema]: {message}\n  fix: {fix}")]
    Parse {
        /// Where the problem is.
        origin: Origin,
        /// The parser's message, quoted values elided and control characters escaped.
        message: String,
        /// What to do about it.
        fix: String,
    },
}

fn shown(path: &Path) -> String {
    escape_control(&path.display().to_string()).into_owned()
}

fn place(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// A parsed spec with what is needed to point at its lines.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec, overrides applied.
    pub spec: Spec,
    /// The spec file.
    pub path: PathBuf,
    /// The file's text.
    pub source: String,
    /// Paths (`database.instance_class`) set from the environment, with the variable name.
    pub overridden: BTreeMap<String, String>,
}

impl LoadedSpec {
    /// Where the value at `path` (dotted, e.g. `components.worker.memory`) came from.
    pub fn origin(&self, path: &str) -> Origin {
        if let Some(variable) = self.overridden.get(path) {
            return Origin::Env {
                variable: variable.clone(),
            };
        }
        // Walk up: a finding about `a.b.c` that is not written is best shown at `a.b`.
        // `ingress_cidrs[0]` is written under the key `ingress_cidrs`.
        let mut segments: Vec<&str> = path
            .split('.')
            .map(|s| s.split('[').next().unwrap_or(s))
            .collect();
        while !segments.is_empty() {
            if let Some((line, column)) = locate(&self.source, &segments) {
                return Origin::File {
                    path: self.path.clone(),
                    line,
                    column,
                };
            }
            segments.pop();
        }
        Origin::Default {
            path: self.path.clone(),
        }
    }
}

/// Loads a spec file, the `.env` beside it, and the process environment.
pub fn load(path: &Path) -> Result<LoadedSpec, LoadError> {
    let env = environment_for(path)?;
    load_with_env(path, &env)
}

/// The variables that apply to the spec at `path`: the process environment over the `.env`
/// file in the spec's folder.
pub fn environment_for(path: &Path) -> Result<BTreeMap<String, String>, LoadError> {
    let mut env = BTreeMap::new();
    let dotenv = path.parent().unwrap_or(Path::new(".")).join(".env");
    // A missing .env is normal; anything else at that path is read under the same guards as
    // the spec (a FIFO or a directory there is refused, not silently skipped).
    if std::fs::metadata(&dotenv).is_ok() {
        let text = read_bounded(&dotenv)?;
        env.extend(parse_dotenv(&dotenv, &text)?);
    }
    env.extend(std::env::vars());
    Ok(env)
}

/// Reads `path` as UTF-8 text if it is a regular file of at most [`MAX_FILE_BYTES`]; refuses
/// directories, FIFOs, devices and sockets before opening them (opening a FIFO blocks).
pub fn read_bounded(path: &Path) -> Result<String, LoadError> {
    use std::io::Read as _;
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let check = |meta: &std::fs::Metadata| -> Result<(), LoadError> {
        if !meta.is_file() {
            return Err(LoadError::NotAFile {
                path: path.to_path_buf(),
                kind: file_kind(meta),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: MAX_FILE_BYTES,
            });
        }
        Ok(())
    };
    check(&std::fs::metadata(path).map_err(read_error)?)?;
    let file = std::fs::File::open(path).map_err(read_error)?;
    // The path may have been swapped between the two looks: check what was opened too.
    check(&file.metadata().map_err(read_error)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) =
            match std::str::from_utf8(&e.as_bytes()[..e.utf8_error().valid_up_to()]) {
                Ok(valid) => line_column(valid, valid.len()),
                Err(_) => (1, 1),
            };
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is not UTF-8 text (first invalid byte at line {line}, column {column})"
            ),
        ))
    })
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "something other than a regular file"
}

/// Parses `.env` text. An error names the line and column and what is wrong, never the text:
/// a `.env` holds secrets.
pub fn parse_dotenv(path: &Path, text: &str) -> Result<BTreeMap<String, String>, LoadError> {
    let mut env = BTreeMap::new();
    for entry in dotenvy::from_read_iter(text.as_bytes()) {
        match entry {
            Ok((key, value)) => {
                env.insert(key, value);
            }
            Err(dotenvy::Error::LineParse(fragment, index)) => {
                // dotenvy reports the offending text and an index into it; turn that into a
                // place in the file and drop the text. An index at the very end means the
                // entry never ended (a quote left open): point at where it starts.
                let unterminated = index >= fragment.len();
                let place = text.find(fragment.as_str()).map(|start| {
                    let at = if unterminated { start } else { start + index };
                    line_column(text, at)
                });
                let message = if unterminated {
                    "the entry starting here never ends (a quote opened and not closed)"
                } else {
                    "the entry cannot be parsed (an unquoted value with spaces, a bad escape, \
                     or a line that is not KEY=value)"
                };
                return Err(LoadError::DotEnv {
                    path: path.to_path_buf(),
                    line: place.map(|p| p.0),
                    column: place.map(|p| p.1),
                    message: message.into(),
                    fix: "write KEY=value, quoting values that hold spaces or # with '...' or \"...\""
                        .into(),
                });
            }
            Err(other) => {
                let message = match other {
                    dotenvy::Error::Io(e) => format!("read failed: {e}"),
                    dotenvy::Error::EnvVar(e) => format!("a substitution failed: {e}"),
                    _ => "the file cannot be parsed".to_string(),
                };
                return Err(LoadError::DotEnv {
                    path: path.to_path_buf(),
                    line: None,
                    column: None,
                    message,
                    fix: "write KEY=value lines".into(),
                });
            }
        }
    }
    Ok(env)
}

/// Loads a spec file with an explicit environment (tests pass their own).
pub fn load_with_env(path: &Path, env: &BTreeMap<String, String>) -> Result<LoadedSpec, LoadError> {
    let source = read_bounded(path)?;
    parse_with_env(path, source, env)
}

/// Parses spec text as if read from `path`.
pub fn parse_with_env(
    path: &Path,
    source: String,
    env: &BTreeMap<String, String>,
) -> Result<LoadedSpec, LoadError> {
    // First pass straight from the text, so schema errors carry a line and column.
    let spec: Spec = toml::from_str(&source).map_err(|e| schema_error(path, &source, &e))?;
    let overrides = overrides(env);
    if overrides.is_empty() {
        return Ok(LoadedSpec {
            spec,
            path: path.to_path_buf(),
            source,
            overridden: BTreeMap::new(),
        });
    }
    let mut table: toml::Table =
        toml::from_str(&source).map_err(|e| schema_error(path, &source, &e))?;
    let mut overridden = BTreeMap::new();
    for o in overrides {
        let value = if o.typed {
            parse_env_value(&o.raw)
        } else {
            toml::Value::String(o.raw)
        };
        set_path(&mut table, &o.segments, value);
        overridden.insert(o.segments.join("."), o.variable);
    }
    let spec = Spec::deserialize(toml::Value::Table(table)).map_err(|e| {
        let variables: Vec<&str> = overridden.values().map(String::as_str).collect();
        LoadError::Parse {
            origin: Origin::Env {
                variable: variables.join(", "),
            },
            message: without_values(e.message()),
            fix: "correct or unset the environment override (ORCHESTRATE__SECTION__KEY)".into(),
        }
    })?;
    Ok(LoadedSpec {
        spec,
        path: path.to_path_buf(),
        source,
        overridden,
    })
}

fn schema_error(path: &Path, source: &str, error: &toml::de::Error) -> LoadError {
    let origin = match error.span() {
        Some(span) => {
            let (line, column) = line_column(source, span.start);
            Origin::File {
                path: path.to_path_buf(),
                line,
                column,
            }
        }
        None => Origin::Default {
            path: path.to_path_buf(),
        },
    };
    let message = without_values(error.message().trim());
    let fix = if message.contains("unknown field") {
        "remove or correct the key; see docs/configuration.md for every accepted key".to_string()
    } else if message.contains("missing field") {
        "add the missing key".to_string()
    } else {
        "correct the value's type or syntax; see docs/configuration.md".to_string()
    };
    LoadError::Parse {
        origin,
        message,
        fix,
    }
}

/// A parser message with every double-quoted value elided (`string "hunter2"` becomes
/// `string "…"`: a value in the wrong place may be a secret) and control characters escaped.
/// Keys, shown in backquotes, stay: they name what to fix.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            // Skip to the closing quote, honouring backslash escapes.
            let mut closed = false;
            while let Some(inner) = chars.next() {
                match inner {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => {}
                }
            }
            out.push('…');
            if closed {
                out.push('"');
            }
        }
    }
    escape_control(&out).into_owned()
}

/// Tables whose keys are the user's own (not spec keys): in an override, everything after
/// such a table's name is one key, verbatim — case and `__` kept — and its value a string.
pub const FREE_FORM_TABLES: &[&[&str]] = &[
    &["deployment", "tags"],
    &["airflow", "environment"],
    &["components", "api_server", "secrets"],
    &["components", "scheduler", "secrets"],
    &["components", "dag_processor", "secrets"],
    &["components", "triggerer", "secrets"],
    &["components", "worker", "secrets"],
    &["components", "migration", "secrets"],
];

/// One environment override.
struct Override {
    /// Path segments (spec keys lowercased; a free-form table's key verbatim).
    segments: Vec<String>,
    /// The variable's name.
    variable: String,
    /// The value as written.
    raw: String,
    /// False for a free-form table's entry: always a string, never parsed as TOML.
    typed: bool,
}

/// `ORCHESTRATE__A__B=v` entries, sorted by variable. Segments are split at `__` and
/// lowercased, until the path names a [`FREE_FORM_TABLES`] table: the rest of the variable is
/// then one key, so `ORCHESTRATE__AIRFLOW__ENVIRONMENT__AIRFLOW__CORE__PARALLELISM=64` sets
/// `airflow.environment["AIRFLOW__CORE__PARALLELISM"] = "64"`.
fn overrides(env: &BTreeMap<String, String>) -> Vec<Override> {
    env.iter()
        .filter_map(|(key, value)| {
            let rest = key.strip_prefix(ENV_PREFIX)?;
            let mut segments: Vec<String> = Vec::new();
            let mut typed = true;
            let mut remaining = rest;
            while !remaining.is_empty() {
                if FREE_FORM_TABLES.iter().any(|t| *t == segments.as_slice()) {
                    segments.push(remaining.to_string());
                    typed = false;
                    break;
                }
                let (segment, after) = remaining.split_once("__").unwrap_or((remaining, ""));
                if !segment.is_empty() {
                    segments.push(segment.to_ascii_lowercase());
                }
                remaining = after;
            }
            (!segments.is_empty()).then(|| Override {
                segments,
                variable: key.clone(),
                raw: value.clone(),
                typed,
            })
        })
        .collect()
}

fn parse_env_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut toml::Table, segments: &[String], value: toml::Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut current = table;
    for segment in parents {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => current = t,
            _ => return,
        }
    }
    current.insert(last.clone(), value);
}

/// 1-based line and column of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Line and column of the key at `segments` in a TOML document, if written there.
fn locate(source: &str, segments: &[&str]) -> Option<(usize, usize)> {
    let document = toml::de::DeTable::parse(source).ok()?;
    let mut table = document.get_ref();
    let mut found = None;
    for (i, segment) in segments.iter().enumerate() {
        let (key, value) = table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == *segment)?;
        found = Some(key.span().start);
        if i + 1 < segments.len() {
            match value.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
    }
    found.map(|offset| line_column(source, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<LoadedSpec, LoadError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_with_env(Path::new("orchestrate.toml"), text.to_string(), &env)
    }

    const MINIMAL: &str = "[deployment]\nname = \"demo\"\nregion = \"us-east-1\"\n";

    #[test]
    fn minimal_spec_takes_every_default() {
        let loaded = parse(MINIMAL, &[]).expect("minimal spec parses");
        assert_eq!(loaded.spec, Spec::minimal("demo", "us-east-1"));
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line_and_column() {
        let text = format!("{MINIMAL}[database]\ninstance_clas = \"db.t4g.small\"\n");
        let err = parse(&text, &[]).expect_err("typo must be rejected");
        let shown = err.to_string();
        assert!(shown.contains("orchestrate.toml:5:1"), "{shown}");
        assert!(shown.contains("instance_clas"), "{shown}");
        assert!(shown.contains("spec-schema"), "{shown}");
    }

    #[test]
    fn unknown_key_inside_a_component_is_located() {
        let text = format!("{MINIMAL}[components.worker]\nmemory = 4096\nmemroy = 1\n");
        let err = parse(&text, &[]).expect_err("typo must be rejected");
        let shown = err.to_string();
        assert!(shown.contains("orchestrate.toml:6:1"), "{shown}");
        assert!(shown.contains("memroy"), "{shown}");
    }

    #[test]
    fn overrides_reach_free_form_tables_with_their_keys_verbatim() {
        let text = format!("{MINIMAL}[airflow.environment]\nAIRFLOW__CORE__PARALLELISM = \"32\"\n");
        let loaded = parse(
            &text,
            &[
                (
                    "ORCHESTRATE__AIRFLOW__ENVIRONMENT__AIRFLOW__CORE__PARALLELISM",
                    "64",
                ),
                (
                    "ORCHESTRATE__AIRFLOW__ENVIRONMENT__AIRFLOW__WEBSERVER__INSTANCE_NAME",
                    "Data Platform",
                ),
                ("ORCHESTRATE__DEPLOYMENT__TAGS__CostCenter", "4711"),
                ("ORCHESTRATE__COMPONENTS__WORKER__MEMORY", "4096"),
            ],
        )
        .expect("overrides apply");
        let env = &loaded.spec.airflow.environment;
        assert_eq!(
            env.get("AIRFLOW__CORE__PARALLELISM").map(String::as_str),
            Some("64"),
            "a number stays a string in a string map: {env:?}"
        );
        assert_eq!(
            env.get("AIRFLOW__WEBSERVER__INSTANCE_NAME")
                .map(String::as_str),
            Some("Data Platform")
        );
        assert_eq!(
            loaded
                .spec
                .deployment
                .tags
                .get("CostCenter")
                .map(String::as_str),
            Some("4711")
        );
        assert_eq!(loaded.spec.components.worker.component.memory, 4096);
        assert_eq!(
            loaded.origin("airflow.environment.AIRFLOW__CORE__PARALLELISM"),
            Origin::Env {
                variable: "ORCHESTRATE__AIRFLOW__ENVIRONMENT__AIRFLOW__CORE__PARALLELISM".into()
            }
        );
    }

    #[test]
    fn environment_overrides_win_and_are_typed() {
        let loaded = parse(
            MINIMAL,
            &[
                ("ORCHESTRATE__DATABASE__INSTANCE_CLASS", "db.t4g.medium"),
                ("ORCHESTRATE__COMPONENTS__WORKER__MEMORY", "4096"),
                ("UNRELATED", "x"),
            ],
        )
        .expect("overrides apply");
        assert_eq!(loaded.spec.database.instance_class, "db.t4g.medium");
        assert_eq!(loaded.spec.components.worker.component.memory, 4096);
        assert_eq!(
            loaded.origin("database.instance_class"),
            Origin::Env {
                variable: "ORCHESTRATE__DATABASE__INSTANCE_CLASS".into()
            }
        );
    }

    #[test]
    fn override_of_unknown_key_is_rejected_naming_the_variable() {
        let err = parse(MINIMAL, &[("ORCHESTRATE__DATABASE__NOPE", "1")]).expect_err("unknown key");
        assert!(
            err.to_string().contains("ORCHESTRATE__DATABASE__NOPE"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_a_device_and_a_fifo_are_refused_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load(dir.path()).expect_err("a directory is no spec");
        assert!(
            matches!(
                err,
                LoadError::NotAFile {
                    kind: "a directory",
                    ..
                }
            ),
            "{err}"
        );
        let err = load(Path::new("/dev/zero")).expect_err("a device is no spec");
        assert!(
            matches!(
                err,
                LoadError::NotAFile {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );
        let fifo = dir.path().join("spec.toml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        // Would block forever if opened.
        let err = load(&fifo).expect_err("a FIFO is no spec");
        assert!(
            matches!(err, LoadError::NotAFile { kind: "a FIFO", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("regular file"), "{err}");
    }

    #[test]
    fn a_file_over_one_mib_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        let mut text = MINIMAL.to_string();
        text.push_str(&"# padding\n".repeat(120_000));
        std::fs::write(&spec, text).expect("write");
        let err = load(&spec).expect_err("too large");
        assert!(
            matches!(
                err,
                LoadError::TooLarge {
                    limit: MAX_FILE_BYTES,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_dotenv_that_is_not_a_regular_file_is_refused_not_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        std::fs::write(&spec, MINIMAL).expect("write");
        std::fs::create_dir(dir.path().join(".env")).expect("mkdir");
        let err = load(&spec).expect_err(".env is a directory");
        assert!(matches!(err, LoadError::NotAFile { .. }), "{err}");
        assert!(err.to_string().contains(".env"), "{err}");
    }

    #[test]
    fn a_malformed_dotenv_names_the_line_but_never_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        std::fs::write(&spec, MINIMAL).expect("write");
        for (text, line) in [
            ("OK=1\nDB_PASSWORD=s3cr3t-value with spaces\n", 2),
            ("A=1\nB=2\nTOKEN='s3cr3t-value\n", 3),
            ("# comment\nJUST_s3cr3t-value\n", 2),
        ] {
            std::fs::write(dir.path().join(".env"), text).expect("write .env");
            let err = load(&spec).expect_err("malformed .env");
            let shown = err.to_string();
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(
                shown.contains(&format!(".env:{line}:")),
                "{text:?}: {shown}"
            );
            assert!(shown.contains("fix:"), "{shown}");
        }
        std::fs::write(
            dir.path().join(".env"),
            "ORCHESTRATE__DATABASE__USERNAME=dbo\n",
        )
        .expect("write");
        let loaded = load(&spec).expect("a well-formed .env applies");
        assert_eq!(loaded.spec.database.username, "dbo");
    }

    #[test]
    fn quoted_values_are_elided_from_parser_messages() {
        assert_eq!(
            without_values("invalid type: string \"hunter2 \\\" x\", expected u32"),
            "invalid type: string \"…\", expected u32"
        );
        assert_eq!(
            without_values("unknown field `nope`"),
            "unknown field `nope`"
        );
        assert_eq!(without_values("dangling \"abc"), "dangling \"…");
    }

    #[test]
    fn origin_points_at_written_keys_and_falls_back_to_parents() {
        let text =
            format!("{MINIMAL}\n[components.worker]\ncpu = 1024\nmemory = 1024\ncount = 1\n");
        let loaded = parse(&text, &[]).expect("parses");
        assert_eq!(
            loaded.origin("components.worker.memory"),
            Origin::File {
                path: "orchestrate.toml".into(),
                line: 7,
                column: 1
            }
        );
        // Not written: shown at the nearest written parent.
        match loaded.origin("components.worker.autoscaling.min") {
            Origin::File { line, .. } => assert_eq!(line, 5),
            other => panic!("unexpected origin {other:?}"),
        }
        assert!(matches!(loaded.origin("cache.tls"), Origin::Default { .. }));
    }
}
