#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (warnings are errors), and
# `cargo test --workspace` — unit tests, awsim's own tests and the end-to-end tests that drive
# the `orchestrate` binary against the local emulator — then the real-Airflow check
# (scripts/airflow-check/: the registered task definitions run as real Airflow processes) and
# its proof that it bites. Installs what it needs: moto's server into ./.venv from the pinned
# scripts/requirements-emulator.txt; docker-registry (the emulator's ECR and the image tests
# use a real OCI registry; no Docker daemon), shellcheck, PostgreSQL and Redis from Debian
# packages when missing (CI runs as root on a fresh clone; elsewhere through sudo); the pinned
# Airflow into .cache/airflow-venv-<hash> (by the check itself).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  echo "==> installing the local AWS emulator (moto, pinned) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"

need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v redis-server >/dev/null || command -v valkey-server >/dev/null || need+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if ((${#need[@]})); then
  echo "==> installing ${need[*]} (Debian packages)"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

echo "==> shellcheck scripts/*.sh"
shellcheck scripts/*.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked "$@"
echo "==> real-Airflow check (scripts/airflow-check/run.py)"
cargo build --quiet --locked --workspace --all-targets  # the same feature set as `cargo test`: nothing rebuilt
python3 scripts/airflow-check/run.py
echo "==> the real-Airflow check fails for each deliberate break"
bash scripts/airflow-check/test_breaks.sh
