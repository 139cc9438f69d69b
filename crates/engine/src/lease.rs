//! The run's lease: `up` and `teardown` hold the deployment's lease
//! ([`orchestrate_secrets::lease`]) from before their first mutating call to their end.
//!
//! # Guarantees
//! - The lease is taken before any mutating call of the command and released when it ends,
//!   whether it succeeded or failed; a process killed outright leaves it to expire (or to be
//!   taken over at once by the next run on the same machine).
//! - Another run's live lease stops the command with exit 2 ([`ErrorKind::Busy`]) before it
//!   changes anything, unless `break_lock` is set; breaking a lock is said on stderr.
//! - If another run takes the lease while this one works (its `--break-lock`), this run stops
//!   at once with exit 2: the work future is dropped, which is as safe as a crash.
//! - `plan`, `status` and `render` never come here.
//!
//! [`ErrorKind::Busy`]: orchestrate_core::ErrorKind::Busy

use std::future::Future;

use orchestrate_core::ReporterExt;
use orchestrate_secrets::lease::{Acquired, Guard, Holder, Seen};

use crate::Engine;
use crate::error::EngineError;

/// Resource kind of the lease in progress notes.
const KIND: &str = "secretsmanager/lease";

/// Who asks for the lease and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    /// The command, as the holder shows it to other runs (`up`, `teardown services`).
    pub command: String,
    /// Take the lease even when another run holds it (`--break-lock`).
    pub break_lock: bool,
}

impl LeaseRequest {
    /// A request for `command` without `--break-lock`.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            break_lock: false,
        }
    }
}

/// What to do with the lease when the work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Mark it released (the secret stays for the next run).
    Keep,
    /// Delete the lease secret (`teardown all`: nothing of the deployment stays), with a
    /// recovery window like the other secrets; the next run restores it.
    Delete,
}

/// Runs `work` while holding the deployment's lease.
pub(crate) async fn hold<T, F>(
    engine: &Engine,
    request: &LeaseRequest,
    release: Release,
    work: F,
) -> Result<T, EngineError>
where
    F: Future<Output = Result<T, EngineError>>,
{
    hold_seen(engine, request, release, None, work).await
}

/// [`hold`], taking the lease from what [`orchestrate_secrets::lease::peek`] read before
/// `verify`: when it is taken from that very version, `verify`'s kept reads are confirmed
/// for `work` ([`crate::early`]); otherwise they are dropped. They are dropped when `work`
/// ends either way.
pub(crate) async fn hold_seen<T, F>(
    engine: &Engine,
    request: &LeaseRequest,
    release: Release,
    seen: Option<Seen>,
    work: F,
) -> Result<T, EngineError>
where
    F: Future<Output = Result<T, EngineError>>,
{
    let holder = Holder::current(&request.command);
    let taken = Guard::acquire_seen(
        &engine.aws.secrets,
        &engine.cx,
        &holder,
        request.break_lock,
        seen,
    )
    .await;
    let (guard, how, from_seen) = match taken {
        Ok(taken) => taken,
        Err(e) => {
            engine.early.clear();
            return Err(EngineError::step("take the deployment's lease", e));
        }
    };
    engine.early.confirm(from_seen);
    report(engine, &how);
    let result = tokio::select! {
        result = work => result,
        lost = guard.lost() => Err(EngineError::step("hold the deployment's lease", lost)),
    };
    engine.early.clear();
    let delete = match release {
        Release::Keep => None,
        Release::Delete => Some(false),
    };
    match (result, guard.release(delete).await) {
        (Ok(value), Ok(_)) => Ok(value),
        (Ok(_), Err(e)) => Err(EngineError::step("release the deployment's lease", e)),
        (Err(e), Ok(_)) => Err(e),
        (Err(e), Err(release)) => {
            tracing::warn!("failed to release the deployment's lease (it expires): {release}");
            Err(e)
        }
    }
}

fn report(engine: &Engine, how: &Acquired) {
    let reporter = &engine.cx.reporter;
    match how {
        Acquired::Created | Acquired::Free => {
            tracing::debug!("took the deployment's lease");
        }
        Acquired::Expired(previous) => reporter.note(
            KIND,
            format!("took over the expired lease of {previous} (it stopped renewing it)"),
        ),
        Acquired::DeadHolder(previous) => reporter.note(
            KIND,
            format!("took over the lease of {previous}: that process no longer runs"),
        ),
        Acquired::Broken(held) => {
            // Always on stderr, whatever the output settings: breaking a lock is deliberate.
            eprintln!("warning: --break-lock: took the deployment's lease from {held}");
        }
    }
}
