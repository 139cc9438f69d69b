#!/usr/bin/env bash
# Benchmark of `orchestrate up` against the local emulator with AWS's latencies
# (scripts/bench-scenario.json: RDS 6 min, Valkey 8 min, NAT 2 min, ALB 3 min, Fargate task
# start 1 min, each rollout 3 min), scaled down by TIME_SCALE. Prints one table:
#   - full `up`: wall time against the critical path computed from the dependency graph
#     (Node::needs, `cargo run --example critical_path`) and the scenario's durations; calls
#     by service, mutating and read;
#   - the same `up` with concurrency off (ORCHESTRATE_CONCURRENCY=1), as a ratio;
#   - converged `up` (wall, calls, mutating) and `status` (wall, calls);
#   - a circuit-breaker failure: simulated seconds between ECS marking the worker's
#     deployment FAILED and orchestrate exiting;
#   - the peak RSS of each command (up, converged up, status, plan, validate).
# Figures and how to read them: docs/performance.md.
#
#   scripts/bench.sh [PHASE] [TIME_SCALE]      (defaults: 5, 0.05 — a full up takes about a minute)
#   PROFILE=dev scripts/bench.sh               (debug build: no release compile of the SDK;
#                                               its peak RSS is mostly the unoptimised binary)
#   NO_BUILD=1 scripts/bench.sh                 (binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-5}"
scale="${2:-0.05}"
scenario="scripts/bench-scenario.json"

if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-emulator.txt
fi
export AWSIM_MOTO_SERVER="${AWSIM_MOTO_SERVER:-$PWD/.venv/bin/moto_server}"
profile="${PROFILE:-release}"
# The feature set scripts/test.sh builds (one build serves both), plus the critical-path example.
# NO_BUILD=1: use the binaries already built (`cargo build --profile P --workspace --bins
# --examples` is enough: the same features, without the test binaries).
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --quiet --profile "$profile" --locked --workspace --all-targets
fi
bin="target/$([ "$profile" = dev ] && echo debug || echo "$profile")"

work="$(mktemp -d)"
cp config/local.toml "$work/orchestrate.toml"
name="$(sed -n 's/^name = "\(.*\)"/\1/p' config/local.toml | head -n 1)"
"$bin/awsim" serve --scenario "$scenario" --time-scale "$scale" --local-registries \
  >"$work/awsim.out" 2>"$work/awsim.err" &
awsim_pid=$!
trap 'kill "$awsim_pid" 2>/dev/null || true; wait "$awsim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  grep -q '^AWSIM_UPSTREAM_GIT_SYNC=' "$work/awsim.out" 2>/dev/null && break
  sleep 0.2
done
endpoint="$(sed -n 's/^AWSIM_ENDPOINT=//p' "$work/awsim.out" | head -n 1)"
if [ -z "$endpoint" ]; then
  echo "awsim did not start:"; cat "$work/awsim.err"; exit 1
fi
ORCHESTRATE__IMAGE__SOURCE="$(sed -n 's/^AWSIM_UPSTREAM_AIRFLOW=//p' "$work/awsim.out" | head -n 1)"
ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE="$(sed -n 's/^AWSIM_UPSTREAM_GIT_SYNC=//p' "$work/awsim.out" | head -n 1)"
export ORCHESTRATE__IMAGE__SOURCE ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true ORCHESTRATE_TIME_SCALE="$scale"

# run LABEL EXPECTED_EXIT ARGS...: runs orchestrate once with a fresh call log; writes
# $work/LABEL.json with wall time, exit time (epoch), peak RSS and the emulator's call counts.
run() {
  local label="$1" expected="$2"
  shift 2
  curl -s -XPOST "$endpoint/_awsim/calls/reset" >/dev/null
  python3 - "$work/$label.run" "$expected" "$bin/orchestrate" -q --config "$work/orchestrate.toml" "$@" <<'PY'
import json, os, resource, subprocess, sys, time
out, expected, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# Peak RSS from GNU time when there is one: getrusage(RUSAGE_CHILDREN) also counts this
# Python process's pages, shared with the child until its exec (a floor of about 10 MiB).
timed = os.access("/usr/bin/time", os.X_OK)
if timed:
    cmd = ["/usr/bin/time", "-f", "%M", "-o", out + ".rss"] + cmd
t0 = time.monotonic()
proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall, ended = time.monotonic() - t0, time.time()
if proc.returncode != expected:
    sys.stderr.write(proc.stderr)
    sys.exit(f"{' '.join(cmd[1:])}: exit {proc.returncode}, expected {expected}")
if timed:
    rss = int(open(out + ".rss").read().split()[-1])
else:
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
json.dump({"wall": wall, "ended": ended, "rss_kib": rss}, open(out, "w"))
PY
  curl -s "$endpoint/_awsim/calls" >"$work/$label.calls"
}

# warm: one read per service the run calls, before the timed runs that follow a reset.
# moto loads a service's backend on its first request (EC2's first call takes about 1.6 s,
# RDS's, ElastiCache's, ECR's and Cloud Map's 0.1-0.5 s each): the emulator's start-up, not
# orchestrate's or AWS's time. Not counted: the call log is reset before each run.
warm() {
  "$(dirname "$AWSIM_MOTO_SERVER")/python" - "$endpoint" <<'PY'
import os, sys, boto3
endpoint, region = sys.argv[1], os.environ["AWS_REGION"]
reads = [("sts", "get_caller_identity", {}), ("ec2", "describe_availability_zones", {}),
         ("ec2", "describe_vpcs", {}), ("iam", "list_roles", {}),
         ("logs", "describe_log_groups", {}), ("ecr", "describe_repositories", {}),
         ("secretsmanager", "list_secrets", {}), ("rds", "describe_db_subnet_groups", {}),
         ("rds", "describe_db_instances", {}),
         ("elasticache", "describe_cache_subnet_groups", {}),
         ("elasticache", "describe_replication_groups", {}),
         ("servicediscovery", "list_namespaces", {}), ("ecs", "list_clusters", {}),
         ("elbv2", "describe_load_balancers", {}),
         ("application-autoscaling", "describe_scalable_targets", {"ServiceNamespace": "ecs"})]
for service, op, args in reads:
    getattr(boto3.client(service, endpoint_url=endpoint, region_name=region), op)(**args)
PY
}

# The critical path from the graph and the scenario's durations (simulated seconds).
critical="$("$bin/examples/critical_path" "$scenario" "$phase")"

warm
run fresh 0 up --phase "$phase" --timings "$work/timings.html"
run converged 0 up --phase "$phase"
run status 0 status
run plan 0 plan --phase "$phase"
run validate 0 validate

# The same fresh `up` with one resource at a time.
curl -s -XPOST "$endpoint/_awsim/reset" >/dev/null
rm -f "$work/orchestrate.lock"
warm
ORCHESTRATE_CONCURRENCY=1 run serial 0 up --phase "$phase"

# A failing rollout: the worker's next deployment fails to start its tasks; the circuit
# breaker marks it FAILED (awsim keeps the scenario's registry and durations).
failure="-"
if [ "$phase" -ge 2 ]; then
  service="$name-api-server"
  failing_phase="$phase"
  [ "$phase" -ge 5 ] && service="$name-worker"
  curl -s "$endpoint/_awsim/scenario" | python3 -c '
import json, sys
s = json.load(sys.stdin)
s["ecs_failures"] = [{"service": sys.argv[1], "kind": "fail_to_start"}]
print(json.dumps(s))' "$service" >"$work/failing.json"
  curl -s -XPOST -H 'content-type: application/json' --data-binary "@$work/failing.json" \
    "$endpoint/_awsim/scenario" >/dev/null
  # A new revision of the failing service's task definition (more memory).
  if [ "$service" = "$name-worker" ]; then
    ORCHESTRATE__COMPONENTS__WORKER__MEMORY=4096 run failure 3 up --phase "$failing_phase"
  else
    ORCHESTRATE__COMPONENTS__API_SERVER__MEMORY=4096 run failure 3 up --phase "$failing_phase"
  fi
  curl -s "$endpoint/_awsim/ecs" >"$work/ecs.json"
  failure="$service"
fi

python3 - "$work" "$phase" "$scale" "$profile" "$critical" "$failure" "$(nproc)" <<'PY'
import json, sys
work, phase, scale, profile, critical, failure, cpus = sys.argv[1:8]
scale = float(scale)
crit_sim, _, crit_nodes = critical.partition(" ")
crit = float(crit_sim) * scale

def load(label):
    try:
        run = json.load(open(f"{work}/{label}.run"))
    except FileNotFoundError:
        return None
    calls = json.load(open(f"{work}/{label}.calls"))
    lease = [c for c in calls if c["service"] == "secretsmanager"
             and (c.get("target") or "").endswith("/lease")]
    run["calls"] = len(calls)
    run["mutating"] = sum(c["mutating"] for c in calls if c not in lease)
    run["lease"] = sum(c["mutating"] for c in lease)
    run["reads"] = sum(not c["mutating"] for c in calls)
    by = {}
    for c in calls:
        by[c["service"]] = by.get(c["service"], 0) + 1
    run["by_service"] = ", ".join(f"{k} {v}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
    return run

fresh, converged, status, serial, failed, plan, validate = (load(l) for l in
    ("fresh", "converged", "status", "serial", "failure", "plan", "validate"))

def calls(r):
    return f"{r['calls']} ({r['mutating']} mutating + {r['lease']} lease, {r['reads']} read)"

rows = [
    ("critical path (graph × scenario)", f"{crit:.1f} s ({float(crit_sim):.0f} sim s, path below)", ""),
    ("full up: wall", f"{fresh['wall']:.1f} s", ""),
    ("full up: wall / critical path", f"{fresh['wall'] / crit:.3f}", "≤ 1.05"),
    ("full up: calls", calls(fresh), ""),
    ("full up: calls by service", fresh["by_service"], ""),
    ("full up, concurrency off: wall", f"{serial['wall']:.1f} s", ""),
    ("full up, concurrency off: calls", calls(serial), ""),
    ("concurrency off / on", f"{serial['wall'] / fresh['wall']:.2f}", ""),
    ("converged up: wall", f"{converged['wall']:.2f} s", "≤ 1 s"),
    ("converged up: calls", calls(converged), "≤ 40, 0 mutating"),
    ("status: wall", f"{status['wall']:.2f} s", "≤ 1 s"),
    ("status: calls", calls(status), "≤ 20"),
]
if failed:
    ecs = json.load(open(f"{work}/ecs.json"))
    marks = [e["at_epoch"] for s in ecs["services"] if s["service"] == failure
             for e in s["events"] if "deployment failed" in e["message"]]
    if marks:
        noticed = (failed["ended"] - max(marks)) / scale
        rows.append((f"failure: FAILED → exit ({failure})", f"{noticed:.1f} sim s", "≤ 10 sim s"))
    else:
        rows.append((f"failure: FAILED → exit ({failure})", "no FAILED event seen", "≤ 10 sim s"))
rss = [(l, r) for l, r in (("up", fresh), ("up off", serial), ("converged", converged),
       ("status", status), ("plan", plan), ("validate", validate), ("failure", failed)) if r]
rows.append(("peak RSS", ", ".join(f"{l} {r['rss_kib'] / 1024:.1f} MiB" for l, r in rss), "< 50 MB (47.7 MiB)"))

print(f"orchestrate up --phase {phase}: {profile} build, time scale {scale}, "
      f"scripts/bench-scenario.json, {cpus} CPU(s)")
w = max(len(r[0]) for r in rows)
v = max(len(r[1]) for r in rows)
print(f"| {'measure':<{w}} | {'value':<{v}} | target |")
print(f"|{'-' * (w + 2)}|{'-' * (v + 2)}|--------|")
for m, val, t in rows:
    print(f"| {m:<{w}} | {val:<{v}} | {t} |")
print(f"critical path: {crit_nodes}")
print(f"timings of the fresh up: {work}/timings.html")
PY
