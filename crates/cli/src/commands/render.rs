//! `orchestrate render task-definitions`: the exact RegisterTaskDefinition requests.
//! `orchestrate render compose`: the docker-compose equivalent, for trying Airflow locally.
//!
//! Rendered offline from the spec: values that only AWS knows (ARNs, the account id, the ECR
//! URI) appear as clearly marked `<pending: ...>` placeholders. Secrets appear only as
//! `valueFrom` references, never as values. The compose file references its secrets as
//! `${NAME}`; their values are generated once into a `.env` beside it (mode 0600, never
//! overwritten, git-ignored) and never printed.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use orchestrate_airflow::compose::{LocalSecrets, compose, env_file};
use orchestrate_airflow::{Wiring, render_all, to_json};
use orchestrate_core::Spec;
use orchestrate_core::sensitive::{generate_fernet_key, generate_password, generate_token};
use orchestrate_engine::error::{EXIT_OK, EngineError};

use super::load_valid_spec;
use crate::args::{GlobalArgs, OutputFormat, RenderArgs, RenderWhat};
use crate::output::outln;

/// Prints every component's task definition as AWS API JSON, or writes the compose files.
pub fn run(global: &GlobalArgs, args: &RenderArgs) -> Result<u8, EngineError> {
    let loaded = load_valid_spec(global, false)?;
    match args.what {
        RenderWhat::TaskDefinitions => {
            let wiring = Wiring::pending(&loaded.spec);
            let definitions: Vec<serde_json::Value> = render_all(&loaded.spec, &wiring)
                .iter()
                .map(to_json)
                .collect();
            match global.output {
                OutputFormat::Json => crate::document::print(&crate::document::success(
                    serde_json::json!({ "task_definitions": definitions }),
                )),
                OutputFormat::Text => {
                    let text = serde_json::to_string_pretty(&definitions).map_err(|e| {
                        EngineError::Other(format!("failed to serialise task definitions: {e}"))
                    })?;
                    outln!("{text}");
                }
            }
        }
        RenderWhat::Compose => {
            let written = write_compose(&loaded.spec, &args.dir)?;
            match global.output {
                OutputFormat::Json => {
                    crate::document::print(&crate::document::success(serde_json::json!({
                        "compose_file": written.compose.display().to_string(),
                        "env_file": written.env.display().to_string(),
                        "env_created": written.env_created,
                        "gitignore_updated": written.gitignore_updated,
                    })))
                }
                OutputFormat::Text => {
                    outln!("wrote {}", written.compose.display());
                    if written.env_created {
                        outln!("wrote {} (fresh secrets)", written.env.display());
                    } else {
                        outln!("kept {} (never overwritten)", written.env.display());
                    }
                    if written.gitignore_updated {
                        outln!("added .env to {}", written.gitignore.display());
                    }
                    outln!(
                        "start it with: docker compose -f {} up",
                        written.compose.display()
                    );
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// What `render compose` wrote.
struct Written {
    /// `compose.yaml`.
    compose: std::path::PathBuf,
    /// `.env`.
    env: std::path::PathBuf,
    /// True when `.env` was created now (false: kept as it was).
    env_created: bool,
    /// `.gitignore`.
    gitignore: std::path::PathBuf,
    /// True when `.env` was added to `.gitignore` now.
    gitignore_updated: bool,
}

/// Writes `<dir>/compose.yaml` (always: it is derived), `<dir>/.env` (only when absent) and
/// makes sure `<dir>/.gitignore` ignores `.env`.
fn write_compose(spec: &Spec, dir: &Path) -> Result<Written, EngineError> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        EngineError::Other(format!("{what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let compose_path = dir.join("compose.yaml");
    let text = serde_json::to_string_pretty(&compose(spec))
        .map_err(|e| EngineError::Other(format!("failed to serialise the compose file: {e}")))?;
    std::fs::write(&compose_path, format!("{text}\n"))
        .map_err(|e| io("cannot write", &compose_path, e))?;

    let env_path = dir.join(".env");
    let secrets = LocalSecrets {
        db_password: generate_password(32).expose().to_string(),
        fernet_key: generate_fernet_key().expose().to_string(),
        jwt_secret: generate_token(32).expose().to_string(),
        api_secret_key: generate_token(32).expose().to_string(),
        admin_password: generate_password(24).expose().to_string(),
    };
    let env_created = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&env_path)
    {
        Ok(mut file) => {
            file.write_all(env_file(spec, &secrets).as_bytes())
                .map_err(|e| io("cannot write", &env_path, e))?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(io("cannot create", &env_path, e)),
    };

    let ignore_path = dir.join(".gitignore");
    let ignored = match std::fs::read_to_string(&ignore_path) {
        Ok(text) => text.lines().any(|l| matches!(l.trim(), ".env" | "/.env")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io("cannot read", &ignore_path, e)),
    };
    if !ignored {
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&ignore_path)
            .map_err(|e| io("cannot open", &ignore_path, e))?;
        file.write_all(b"\n.env\n")
            .map_err(|e| io("cannot write", &ignore_path, e))?;
    }
    Ok(Written {
        compose: compose_path,
        env: env_path,
        env_created,
        gitignore: ignore_path,
        gitignore_updated: !ignored,
    })
}
