//! # awsim — a local AWS that behaves like AWS over time (dev-only)
//!
//! awsim owns the emulator every integration test, end-to-end test and benchmark of
//! orchestrate runs against. It starts a pinned `moto_server` (a real implementation of the
//! AWS wire protocols) on a free loopback port and fronts it with a proxy that adds what moto
//! lacks:
//!
//! - **Lifecycles over simulated time**: ECS service deployments roll out (IN_PROGRESS, tasks
//!   ramping, old deployment drained, COMPLETED, AWS-worded events), fail under the deployment
//!   circuit breaker at AWS's threshold (0.5 x desired, clamped to 3..=200) and roll back;
//!   one-off tasks go PROVISIONING -> PENDING -> RUNNING -> STOPPED with a scripted exit code;
//!   RDS, Valkey, NAT gateways and ALBs take (scaled) time to create and delete.
//! - **Fault injection**, seeded and reproducible: throttling in each protocol's own error
//!   format, 500/503, arbitrary AWS error answers (`FaultKind::Error`, for "AWS rejects this
//!   configuration"), latency, and lost responses (applied, then the connection is dropped).
//! - **Echoes of what moto drops**: ECS service settings (capacity provider strategy, health
//!   check grace period, execute command, ...) come back as the client last set them.
//! - **Idempotency** as AWS has it: tokens (EC2 `ClientToken`, ECS `clientToken`, Cloud Map
//!   `CreatorRequestId`) and ELB's idempotent creates (the same CreateLoadBalancer,
//!   CreateListener or CreateTargetGroup request answers with the first resource).
//! - **Atomic Secrets Manager writes**: moto's server is threaded and checks then writes
//!   (CreateSecret's "exists?", UpdateSecretVersionStage's `RemoveFromVersionId` check), so two
//!   concurrent writes could both pass the check; AWS applies them one at a time. awsim
//!   forwards Secrets Manager's mutating calls one at a time, and GetSecretValue without a
//!   version asks for `AWSCURRENT` (moto answers with its last created/put version even after
//!   UpdateSecretVersionStage moved the label).
//! - **Engine catalogs** moto lacks: DescribeDBEngineVersions, DescribeOrderableDBInstanceOptions
//!   (PostgreSQL) and DescribeCacheEngineVersions (Valkey) are answered from the scenario's
//!   [`catalog::Catalog`] in AWS's response shapes.
//! - **Accounting** of every call, and a **crash hook** that SIGKILLs a process after its
//!   N-th applied mutating call.
//!
//! Guarantees: every server listens on 127.0.0.1 only; moto is killed when the [`Awsim`] is
//! dropped (also on panic) and when the owning process dies; time advances lazily on each
//! request, so a given seed and request timing give the same run; each [`Awsim`] is
//! independent, so tests run in parallel. See `docs/testing.md` for the scenario format.
//!
//! ```no_run
//! # async fn demo() -> awsim::Result<()> {
//! let sim = awsim::Awsim::start(awsim::Scenario::default().with_time_scale(0.01)).await?;
//! let endpoint = sim.endpoint_url(); // give this to the AWS SDK as endpoint_url
//! # let _ = endpoint;
//! assert_eq!(sim.summary().total, 0);
//! # Ok(()) }
//! ```

pub mod accounting;
pub mod backend;
pub mod catalog;
pub mod cbor;
pub mod clock;
pub mod control;
pub mod error;
pub mod faults;
pub mod launcher;
pub mod lifecycle;
pub mod protocol;
pub mod proxy;
pub mod registry;
pub mod scenario;
pub mod state;
pub mod xml;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use accounting::{Call, Summary};
pub use error::{Error, Result};
pub use protocol::is_mutating;
pub use scenario::{Durations, EcsFailure, FailureKind, Fault, FaultKind, RunTaskScript, Scenario};
pub use state::CrashHook;

use backend::Backend;
use launcher::Moto;
use proxy::App;
use state::Shared;

/// A running emulator: moto plus the lifecycle proxy. Dropping it stops both.
#[derive(Debug)]
pub struct Awsim {
    app: Arc<App>,
    port: u16,
    server: JoinHandle<()>,
    moto: Moto,
}

impl Awsim {
    /// Starts moto and the proxy on free loopback ports.
    pub async fn start(scenario: Scenario) -> Result<Self> {
        Self::start_on(0, scenario).await
    }

    /// Starts moto on a free port and the proxy on `port` (0 = any free port).
    pub async fn start_on(port: u16, scenario: Scenario) -> Result<Self> {
        let moto = tokio::task::spawn_blocking(Moto::start)
            .await
            .map_err(|e| Error::MotoNotReady(e.to_string()))??;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let app = Arc::new(App {
            shared: Arc::new(Shared::new(scenario)),
            backend: Backend::new(moto.port()),
            secrets_gate: tokio::sync::Mutex::new(()),
        });
        let server = tokio::spawn(proxy::serve(listener, app.clone()));
        Ok(Self {
            app,
            port,
            server,
            moto,
        })
    }

    /// The proxy URL: give it to the SDK (`endpoint_url`) or the CLI (`--endpoint-url`).
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// moto's own URL (bypasses lifecycles, faults and accounting).
    pub fn moto_url(&self) -> String {
        self.moto.url()
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every call recorded since start or the last reset.
    pub fn calls(&self) -> Vec<Call> {
        self.app.shared.lock().ledger.calls()
    }

    /// Aggregates of the recorded calls.
    pub fn summary(&self) -> Summary {
        self.app.shared.lock().ledger.summary()
    }

    /// Forgets the recorded calls.
    pub fn reset_accounting(&self) {
        self.app.shared.lock().ledger.clear();
    }

    /// The current scenario.
    pub fn scenario(&self) -> Scenario {
        self.app.shared.lock().scenario.clone()
    }

    /// Replaces the scenario (fault counters restart; simulated time stays continuous).
    pub fn set_scenario(&self, scenario: Scenario) {
        self.app.shared.set_scenario(scenario);
    }

    /// SIGKILLs `pid` right after its `n`-th (from now, n >= 1) mutating call has been applied
    /// by the backend, before the response is sent.
    pub fn crash_after(&self, pid: u32, n: u64) {
        self.crash_after_ignoring(pid, n, &[]);
    }

    /// As [`Awsim::crash_after`], not counting calls whose [`Call::target`] is in `ignore`.
    pub fn crash_after_ignoring(&self, pid: u32, n: u64, ignore: &[&str]) {
        self.app.shared.lock().crash = Some(CrashHook {
            pid,
            remaining: n.max(1),
            fired: false,
            ignore_targets: ignore.iter().map(|t| t.to_string()).collect(),
        });
    }

    /// The crash hook's state, if one is armed.
    pub fn crash_hook(&self) -> Option<CrashHook> {
        self.app.shared.lock().crash.clone()
    }

    /// Jumps simulated time forward by `seconds` simulated seconds.
    pub fn advance(&self, seconds: f64) {
        self.app.shared.lock().clock.advance(seconds);
    }

    /// Resets moto (every resource gone) and every emulated state and the call log.
    pub async fn reset(&self) -> Result<()> {
        self.app.backend.reset().await?;
        self.app.shared.lock().reset_world();
        Ok(())
    }
}

impl Drop for Awsim {
    fn drop(&mut self) {
        self.server.abort();
        self.moto.stop();
    }
}
