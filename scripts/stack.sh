#!/usr/bin/env bash
# The production shape on one machine, as processes (no Docker): the services of
# deploy/compose.yaml, configured from the same env file, with URLs on 127.0.0.1.
#
#   scripts/stack.sh up      start what is not running yet (make stack); harmless twice
#   scripts/stack.sh down    stop exactly what `up` started, by PID (make stack-down)
#   scripts/stack.sh status  which services run
#   scripts/stack.sh clean   down, then delete the stack's folder (databases included)
#
# State lives in $STACK_DIR (default .stack/, git-ignored): stack.env (copied from
# deploy/.env.example on first use; edit it to change ports or passwords), endpoints.env
# (the URLs the services got: `set -a; . .stack/endpoints.env` to talk to the stack),
# pids/, logs/, pg/ (PostgreSQL data), dagster_home/, ray/, data/.
#
# Differences from compose, on purpose: S3 is moto's server (in memory: objects are gone
# after `down`, while Postgres keeps runs and registry entries; `clean` starts over),
# MinIO in compose; one Ray head and no separate worker.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
STACK_DIR=$(mkdir -p "${STACK_DIR:-$root/.stack}" && cd "${STACK_DIR:-$root/.stack}" && pwd)
ENV_EXAMPLE=$root/deploy/.env.example
SERVICES=(postgres redis s3 mlflow ray code-server webserver daemon api)

HINT=""
die() { echo "stack: $*${HINT}" >&2; exit 1; }
log_tail() { [ -f "$STACK_DIR/logs/$1.log" ] && tail -n 40 "$STACK_DIR/logs/$1.log" | sed "s/^/  [$1] /" >&2 || true; }

# --- processes ---------------------------------------------------------------------------
# Each service runs in a session of its own (its PID is the session id), with SIGINT and
# SIGTERM at their defaults: a script or a backgrounded test leaves SIGINT ignored, and
# ignored signals survive exec, which would leave `down` unable to stop it gently.
LAUNCH='import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(s, signal.SIG_DFL)
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])'

pid_of() { cat "$STACK_DIR/pids/$1.pid" 2>/dev/null || true; }
# Alive and ours: a live process that still leads the session it was started in.
alive() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && [ "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]
}
session_pids() { ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ready() {  # NAME TIMEOUT_S CHECK...: until CHECK passes; fails if NAME dies or times out
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(pid_of "$name")" 2>/dev/null || { log_tail "$name"; die "$name exited while starting (log: $STACK_DIR/logs/$name.log)"; }
    [ $SECONDS -lt $deadline ] || { log_tail "$name"; die "$name did not come up within ${timeout}s (log: $STACK_DIR/logs/$name.log)"; }
    sleep 1
  done
}

start() {  # NAME PORT_VARIABLE|- TIMEOUT_S CHECK -- COMMAND...
  local name=$1 port_var=$2 timeout=$3 check=$4; shift 5
  local port=none
  [ "$port_var" = - ] || port=${!port_var}
  if alive "$name"; then
    wait_ready "$name" "$timeout" "$check"
    echo "  $name: already running, port $port (pid $(pid_of "$name"))"
    return
  fi
  rm -f "$STACK_DIR/pids/$name.pid"
  if [ "$port" != none ] && port_taken "$port"; then
    die "$name: port $port is taken by another process (change $port_var in $STACK_DIR/stack.env)"
  fi
  local t0=$SECONDS
  python -c "$LAUNCH" "$@" >"$STACK_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STACK_DIR/pids/$name.pid"
  wait_ready "$name" "$timeout" "$check"
  echo "  $name: up, port $port (pid $(pid_of "$name"), $((SECONDS - t0))s)"
}

external() {  # NAME URL: true (and says so) when the settings point NAME elsewhere
  [ -n "$2" ] || return 1
  echo "  $1: external, $2 (set in stack.env; not started)"
}

stop() {  # NAME: SIGINT to its session, up to 60 s to finish, then SIGKILL
  local name=$1 pid
  pid=$(pid_of "$name")
  if ! alive "$name"; then
    rm -f "$STACK_DIR/pids/$name.pid"
    return
  fi
  kill -INT -- "-$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while [ -n "$(session_pids "$pid")" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  local left; left=$(session_pids "$pid")
  if [ -n "$left" ]; then
    echo "  $name: still running after 60s, SIGKILL to" $left
    kill -KILL $left 2>/dev/null || true
  fi
  rm -f "$STACK_DIR/pids/$name.pid"
  echo "  $name: stopped (pid $pid)"
}

# --- configuration -------------------------------------------------------------------------
load_env() {
  mkdir -p "$STACK_DIR/pids" "$STACK_DIR/logs"
  local env_file=$STACK_DIR/stack.env
  if [ ! -f "$env_file" ]; then
    [ -f "$ENV_EXAMPLE" ] || die "missing $ENV_EXAMPLE, the settings file shared with compose"
    cp "$ENV_EXAMPLE" "$env_file"
    echo "stack: settings in $env_file (from ${ENV_EXAMPLE#"$root"/}; edit it to change ports or passwords)"
  fi
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
  POSTGRES_USER=${POSTGRES_USER:-spoiler} POSTGRES_PORT=${POSTGRES_PORT:-5432}
  POSTGRES_PASSWORD=${POSTGRES_PASSWORD:?POSTGRES_PASSWORD missing in $env_file}
  DAGSTER_PG_DB=${DAGSTER_PG_DB:-dagster} MLFLOW_PG_DB=${MLFLOW_PG_DB:-mlflow}
  REDIS_PORT=${REDIS_PORT:-6379} REDIS_PASSWORD=${REDIS_PASSWORD:?REDIS_PASSWORD missing in $env_file}
  S3_PORT=${S3_PORT:-9000} MLFLOW_PORT=${MLFLOW_PORT:-5000} RAY_PORT=${RAY_PORT:-6380}
  DAGSTER_GRPC_PORT=${DAGSTER_GRPC_PORT:-4000} DAGSTER_WEBSERVER_PORT=${DAGSTER_WEBSERVER_PORT:-3000}
  API_PORT=${API_PORT:-8000} API_WORKERS=${API_WORKERS:-2}
  SPOILER_S3_BUCKET=${SPOILER_S3_BUCKET:-spoiler-shield}
  # A URL set in the file names an external service, which the stack then does not start.
  EXTERNAL_S3=${AWS_ENDPOINT_URL:-} EXTERNAL_MLFLOW=${MLFLOW_TRACKING_URI:-}
  EXTERNAL_REDIS=${REDIS_URL:-} EXTERNAL_RAY=${RAY_ADDRESS:-}
  # What compose builds from service names, built here from 127.0.0.1.
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID missing in $env_file}
  export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY missing in $env_file}
  export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
  export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:$S3_PORT}
  export MLFLOW_S3_ENDPOINT_URL=$AWS_ENDPOINT_URL
  export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-http://127.0.0.1:$MLFLOW_PORT}
  export REDIS_URL=${REDIS_URL:-redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0}
  export RAY_ADDRESS=${RAY_ADDRESS:-127.0.0.1:$RAY_PORT}
  export DAGSTER_HOME=$STACK_DIR/dagster_home DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=$POSTGRES_PORT
  export DAGSTER_GRPC_HOST=127.0.0.1 DAGSTER_GRPC_PORT
  export DAGSTER_PG_USER=${DAGSTER_PG_USER:-$POSTGRES_USER} DAGSTER_PG_PASSWORD=${DAGSTER_PG_PASSWORD:-$POSTGRES_PASSWORD}
  export DAGSTER_PG_DB SPOILER_S3_BUCKET
  export SPOILER_DATA_DIR=$STACK_DIR/data
  export SPOILER_SOURCE=${SPOILER_SOURCE:-s3://$SPOILER_S3_BUCKET/source}
  # The seeded SYNTHETIC corpus starts in 2014-01 (an S3 source otherwise means Kaggle's 1998-01).
  export SPOILER_FIRST_MONTH=${SPOILER_FIRST_MONTH:-2014-01}
  export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
  MLFLOW_BACKEND_URI=postgresql+psycopg2://$POSTGRES_USER:$POSTGRES_PASSWORD@127.0.0.1:$POSTGRES_PORT/$MLFLOW_PG_DB
  MLFLOW_ARTIFACTS=${MLFLOW_ARTIFACTS_DESTINATION:-s3://$SPOILER_S3_BUCKET/mlflow}
  WEBSERVER_URL=http://127.0.0.1:$DAGSTER_WEBSERVER_PORT
  API_URL=http://127.0.0.1:$API_PORT
}

write_endpoints() {
  {
    echo "# Written by scripts/stack.sh: how to reach this stack (set -a; . $STACK_DIR/endpoints.env)"
    for name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_ENDPOINT_URL \
      MLFLOW_S3_ENDPOINT_URL MLFLOW_TRACKING_URI REDIS_URL RAY_ADDRESS DAGSTER_HOME DAGSTER_PG_HOST \
      DAGSTER_PG_PORT DAGSTER_PG_USER DAGSTER_PG_PASSWORD DAGSTER_PG_DB SPOILER_DATA_DIR SPOILER_SOURCE \
      SPOILER_S3_BUCKET WEBSERVER_URL API_URL; do
      echo "$name=${!name}"
    done
    env | grep -E '^SPOILER_' | grep -vE '^SPOILER_(DATA_DIR|SOURCE|S3_BUCKET)=' | sort
  } >"$STACK_DIR/endpoints.env"
}

require() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] \
    || die "missing package: postgresql (apt-get install postgresql; looked in /usr/lib/postgresql/*/bin)"
  command -v redis-server >/dev/null || die "missing package: redis-server (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "missing package: redis-tools (redis-cli; apt-get install redis-tools)"
  command -v curl >/dev/null || die "missing package: curl"
  local tool
  for tool in moto_server mlflow ray dagster dagster-webserver dagster-daemon uvicorn; do
    command -v "$tool" >/dev/null || die "missing Python package for '$tool' in $venv (scripts/bootstrap.sh installs the lock)"
  done
  python -c "import dagster_postgres, psycopg2" 2>/dev/null \
    || die "missing Python package: dagster-postgres / psycopg2-binary in $venv"
}

# --- readiness checks ------------------------------------------------------------------------
pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG; }
http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }
s3_ready() { http_ok "$AWS_ENDPOINT_URL/"; }
mlflow_ready() { http_ok "$MLFLOW_TRACKING_URI/health"; }
ray_ready() { port_taken "$RAY_PORT" && grep -q "Ray runtime started" "$STACK_DIR/logs/ray.log"; }
grpc_ready() { dagster api grpc-health-check -h 127.0.0.1 -p "$DAGSTER_GRPC_PORT"; }
webserver_ready() { http_ok "$WEBSERVER_URL/server_info"; }
api_ready() { http_ok "$API_URL/health"; }
graphql() {
  curl -fsS --max-time 10 -H 'Content-Type: application/json' \
    --data "$(python -c 'import json, sys; print(json.dumps({"query": sys.argv[1]}))' "$1")" "$WEBSERVER_URL/graphql"
}
# 0 loaded, 1 still loading, 2 load error (printed).
location_state() {
  graphql '{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }' | python -c '
import json, sys
entries = json.load(sys.stdin)["data"]["workspaceOrError"]["locationEntries"]
errors = [e for e in entries if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
for e in errors:
    print("code location", e["name"], "failed to load:", e["locationOrLoadError"]["message"])
loaded = entries and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)
sys.exit(2 if errors else 0 if loaded else 1)'
}
location_loaded() { location_state >/dev/null; }
daemon_ready() {
  graphql '{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }' | python -c '
import json, sys
statuses = json.load(sys.stdin)["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
sys.exit(0 if all(s["healthy"] for s in statuses if s["required"]) else 1)'
}

# --- set-up steps ------------------------------------------------------------------------------
init_postgres() {
  local data=$STACK_DIR/pg as_pg=()
  [ -f "$data/PG_VERSION" ] && return
  echo "  postgres: initdb $data"
  mkdir -p "$data"
  chmod 700 "$data"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$STACK_DIR/.pgpass.tmp"
  if [ "$(id -u)" -eq 0 ]; then  # PostgreSQL refuses to run as root
    chown postgres: "$data" "$STACK_DIR/.pgpass.tmp"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as_pg[@]}" "$PGBIN/initdb" -D "$data" -U "$POSTGRES_USER" --pwfile="$STACK_DIR/.pgpass.tmp" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 >"$STACK_DIR/logs/initdb.log" 2>&1 \
    || { rm -f "$STACK_DIR/.pgpass.tmp"; log_tail initdb; die "postgres: initdb failed"; }
  rm -f "$STACK_DIR/.pgpass.tmp"
}

create_databases() {
  local db
  for db in "$DAGSTER_PG_DB" "$MLFLOW_PG_DB"; do
    if [ -z "$(PGPASSWORD=$POSTGRES_PASSWORD "$PGBIN/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" \
      -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      PGPASSWORD=$POSTGRES_PASSWORD "$PGBIN/createdb" -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$db" \
        || die "postgres: could not create database $db"
      echo "  postgres: created database $db"
    fi
  done
}

write_dagster_config() {
  mkdir -p "$DAGSTER_HOME"
  python scripts/stack_setup.py dagster-yaml "$root/deploy/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
}

# Ray's internal ports (client server, dashboard agent, metrics) default to fixed numbers;
# free ones keep two stacks, or a stack and an in-process Ray, from colliding.
ray_ports() {
  [ -n "${RAY_EXTRA_PORTS:-}" ] && return
  RAY_EXTRA_PORTS=$(python scripts/stack_setup.py free-ports 4)
}

up() {
  local t0=$SECONDS
  HINT=$'\nstack: what did start keeps running; `make stack-down` (scripts/stack.sh down) stops it'
  require
  echo "stack: starting in $STACK_DIR (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  init_postgres
  local as_pg=()
  [ "$(id -u)" -eq 0 ] && as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
  start postgres POSTGRES_PORT 60 pg_ready -- "${as_pg[@]}" "$PGBIN/postgres" -D "$STACK_DIR/pg" \
    -p "$POSTGRES_PORT" -c listen_addresses=127.0.0.1 -c unix_socket_directories=
  create_databases
  mkdir -p "$STACK_DIR/redis"
  external redis "$EXTERNAL_REDIS" || start redis REDIS_PORT 30 redis_ready -- redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --requirepass "$REDIS_PASSWORD" --dir "$STACK_DIR/redis" --save "" --appendonly no
  external s3 "$EXTERNAL_S3" || start s3 S3_PORT 60 s3_ready -- moto_server -H 127.0.0.1 -p "$S3_PORT"
  python scripts/stack_setup.py bucket "$AWS_ENDPOINT_URL" "$SPOILER_S3_BUCKET"
  if [[ $SPOILER_SOURCE == s3://$SPOILER_S3_BUCKET/* ]]; then
    python scripts/stack_setup.py seed "$AWS_ENDPOINT_URL" "$SPOILER_SOURCE" "$STACK_DIR/seed" ${STACK_SEED_DIR:+"$STACK_SEED_DIR"}
  fi
  local allowed=()
  [ -z "${MLFLOW_SERVER_ALLOWED_HOSTS:-}" ] || allowed=(--allowed-hosts "$MLFLOW_SERVER_ALLOWED_HOSTS")
  external mlflow "$EXTERNAL_MLFLOW" \
    || start mlflow MLFLOW_PORT 240 mlflow_ready -- mlflow server --host 127.0.0.1 --port "$MLFLOW_PORT" \
      --workers "${MLFLOW_WORKERS:-1}" --backend-store-uri "$MLFLOW_BACKEND_URI" \
      --artifacts-destination "$MLFLOW_ARTIFACTS" "${allowed[@]}"
  ray_ports
  read -r client_port agent_port agent_grpc metrics_port <<<"$RAY_EXTRA_PORTS"
  external ray "$EXTERNAL_RAY" || start ray RAY_PORT 180 ray_ready -- ray start --head --block --port="$RAY_PORT" \
    --node-ip-address=127.0.0.1 --num-cpus="${RAY_NUM_CPUS:-$(nproc)}" --include-dashboard=false \
    --disable-usage-stats --temp-dir="$STACK_DIR/ray" --object-store-memory="${RAY_OBJECT_STORE_BYTES:-500000000}" \
    --ray-client-server-port="$client_port" --dashboard-agent-listen-port="$agent_port" \
    --dashboard-agent-grpc-port="$agent_grpc" --metrics-export-port="$metrics_port"
  write_dagster_config
  start code-server DAGSTER_GRPC_PORT 300 grpc_ready -- dagster code-server start -h 127.0.0.1 \
    -p "$DAGSTER_GRPC_PORT" -m spoiler_assets.definitions --location-name spoiler_assets
  start webserver DAGSTER_WEBSERVER_PORT 240 webserver_ready -- dagster-webserver -h 127.0.0.1 \
    -p "$DAGSTER_WEBSERVER_PORT" -w "$root/deploy/workspace.yaml"
  local deadline=$((SECONDS + 300)) state=1
  while [ $state -eq 1 ] && [ $SECONDS -lt $deadline ]; do
    state=0
    location_state >"$STACK_DIR/logs/location.txt" 2>&1 || state=$?
    [ $state -eq 1 ] && sleep 2
  done
  [ $state -eq 0 ] || { log_tail code-server; cat "$STACK_DIR/logs/location.txt" >&2; die "code-server: code location did not load"; }
  start daemon - 240 daemon_ready -- dagster-daemon run -w "$root/deploy/workspace.yaml"
  start api API_PORT 240 api_ready -- uvicorn --factory api.main:build_app --host 127.0.0.1 \
    --port "$API_PORT" --workers "$API_WORKERS"
  write_endpoints
  echo "stack: up in $((SECONDS - t0))s. Dagster UI $WEBSERVER_URL, MLflow $MLFLOW_TRACKING_URI, API $API_URL"
  echo "stack: endpoints in $STACK_DIR/endpoints.env, logs in $STACK_DIR/logs; stop with make stack-down"
}

down() {
  local i
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop "${SERVICES[i]}"; done
}

status() {
  local name
  for name in "${SERVICES[@]}"; do
    if alive "$name"; then echo "  $name: running (pid $(pid_of "$name"))"; else echo "  $name: stopped"; fi
  done
}

venv=$("$root/scripts/bootstrap.sh")
export PATH="$venv/bin:$PATH" PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
case "${1:-up}" in
  up) load_env && up ;;
  down) load_env && down ;;
  status) load_env && status ;;
  clean) load_env && down && rm -rf "$STACK_DIR" && echo "stack: removed $STACK_DIR" ;;
  *) die "usage: $0 up|down|status|clean" ;;
esac
