//! How progress and results reach the user: a live line on a TTY, timestamped lines
//! otherwise (and always with `CI=true`), JSON lines with `--output json`.
//!
//! Every line passes through [`orchestrate_core::sensitive::redact`] on its way out.
//!
//! Results reach stdout only through [`outln!`]: a reader that goes away early (`orchestrate
//! status | head -1`) ends the process quietly with exit 0, as other Unix tools do, instead
//! of a "failed printing to stdout" panic. Messages reach stderr through [`errln!`], which
//! never panics either.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use orchestrate_core::sensitive::redact;
use orchestrate_core::{Event, Reporter};

use crate::args::OutputFormat;

/// `println!` for results: writes one line to stdout; a closed pipe ends the process with exit
/// 0 and no message, any other write error with exit 1 and one line on stderr.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// `eprintln!` that never panics: a closed or failing stderr is ignored.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// Writes `args` and a newline to stdout (see [`outln!`]).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        write_stderr(format_args!("error: cannot write to stdout: {e}"));
        std::process::exit(i32::from(orchestrate_engine::error::EXIT_OTHER));
    }
}

/// Writes `args` and a newline to stderr, ignoring failures (see [`errln!`]).
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// True when colours may be written: stderr is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>). Never into a pipe or a file.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A spinner line for the current wait, finished lines above it.
    Live,
    /// One timestamped line per event.
    Plain,
    /// One JSON object per event.
    Json,
    /// Nothing (`--quiet`).
    Quiet,
}

impl Mode {
    /// Chooses the mode from the flags and the environment.
    pub fn detect(format: OutputFormat, quiet: bool) -> Self {
        if format == OutputFormat::Json {
            return Mode::Json;
        }
        if quiet {
            return Mode::Quiet;
        }
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        if !ci && std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// The CLI's [`Reporter`].
///
/// Quiet where nothing happens: a resource's "ready" is shown once, and only for a resource
/// this run acted on or waited for (every "ready" with `-v`), so a converged `up` prints no
/// progress line at all. JSON mode passes every event through.
pub struct Progress {
    mode: Mode,
    /// The deployment's names: which phase a resource belongs to, for JSON progress lines.
    names: Option<orchestrate_core::Names>,
    verbose: bool,
    bar: Option<ProgressBar>,
    lock: Mutex<()>,
    seen: Mutex<Seen>,
}

/// What the reporter has seen of each resource (`kind name`).
#[derive(Default)]
struct Seen {
    /// Resources this run acted on or waited for.
    active: HashSet<String>,
    /// Resources whose "ready" was shown.
    ready: HashSet<String>,
    /// Resources this run created, updated, deleted or adopted.
    applied: HashSet<String>,
}

impl Progress {
    /// How many resources this run created, updated, deleted or adopted.
    pub fn applied(&self) -> usize {
        self.seen.lock().map(|s| s.applied.len()).unwrap_or(0)
    }

    /// Whether `event` is shown in text modes, recording what it says.
    fn shown(&self, event: &Event) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        match event {
            Event::Applying { kind, name, .. } => {
                seen.active.insert(format!("{kind} {name}"));
                seen.applied.insert(format!("{kind} {name}"));
                true
            }
            Event::Waiting { kind, name, .. } => {
                seen.active.insert(format!("{kind} {name}"));
                true
            }
            Event::Ready { kind, name } => {
                let key = format!("{kind} {name}");
                let first = seen.ready.insert(key.clone());
                first && (self.verbose || seen.active.contains(&key))
            }
            Event::Note { .. } => true,
        }
    }

    /// A reporter for `mode`; `verbose` shows every resource's "ready".
    pub fn new(mode: Mode, verbose: bool) -> Self {
        let bar = (mode == Mode::Live).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self {
            mode,
            names: None,
            verbose,
            bar,
            lock: Mutex::new(()),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// The reporter of deployment `name`'s run: JSON progress lines name each resource's phase.
    pub fn for_deployment(mut self, name: &str) -> Self {
        self.names = Some(orchestrate_core::Names::new(name));
        self
    }

    /// Writes a finished line (stderr), above the spinner if any.
    pub fn line(&self, text: &str) {
        let text = redact(text);
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(text),
            (None, Mode::Plain) => {
                let _guard = self.lock.lock();
                let _ = writeln!(std::io::stderr(), "[{}] {text}", timestamp());
            }
            (None, Mode::Json) => {
                let _guard = self.lock.lock();
                json_line(serde_json::json!({"event": "message", "message": text}));
            }
            _ => {}
        }
    }

    /// Stops the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Writes one JSON progress line to stderr: `value`'s fields with `schema_version` and the
/// `timestamp` (RFC 3339, UTC, milliseconds), redacted.
pub fn json_line(value: serde_json::Value) {
    let mut map = match value {
        serde_json::Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("message".into(), other);
            map
        }
    };
    map.insert(
        "schema_version".into(),
        crate::document::SCHEMA_VERSION.into(),
    );
    map.insert("timestamp".into(), rfc3339_now().into());
    let line = serde_json::Value::Object(map).to_string();
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(&line));
}

/// Now as `2026-01-02T03:04:05.678Z`.
pub fn rfc3339_now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let now = time::OffsetDateTime::now_utc();
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// An event as a JSON progress line's fields: the event's own, its `phase` (number) and
/// `phase_name` (null for what belongs to no phase), and `resource` (`kind name`; null for a
/// note).
pub fn event_json(event: &Event, names: Option<&orchestrate_core::Names>) -> serde_json::Value {
    let mut value = serde_json::to_value(event).unwrap_or_else(|_| serde_json::json!({}));
    let (kind, name) = match event {
        Event::Applying { kind, name, .. }
        | Event::Waiting { kind, name, .. }
        | Event::Ready { kind, name } => (kind.as_str(), Some(name.as_str())),
        Event::Note { kind, .. } => (kind.as_str(), None),
    };
    let phase = match (names, name) {
        (Some(names), Some(name)) => {
            orchestrate_engine::resource_phase::phase_of(names, kind, name)
        }
        _ => None,
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("phase".into(), phase.map(|p| p.number()).into());
        map.insert("phase_name".into(), phase.map(|p| p.name()).into());
        map.insert(
            "resource".into(),
            name.map(|n| format!("{kind} {n}")).into(),
        );
    }
    value
}

fn timestamp() -> String {
    let format = time::macros::format_description!("[hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "--:--:--".to_string())
}

/// One event as a line of text.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Applying { kind, name, action } => format!("{action:>7} {kind} {name}"),
        Event::Waiting { kind, name, state } => format!("waiting {kind} {name}: {state}"),
        Event::Ready { kind, name } => format!("  ready {kind} {name}"),
        Event::Note { kind, message } => format!("   note {kind}: {message}"),
    }
}

impl Reporter for Progress {
    fn report(&self, event: Event) {
        let shown = self.shown(&event);
        if !shown && self.mode != Mode::Json {
            return;
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => {
                let _guard = self.lock.lock();
                json_line(event_json(&event, self.names.as_ref()));
            }
            Mode::Plain => self.line(&describe(&event)),
            Mode::Live => {
                if let (Event::Waiting { kind, name, state }, Some(bar)) = (&event, &self.bar) {
                    bar.set_message(redact(&format!("{kind} {name}: {state}")));
                }
                self.line(&describe(&event));
            }
        }
    }
}
