//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while starting or driving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `moto_server` executable was found.
    #[error(
        "moto_server not found: set AWSIM_MOTO_SERVER, create <workspace>/.venv with \
         `python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-emulator.txt`, \
         or put moto_server on PATH"
    )]
    MotoNotFound,
    /// Spawning moto_server failed.
    #[error("failed to spawn {program}: {source}")]
    Spawn {
        /// The program that could not be started.
        program: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// moto_server did not answer in time or exited early.
    #[error("moto_server did not become ready: {0}")]
    MotoNotReady(String),
    /// A request to moto (reset, internal describe) failed.
    #[error("request to moto failed: {0}")]
    Moto(String),
    /// No `docker-registry` executable was found.
    #[error(
        "docker-registry not found: install it with `apt-get install -y docker-registry` \
         (scripts/test.sh does), or set AWSIM_DOCKER_REGISTRY"
    )]
    RegistryNotFound,
    /// The local registry did not answer in time or exited early.
    #[error("docker-registry did not become ready: {0}")]
    RegistryNotReady(String),
    /// A request to the local registry failed or was answered unexpectedly.
    #[error("local registry request failed: {0}")]
    Registry(String),
    /// Binding or serving the proxy failed.
    #[error("proxy I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A scenario could not be parsed.
    #[error("invalid scenario: {0}")]
    Scenario(#[from] serde_json::Error),
}

/// Shorthand result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
