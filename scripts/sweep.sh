#!/usr/bin/env bash
# The full reliability sweeps of tests/reliability_sweeps.rs and the teardown and phase-1 crash
# sweeps, against the local emulator (CI runs thinned samples of the same tests):
#   - a SIGKILL after every applied mutating call of phases 2-5 of `up`, then a re-run;
#   - a lost response after every create call of a full `up`;
#   - 20 % throttling + 5 % HTTP 500 on every service, ten seeds of up/status/teardown;
#   - a SIGKILL after every mutating call of phase 1, `teardown services` and `teardown all`.
# Each test prints its figures (points, time per point, totals) on stderr.
#
#   scripts/sweep.sh            every sweep (about an hour on a 2-core machine)
#   scripts/sweep.sh crash      one of: crash, lost, faults, phase1, teardown
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="$PWD/.venv/bin/moto_server"

mkdir -p target/sweep-logs
status=0
run() {
  local name="$1"
  shift
  local log="target/sweep-logs/$name.log"
  echo "==> $name: cargo test $* (full output: $log)"
  local started=$SECONDS
  if cargo test --locked --workspace "$@" -- --nocapture --test-threads 1 >"$log" 2>&1; then
    echo "    passed in $((SECONDS - started)) s"
  else
    echo "    FAILED after $((SECONDS - started)) s"
    status=1
  fi
  grep -E '^(crash sweep|lost responses|faults|teardown (services|all):|secret scan|IAM policy)' "$log" || true
}

what="${1:-all}"
case "$what" in
  all | crash)
    E2E_UP_CRASH_STRIDE=1 run crash --test e2e_sweeps a_crash_after_each_mutating_call ;;&
  all | lost)
    E2E_LOST_STRIDE=1 run lost --test e2e_sweeps a_lost_response_after_each_create_call ;;&
  all | faults)
    E2E_FAULT_SEEDS=10 run faults --test e2e_sweeps twenty_percent_throttling ;;&
  all | phase1)
    E2E_CRASH_STRIDE=1 run phase1 --test e2e_storage sigkill_at_every_mutating_call ;;&
  all | teardown)
    E2E_TEARDOWN_CRASH_STRIDE=1 run teardown --test e2e_teardown a_crash_at_every_mutating_call ;;&
  all | crash | lost | faults | phase1 | teardown) ;;
  *)
    echo "usage: scripts/sweep.sh [all|crash|lost|faults|phase1|teardown]" >&2
    exit 2 ;;
esac
exit "$status"
