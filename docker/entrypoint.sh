#!/usr/bin/env bash
# Container entrypoint: one image, several roles (docker-compose.yml and the Helm chart pick one).
#   web              migrate (unless FLUXPLANE_MIGRATE=0), configure (cluster + git connection from settings), then
#                    gunicorn on 0.0.0.0:8000 (probes: /livez for liveness, /readyz for readiness)
#   worker           RQ worker on the high, default and low queues, with RQ's scheduler
#   scheduler        the periodic jobs of controlplane/cron.py, on the replica holding the scheduler lease
#   watcher          watch every enabled cluster whose lease this replica holds, enqueue syncs on change
#   migrate          apply migrations and exit
#   wait-for-schema  exit 0 once every migration is applied (init container of worker, scheduler, watcher)
#   alive NAME AGE   liveness probe: NAME's heartbeat file (worker, scheduler, watcher) is younger than AGE seconds
#   manage ...       any manage.py command
set -euo pipefail
cd "${FLUXPLANE_APP_DIR:-/app}"
role=${1:-web}
[ $# -gt 0 ] && shift
case "$role" in
  web)
    if [ "${FLUXPLANE_MIGRATE:-1}" = 1 ]; then python manage.py migrate --noinput; fi
    # Cluster and default git connection from FLUXPLANE_CLUSTER_* / FLUXPLANE_GIT_* (idempotent).
    python manage.py configure
    exec gunicorn controlplane.wsgi --bind "0.0.0.0:${FLUXPLANE_PORT:-8000}" \
      --workers "${FLUXPLANE_WEB_WORKERS:-3}" --access-logfile - "$@" ;;
  # --worker-ttl 60: RQ heartbeats (and so the heartbeat file) at least every 45 s while idle.
  # FLUXPLANE_WORKER_QUEUES picks the queues; a pod running only "playbooks" (role playbook-worker) keeps long
  # playbook waits away from the queues cron jobs use (docs/operations.md).
  worker) exec python manage.py rqworker ${FLUXPLANE_WORKER_QUEUES:-high default low playbooks} --with-scheduler \
      --worker-class controlplane.rqworker.HeartbeatWorker --worker-ttl 60 "$@" ;;
  playbook-worker) exec python manage.py rqworker playbooks \
      --worker-class controlplane.rqworker.HeartbeatWorker --worker-ttl 60 "$@" ;;
  scheduler) exec python manage.py scheduler "$@" ;;
  watcher) exec python manage.py watch_clusters "$@" ;;
  migrate) exec python manage.py migrate --noinput "$@" ;;
  wait-for-schema) exec python manage.py wait_for_schema "$@" ;;
  alive)
    # No Python start-up per probe: the file's age from stat(1). Never touches the database or Redis.
    file="${FLUXPLANE_HEARTBEAT_DIR:-/tmp/fluxplane}/${1:?alive NAME MAX_AGE_SECONDS}"
    max_age=${2:?alive NAME MAX_AGE_SECONDS}
    [ -f "$file" ] || { echo "no heartbeat yet: $file" >&2; exit 1; }
    age=$(( $(date +%s) - $(stat -c %Y "$file") ))
    [ "$age" -le "$max_age" ] || { echo "last heartbeat ${age}s ago (limit ${max_age}s): $file" >&2; exit 1; }
    ;;
  manage) exec python manage.py "$@" ;;
  *) echo "entrypoint: unknown role '$role' (use web, worker, playbook-worker, scheduler, watcher, migrate, wait-for-schema, alive or manage)" >&2; exit 64 ;;
esac
