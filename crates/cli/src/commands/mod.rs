//! One module per command, each with one entry function.

mod airflow;
mod connections;
mod cost;
mod doctor;
mod exec;
mod images;
mod logs;
mod plan;
mod render;
mod rollback;
mod status;
mod teardown;
mod up;
mod validate;
mod variables;
mod verify;

use orchestrate_core::sensitive::redact;
use orchestrate_core::spec::load::{self, LoadedSpec};
use orchestrate_core::validate::{Severity, validate as run_rules};
use orchestrate_engine::error::{EXIT_OTHER, EngineError};

use crate::args::{Cli, Command, GlobalArgs};
use crate::output::errln;

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    init_logging(&cli.global);
    let result = match &cli.command {
        Command::Validate => validate::run(&cli.global),
        Command::Render(args) => render::run(&cli.global, args),
        Command::Plan(args) => block_on(plan::run(&cli.global, args)),
        Command::Verify => block_on(verify::run(&cli.global)),
        Command::Up(args) => block_on(up::run(&cli.global, args)),
        Command::Status(args) => block_on(status::run(&cli.global, args)),
        Command::Teardown(args) => block_on(teardown::run(&cli.global, args)),
        Command::Images(command) => block_on(images::run(&cli.global, command)),
        Command::Cost => cost::run(&cli.global),
        Command::Logs(args) => block_on(logs::run(&cli.global, args)),
        Command::Airflow(args) => block_on(airflow::run(&cli.global, args)),
        Command::Rollback(args) => block_on(rollback::run(&cli.global, args)),
        Command::Doctor => block_on(doctor::run(&cli.global)),
        Command::Exec(args) => block_on(exec::run(&cli.global, args)),
        Command::Connections(command) => block_on(connections::run(&cli.global, command)),
        Command::Variables(command) => block_on(variables::run(&cli.global, command)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let message = redact(&chain(&err));
            errln!("error: {message}");
            if let Some(hint) = err.hint() {
                errln!("hint: {hint}");
            }
            let code = match &cli.command {
                // Terraform's rule: 2 means "changes", so every error is 1.
                Command::Plan(args) if args.detailed_exitcode => EXIT_OTHER,
                _ => err.exit_code(),
            };
            if cli.global.output == crate::args::OutputFormat::Json {
                use orchestrate_core::Classify as _;
                crate::document::print(&crate::document::failure(
                    serde_json::Value::Null,
                    &crate::document::Failure {
                        kind: err.kind(),
                        exit_code: code,
                        message: &message,
                        hint: err.hint(),
                    },
                ));
            }
            code
        }
    }
}

/// A command line clap refused: help and `--version` print as usual (exit 0); a usage error
/// prints clap's message on stderr (exit 2) and, with `--output json`, the failure document
/// (kind `invalid`) on stdout.
pub fn usage_error(err: &clap::Error) -> u8 {
    use clap::error::ErrorKind as ClapKind;
    if matches!(
        err.kind(),
        ClapKind::DisplayHelp
            | ClapKind::DisplayVersion
            | ClapKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return if err.kind() == ClapKind::DisplayHelpOnMissingArgumentOrSubcommand {
            orchestrate_engine::error::EXIT_INVALID
        } else {
            orchestrate_engine::error::EXIT_OK
        };
    }
    let _ = err.print();
    let code = orchestrate_engine::error::EXIT_INVALID;
    if crate::document::json_requested(std::env::args()) {
        let rendered = err.render().to_string();
        let message = rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid command line")
            .trim_start_matches("error: ");
        crate::document::print(&crate::document::failure(
            serde_json::Value::Null,
            &crate::document::Failure {
                kind: orchestrate_core::ErrorKind::Invalid,
                exit_code: code,
                message,
                hint: Some("see `orchestrate --help`"),
            },
        ));
    }
    code
}

fn block_on<F: std::future::Future<Output = Result<u8, EngineError>>>(
    future: F,
) -> Result<u8, EngineError> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        // On the heap: a command's future holds many SDK calls' state, more than the main
        // thread's stack should carry in a debug build.
        Ok(runtime) => runtime.block_on(Box::pin(future)),
        Err(e) => {
            errln!("error: failed to start the async runtime: {e}");
            Ok(EXIT_OTHER)
        }
    }
}

/// The error and its sources, `a: b: c`, without repeating a message a source already says.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn init_logging(global: &GlobalArgs) {
    use tracing_subscriber::prelude::*;
    let filter = match global.verbose {
        0 => "warn",
        1 => "orchestrate=debug,warn",
        _ => "debug",
    };
    let env = tracing_subscriber::EnvFilter::try_from_env("ORCHESTRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(RedactedLine::default)
        .with_target(false)
        .with_ansi(crate::output::colour())
        .with_filter(env);
    // -v: every AWS call (the SDK's per-operation spans, at debug level).
    let calls = (global.verbose > 0).then(|| {
        crate::calls::ApiCalls {
            json: global.output == crate::args::OutputFormat::Json,
        }
        .with_filter(tracing_subscriber::EnvFilter::new("aws_sdk=debug"))
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(calls)
        .try_init();
}

/// The tracing writer: collects one formatted event and writes it to stderr through
/// [`redact`] when dropped, so `-v`/`-vv` (and `ORCHESTRATE_LOG`) output cannot show a
/// registered secret value, whichever library logged it.
#[derive(Default)]
struct RedactedLine(Vec<u8>);

impl std::io::Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.0));
        let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
    }
}

/// Loads the spec and applies the rules; prints findings; errors stop the command.
pub fn load_valid_spec(
    global: &GlobalArgs,
    print_warnings: bool,
) -> Result<LoadedSpec, EngineError> {
    let loaded = load::load(&global.config)?;
    let findings = run_rules(&loaded.spec);
    let mut errors = 0;
    for finding in &findings {
        if finding.severity == Severity::Error || print_warnings {
            if global.output == crate::args::OutputFormat::Json {
                crate::output::json_line(serde_json::json!({
                    "event": "finding",
                    "phase": null,
                    "phase_name": null,
                    "resource": null,
                    "rule": finding.rule,
                    "severity": finding.severity,
                    "path": finding.path,
                    "origin": loaded.origin(&finding.path).to_string(),
                    "message": finding.message,
                    "fix": finding.fix,
                }));
            } else {
                errln!("{}: {finding}", loaded.origin(&finding.path));
            }
        }
        if finding.severity == Severity::Error {
            errors += 1;
        }
    }
    if errors > 0 {
        return Err(EngineError::Invalid(errors));
    }
    Ok(loaded)
}

/// What `plan` repeats of the spec's warnings because it changes what `up` does: the worker's
/// `count` that autoscaling overrides; and that an existing network is used, not managed.
pub fn spec_notes(spec: &orchestrate_core::Spec) -> Vec<String> {
    let mut notes: Vec<String> = run_rules(spec)
        .into_iter()
        .filter(|f| f.rule == orchestrate_core::validate::WORKER_COUNT_AUTOSCALED)
        .map(|f| format!("{}; {}", f.message, f.fix))
        .collect();
    if let Some(existing) = spec.network.existing() {
        notes.push(format!(
            "the network is the existing VPC {} (existing, not managed): orchestrate creates only its security groups there and never changes or deletes the VPC, its subnets, gateways or routes",
            existing.vpc_id
        ));
    }
    notes
}

/// Builds the engine for a loaded spec, with the progress reporter the flags ask for.
pub async fn engine_for(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
) -> Result<
    (
        orchestrate_engine::Engine,
        std::sync::Arc<crate::output::Progress>,
    ),
    EngineError,
> {
    let progress = progress_for(global, loaded);
    let engine = engine_reporting_to(global, loaded, progress.clone()).await?;
    Ok((engine, progress))
}

/// Builds the engine for a loaded spec, reporting progress to `reporter` (the progress
/// reporter of [`engine_for`], possibly wrapped, e.g. by `up --timings`' timeline).
pub async fn engine_reporting_to(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
    reporter: std::sync::Arc<dyn orchestrate_core::Reporter>,
) -> Result<orchestrate_engine::Engine, EngineError> {
    let options = orchestrate_engine::aws::AwsOptions {
        profile: global.profile.clone(),
        region: global.region.clone(),
        endpoint_url: global.endpoint_url.clone(),
    };
    orchestrate_engine::Engine::new(loaded, &options, reporter).await
}

/// The progress reporter [`engine_for`] uses.
pub fn progress_for(
    global: &GlobalArgs,
    loaded: &LoadedSpec,
) -> std::sync::Arc<crate::output::Progress> {
    let mode = crate::output::Mode::detect(global.output, global.quiet);
    std::sync::Arc::new(
        crate::output::Progress::new(mode, global.verbose > 0)
            .for_deployment(&loaded.spec.deployment.name),
    )
}
