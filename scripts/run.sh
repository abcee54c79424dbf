#!/usr/bin/env bash
# Install and run Fluxplane: virtualenv, packages, migrations, an admin user, then web + worker + scheduler
# (+ an embedded Redis when REDIS_URL is not set). Prints the URL and the login. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_python
ensure_packages ""
ensure_debian_packages graphviz:dot

# No production configuration given: run the local demo (SQLite + embedded Redis in ./var).
if [ -z "${FLUXPLANE_SECRET_KEY:-}" ]; then export FLUXPLANE_DEMO=${FLUXPLANE_DEMO:-1}; fi
export FLUXPLANE_DATA_DIR=${FLUXPLANE_DATA_DIR:-$ROOT/var}
HOST=${FLUXPLANE_HOST:-127.0.0.1}
PORT=${FLUXPLANE_PORT:-8000}
mkdir -p "$FLUXPLANE_DATA_DIR"

pids=()
REDIS_DIR=
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$REDIS_DIR" ] && stop_embedded_redis "$REDIS_DIR"
}
trap cleanup EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  REDIS_PORT=${FLUXPLANE_EMBEDDED_REDIS_PORT:-6390}
  export FLUXPLANE_EMBEDDED_REDIS_PORT=$REDIS_PORT
  REDIS_DIR=$FLUXPLANE_DATA_DIR/redis
  start_embedded_redis "$REDIS_PORT" "$REDIS_DIR"
fi

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
LOGIN=$("$PY" manage.py ensure_admin)

"$VENV/bin/gunicorn" controlplane.wsgi --bind "$HOST:$PORT" --workers "${FLUXPLANE_WEB_WORKERS:-2}" \
  --access-logfile - --log-level warning & pids+=($!)
"$PY" manage.py rqworker high default low --with-scheduler & pids+=($!)
"$PY" manage.py rqcron controlplane.cron & pids+=($!)

for _ in $(seq 100); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null
  then break; fi
  sleep 0.2
done
echo
echo "Fluxplane is running at http://$HOST:$PORT/admin/"
echo "$LOGIN"
echo "(Ctrl-C stops web, worker and scheduler)"

# If any process exits, stop the others and report failure: a half-running stack is worse than none.
wait -n "${pids[@]}"
status=$?
echo "fluxplane: a process exited (status $status); stopping" >&2
exit "$status"
