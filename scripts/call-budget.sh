#!/usr/bin/env bash
# API calls of a converged `up` and of `status` on a full deployment, by service and action,
# against the local emulator (awsim's call accounting). Not timed: only counts.
#
#   scripts/call-budget.sh [TIME_SCALE]             (default 0.01)
#   ORCHESTRATE_BIN=/path/to/orchestrate scripts/call-budget.sh    (another build, e.g. main's)
#
# Runs a fresh `up` (all five phases), then a converged `up` and `status`, each after
# `POST /_awsim/calls/reset`, and prints each run's calls per service and per action.
# The budgets (tests/budgets.rs, `cargo test --workspace --test e2e_budgets`): converged `up`
# at most 40 calls and none mutating on a resource, `status` at most 20.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-0.01}"

if [ -z "${AWSIM_MOTO_SERVER:-}" ]; then
  if [ ! -x .venv/bin/moto_server ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
  fi
  export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"
fi
[ -n "${NO_BUILD:-}" ] || cargo build --quiet --locked --workspace --all-targets
bin="${ORCHESTRATE_BIN:-target/debug/orchestrate}"

work="$(mktemp -d)"
cp config/local.toml "$work/orchestrate.toml"
target/debug/awsim serve --time-scale "$scale" --local-registries >"$work/awsim.out" 2>"$work/awsim.err" &
awsim_pid=$!
trap 'kill "$awsim_pid" 2>/dev/null || true; wait "$awsim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do grep -q '^AWSIM_UPSTREAM_GIT_SYNC=' "$work/awsim.out" 2>/dev/null && break; sleep 0.2; done
endpoint="$(sed -n 's/^AWSIM_ENDPOINT=//p' "$work/awsim.out" | head -n 1)"
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true ORCHESTRATE_TIME_SCALE="$scale"
ORCHESTRATE__IMAGE__SOURCE="$(sed -n 's/^AWSIM_UPSTREAM_AIRFLOW=//p' "$work/awsim.out")"
ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE="$(sed -n 's/^AWSIM_UPSTREAM_GIT_SYNC=//p' "$work/awsim.out")"
export ORCHESTRATE__IMAGE__SOURCE ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE

cat >"$work/report.py" <<'PY'
import collections, json, sys
title = sys.argv[1]
calls = json.load(sys.stdin)
def lease(c):
    return c["service"] == "secretsmanager" and (c.get("target") or "").endswith("/lease")
ops = collections.Counter(c["service"] + ":" + c["operation"] for c in calls)
svc = collections.Counter(c["service"] for c in calls)
mutating = sum(1 for c in calls if c["mutating"])
on_resources = sum(1 for c in calls if c["mutating"] and not lease(c))
on_lease = sum(1 for c in calls if lease(c))
print("%s: %d calls, %d mutating (%d on resources), %d on the lease"
      % (title, len(calls), mutating, on_resources, on_lease))
print("  by service: " + ", ".join("%s %d" % kv for kv in sorted(svc.items())))
for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])):
    print("  %4d  %s" % (n, op))
PY
report() { curl -s "$endpoint/_awsim/calls" | python3 "$work/report.py" "$1"; }
reset() { curl -s -XPOST "$endpoint/_awsim/calls/reset" >/dev/null; }

cfg=(--config "$work/orchestrate.toml")
reset; "$bin" -q "${cfg[@]}" up >/dev/null 2>"$work/up.err" || { tail -5 "$work/up.err"; }; report "fresh up"
reset; "$bin" -q "${cfg[@]}" up >/dev/null 2>&1; report "converged up"
reset; "$bin" -q "${cfg[@]}" status >/dev/null 2>&1; report "status"
