//! `awsim serve`: runs the emulator for scripts, the README quickstart and end-to-end tests.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Local AWS emulator: moto_server behind a lifecycle, fault-injection and accounting proxy.
#[derive(Debug, Parser)]
#[command(name = "awsim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start moto and the proxy; print `AWSIM_ENDPOINT=URL` and run until SIGINT/SIGTERM.
    Serve {
        /// Proxy port on 127.0.0.1 (0 = a free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Scenario JSON file.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Overrides the scenario's time scale (0.01 = 100x faster than AWS).
        #[arg(long)]
        time_scale: Option<f64>,
        /// Overrides the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// A local OCI registry standing in for ECR (`http://127.0.0.1:PORT`): ECS tasks whose
        /// image is not there for their architecture fail with CannotPullContainerError.
        #[arg(long, conflicts_with = "local_registries")]
        registry: Option<String>,
        /// Start two local OCI registries (Debian's `docker-registry`): one standing in for
        /// ECR, and an "upstream" seeded with tiny two-platform Airflow and git-sync test
        /// images; prints `AWSIM_REGISTRY=URL`, `AWSIM_UPSTREAM_AIRFLOW=REF` and
        /// `AWSIM_UPSTREAM_GIT_SYNC=REF` (for `[image] source` and `[git_sync] image_source`).
        #[arg(long)]
        local_registries: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("awsim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let Command::Serve {
        port,
        scenario,
        time_scale,
        seed,
        registry,
        local_registries,
    } = cli.command;
    let mut sc = match scenario {
        Some(path) => awsim::Scenario::from_json(&std::fs::read_to_string(&path)?)?,
        None => awsim::Scenario::default(),
    };
    if let Some(t) = time_scale {
        sc.time_scale = t;
    }
    if let Some(s) = seed {
        sc.seed = s;
    }
    if let Some(r) = registry {
        sc.registry = Some(r);
    }
    let registries = if local_registries {
        let started =
            tokio::task::spawn_blocking(awsim::registry::EmulatorRegistries::start).await??;
        sc.registry = Some(started.ecr_url());
        Some(started)
    } else {
        None
    };
    let sim = awsim::Awsim::start_on(port, sc).await?;
    // One write: a script that sees the first line sees them all.
    let mut lines = format!(
        "AWSIM_ENDPOINT={}\nAWSIM_MOTO={}\n",
        sim.endpoint_url(),
        sim.moto_url()
    );
    if let Some(r) = &registries {
        lines.push_str(&format!(
            "AWSIM_REGISTRY={}\nAWSIM_UPSTREAM_AIRFLOW={}\nAWSIM_UPSTREAM_GIT_SYNC={}\n",
            r.ecr_url(),
            r.airflow_source(),
            r.git_sync_source()
        ));
    }
    let mut out = std::io::stdout();
    out.write_all(lines.as_bytes())?;
    out.flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    drop(sim);
    drop(registries);
    Ok(())
}
