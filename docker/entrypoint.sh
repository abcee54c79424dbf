#!/usr/bin/env bash
# Container entrypoint: one image, several roles (docker-compose.yml and the Helm chart pick one).
#   web        migrate (unless FLUXPLANE_MIGRATE=0), configure (cluster + git connection from settings), then
#              gunicorn on 0.0.0.0:8000
#   worker     RQ worker on the high, default and low queues, with RQ's scheduler
#   scheduler  the periodic jobs of controlplane/cron.py
#   migrate    apply migrations and exit
#   manage ... any manage.py command
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
  worker) exec python manage.py rqworker high default low --with-scheduler "$@" ;;
  scheduler) exec python manage.py rqcron controlplane.cron "$@" ;;
  migrate) exec python manage.py migrate --noinput "$@" ;;
  manage) exec python manage.py "$@" ;;
  *) echo "entrypoint: unknown role '$role' (use web, worker, scheduler, migrate or manage)" >&2; exit 64 ;;
esac
