#!/usr/bin/env bash
# The main job on a laptop with no AWS account: start the local AWS emulator (moto behind
# awsim) with its local registries, run `orchestrate up` against it (which copies the test
# images into the emulator's ECR and pulls them), then show what was built (`status`) and that a
# second look finds nothing to change (`plan`). Installs what it needs (moto into ./.venv)
# and stops the emulator when done.
#
#   scripts/quickstart.sh [PHASE]     (default phase: 5, everything)
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-5}"

if [ ! -x .venv/bin/moto_server ]; then
  echo "==> installing the local AWS emulator (moto, pinned) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"

# The emulator's ECR and the "upstream" registry `up` copies the images from are real OCI
# registries (the CNCF distribution registry, Debian's `docker-registry`), on loopback ports;
# no Docker daemon and no internet access are needed.
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "==> installing docker-registry (apt-get)"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq docker-registry >/dev/null
fi

echo "==> building orchestrate and awsim"
cargo build --quiet --locked --workspace --all-targets  # the feature set scripts/test.sh builds: one build serves both

work="$(mktemp -d)"
cp config/local.toml "$work/orchestrate.toml"
awsim_log="$work/awsim.log"
# Simulated AWS runs 100x faster than the real thing (an RDS instance takes seconds, not minutes).
# --local-registries: an empty registry standing in for ECR (tasks pull from it like Fargate)
# and an upstream one seeded with tiny two-platform Airflow and git-sync test images.
target/debug/awsim serve --time-scale 0.01 --local-registries >"$work/awsim.out" 2>"$awsim_log" &
awsim_pid=$!
trap 'kill "$awsim_pid" 2>/dev/null || true; wait "$awsim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  grep -q '^AWSIM_UPSTREAM_GIT_SYNC=' "$work/awsim.out" 2>/dev/null && break
  sleep 0.2
done
endpoint="$(sed -n 's/^AWSIM_ENDPOINT=//p' "$work/awsim.out" | head -n 1)"
upstream_airflow="$(sed -n 's/^AWSIM_UPSTREAM_AIRFLOW=//p' "$work/awsim.out" | head -n 1)"
upstream_git_sync="$(sed -n 's/^AWSIM_UPSTREAM_GIT_SYNC=//p' "$work/awsim.out" | head -n 1)"
if [ -z "$endpoint" ] || [ -z "$upstream_git_sync" ]; then
  echo "awsim did not start:"; cat "$awsim_log"; exit 1
fi
# `up` copies these (instead of apache/airflow and registry.k8s.io/git-sync) into the emulator's ECR.
export ORCHESTRATE__IMAGE__SOURCE="$upstream_airflow" ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE="$upstream_git_sync"

export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export ORCHESTRATE_TIME_SCALE=0.01
orchestrate() { target/debug/orchestrate --config "$work/orchestrate.toml" "$@"; }

echo "==> orchestrate validate"
orchestrate validate
echo "==> orchestrate up --phase $phase   (emulator at $endpoint)"
orchestrate up --phase "$phase"
echo "==> orchestrate status"
orchestrate status
echo "==> orchestrate plan --phase $phase   (a converged deployment: nothing to change)"
orchestrate plan --phase "$phase"
echo "==> pinned availability zones ($work/orchestrate.lock)"
cat "$work/orchestrate.lock"
