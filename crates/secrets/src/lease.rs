//! The deployment's lease: one mutating run (`up`, `teardown`) at a time, kept in AWS.
//!
//! The lease is the Secrets Manager secret `orchestrate/<name>/lease`, tagged like the other
//! secrets (`orchestrate:component` = `secrets/lease`). Its current value (`AWSCURRENT`) is a
//! JSON [`Document`]: who holds it (host, user, pid, command, run id), since when, and until
//! when. It never holds a secret value.
//!
//! # Guarantees
//! - **Conditional writes only.** The first lease is taken by CreateSecret, which AWS refuses
//!   with `ResourceExistsException` when the secret exists. Every later write (take-over,
//!   renewal, release) is a compare-and-swap: PutSecretValue writes a new version under the
//!   private stage [`PENDING_STAGE`] (AWSCURRENT does not move), then UpdateSecretVersionStage
//!   moves `AWSCURRENT` to it with `RemoveFromVersionId` = the version read. AWS refuses that
//!   call (`InvalidParameterException`) when `AWSCURRENT` is no longer on that version, so of
//!   two runs that read the same version exactly one wins; the loser reads again.
//! - A live lease of another run is never taken without `break_lock`: [`acquire`] returns
//!   [`Error::Held`] (kind [`ErrorKind::Busy`](orchestrate_core::ErrorKind::Busy), exit 2)
//!   naming the holder. A lease is free when it is released, expired (`expires_at` passed by
//!   this machine's clock), unreadable only with `break_lock`, or held by a process of this
//!   same machine (same host name and pid namespace) that no longer runs — a SIGKILLed run is
//!   taken over at once on its own machine, elsewhere after expiry.
//! - The holder renews the lease every [`RENEW_EVERY`] (one third of [`TTL`]), both scaled by
//!   [`orchestrate_core::Timing`] but never below [`MIN_TTL`], in a background task
//!   ([`Guard`]); a renewal that finds the lease moved to another run reports it through
//!   [`Guard::lost`], and the run stops.
//! - Release is a compare-and-swap to a `released` document; a lease another run took in the
//!   meantime is left alone. [`Guard::release`] with `delete` removes the secret instead
//!   (`teardown all`: nothing of the deployment stays).
//!
//! # Caveats
//! - Every write is a new secret version. AWS asks for at most one PutSecretValue per
//!   10 minutes sustained and keeps versions younger than 24 hours: a run writes one version
//!   to acquire, one per [`RENEW_EVERY`] (5 minutes), one to release — about 14 an hour of
//!   continuous running, far below the quota for runs of minutes.
//! - Expiry is judged by the reader's clock: clocks more than a few seconds apart shorten or
//!   lengthen the lease by that much. The TTL (15 minutes) dwarfs normal skew.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use orchestrate_aws::aws_error;
use orchestrate_core::{Context, Sensitive};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use crate::error::{Error, Result};
use crate::secret;

/// The secret key of the lease (`orchestrate/<name>/lease`).
pub const LEASE_KEY: &str = "lease";

/// How long a lease lives without renewal (scaled by [`orchestrate_core::Timing`]).
pub const TTL: Duration = Duration::from_secs(15 * 60);

/// How often the holder renews it: a third of [`TTL`], so two renewals may fail in a row.
pub const RENEW_EVERY: Duration = Duration::from_secs(5 * 60);

/// The shortest lease, whatever the time scale: on the emulator (scale 0.002) 15 minutes
/// would be 1.8 s, shorter than a busy machine may stall a process, and a live run would lose
/// its lease to the next one.
pub const MIN_TTL: Duration = Duration::from_secs(15);

/// The lease's lifetime in this context: [`TTL`] scaled, at least [`MIN_TTL`].
pub fn ttl(cx: &Context) -> Duration {
    cx.timing.scaled(TTL).max(MIN_TTL)
}

/// The renewal interval in this context: a third of [`ttl`].
pub fn renew_every(cx: &Context) -> Duration {
    ttl(cx) / 3
}

/// The staging label a new lease version carries until it becomes `AWSCURRENT`.
pub const PENDING_STAGE: &str = "ORCHESTRATE_LEASE_PENDING";

const CURRENT_STAGE: &str = "AWSCURRENT";

/// Lost compare-and-swap races tolerated before giving up (each means another run wrote).
const RACE_ATTEMPTS: u32 = 4;

/// Who holds (or held) a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Host name of the machine the run is on.
    pub host: String,
    /// Operating-system user.
    pub user: String,
    /// Process id.
    pub pid: u32,
    /// The command (`up`, `teardown services`, ...).
    pub command: String,
    /// Unique per run.
    pub run_id: String,
    /// The pid namespace (Linux: `/proc/self/ns/pid`), so "same machine" also means "same
    /// container"; absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_namespace: Option<String>,
}

impl Holder {
    /// This process, running `command`.
    pub fn current(command: &str) -> Self {
        Self {
            host: host_name(),
            user: ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
                .unwrap_or_else(|| "unknown user".to_string()),
            pid: std::process::id(),
            command: command.to_string(),
            run_id: format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
            pid_namespace: std::fs::read_link("/proc/self/ns/pid")
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
        }
    }

    /// True when `self` ran on the same machine as `me` (same host name and a known, equal
    /// pid namespace) in another process that no longer runs.
    pub fn is_dead_on_this_machine(&self, me: &Holder) -> bool {
        self.host == me.host
            && self.pid_namespace.is_some()
            && self.pid_namespace == me.pid_namespace
            && self.pid != me.pid
            && !process_runs(self.pid)
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` by {} on host {} (pid {})",
            self.command, self.user, self.host, self.pid
        )
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
        })
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

/// True while process `pid` exists and is not a zombie (Linux `/proc`; elsewhere assumed to
/// run, so only expiry frees its lease).
fn process_runs(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself contain ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| state != 'Z' && state != 'X'),
        Err(_) => !std::path::Path::new("/proc/self").exists(),
    }
}

/// Whether a lease document is held or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A run holds it until `expires_at`.
    Held,
    /// The last holder released it at `expires_at`.
    Released,
}

/// The lease secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Held or released.
    pub state: State,
    /// The holder (for `released`: who released it).
    pub holder: Holder,
    /// When the holder took it (RFC 3339, UTC).
    pub acquired_at: String,
    /// When it expires unless renewed (RFC 3339, UTC); for `released`, when it was released.
    pub expires_at: String,
}

impl Document {
    fn held(holder: &Holder, acquired_at: SystemTime, ttl: Duration) -> Self {
        let now = SystemTime::now();
        Self {
            state: State::Held,
            holder: holder.clone(),
            acquired_at: rfc3339(acquired_at),
            expires_at: rfc3339(now + ttl),
        }
    }

    fn released(holder: &Holder, acquired_at: &str) -> Self {
        Self {
            state: State::Released,
            holder: holder.clone(),
            acquired_at: acquired_at.to_string(),
            expires_at: rfc3339(SystemTime::now()),
        }
    }

    /// True when it is held and `expires_at` is still ahead of `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        self.state == State::Held && parse_time(&self.expires_at).is_none_or(|t| t > now)
    }

    fn to_value(&self) -> Result<Sensitive> {
        serde_json::to_string(self)
            .map(Sensitive::new)
            .map_err(|_| Error::Malformed {
                name: LEASE_KEY.to_string(),
                problem: "the lease document could not be serialised",
            })
    }
}

fn rfc3339(t: SystemTime) -> String {
    let millis = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    DateTime::from_millis(millis)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| millis.to_string())
}

fn parse_time(text: &str) -> Option<SystemTime> {
    let parsed = DateTime::from_str(text, Format::DateTime).ok()?;
    let millis = u64::try_from(parsed.to_millis().ok()?).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(millis))
}

/// A lease another run holds, as [`Error::Held`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    /// The lease secret.
    pub secret: String,
    /// Its holder, when the document could be read.
    pub holder: Option<Holder>,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// Until when, unless renewed (RFC 3339).
    pub until: Option<String>,
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.holder, &self.since, &self.until) {
            (Some(holder), Some(since), Some(until)) => write!(
                f,
                "{holder} since {since} (lease {} renewed until {until})",
                self.secret
            ),
            _ => write!(
                f,
                "an unknown holder (lease {} holds no readable lease document)",
                self.secret
            ),
        }
    }
}

/// How [`acquire`] got the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// There was no lease secret: created.
    Created,
    /// The last holder had released it.
    Free,
    /// The previous holder's lease had expired.
    Expired(Holder),
    /// The previous holder ran on this machine and its process is gone.
    DeadHolder(Holder),
    /// Taken from a live (or unreadable) lease because `break_lock` was given.
    Broken(HeldBy),
}

/// The lease's current version, as read.
#[derive(Debug)]
struct Current {
    version_id: String,
    document: Option<Document>,
}

/// The version and document of a GetSecretValue answer (an unreadable document is `None`:
/// the lease is then free only with `break_lock`).
fn current(
    name: &str,
    out: &aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
) -> Result<Current> {
    let version_id = out
        .version_id()
        .ok_or_else(|| Error::Incomplete {
            name: name.to_string(),
            field: "VersionId",
        })?
        .to_string();
    let document = out
        .secret_string()
        .and_then(|s| serde_json::from_str::<Document>(s).ok());
    Ok(Current {
        version_id,
        document,
    })
}

/// Reads the lease's `AWSCURRENT` version. `Ok(None)` when the secret does not exist;
/// a secret scheduled for deletion (after `teardown all`) is restored first.
async fn read(client: &Client, cx: &Context, name: &str) -> Result<Option<Current>> {
    for _ in 0..2 {
        match client.get_secret_value().secret_id(name).send().await {
            Ok(out) => return current(name, &out).map(Some),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_request_exception()) =>
            {
                // Scheduled for deletion: restore it (its value comes back), then read again.
                match secret::find(client, name).await? {
                    Some(o) if o.scheduled_for_deletion => {
                        secret::restore(client, cx, name).await?
                    }
                    Some(_) => return Err(Error::GetValue(aws_error("read lease", name, e))),
                    None => return Ok(None),
                }
            }
            Err(e) => return Err(Error::GetValue(aws_error("read lease", name, e))),
        }
    }
    Err(Error::Malformed {
        name: name.to_string(),
        problem: "the lease is still scheduled for deletion after RestoreSecret",
    })
}

/// The lease as a run read it before deciding to take it ([`peek`]); handed to
/// [`Guard::acquire_seen`], which takes the lease by compare-and-swap from this very version
/// when it is free, and says so ([`Taken::from_seen`]).
#[derive(Debug)]
pub struct Seen(Option<Current>);

/// Reads the lease's current version without changing anything: `Ok(None)` when that read
/// cannot be used (the secret is scheduled for deletion; [`acquire`] restores it).
///
/// # Errors
/// [`Error::GetValue`], [`Error::Incomplete`].
pub async fn peek(client: &Client, cx: &Context) -> Result<Option<Seen>> {
    let name = cx.names.secret(LEASE_KEY);
    match client.get_secret_value().secret_id(&name).send().await {
        Ok(out) => Ok(Some(Seen(Some(current(&name, &out)?)))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(Some(Seen(None)))
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_invalid_request_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::GetValue(aws_error("read lease", &name, e))),
    }
}

/// How a free lease is taken, or `None` when `document` is another run's live lease (or
/// unreadable).
fn free(document: Option<&Document>, holder: &Holder) -> Option<Acquired> {
    match document {
        Some(d) if d.state == State::Released => Some(Acquired::Free),
        Some(d) if d.holder.run_id == holder.run_id => Some(Acquired::Free),
        Some(d) if !d.is_live(SystemTime::now()) => Some(Acquired::Expired(d.holder.clone())),
        Some(d) if d.holder.is_dead_on_this_machine(holder) => {
            Some(Acquired::DeadHolder(d.holder.clone()))
        }
        _ => None,
    }
}

fn new_version_id() -> String {
    // 32 hex characters: within ClientRequestToken's 32-64, unique per write.
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// Writes `document` as a new version and moves `AWSCURRENT` to it from `expected`.
/// `Ok(Some(version))` when the swap happened, `Ok(None)` when AWS refused it because
/// `AWSCURRENT` had moved (another run wrote first).
async fn compare_and_swap(
    client: &Client,
    name: &str,
    expected: &str,
    document: &Document,
) -> Result<Option<String>> {
    let version_id = new_version_id();
    let value = document.to_value()?;
    client
        .put_secret_value()
        .secret_id(name)
        .client_request_token(&version_id)
        .secret_string(value.expose())
        .version_stages(PENDING_STAGE)
        .send()
        .await
        .map_err(|e| Error::PutValue(aws_error("write lease", name, e)))?;
    match client
        .update_secret_version_stage()
        .secret_id(name)
        .version_stage(CURRENT_STAGE)
        .move_to_version_id(&version_id)
        .remove_from_version_id(expected)
        .send()
        .await
    {
        Ok(_) => Ok(Some(version_id)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_invalid_parameter_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Stage(aws_error("swap lease", name, e))),
    }
}

/// Creates the lease secret holding `document`. `Ok(None)` when it already exists.
async fn create(
    client: &Client,
    cx: &Context,
    name: &str,
    document: &Document,
) -> Result<Option<String>> {
    let version_id = new_version_id();
    let value = document.to_value()?;
    match client
        .create_secret()
        .name(name)
        .description(format!(
            "orchestrate {}: who is changing this deployment (no secret value)",
            cx.names.deployment()
        ))
        .client_request_token(&version_id)
        .secret_string(value.expose())
        .set_tags(Some(secret::tags(cx, LEASE_KEY, name)))
        .send()
        .await
    {
        Ok(_) => Ok(Some(version_id)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Create(aws_error("create lease", name, e))),
    }
}

/// A lease this run holds: which version is ours and what it says.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The lease secret's name.
    pub name: String,
    /// Our current version.
    version_id: String,
    /// Our document.
    document: Document,
    /// When we acquired it.
    acquired_at: SystemTime,
}

impl Lease {
    /// What the lease says.
    pub fn document(&self) -> &Document {
        &self.document
    }
}

/// Takes the deployment's lease for `holder`.
///
/// # Errors
/// [`Error::Held`] when another run's lease is live (or unreadable) and `break_lock` is
/// false; [`Error::Contended`] when other runs kept winning the swap; AWS failures per call.
pub async fn acquire(
    client: &Client,
    cx: &Context,
    holder: &Holder,
    break_lock: bool,
) -> Result<(Lease, Acquired)> {
    let taken = acquire_seen(client, cx, holder, break_lock, None).await?;
    Ok((taken.lease, taken.how))
}

/// A lease just taken.
#[derive(Debug)]
pub struct Taken {
    /// The lease.
    pub lease: Lease,
    /// How it was taken.
    pub how: Acquired,
    /// True when it was taken by compare-and-swap from (or, absent, created after) the
    /// version [`peek`] read: no run wrote the lease between that read and the take.
    pub from_seen: bool,
}

/// [`acquire`], starting from `seen` ([`peek`]) instead of a read when it shows a free lease
/// (or none); a lease `seen` shows held is read again, so only a fresh read refuses.
///
/// # Errors
/// As [`acquire`].
pub async fn acquire_seen(
    client: &Client,
    cx: &Context,
    holder: &Holder,
    break_lock: bool,
    seen: Option<Seen>,
) -> Result<Taken> {
    let name = cx.names.secret(LEASE_KEY);
    let ttl = ttl(cx);
    let acquired_at = SystemTime::now();
    let document = Document::held(holder, acquired_at, ttl);
    let mut seen = seen.filter(|Seen(current)| {
        current
            .as_ref()
            .is_none_or(|c| free(c.document.as_ref(), holder).is_some())
    });
    for _ in 0..RACE_ATTEMPTS {
        let (current, from_seen) = match seen.take() {
            Some(Seen(current)) => (current, true),
            None => (read(client, cx, &name).await?, false),
        };
        let Some(current) = current else {
            match create(client, cx, &name, &document).await? {
                Some(version_id) => {
                    return Ok(Taken {
                        lease: Lease {
                            name,
                            version_id,
                            document,
                            acquired_at,
                        },
                        how: Acquired::Created,
                        from_seen,
                    });
                }
                None => continue,
            }
        };
        let how = match free(current.document.as_ref(), holder) {
            Some(how) => how,
            None => {
                let other = current.document.as_ref();
                let held = HeldBy {
                    secret: name.clone(),
                    holder: other.map(|d| d.holder.clone()),
                    since: other.map(|d| d.acquired_at.clone()),
                    until: other.map(|d| d.expires_at.clone()),
                };
                if !break_lock {
                    return Err(Error::Held(Box::new(held)));
                }
                Acquired::Broken(held)
            }
        };
        if let Some(version_id) =
            compare_and_swap(client, &name, &current.version_id, &document).await?
        {
            return Ok(Taken {
                lease: Lease {
                    name,
                    version_id,
                    document,
                    acquired_at,
                },
                how,
                from_seen,
            });
        }
    }
    Err(Error::Contended { name })
}

/// Extends our lease by a [`TTL`] from now.
///
/// # Errors
/// [`Error::Lost`] when `AWSCURRENT` is no longer our version (another run took the lease);
/// AWS failures per call.
pub async fn renew(client: &Client, cx: &Context, lease: &mut Lease) -> Result<()> {
    let document = Document::held(&lease.document.holder, lease.acquired_at, ttl(cx));
    match compare_and_swap(client, &lease.name, &lease.version_id, &document).await? {
        Some(version_id) => {
            lease.version_id = version_id;
            lease.document = document;
            Ok(())
        }
        None => Err(lost(client, &lease.name).await),
    }
}

/// The [`Error::Lost`] for `name`, naming the new holder when it can be read.
async fn lost(client: &Client, name: &str) -> Error {
    let by = match client.get_secret_value().secret_id(name).send().await {
        Ok(out) => out
            .secret_string()
            .and_then(|s| serde_json::from_str::<Document>(s).ok())
            .map(|d| d.holder),
        Err(_) => None,
    };
    Error::Lost {
        name: name.to_string(),
        by: by.map(Box::new),
    }
}

/// Releases our lease: `released` document by compare-and-swap, or with `delete` the secret
/// itself (with `force` at once, else with Secrets Manager's recovery window; the next
/// acquisition restores it). A lease another run took meanwhile is left alone (`Ok(false)`).
///
/// # Errors
/// AWS failures per call.
pub async fn release(
    client: &Client,
    cx: &Context,
    lease: &Lease,
    delete: Option<bool>,
) -> Result<bool> {
    if delete.is_none() {
        // Usually AWSCURRENT is still the version this run wrote last: the swap from it
        // proves the lease ours, without reading it first. Refused, the lease is read below
        // (a renewal whose answer was lost left `lease.version_id` one version behind, or
        // another run took it).
        let document = Document::released(&lease.document.holder, &lease.document.acquired_at);
        if compare_and_swap(client, &lease.name, &lease.version_id, &document)
            .await?
            .is_some()
        {
            return Ok(true);
        }
    }
    // Ours when the current document names this run (also when a renewal's swap went
    // through but its answer was lost, so `lease.version_id` is one version behind).
    let current = match read(client, cx, &lease.name).await? {
        Some(current) => current,
        None => return Ok(true),
    };
    let ours = current
        .document
        .as_ref()
        .is_some_and(|d| d.state == State::Held && d.holder.run_id == lease.document.holder.run_id);
    if !ours {
        return Ok(false);
    }
    if let Some(force) = delete {
        secret::delete(client, cx, &lease.name, force).await?;
        return Ok(true);
    }
    let document = Document::released(&lease.document.holder, &lease.document.acquired_at);
    Ok(
        compare_and_swap(client, &lease.name, &current.version_id, &document)
            .await?
            .is_some(),
    )
}

/// A held lease with its renewal task. Dropping it stops renewing without releasing (the
/// lease then expires); [`Guard::release`] releases it.
#[derive(Debug)]
pub struct Guard {
    client: Client,
    cx: Context,
    lease: Arc<Mutex<Lease>>,
    /// `Some(new holder, when readable)` once a renewal found the lease taken.
    lost: watch::Receiver<Option<Option<Box<Holder>>>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Guard {
    /// Acquires the lease ([`acquire`]) and starts renewing it every [`RENEW_EVERY`] (scaled).
    ///
    /// # Errors
    /// As [`acquire`].
    pub async fn acquire(
        client: &Client,
        cx: &Context,
        holder: &Holder,
        break_lock: bool,
    ) -> Result<(Self, Acquired)> {
        let (guard, how, _) = Self::acquire_seen(client, cx, holder, break_lock, None).await?;
        Ok((guard, how))
    }

    /// [`Guard::acquire`] from what [`peek`] read (see [`acquire_seen`]); the flag is
    /// [`Taken::from_seen`].
    ///
    /// # Errors
    /// As [`acquire`].
    pub async fn acquire_seen(
        client: &Client,
        cx: &Context,
        holder: &Holder,
        break_lock: bool,
        seen: Option<Seen>,
    ) -> Result<(Self, Acquired, bool)> {
        let Taken {
            lease,
            how,
            from_seen,
        } = acquire_seen(client, cx, holder, break_lock, seen).await?;
        let lease = Arc::new(Mutex::new(lease));
        let (tx, lost) = watch::channel(None);
        let every = renew_every(cx);
        let renewer = {
            let (client, cx, lease) = (client.clone(), cx.clone(), lease.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let mut held = lease.lock().await;
                    match renew(&client, &cx, &mut held).await {
                        Ok(()) => {}
                        Err(Error::Lost { by, .. }) => {
                            let _ = tx.send(Some(by));
                            return;
                        }
                        // Throttled or failing: try again next time; the TTL leaves room for
                        // two failed renewals.
                        Err(e) => tracing::warn!("failed to renew the lease: {e}"),
                    }
                }
            })
        };
        Ok((
            Self {
                client: client.clone(),
                cx: cx.clone(),
                lease,
                lost,
                renewer,
            },
            how,
            from_seen,
        ))
    }

    /// Resolves with [`Error::Lost`] if a renewal finds that another run took the lease;
    /// never resolves otherwise.
    pub async fn lost(&self) -> Error {
        let mut lost = self.lost.clone();
        let by = match lost.wait_for(Option::is_some).await {
            Ok(by) => by.clone().flatten(),
            Err(_) => std::future::pending().await,
        };
        let name = self.lease.lock().await.name.clone();
        Error::Lost { name, by }
    }

    /// Stops renewing and releases the lease (see [`release`]; `delete` = `Some(force)`
    /// deletes the lease secret). Returns false when another run had taken it.
    ///
    /// # Errors
    /// AWS failures of the release.
    pub async fn release(self, delete: Option<bool>) -> Result<bool> {
        self.renewer.abort();
        let lease = self.lease.lock().await;
        release(&self.client, &self.cx, &lease, delete).await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}
