#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (warnings are errors), and
# `cargo test --workspace` — unit tests, awsim's own tests and the end-to-end tests that drive
# the `orchestrate` binary against the local emulator. Installs what it needs: moto's server
# into ./.venv from the pinned scripts/requirements-emulator.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  echo "==> installing the local AWS emulator (moto, pinned) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked "$@"
