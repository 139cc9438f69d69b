#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (warnings are errors), and
# `cargo test --workspace` — unit tests, awsim's own tests and the end-to-end tests that drive
# the `orchestrate` binary against the local emulator. Installs what it needs: moto's server
# into ./.venv from the pinned scripts/requirements-emulator.txt, docker-registry and
# the shellcheck linter with apt-get (CI runs as root on a fresh clone; elsewhere through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  echo "==> installing the local AWS emulator (moto, pinned) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"

# The emulator's ECR and the image tests use a real OCI registry (the CNCF distribution
# registry, Debian's `docker-registry`); no Docker daemon is needed.
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "==> installing docker-registry (apt-get)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq docker-registry >/dev/null
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "==> installing shellcheck (apt-get)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq shellcheck >/dev/null || {
    "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq shellcheck >/dev/null
  }
fi

echo "==> shellcheck scripts/*.sh"
shellcheck scripts/*.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked "$@"
