# Fluxplane: one image for web, worker and scheduler (see docker/entrypoint.sh).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FLUXPLANE_DATA_DIR=/data FLUXPLANE_STATIC_ROOT=/app/static

RUN apt-get update \
 && apt-get install -y --no-install-recommends graphviz git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app fluxplane

WORKDIR /app
COPY pyproject.toml README.md ./
COPY controlplane ./controlplane
COPY graph ./graph
COPY playbooks ./playbooks
COPY access ./access
COPY alerts ./alerts
COPY manage.py ./
COPY docker/entrypoint.sh /usr/local/bin/fluxplane-entrypoint
RUN pip install . \
 && FLUXPLANE_DEMO=1 FLUXPLANE_DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/build \
 && mkdir -p /data && chown fluxplane /data

USER fluxplane
EXPOSE 8000
ENTRYPOINT ["fluxplane-entrypoint"]
CMD ["web"]
