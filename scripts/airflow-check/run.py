#!/usr/bin/env python3
"""Real-Airflow check: run the task definitions `orchestrate up` registers, for real.

    scripts/airflow-check/run.py [--break jwt-secret|execution-api-url|db-url-encoding]

1. Starts awsim (the emulator) and runs `orchestrate up` (all phases) with a spec like
   config/local.toml: once with orchestrate's own generated database password, and once more
   for a second deployment whose stored database password contains `@:/?#%&+`.
2. Reads the task definitions as registered (ECS DescribeTaskDefinition against the emulator)
   and resolves their `secrets` from the emulator's Secrets Manager.
3. Starts PostgreSQL and Redis (Debian packages) on free loopback ports and swaps only
   endpoints: database host/port in the two DB URLs (user and encoded password kept byte for
   byte), the broker URL (`rediss://<ElastiCache>` -> `redis://127.0.0.1:<port>`: no TLS
   locally), the execution API URL and base URL (-> the local api-server), the listening ports
   of the api-server, scheduler health server and log servers (all processes share one
   host; the health-check commands are rewritten to the same ports), the DAG mount
   (`/opt/airflow/dags` -> a local directory laid out the way git-sync does:
   `<root>/<GITSYNC_LINK>` -> worktree), and AWS (AWS_ENDPOINT_URL = the emulator, dummy keys
   standing in for the task role, so remote logging writes to the emulator's CloudWatch Logs).
4. Installs the pinned Airflow (scripts/airflow-check/requirements.txt) into a virtualenv
   cached under .cache/airflow-venv-<hash of the requirements>, checks every
   AIRFLOW__SECTION__KEY of the task definitions against the installed package's
   configuration reference, then runs the migration task's command and each component
   (api-server, scheduler, dag-processor, triggerer, celery worker) as local processes with
   exactly the task definition's environment + resolved secrets + command (the image's
   entrypoint rule: `airflow <args>`, or `bash <args>`).
5. Asserts: each container's health-check command passes; /api/v2/monitor/health reports
   every component healthy; the sample DAG is parsed without import errors; a triggered run
   with a deferrable task succeeds on the Celery worker, its first task reading a connection
   and a variable written by `orchestrate connections|variables set` through the secrets
   backend (Secrets Manager on the emulator); its task logs are readable through
   the api-server. For the second deployment (special password): the migration, the
   api-server's metadatabase health and the admin login.

`--break` breaks one thing on purpose; the check must then fail (scripts/airflow-check/
test_breaks.sh runs each in CI):
  jwt-secret         the api-server gets a different AIRFLOW__API_AUTH__JWT_SECRET
  execution-api-url  AIRFLOW__CORE__EXECUTION_API_SERVER_URL loses its /execution/ path
  db-url-encoding    the special password goes into the DB URLs unencoded (as a renderer without
                     URL-encoding would write it); only the special-password deployment runs

Every process started is stopped on exit (process groups; SIGTERM then SIGKILL), every wait is
bounded. Exit code 0 = passed; 1 = a check failed ("CHECK FAILED [stage]: ..." on stderr);
2 = the harness itself could not run. Secret values are never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
# Written with `orchestrate connections|variables set` after `up`; read by the sample DAG
# through the secrets backend (Secrets Manager on the emulator).
CHECK_CONN_ID = "orchestrate_check_conn"
CHECK_CONN_HOST = "secrets-backend.example.com"
CHECK_CONN_URI = f"http://{CHECK_CONN_HOST}:8080/"
CHECK_VAR_KEY = "orchestrate_check_var"
CHECK_VAR_VALUE = "from-secrets-manager"
COMPONENTS = ["migration", "api-server", "scheduler", "dag-processor", "triggerer", "worker"]
SERVICES = ["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
DAG_ID = "orchestrate_check"
SPECIAL_PASSWORD = "Pw@:/?#%&+x9Z-0_q"  # must contain @:/?#%&+ (issue #12)
REGION = "us-east-1"
T0 = time.monotonic()


class CheckFailed(Exception):
    """An assertion about Airflow failed (exit 1)."""

    def __init__(self, stage: str, message: str):
        super().__init__(f"[{stage}] {message}")
        self.stage = stage


class HarnessError(Exception):
    """The check could not run at all (exit 2)."""


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


# --------------------------------------------------------------------------- processes


class Processes:
    """Every process the check starts, each in its own process group; stopped in reverse."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict, logfile: Path, **kw) -> subprocess.Popen:
        out = open(logfile, "ab")
        p = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, **kw,
        )
        out.close()
        self.procs.append((name, p))
        return p

    def stop_all(self) -> None:
        self.stop_matching(lambda _name: True)

    def stop_matching(self, which) -> None:
        """SIGTERM to each matching group (newest first), SIGKILL after 20 s."""
        chosen = [(n, p) for n, p in self.procs if which(n)]
        for name, p in reversed(chosen):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for name, p in reversed(chosen):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for name, p in reversed(chosen):
            # The group may still hold children (celery's pool) after the leader exited.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"warning: {name} (pid {p.pid}) did not exit after SIGKILL")
        self.procs = [(n, p) for n, p in self.procs if not which(n)]


PROCS = Processes()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, stage: str, timeout: float, probe, interval: float = 1.0):
    """Calls `probe()` until it returns a truthy value; CheckFailed after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except CheckFailed:
            raise
        except Exception as e:  # noqa: BLE001 - probes fail in many ways while starting
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise CheckFailed(stage, f"{what}: not within {timeout:.0f} s" + (f" (last: {last})" if last else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------- venv


def ensure_venv() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("AIRFLOW_CHECK_CACHE", ROOT / ".cache"))
    venv = cache / f"airflow-venv-{digest}"
    if (venv / ".complete").exists():
        return venv
    log(f"installing the pinned Airflow into {venv} (cached for later runs)")
    if venv.exists():
        shutil.rmtree(venv)
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "-r", str(REQUIREMENTS)],
        check=True, timeout=1800,
    )
    subprocess.run([str(venv / "bin/pip"), "check"], check=True, timeout=300)
    (venv / ".complete").write_text(digest)
    # Old venvs of other requirement sets are not needed any more.
    for old in cache.glob("airflow-venv-*"):
        if old != venv:
            shutil.rmtree(old, ignore_errors=True)
    return venv


# --------------------------------------------------------------------------- emulator + up


# The upstream image sources `up` copies into the emulator's ECR (set by start_awsim).
IMAGE_ENV: dict[str, str] = {}


def start_awsim(work: Path) -> str:
    """Starts awsim with its local registries (an empty one standing in for ECR, and an
    upstream seeded with tiny two-platform test images), so `up` copies and checks the images
    as on AWS; the Airflow processes themselves run from the pinned venv, not from images."""
    awsim = ROOT / "target/debug/awsim"
    out = work / "awsim.out"
    PROCS.start("awsim", [str(awsim), "serve", "--time-scale", "0.01", "--local-registries"],
                dict(os.environ), out)
    def printed():
        found = {}
        for line in out.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            found[key] = value.strip()
        if "AWSIM_ENDPOINT" in found and "AWSIM_UPSTREAM_GIT_SYNC" in found:
            return found
        return None
    found = wait_until("awsim prints its endpoint and registries", "harness", 60, printed, 0.2)
    IMAGE_ENV["ORCHESTRATE__IMAGE__SOURCE"] = found["AWSIM_UPSTREAM_AIRFLOW"]
    IMAGE_ENV["ORCHESTRATE__GIT_SYNC__IMAGE_SOURCE"] = found["AWSIM_UPSTREAM_GIT_SYNC"]
    return found["AWSIM_ENDPOINT"]


def aws_env(endpoint: str) -> dict:
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
    }


def write_spec(work: Path, name: str) -> Path:
    text = (ROOT / "config/local.toml").read_text()
    text = re.sub(r'(?m)^name = "demo"$', f'name = "{name}"', text)
    path = work / f"{name}.toml"
    path.write_text(text)
    return path


def orchestrate_up(work: Path, endpoint: str, name: str) -> None:
    spec = write_spec(work, name)
    env = dict(os.environ, **aws_env(endpoint), **IMAGE_ENV, ORCHESTRATE_TIME_SCALE="0.01")
    logfile = work / f"up-{name}.log"
    log(f"orchestrate up ({name}) on the emulator")
    with open(logfile, "wb") as out:
        r = subprocess.run(
            [str(ROOT / "target/debug/orchestrate"), "--config", str(spec), "up", "--phase", "5"],
            env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600, cwd=work,
        )
    if r.returncode != 0:
        sys.stderr.write(logfile.read_text(errors="replace")[-4000:])
        raise HarnessError(f"orchestrate up ({name}) exited {r.returncode}; see {logfile}")
    # The secrets backend's connection and variable, written the way a user does (value on
    # stdin); the sample DAG's `hello` task reads both back on the Celery worker.
    for command, key, value in (("connections", CHECK_CONN_ID, CHECK_CONN_URI), ("variables", CHECK_VAR_KEY, CHECK_VAR_VALUE)):
        with open(logfile, "ab") as out:
            r = subprocess.run(
                [str(ROOT / "target/debug/orchestrate"), "--config", str(spec), command, "set", key],
                env=env, input=value.encode(), stdout=out, stderr=subprocess.STDOUT, timeout=120, cwd=work,
            )
        if r.returncode != 0:
            raise HarnessError(f"orchestrate {command} set {key} ({name}) exited {r.returncode}; see {logfile}")


def boto(endpoint: str, service: str):
    import boto3  # from the pinned venv

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed_db_password(endpoint: str, name: str, password: str) -> None:
    """Stores the deployment's database credentials before `up`: orchestrate generates them
    only when absent and otherwise uses the stored value (and URL-encodes it)."""
    boto(endpoint, "secretsmanager").create_secret(
        Name=f"orchestrate/{name}/db-credentials",
        SecretString=json.dumps({"username": "airflow", "password": password}),
        Tags=[{"Key": "orchestrate:deployment", "Value": name}],
    )


def registered(endpoint: str, name: str) -> dict[str, dict]:
    """The task definitions as registered, with every secret resolved: {component: taskdef}."""
    ecs, sm = boto(endpoint, "ecs"), boto(endpoint, "secretsmanager")
    cache: dict[str, str] = {}
    out = {}
    for component in COMPONENTS:
        td = ecs.describe_task_definition(taskDefinition=f"{name}-{component}")["taskDefinition"]
        for c in td["containerDefinitions"]:
            resolved = {}
            for s in c.get("secrets", []):
                ref = s["valueFrom"]
                arn, key = ref, None
                m = re.match(r"^(arn:aws:secretsmanager:[^:]+:[^:]+:secret:[^:]+):([^:]*):([^:]*):([^:]*)$", ref)
                if m:
                    arn, key = m.group(1), m.group(2) or None
                if arn not in cache:
                    cache[arn] = sm.get_secret_value(SecretId=arn)["SecretString"]
                value = cache[arn]
                if key:
                    value = json.loads(value)[key]
                resolved[s["name"]] = value
            c["_resolved_secrets"] = resolved
        out[component] = td
    return out


def airflow_container(td: dict, component: str) -> dict:
    for c in td["containerDefinitions"]:
        if c["name"] == component:
            return c
    raise HarnessError(f"task definition {td['family']} has no container {component}")


# --------------------------------------------------------------------------- local services


def run_as_postgres() -> list[str]:
    """initdb refuses to run as root: use the Debian package's postgres user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def pg_bin(tool: str) -> str:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / tool).exists():
            return str(d / tool)
    found = shutil.which(tool)
    if not found:
        raise HarnessError(f"PostgreSQL's {tool} not found (apt-get install postgresql)")
    return found


def start_postgres(work: Path, users: list[tuple[str, str, str]]) -> int:
    """PostgreSQL on a free loopback port, password (scram) authentication over TCP; creates
    each (user, password, database)."""
    data, sock = work / "pg-data", work / "pg-sock"
    for d in (data, sock):
        d.mkdir()
        if os.geteuid() == 0:
            shutil.chown(d, "postgres", "postgres")
    os.chmod(work, 0o755)  # traversable for the postgres user
    subprocess.run(
        run_as_postgres() + [pg_bin("initdb"), "-D", str(data), "-U", "postgres",
                             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"],
        check=True, stdout=subprocess.DEVNULL, timeout=120,
    )
    port = free_port()
    PROCS.start(
        "postgres",
        run_as_postgres() + [pg_bin("postgres"), "-D", str(data), "-p", str(port),
                             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sock}",
                             "-c", "max_connections=300", "-c", "fsync=off"],
        dict(os.environ), work / "postgres.log",
    )

    def psql(sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            run_as_postgres() + [pg_bin("psql"), "-h", str(sock), "-p", str(port), "-U", "postgres",
                                 "-v", "ON_ERROR_STOP=1", "-q", "-d", "postgres"],
            input=sql.encode(), capture_output=True, timeout=60,
        )

    wait_until("PostgreSQL accepts connections", "harness", 60, lambda: psql("SELECT 1").returncode == 0, 0.5)
    for user, password, db in users:
        q = lambda s: s.replace('"', '""')
        lit = password.replace("'", "''")
        r = psql(f"CREATE ROLE \"{q(user)}\" LOGIN PASSWORD '{lit}';\n"
                 f"CREATE DATABASE \"{q(db)}\" OWNER \"{q(user)}\";\n")
        if r.returncode != 0:  # the output quotes no password: psql names the failing statement's error only
            raise HarnessError(f"could not create database {db}: {r.stderr.decode(errors='replace')[:300]}")
    return port


def start_redis(work: Path) -> int:
    port = free_port()
    server = shutil.which("redis-server") or shutil.which("valkey-server")
    if not server:
        raise HarnessError("redis-server not found (apt-get install redis-server)")
    PROCS.start("redis", [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(work)], dict(os.environ), work / "redis.log")
    def ping():
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    wait_until("Redis answers PING", "harness", 30, ping, 0.2)
    return port


def lay_out_dags(work: Path, link: str) -> Path:
    """A local git repository of the sample DAGs, checked out the way git-sync v4 does:
    `<root>/.worktrees/<sha>` and `<root>/<link>` -> that worktree."""
    src, root = work / "dags-src", work / "git-root"
    shutil.copytree(HERE / "dags", src)
    git = lambda *a, cwd: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True, timeout=60)
    git("init", "-q", "-b", "main", ".", cwd=src)
    git("-c", "user.name=check", "-c", "user.email=check@example.invalid", "add", ".", cwd=src)
    git("-c", "user.name=check", "-c", "user.email=check@example.invalid", "commit", "-q", "-m", "dags", cwd=src)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, check=True, capture_output=True,
                         text=True, timeout=30).stdout.strip()
    root.mkdir()
    git("clone", "-q", "--no-checkout", str(src), str(root / ".git-repo"), cwd=work)
    git("--git-dir", str(root / ".git-repo/.git"), "worktree", "add", "-q", "--detach",
        str(root / ".worktrees" / sha), sha, cwd=root)
    (root / link).symlink_to(Path(".worktrees") / sha)
    return root


# --------------------------------------------------------------------------- environment


def swap_db_url(url: str, pg_port: int, encode: bool) -> tuple[str, tuple[str, str, str]]:
    """Host and port of a `scheme://user:password@host:port/db` URL -> 127.0.0.1:pg_port.
    User and password stay byte for byte, unless `encode` is False (break: the raw password)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    if not sep or not at:
        raise CheckFailed("secrets", "a database URL secret is not scheme://user:password@host:port/db")
    m = re.match(r"^([^/:]+):(\d+)/([^?]+)(\?.*)?$", hostpart)
    if not m:
        raise CheckFailed("secrets", "a database URL secret has no host:port/database")
    user_enc, _, password_enc = userinfo.partition(":")
    user, password = urllib.parse.unquote(user_enc), urllib.parse.unquote(password_enc)
    if not encode:
        userinfo = f"{user}:{password}"
    return f"{scheme}://{userinfo}@127.0.0.1:{pg_port}/{m.group(3)}{m.group(4) or ''}", (user, password, m.group(3))


def local_environment(td: dict, component: str, ctx: dict, brk: str | None) -> dict:
    c = airflow_container(td, component)
    env = {e["name"]: e["value"] for e in c.get("environment", [])}
    secrets = dict(c["_resolved_secrets"])
    overlap = set(env) & set(secrets)
    if overlap:
        raise CheckFailed("task-definition", f"{component}: variables both plain and secret: {sorted(overlap)}")
    env.update(secrets)
    p = ctx["ports"]
    for var in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        env[var], _ = swap_db_url(env[var], p["postgres"], encode=brk != "db-url-encoding")
    broker = urllib.parse.urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    env["AIRFLOW__CELERY__BROKER_URL"] = f"redis://127.0.0.1:{p['redis']}{broker.path or '/0'}"
    api = f"http://127.0.0.1:{p['api']}"
    exec_url = urllib.parse.urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{api}{exec_url.path}"
    if "AIRFLOW__API__BASE_URL" in env:
        env["AIRFLOW__API__BASE_URL"] = api
    if "AIRFLOW__CORE__DAGS_FOLDER" in env:
        mount = next((m["containerPath"] for m in c.get("mountPoints", []) if m["sourceVolume"] == "dags"), None)
        if not mount or not env["AIRFLOW__CORE__DAGS_FOLDER"].startswith(mount + "/"):
            raise CheckFailed("task-definition", f"{component}: DAGS_FOLDER is not under the DAG volume's mount")
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(ctx["dags_root"]) + env["AIRFLOW__CORE__DAGS_FOLDER"][len(mount):]
    # One host for every process: each listener on its own free port.
    env["AIRFLOW__API__PORT"] = str(p["api"])
    env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(p["scheduler_health"])
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(p["worker_logs"])
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(p["triggerer_logs"])
    if brk == "jwt-secret" and component == "api-server":
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = "a-different-secret-than-the-scheduler-and-worker-use"
    if brk == "execution-api-url":
        # The URL without its `/execution/` path (a renderer that wrote the api-server's root).
        # Dropping the variable would not do: Airflow 3.3 then derives `{[api] base_url}/execution/`,
        # which locally is the api-server as well.
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{api}/"
    home = ctx["work"] / f"home-{ctx['name']}-{component}"  # one "container" each
    home.mkdir(exist_ok=True)
    env.update(aws_env(ctx["endpoint"]))
    env["AWS_DEFAULT_REGION"] = secrets.get("AWS_DEFAULT_REGION", env.get("AWS_DEFAULT_REGION", REGION))
    env.update({
        "PATH": f"{ctx['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home), "AIRFLOW_HOME": str(home), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
    })
    return env


def entrypoint_argv(command: list[str]) -> list[str]:
    """The apache/airflow image's entrypoint rule: `bash <args>` or `airflow <args>`."""
    if command and command[0] == "bash":
        return ["bash", *command[1:]]
    return ["airflow", *command]


def local_health_command(c: dict, ctx: dict) -> str | None:
    hc = c.get("healthCheck")
    if not hc:
        return None
    if hc["command"][0] != "CMD-SHELL":
        raise CheckFailed("task-definition", f"{c['name']}: health check is not CMD-SHELL")
    ports = {"8080": ctx["ports"]["api"], "8974": ctx["ports"]["scheduler_health"]}
    def swap(m):
        if m.group(1) not in ports:
            raise CheckFailed("task-definition", f"{c['name']}: health check probes unknown port {m.group(1)}")
        return f"localhost:{ports[m.group(1)]}"
    return re.sub(r"localhost:(\d+)", swap, hc["command"][1])


# --------------------------------------------------------------------------- checks


def check_config_keys(venv: Path, tds: dict, home: Path) -> None:
    """Every AIRFLOW__SECTION__KEY of the task definitions is a current option of the installed
    Airflow (core or provider configuration), not a deprecated or unknown name."""
    keys = sorted({e["name"] for td in tds.values() for c in td["containerDefinitions"]
                   for e in c.get("environment", []) + c.get("secrets", [])
                   if e["name"].startswith("AIRFLOW__")})
    script = r"""
import json, sys
from airflow.configuration import conf
bad = []
for var in sys.argv[1:]:
    section, key = var[len("AIRFLOW__"):].lower().split("__", 1)
    desc = conf.configuration_description.get(section, {}).get("options", {}).get(key)
    if desc is None:
        bad.append(f"{var}: no such option in the installed Airflow's configuration reference")
    elif desc.get("version_deprecated"):
        bad.append(f"{var}: deprecated since {desc['version_deprecated']}")
    elif any(old == (section, key) for (old) in [(o[0], o[1]) for o in conf.deprecated_options.values()]):
        bad.append(f"{var}: a deprecated name")
print(json.dumps(bad))
"""
    env = {"PATH": f"{venv}/bin:/usr/bin:/bin", "AIRFLOW_HOME": str(home), "HOME": str(home)}
    r = subprocess.run([str(venv / "bin/python"), "-c", script, *keys], env=env,
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise HarnessError(f"config key check could not run: {r.stderr[-2000:]}")
    bad = json.loads(r.stdout.strip().splitlines()[-1])
    if bad:
        raise CheckFailed("config-keys", "; ".join(bad))
    log(f"config keys: all {len(keys)} AIRFLOW__* names are current options of the installed Airflow")


def run_migration(tds: dict, ctx: dict, brk: str | None) -> None:
    c = airflow_container(tds["migration"], "migration")
    env = local_environment(tds["migration"], "migration", ctx, brk)
    logfile = ctx["work"] / f"{ctx['name']}-migration.log"
    log(f"{ctx['name']}: migration task command")
    p = PROCS.start(f"{ctx['name']}-migration", entrypoint_argv(c["command"]), env, logfile)
    try:
        rc = p.wait(timeout=600)
    except subprocess.TimeoutExpired:
        raise CheckFailed("migration", "the migration did not finish within 600 s")
    if rc != 0:
        tail = logfile.read_text(errors="replace")[-3000:]
        raise CheckFailed("migration", f"the migration command exited {rc}; log tail:\n{redact(tail, ctx)}")


def redact(text: str, ctx: dict) -> str:
    for s in sorted(ctx.get("secret_values", []), key=len, reverse=True):
        if s and len(s) >= 6:
            text = text.replace(s, "***")
    return text


def start_component(tds: dict, component: str, ctx: dict, brk: str | None) -> None:
    c = airflow_container(tds[component], component)
    env = local_environment(tds[component], component, ctx, brk)
    ctx["envs"][component] = env
    PROCS.start(f"{ctx['name']}-{component}", entrypoint_argv(c["command"]), env,
                ctx["work"] / f"{ctx['name']}-{component}.log")


def check_health_commands(tds: dict, components: list[str], ctx: dict) -> None:
    for component in components:
        c = airflow_container(tds[component], component)
        cmd = local_health_command(c, ctx)
        if cmd is None:
            raise CheckFailed("health-check", f"{component} has no container health check")
        timeout = c["healthCheck"].get("timeout", 30)
        env = ctx["envs"][component]
        def probe():
            for name, p in PROCS.procs:
                if name == f"{ctx['name']}-{component}" and p.poll() is not None:
                    raise CheckFailed("health-check", f"{component} exited {p.returncode}; see {ctx['work']}/{name}.log")
            # ECS allows `timeout` s per check; a loaded CI machine may need longer to import
            # Airflow, and this check judges Airflow's configuration, not the machine's speed.
            r = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, timeout=max(timeout, 180))
            return r.returncode == 0
        wait_until(f"{component}'s container health check passes", "health-check", 480, probe, 3)
        log(f"{ctx['name']}: {component} health check passes: {cmd}")


def http(method: str, url: str, token: str | None = None, body=None, timeout=120):
    # A generous read timeout: the api-server answers in well under a second on an idle
    # machine, but a CI machine busy compiling can stall a request for tens of seconds, and a
    # timeout here would report Airflow broken when it is only slow.
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def login(ctx: dict, tds: dict) -> str:
    mig = airflow_container(tds["migration"], "migration")
    user = {e["name"]: e["value"] for e in mig["environment"]}["_AIRFLOW_ADMIN_USERNAME"]
    password = mig["_resolved_secrets"]["_AIRFLOW_ADMIN_PASSWORD"]
    api = f"http://127.0.0.1:{ctx['ports']['api']}"
    def token():
        try:
            return http("POST", f"{api}/auth/token", body={"username": user, "password": password})["access_token"]
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise CheckFailed("login", f"the admin user cannot log in (HTTP {e.code})")
            raise
    return wait_until("admin login through the api-server", "login", 60, token, 2)


def check_monitor_health(ctx: dict, expect: list[str]) -> None:
    api = f"http://127.0.0.1:{ctx['ports']['api']}"
    state = {}
    def healthy():
        state["last"] = h = http("GET", f"{api}/api/v2/monitor/health")
        return all((h.get(k) or {}).get("status") == "healthy" for k in expect)
    try:
        wait_until("/api/v2/monitor/health reports " + ", ".join(expect) + " healthy", "monitor-health", 120, healthy, 3)
    except CheckFailed as e:
        raise CheckFailed("monitor-health", f"{e} (last answer: {state.get('last')})")
    log(f"{ctx['name']}: /api/v2/monitor/health: " + ", ".join(f"{k} {state['last'][k]['status']}" for k in expect))


def check_dag_run(ctx: dict, token: str) -> None:
    api = f"http://127.0.0.1:{ctx['ports']['api']}/api/v2"
    wait_until(f"DAG {DAG_ID} is parsed", "dag-parsed", 300,
               lambda: http("GET", f"{api}/dags/{DAG_ID}", token)["dag_id"] == DAG_ID, 3)
    errors = http("GET", f"{api}/importErrors", token)
    if errors.get("total_entries"):
        raise CheckFailed("dag-parsed", f"import errors: {errors}")
    log(f"{ctx['name']}: DAG {DAG_ID} parsed, no import errors")
    http("PATCH", f"{api}/dags/{DAG_ID}", token, {"is_paused": False})
    run = http("POST", f"{api}/dags/{DAG_ID}/dagRuns", token, {"logical_date": None})
    run_id = run["dag_run_id"]
    log(f"{ctx['name']}: triggered {run_id}")
    quoted = urllib.parse.quote(run_id, safe="")
    state = {}
    def finished():
        state["run"] = r = http("GET", f"{api}/dags/{DAG_ID}/dagRuns/{quoted}", token)
        return r["state"] in ("success", "failed")
    try:
        wait_until(f"DAG run {run_id} finishes", "dag-run", 420, finished, 3)
    except CheckFailed as e:
        raise CheckFailed("dag-run", f"{e}; task states: {task_states(api, quoted, token)}")
    tis = http("GET", f"{api}/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances", token)["task_instances"]
    if state["run"]["state"] != "success":
        raise CheckFailed("dag-run", f"DAG run {run_id} {state['run']['state']}; task states: {task_states(api, quoted, token)}")
    log(f"{ctx['name']}: DAG run succeeded: " + ", ".join(f"{t['task_id']}={t['state']}@{t.get('queue')}" for t in tis))
    expected = {"hello": f"hello from the celery worker; secrets backend: {CHECK_CONN_HOST} {CHECK_VAR_VALUE}", "defer": "resumed after the trigger fired", "bye": "ORCHESTRATE-CHECK bye"}
    for t in tis:
        if t.get("executor") not in (None, "", "CeleryExecutor") :
            raise CheckFailed("dag-run", f"{t['task_id']} ran on executor {t.get('executor')}")
        marker = expected[t["task_id"]]
        def log_has_marker():
            body = http("GET", f"{api}/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances/{t['task_id']}/logs/{t['try_number']}?full_content=true", token)
            return marker in json.dumps(body)
        wait_until(f"task log of {t['task_id']} readable through the api-server, with its marker", "task-log", 90, log_has_marker, 3)
    log(f"{ctx['name']}: task logs of every task readable through the api-server, markers included")


def task_states(api: str, quoted: str, token: str):
    try:
        tis = http("GET", f"{api}/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances", token)["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}
    except Exception as e:  # noqa: BLE001 - only for the failure message
        return f"unavailable ({e})"


def new_ctx(work: Path, name: str, endpoint: str, venv: Path, tds: dict, pg_port: int, redis_port: int) -> dict:
    secret_values = [v for td in tds.values() for c in td["containerDefinitions"] for v in c["_resolved_secrets"].values()]
    # The database password inside the URLs, raw and encoded, is redacted too.
    for v in list(secret_values):
        if "://" in v and "@" in v:
            try:
                _, (_user, password, _db) = swap_db_url(v, 0, True)
            except CheckFailed:
                continue
            secret_values += [password, urllib.parse.quote(password, safe="")]
    return {
        "work": work, "name": name, "endpoint": endpoint, "venv": venv, "envs": {},
        "secret_values": secret_values + [urllib.parse.quote(v, safe="") for v in secret_values],
        "ports": {"postgres": pg_port, "redis": redis_port, "api": free_port(), "scheduler_health": free_port(),
                  "worker_logs": free_port(), "triggerer_logs": free_port()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--break", dest="brk", choices=["jwt-secret", "execution-api-url", "db-url-encoding"])
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) after the run")
    args = ap.parse_args()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)

    work = Path(tempfile.mkdtemp(prefix="airflow-check-"))
    os.chmod(work, 0o755)  # traversable for PostgreSQL's own user
    log(f"work directory {work}" + (f"; break: {args.brk}" if args.brk else ""))
    try:
        venv = ensure_venv()
        if Path(sys.prefix).resolve() != venv.resolve():
            # boto3 and the rest come from the pinned venv: re-run there.
            PROCS.stop_all()
            shutil.rmtree(work, ignore_errors=True)
            os.execv(str(venv / "bin/python"), [str(venv / "bin/python"), __file__, *sys.argv[1:]])
        for tool in ("target/debug/awsim", "target/debug/orchestrate"):
            if not (ROOT / tool).exists():
                raise HarnessError(f"{tool} missing: cargo build -p awsim -p orchestrate-cli")
        endpoint = start_awsim(work)
        main_name, special_name = "check", "special"
        # A break of the JWT secret or the execution API URL needs the full run only; a break
        # of the URL-encoding the special-password deployment only.
        deployments = {None: [main_name, special_name], "db-url-encoding": [special_name]}.get(args.brk, [main_name])
        if special_name in deployments:
            seed_db_password(endpoint, special_name, SPECIAL_PASSWORD)
        for name in deployments:
            orchestrate_up(work, endpoint, name)
        tds = {name: registered(endpoint, name) for name in deployments}
        if special_name in tds:
            # The registered DB URL carries the special password URL-encoded (percent-encoded
            # userinfo), as crates/core/src/sensitive.rs writes it.
            url = airflow_container(tds[special_name]["migration"], "migration")["_resolved_secrets"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            if f":{urllib.parse.quote(SPECIAL_PASSWORD, safe='')}@" not in url:
                raise CheckFailed("secrets", "the special password is not URL-encoded in the registered DB URL secret")
        check_config_keys(venv, tds[deployments[0]], work)

        users = []
        for name in deployments:
            conn = airflow_container(tds[name]["migration"], "migration")["_resolved_secrets"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            _, (user, password, db) = swap_db_url(conn, 0, True)
            users.append((f"{user}", password, db))
        # Both deployments use user "airflow": give each its own cluster to keep passwords apart.
        git_link = next(e["value"] for td in tds[deployments[0]].values() for c in td["containerDefinitions"]
                        if c["name"] == "git-sync" for e in c["environment"] if e["name"] == "GITSYNC_LINK")
        dags_root = lay_out_dags(work, git_link)

        for name, user in zip(deployments, users):
            sub = work / name
            sub.mkdir()
            pg_port = start_postgres(sub, [user])
            redis_port = start_redis(sub)
            ctx = new_ctx(sub, name, endpoint, venv, tds[name], pg_port, redis_port)
            ctx["dags_root"] = dags_root
            full = name == main_name
            run_migration(tds[name], ctx, args.brk)
            log(f"{name}: migration passed")
            components = SERVICES if full else ["api-server"]
            for component in components:
                start_component(tds[name], component, ctx, args.brk)
            check_health_commands(tds[name], components, ctx)
            token = login(ctx, tds[name])
            log(f"{name}: admin login through the api-server works")
            if full:
                check_monitor_health(ctx, ["metadatabase", "scheduler", "triggerer", "dag_processor"])
                check_dag_run(ctx, token)
            else:
                check_monitor_health(ctx, ["metadatabase"])
            # This deployment's Airflow, PostgreSQL and Redis stop; the emulator stays (remote logs).
            PROCS.stop_matching(lambda pname: pname != "awsim")
        log(f"PASSED in {time.monotonic() - T0:.0f} s")
        return 0
    except CheckFailed as e:
        sys.stderr.write(f"CHECK FAILED {e}\n")
        # Logs are kept for a real failure; a deliberate break's failure is the expected outcome.
        args.keep = args.keep or not args.brk
        log(f"FAILED after {time.monotonic() - T0:.0f} s" + (f"; logs in {work}" if args.keep else ""))
        return 1
    except HarnessError as e:
        sys.stderr.write(f"HARNESS ERROR: {e}\n")
        args.keep = True
        return 2
    except (OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"HARNESS ERROR: {type(e).__name__}: {e}; logs in {work}\n")
        args.keep = True
        return 2
    finally:
        PROCS.stop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
