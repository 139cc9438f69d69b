//! Shared harness of the end-to-end tests: a private emulator (awsim in front of moto) per
//! test, a spec in a temporary folder, and the real `orchestrate` binary run against them.
//! Independent checks use the AWS SDK directly, never orchestrate's own code.

#![allow(dead_code)]

pub mod inventory;

use std::path::PathBuf;
use std::process::Output;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
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
}

impl World {
    /// A fresh emulator and `spec_text` written to `orchestrate.toml`.
    pub async fn start(spec_text: &str, scenario: Scenario) -> Self {
        let sim = Awsim::start(scenario.with_time_scale(TIME_SCALE))
            .await
            .expect("awsim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        std::fs::write(&spec, spec_text).expect("write spec");
        Self { sim, dir, spec }
    }

    /// The `orchestrate` command against this world's emulator.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrate"));
        cmd.arg("--config").arg(&self.spec).args(args);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", self.sim.endpoint_url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ORCHESTRATE_TIME_SCALE", TIME_SCALE.to_string())
            .env("CI", "true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
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
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", self.sim.endpoint_url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ORCHESTRATE_TIME_SCALE", TIME_SCALE.to_string())
            .env("CI", "true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
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

    /// Mutating calls the emulator applied since the last accounting reset, as
    /// `service:Operation`, in order.
    pub fn applied_mutations(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating && c.applied)
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }

    /// Every mutating call (applied or refused) since the last accounting reset.
    pub fn mutating_calls(&self) -> Vec<String> {
        self.sim
            .calls()
            .iter()
            .filter(|c| c.mutating)
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect()
    }
}

/// The last segment of the run lease's secret name, `orchestrate/<name>/lease`.
pub const LEASE_SECRET_SUFFIX: &str = "/lease";

/// True when `call` is one of the run lease's own calls (Secrets Manager on the secret
/// `orchestrate/<name>/lease`) rather than a call on a resource of the deployment. The one
/// filter every test uses to tell the two apart.
pub fn is_lease_call(call: &awsim::Call) -> bool {
    call.service == "secretsmanager"
        && call
            .target
            .as_deref()
            .is_some_and(|t| t.ends_with(LEASE_SECRET_SUFFIX))
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
        self.sim.crash_after(pid, point);
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
