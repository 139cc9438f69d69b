//! orchestrate-core: the vocabulary every other crate speaks. No AWS SDK here.
//!
//! Owns the deployment [`spec`] (types, defaults, loading with line/column origins,
//! environment overrides), the offline [`validate`] rules, deterministic [`names`] and tags,
//! [`phase`]s, [`change`]s and plans, readiness and the deadline-bound poller ([`wait`]),
//! error [`kind`]s (what the exit code and the poller's retry rule are decided by), progress
//! [`progress`] events, the AZ [`lock`] file, secret handling ([`sensitive`]) and the
//! escaping of user text in messages ([`escape`]).
//!
//! # Guarantees
//! - Everything here is pure or local I/O: no network call is made by this crate.
//! - A [`sensitive::Sensitive`] value never formats its content; [`sensitive::redact`] removes
//!   every registered secret from a string.
//! - Every validation rule has an identifier, a path that maps to a file line and column, and
//!   a fix; control characters of user values are escaped in every finding and load error.
//! - A spec or `.env` file is read only when it is a regular file of at most 1 MiB, and a
//!   parse error never quotes a value from it.

pub mod access;
pub mod change;
pub mod context;
pub mod escape;
pub mod kind;
pub mod lock;
pub mod names;
pub mod phase;
pub mod progress;
pub mod sensitive;
pub mod spec;
pub mod status;
pub mod validate;
pub mod wait;

pub use change::{Action, Change, FieldChange, Plan};
pub use context::Context;
pub use kind::{Classify, ErrorKind};
pub use names::{Names, Tags};
pub use phase::Phase;
pub use progress::{Event, Reporter, ReporterExt};
pub use sensitive::Sensitive;
pub use spec::Spec;
pub use status::{ServiceCounts, StatusRow};
pub use wait::{Poller, ProbeRetries, Readiness, Timing, WaitError};
