//! Progress events: what the engine and resource crates report while they work.
//!
//! Resource crates emit [`Event`]s through a [`Reporter`]; the CLI decides how to show them
//! (a spinner on a TTY, timestamped lines otherwise, JSON lines with `--output json`).

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Something worth telling the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A resource is being created, updated or deleted.
    Applying {
        /// Resource kind, e.g. `rds/db-instance`.
        kind: String,
        /// Resource name.
        name: String,
        /// `create`, `update`, `delete`, `adopt`.
        action: String,
    },
    /// A wait observed a new state.
    Waiting {
        /// Resource kind.
        kind: String,
        /// Resource name.
        name: String,
        /// State as AWS reports it.
        state: String,
    },
    /// A resource is ready.
    Ready {
        /// Resource kind.
        kind: String,
        /// Resource name.
        name: String,
    },
    /// Free text (service events, notices such as a removed duplicate).
    Note {
        /// Resource kind or area.
        kind: String,
        /// The message.
        message: String,
    },
}

/// Receives events. Implementations must be cheap and never block for long.
pub trait Reporter: Send + Sync {
    /// Called for each event.
    fn report(&self, event: Event);
}

/// A reporter that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: Event) {}
}

/// A reporter that keeps every event (tests).
#[derive(Debug, Default, Clone)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// Events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}

/// Shorthands for emitting events.
pub trait ReporterExt {
    /// Reports that `kind`/`name` is being acted on.
    fn applying(&self, kind: &str, name: &str, action: &str);
    /// Reports a new observed state.
    fn waiting(&self, kind: &str, name: &str, state: &str);
    /// Reports readiness.
    fn ready(&self, kind: &str, name: &str);
    /// Reports a note.
    fn note(&self, kind: &str, message: impl Into<String>);
}

impl<R: Reporter + ?Sized> ReporterExt for R {
    fn applying(&self, kind: &str, name: &str, action: &str) {
        self.report(Event::Applying {
            kind: kind.into(),
            name: name.into(),
            action: action.into(),
        });
    }
    fn waiting(&self, kind: &str, name: &str, state: &str) {
        self.report(Event::Waiting {
            kind: kind.into(),
            name: name.into(),
            state: state.into(),
        });
    }
    fn ready(&self, kind: &str, name: &str) {
        self.report(Event::Ready {
            kind: kind.into(),
            name: name.into(),
        });
    }
    fn note(&self, kind: &str, message: impl Into<String>) {
        self.report(Event::Note {
            kind: kind.into(),
            message: message.into(),
        });
    }
}
