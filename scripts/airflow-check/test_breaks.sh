#!/usr/bin/env bash
# Proves the real-Airflow check bites: breaks one thing at a time and requires the check to
# fail (exit 1, not 0 and not a harness error) at the stage where that break shows:
#   jwt-secret         api-server and scheduler/worker sign with different JWT secrets
#                      -> the task's calls to the execution API are rejected: the DAG run fails
#   execution-api-url  AIRFLOW__CORE__EXECUTION_API_SERVER_URL without its /execution/ path
#                      -> tasks never reach the execution API: the DAG run does not succeed
#   db-url-encoding    the DB password containing @:/?#%&+ written into the URLs unencoded
#                      -> the migration cannot connect
# Run by scripts/test.sh after scripts/airflow-check/run.py has passed.
set -uo pipefail
cd "$(dirname "$0")/../.."

declare -A stage=(
  [jwt-secret]="dag-run"
  [execution-api-url]="dag-run"
  [db-url-encoding]="migration"
)
failed=0
for brk in jwt-secret execution-api-url db-url-encoding; do
  echo "==> real-Airflow check with --break $brk (must fail at stage '${stage[$brk]}')"
  err="$(mktemp)"
  python3 scripts/airflow-check/run.py --break "$brk" 2> >(tee "$err" >&2)
  rc=$?
  sleep 1 # let tee flush
  if [[ $rc -eq 1 ]] && grep -q "^CHECK FAILED \[${stage[$brk]}\]" "$err"; then
    echo "ok: --break $brk failed the check at stage '${stage[$brk]}'"
  else
    echo "NOT OK: --break $brk: exit $rc, expected 1 with 'CHECK FAILED [${stage[$brk]}]'" >&2
    failed=1
  fi
  rm -f "$err"
done
exit "$failed"
