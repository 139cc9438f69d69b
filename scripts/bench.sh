#!/usr/bin/env bash
# Benchmark of `orchestrate up` against the local emulator with scaled AWS latencies.
# Prints a table: wall time against the simulated critical path, API calls (total, mutating),
# and peak memory, for a fresh `up` and for a converged re-run.
#
#   scripts/bench.sh [PHASE] [TIME_SCALE]      (defaults: 1, 0.01)
#   PROFILE=dev scripts/bench.sh               (debug build: no release compile of the SDK)
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-1}"
scale="${2:-0.01}"

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"
profile="${PROFILE:-release}"
cargo build --quiet --profile "$profile" --locked -p orchestrate-cli -p awsim
bin="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"

work="$(mktemp -d)"
cp config/local.toml "$work/orchestrate.toml"
"$bin/awsim" serve --time-scale "$scale" >"$work/awsim.out" 2>"$work/awsim.err" &
awsim_pid=$!
trap 'kill "$awsim_pid" 2>/dev/null || true; wait "$awsim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q '^AWSIM_ENDPOINT=' "$work/awsim.out" 2>/dev/null && break; sleep 0.2; done
endpoint="$(sed -n 's/^AWSIM_ENDPOINT=//p' "$work/awsim.out" | head -n 1)"
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export ORCHESTRATE_TIME_SCALE="$scale"

summary() { curl -s "$endpoint/_awsim/summary" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], d["mutating"])'; }
run() {
  curl -s -XPOST "$endpoint/_awsim/calls/reset" >/dev/null
  local wall rss
  # Wall time and the child's peak RSS (KiB), measured by Python so no extra tool is needed.
  read -r wall rss < <(python3 - "$bin/orchestrate" "$work/orchestrate.toml" "$phase" <<'PY'
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run([sys.argv[1], "-q", "--config", sys.argv[2], "up", "--phase", sys.argv[3]],
               check=True, stdout=subprocess.DEVNULL)
print(f"{time.monotonic() - t0:.2f}", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
  read -r total mutating < <(summary)
  printf '| %-16s | %8s | %6s | %8s | %8s |\n' "$1" "$wall" "$total" "$mutating" "$((rss / 1024)) MiB"
}

# The simulated critical path of phase 1 is the RDS instance (creating + backing-up: awsim's
# default 600 s of simulated time), scaled.
critical=$(python3 -c "print(round(600 * $scale, 2))")
echo "orchestrate up --phase $phase ($profile build), time scale $scale (simulated critical path: ${critical} s)"
echo "| run              | wall (s) | calls  | mutating | peak RSS |"
echo "|------------------|----------|--------|----------|----------|"
run "fresh"
run "converged re-run"
