#!/usr/bin/env bash
# Starts the local AWS emulator (moto_server behind the awsim lifecycle proxy) in the background.
#   scripts/awsim-start.sh [--scenario FILE] [--time-scale F] [--port N]
# Unless --registry URL is given, awsim also starts its local registries (the emulator's ECR
# and a seeded upstream, `awsim serve --local-registries`).
# Writes the endpoint URL to .awsim/endpoint and the pid to .awsim/pid, and prints
#   export AWS_ENDPOINT_URL=http://127.0.0.1:PORT
# and, with the local registries, the spec overrides that make `up` copy the test images:
#   export ORCHESTRATE__IMAGE__SOURCE=127.0.0.1:PORT/upstream/airflow:test
#   export ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE=127.0.0.1:PORT/upstream/git-sync:test
# Stop it with scripts/awsim-stop.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mkdir -p .awsim

if [[ -f .awsim/pid ]] && kill -0 "$(cat .awsim/pid)" 2>/dev/null; then
  echo "awsim already running (pid $(cat .awsim/pid)) at $(cat .awsim/endpoint)" >&2
  echo "export AWS_ENDPOINT_URL=$(cat .awsim/endpoint)"
  exit 0
fi

if [[ -z "${AWSIM_MOTO_SERVER:-}" && ! -x .venv/bin/moto_server ]]; then
  echo "installing the pinned emulator into .venv ..." >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r scripts/requirements-emulator.txt
fi

cargo build --quiet --locked --workspace --all-targets  # the feature set scripts/test.sh builds
bin="${CARGO_TARGET_DIR:-$root/target}/debug/awsim"

rm -f .awsim/endpoint .awsim/out
args=("$@")
case " $* " in
  *" --registry "* | *" --registry="*) ;;
  *) args+=(--local-registries) ;;
esac
nohup "$bin" serve "${args[@]}" >.awsim/out 2>.awsim/log &
echo $! >.awsim/pid

for _ in $(seq 1 600); do
  if grep -q '^AWSIM_ENDPOINT=' .awsim/out 2>/dev/null; then
    sed -n 's/^AWSIM_ENDPOINT=//p' .awsim/out >.awsim/endpoint
    echo "awsim running (pid $(cat .awsim/pid)) at $(cat .awsim/endpoint)" >&2
    echo "export AWS_ENDPOINT_URL=$(cat .awsim/endpoint)"
    sed -n 's/^AWSIM_UPSTREAM_AIRFLOW=/export ORCHESTRATE__IMAGE__SOURCE=/p; s/^AWSIM_UPSTREAM_GIT_SYNC=/export ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE=/p' .awsim/out
    exit 0
  fi
  if ! kill -0 "$(cat .awsim/pid)" 2>/dev/null; then
    echo "awsim exited:" >&2
    cat .awsim/log >&2
    rm -f .awsim/pid
    exit 1
  fi
  sleep 0.1
done
echo "awsim did not start in 60 s; see .awsim/log" >&2
exit 1
