#!/usr/bin/env bash
# Stops the emulator started by scripts/awsim-start.sh (awsim kills moto on SIGTERM).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [[ ! -f .awsim/pid ]]; then
  echo "awsim not running" >&2
  exit 0
fi
pid="$(cat .awsim/pid)"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
rm -f .awsim/pid .awsim/endpoint .awsim/out
echo "awsim stopped" >&2
