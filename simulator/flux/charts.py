"""The demo chart catalog: which repositories serve which chart versions (and app versions).

Each chart is a real Helm chart package in ``chart_packages/<name>/`` (Chart.yaml, values.yaml, templates/, crds/),
written for the simulator and shaped like the upstream chart's values; helmengine renders it with Helm's engine at
the version a repository serves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .common import latest_matching


def _versions(*groups: tuple[str, int]) -> list[str]:
    """`("6.5", 4)` → 6.5.0 … 6.5.4."""
    return [f"{mm}.{p}" for mm, n in groups for p in range(n + 1)]


@dataclass
class Chart:
    """One chart of the catalog: its name (the package in chart_packages/), the versions the repositories list
    and the appVersion of each."""

    name: str
    versions: list[str]
    app_version: Callable[[str], str]

    def resolve(self, constraint: str | None) -> str | None:
        return latest_matching(self.versions, constraint)

    def digest(self, version: str) -> str:
        """A deterministic sha256 standing for the digest of the `<name>-<version>.tgz` artifact (no archive is
        built; helmengine loads the package directory), so revisions are stable across runs."""
        return hashlib.sha256(f"{self.name}-{version}.tgz".encode()).hexdigest()


def _same(v: str) -> str:
    return v


def _mapped(table: dict[str, str]) -> Callable[[str], str]:
    """appVersion from the chart's major.minor (`4.12.1` → `1.12.1` style tables)."""
    def f(v: str) -> str:
        mm = ".".join(v.lstrip("v").split(".")[:2])
        return table.get(mm, v).replace("{p}", v.rsplit(".", 1)[-1])
    return f


CHARTS: dict[str, Chart] = {c.name: c for c in [
    Chart("podinfo", _versions(("6.5", 4), ("6.6", 3), ("6.7", 1), ("6.8", 0), ("6.9", 2)), _same),
    Chart("cert-manager", ["v" + x for x in _versions(("1.14", 7), ("1.15", 5), ("1.16", 5), ("1.17", 4))], _same),
    Chart("ingress-nginx", _versions(("4.10", 6), ("4.11", 5), ("4.12", 3)),
          _mapped({"4.10": "1.10.{p}", "4.11": "1.11.{p}", "4.12": "1.12.{p}"})),
    Chart("redis", ["18.19.4", "19.6.4", "20.6.3", "20.13.4"],
          _mapped({"18.19": "7.2.4", "19.6": "7.2.5", "20.6": "7.4.2", "20.13": "7.4.3"})),
    Chart("loki", _versions(("6.24", 1), ("6.29", 0), ("6.30", 1)),
          _mapped({"6.24": "3.3.2", "6.29": "3.4.3", "6.30": "3.5.0"})),
    Chart("promtail", ["6.16.6", "6.17.0"], _mapped({"6.16": "3.0.0", "6.17": "3.5.1"})),
    Chart("loki-stack", ["2.10.2", "2.10.3"], lambda v: "v2.9.3"),
    Chart("grafana", _versions(("8.10", 4), ("8.11", 0)), lambda v: "11.5.2"),
    Chart("kube-prometheus-stack", _versions(("69.0", 0), ("69.8", 2)), lambda v: "v0.80.1"),
]}

# HelmRepository URLs (trailing slash ignored) → the charts their index lists.
REPOSITORIES: dict[str, list[str]] = {
    "https://stefanprodan.github.io/podinfo": ["podinfo"],
    "https://charts.jetstack.io": ["cert-manager"],
    "https://kubernetes.github.io/ingress-nginx": ["ingress-nginx"],
    "https://charts.bitnami.com/bitnami": ["redis"],
    "https://grafana.github.io/helm-charts": ["loki", "promtail", "loki-stack", "grafana"],
    "https://prometheus-community.github.io/helm-charts": ["kube-prometheus-stack"],
}

# OCI repositories: an OCIRepository URL names one chart; an OCI HelmRepository URL is a registry prefix.
OCI: dict[str, str] = {
    "oci://ghcr.io/stefanprodan/charts/podinfo": "podinfo",
    "oci://quay.io/jetstack/charts/cert-manager": "cert-manager",
    "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack": "kube-prometheus-stack",
    "oci://registry-1.docker.io/bitnamicharts/redis": "redis",
}


def repository_charts(url: str) -> list[Chart] | None:
    """The charts an HTTP(S) or OCI Helm repository serves, or None when the catalog does not know it."""
    u = url.rstrip("/")
    if u in REPOSITORIES:
        return [CHARTS[n] for n in REPOSITORIES[u]]
    if u.startswith("oci://"):
        found = [CHARTS[n] for k, n in OCI.items() if k.rsplit("/", 1)[0] == u]
        return found or None
    return None


def oci_chart(url: str) -> Chart | None:
    return CHARTS.get(OCI.get(url.rstrip("/"), ""))


def index_digest(url: str) -> str:
    """A stable digest for a repository index (changes only when the catalog does)."""
    charts = repository_charts(url) or []
    text = ";".join(f"{c.name}={','.join(c.versions)}" for c in charts)
    return hashlib.sha256(f"{url}|{text}".encode()).hexdigest()
