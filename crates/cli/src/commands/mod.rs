//! One module per command, each with one entry function.

mod images;
mod plan;
mod render;
mod status;
mod teardown;
mod up;
mod validate;

use orchestrate_core::sensitive::redact;
use orchestrate_core::spec::load::{self, LoadedSpec};
use orchestrate_core::validate::{Severity, validate as run_rules};
use orchestrate_engine::error::{EXIT_OTHER, EngineError};

use crate::args::{Cli, Command, GlobalArgs};

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    init_logging(&cli.global);
    let result = match &cli.command {
        Command::Validate => validate::run(&cli.global),
        Command::Render(args) => render::run(&cli.global, args),
        Command::Plan(args) => block_on(plan::run(&cli.global, args)),
        Command::Up(args) => block_on(up::run(&cli.global, args)),
        Command::Status => block_on(status::run(&cli.global)),
        Command::Teardown(args) => block_on(teardown::run(&cli.global, args)),
        Command::Images(command) => block_on(images::run(&cli.global, command)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = err.exit_code();
            eprintln!("error: {}", redact(&chain(&err)));
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            code
        }
    }
}

fn block_on<F: std::future::Future<Output = Result<u8, EngineError>>>(
    future: F,
) -> Result<u8, EngineError> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
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
    let filter = match global.verbose {
        0 => "warn",
        1 => "orchestrate=debug,warn",
        _ => "debug",
    };
    let env = tracing_subscriber::EnvFilter::try_from_env("ORCHESTRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_writer(RedactedLine::default)
        .with_target(false)
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
            eprintln!("{}: {finding}", loaded.origin(&finding.path));
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
    let mode = crate::output::Mode::detect(global.output, global.quiet);
    let progress = std::sync::Arc::new(crate::output::Progress::new(mode));
    let options = orchestrate_engine::aws::AwsOptions {
        profile: global.profile.clone(),
        region: global.region.clone(),
        endpoint_url: global.endpoint_url.clone(),
    };
    let engine = orchestrate_engine::Engine::new(loaded, &options, progress.clone()).await?;
    Ok((engine, progress))
}
