//! Shared harness of the end-to-end tests: a private emulator (awsim in front of moto) per
//! test, a spec in a temporary folder, and the real `orchestrate` binary run against them.
//! Independent checks use the AWS SDK directly, never orchestrate's own code.
//!
//! Every world pulls like Fargate, offline: two local OCI registries (awsim's
//! [`EmulatorRegistries`]) stand in for ECR and for the upstream registries, the spec's
//! `[image] source` and `[git_sync] image_source` point at tiny two-platform test images in
//! the upstream one, so a full `up` copies them into "ECR" and every task's image resolves for
//! its architecture (or the task stops with `CannotPullContainerError`).

#![allow(dead_code)]

pub mod inventory;

use std::path::PathBuf;
use std::process::Output;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use awsim::registry::EmulatorRegistries;
use awsim::{Awsim, Scenario};

/// Simulated AWS runs this much faster than the real one in tests.
pub const TIME_SCALE: f64 = 0.002;

/// The spec most tests deploy.
pub const SPEC: &str = r#"
[deployment]
name = "e2e"
region = "us-east-1"
tags = { team = "data" }

[network]
vpc_cidr = "10.40.0.0/16"
az_count = 2

[git_sync]
repo = "https://github.com/example-org/airflow-dags.git"
subpath = "dags"
"#;

/// One test's world.
pub struct World {
    /// The emulator.
    pub sim: Awsim,
    /// Holds the spec and lock file.
    pub dir: tempfile::TempDir,
    /// The spec path.
    pub spec: PathBuf,
    /// The emulator's ECR and the seeded upstream registry.
    pub registries: EmulatorRegistries,
}

impl World {
    /// A fresh emulator and `spec_text` written to `orchestrate.toml`.
    pub async fn start(spec_text: &str, scenario: Scenario) -> Self {
        let registries = tokio::task::spawn_blocking(EmulatorRegistries::start)
            .await
            .expect("registry thread")
            .expect("the local registries start (docker-registry installed by scripts/test.sh)");
        let sim = Awsim::start(
            scenario
                .with_time_scale(TIME_SCALE)
                .with_registry(registries.ecr_url()),
        )
        .await
        .expect("awsim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        std::fs::write(&spec, spec_text).expect("write spec");
        Self {
            sim,
            dir,
            spec,
            registries,
        }
    }

    /// The environment every command gets: the emulator's endpoint, test credentials, the
    /// time scale, and the spec's upstream images pointed at the seeded upstream registry.
    fn environment(&self, cmd: &mut tokio::process::Command) {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", self.sim.endpoint_url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ORCHESTRATE_TIME_SCALE", TIME_SCALE.to_string())
            .env(
                "ORCHESTRATE__IMAGE__SOURCE",
                self.registries.airflow_source(),
            )
            .env(
                "ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE",
                self.registries.git_sync_source(),
            )
            .env("CI", "true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
    }

    /// The `orchestrate` command against this world's emulator.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"));
        cmd.arg("--config").arg(&self.spec).args(args);
        self.environment(&mut cmd);
        cmd
    }

    /// Replaces the emulator's scenario, keeping this world's ECR registry (a scenario
    /// without it would point ECR logins at the real, unreachable ECR).
    pub fn set_scenario(&self, scenario: Scenario) {
        self.sim
            .set_scenario(scenario.with_registry(self.registries.ecr_url()));
    }

    /// Runs `orchestrate <args>` to completion.
    pub async fn run(&self, args: &[&str]) -> Run {
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(240),
            self.command(args).output(),
        )
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
        Run::from(output)
    }

    /// SDK configuration pointing at this world's emulator.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.sim.endpoint_url())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
            .load()
            .await
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Both streams.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl World {
    /// Writes `spec_text` to `<dir>/<folder>/orchestrate.toml` (a second deployment beside the
    /// first, with its own lock file) and returns its path.
    pub fn add_spec(&self, folder: &str, spec_text: &str) -> PathBuf {
        let dir = self.dir.path().join(folder);
        std::fs::create_dir_all(&dir).expect("spec folder");
        let spec = dir.join("orchestrate.toml");
        std::fs::write(&spec, spec_text).expect("write spec");
        spec
    }

    /// The `orchestrate` command for the spec at `spec` against this world's emulator (the
    /// same environment as [`World::command`]).
    pub fn command_for(&self, spec: &std::path::Path, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"));
        cmd.arg("--config").arg(spec).args(args);
        self.environment(&mut cmd);
        cmd
    }

    /// Runs `orchestrate --config <spec> <args>` to completion.
    pub async fn run_for(&self, spec: &std::path::Path, args: &[&str]) -> Run {
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(240),
            self.command_for(spec, args).output(),
        )
        .await
        .expect("orchestrate finished within 240 s")
        .expect("orchestrate ran");
        Run::from(output)
    }

    /// Mutating calls on resources (every call but those on a deployment's lease, see
    /// [`is_lease_call`]) the emulator applied since the last accounting reset, as
    /// `service:Operation`, in order.
    pub fn applied_mutations(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating && c.applied && !is_lease_call(c))
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }

    /// Every mutating call on a resource (applied or refused; lease calls excluded, see
    /// [`is_lease_call`]) since the last accounting reset.
    pub fn mutating_calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating && !is_lease_call(c))
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }

    /// The mutating calls on a deployment's lease since the last accounting reset, as
    /// `service:Operation target`.
    pub fn lease_mutations(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating && is_lease_call(c))
            .map(|c| {
                format!(
                    "{}:{} {}",
                    c.service,
                    c.operation,
                    c.target.as_deref().unwrap_or("?")
                )
            })
            .collect()
    }

    /// SIGKILLs `pid` after its `n`-th applied mutating call on a resource: calls on the
    /// lease of deployment `e2e` ([`LEASE`]) are not counted, since their number depends on
    /// how long the run takes (renewals).
    pub fn crash_after(&self, pid: u32, n: u64) {
        self.sim.crash_after_ignoring(pid, n, &[LEASE]);
    }
}

/// The lease secret of deployment `e2e` (the one most tests deploy).
pub const LEASE: &str = "orchestrate/e2e/lease";

/// True for the name of a deployment's lease secret, `orchestrate/<name>/lease`.
pub fn is_lease_secret(name: &str) -> bool {
    name.strip_prefix("orchestrate/")
        .and_then(|rest| rest.strip_suffix("/lease"))
        .is_some_and(|deployment| !deployment.is_empty() && !deployment.contains('/'))
}

/// True for a Secrets Manager call on a deployment's lease secret: the one thing a run that
/// changes nothing else still writes (acquire, renew, release). Decided by the call's
/// target as awsim recorded it, never by the operation alone.
pub fn is_lease_call(call: &awsim::Call) -> bool {
    call.service == "secretsmanager" && call.target.as_deref().is_some_and(is_lease_secret)
}

pub fn rfc3339(t: std::time::SystemTime) -> String {
    let millis = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    format_millis(millis)
}

fn format_millis(millis: i64) -> String {
    // RFC 3339 UTC with milliseconds, as orchestrate writes it.
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Writes a lease held by a run on another machine, expiring `expires_in` from now, as the
/// current version of the lease secret (creating it when absent).
pub async fn seed_foreign_lease(sdk: &aws_config::SdkConfig, expires_in: std::time::Duration) {
    let now = std::time::SystemTime::now();
    let document = serde_json::json!({
        "state": "held",
        "holder": {
            "host": "ci-runner-7",
            "user": "bob",
            "pid": 31337,
            "command": "teardown services",
            "run_id": "0123456789abcdef0123456789abcdef",
        },
        "acquired_at": rfc3339(now - std::time::Duration::from_secs(60)),
        "expires_at": rfc3339(now + expires_in),
    })
    .to_string();
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let created = client
        .create_secret()
        .name(LEASE)
        .secret_string(&document)
        .send()
        .await;
    if created.is_err() {
        // As another orchestrate run writes it: a new version, then AWSCURRENT moved to it.
        // (moto 5.2.1 loses track of AWSCURRENT when a plain PutSecretValue follows an
        // UpdateSecretVersionStage, so the test does not take that shortcut.)
        let current = client
            .get_secret_value()
            .secret_id(LEASE)
            .send()
            .await
            .expect("read the lease");
        let version = format!(
            "{:032x}",
            now.duration_since(std::time::SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos()
        );
        client
            .put_secret_value()
            .secret_id(LEASE)
            .secret_string(&document)
            .client_request_token(&version)
            .version_stages("SEEDED")
            .send()
            .await
            .expect("put the foreign lease");
        client
            .update_secret_version_stage()
            .secret_id(LEASE)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&version)
            .remove_from_version_id(current.version_id().expect("version"))
            .send()
            .await
            .expect("make it current");
    }
}

impl World {
    /// Mutating calls on the deployment's resources that the emulator applied since the last
    /// accounting reset (the lease's own calls left out), as `service:Operation`, in order.
    pub fn resource_mutations(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating && c.applied && !is_lease_call(c))
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }

    /// Starts `orchestrate <args>`, has the emulator SIGKILL it right after its `point`-th
    /// applied mutating call, and returns whether it was killed (false: it finished first,
    /// with exit 0; any other exit panics).
    pub async fn crash_at(&self, args: &[&str], point: u64) -> bool {
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let pid = child.id().expect("pid");
        self.crash_after(pid, point);
        let status = tokio::time::timeout(std::time::Duration::from_secs(240), child.wait())
            .await
            .expect("crashed run ends")
            .expect("wait");
        match status.code() {
            None => true,
            Some(0) => false,
            Some(code) => panic!("{args:?} exited {code} before mutating call {point}"),
        }
    }

    /// Forgets everything the emulator holds and the zone lock file: a fresh account.
    pub async fn wipe(&self) {
        self.sim.reset().await.expect("emulator reset");
        let _ = std::fs::remove_file(self.dir.path().join("orchestrate.lock"));
    }
}

/// The points of a sweep over `total` calls: 1, 1 + stride, ... and always the last one.
pub fn sweep_points(total: u64, stride: u64) -> Vec<u64> {
    let mut points: Vec<u64> = (1..=total).step_by(stride.max(1) as usize).collect();
    if points.last() != Some(&total) && total > 0 {
        points.push(total);
    }
    points
}

/// `name` parsed from the environment, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
