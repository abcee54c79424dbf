"""The demo chart catalog: which repositories serve which chart versions, and a small renderer per chart.

Real Helm is not run. Each chart renders the handful of objects that matter for Fluxplane (Deployments,
StatefulSets, DaemonSets, Services, ConfigMaps, Ingresses, and the CRDs that charts ship) from the values
a HelmRelease actually sets: replicaCount, image.repository/tag, resources, service.type/port.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from .common import latest_matching


def _versions(*groups: tuple[str, int]) -> list[str]:
    """`("6.5", 4)` → 6.5.0 … 6.5.4."""
    return [f"{mm}.{p}" for mm, n in groups for p in range(n + 1)]


@dataclass
class Chart:
    """One chart: its versions (with app versions), default values and renderer."""

    name: str
    versions: list[str]
    app_version: Callable[[str], str]
    defaults: dict
    render: Callable[[Chart, str, str, str, dict], tuple[list[dict], list[dict]]]
    crds: Callable[[dict], list[dict]] = field(default=lambda values: [])  # from the chart's crds/ directory

    def resolve(self, constraint: str | None) -> str | None:
        return latest_matching(self.versions, constraint)

    def digest(self, version: str) -> str:
        """Deterministic sha256 of the (imaginary) chart package, so revisions are stable across runs."""
        return hashlib.sha256(f"{self.name}-{version}.tgz".encode()).hexdigest()


def merge_values(base: dict, override: dict) -> dict:
    """Helm's coalesce: maps merge recursively, everything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_values(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _get(values: dict, path: str, default: object = None) -> object:
    cur: object = values
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def fullname(chart: str, release: str, values: dict) -> str:
    """Helm's `<chart>.fullname` helper: fullnameOverride, else the release name if it contains the chart
    name, else `<release>-<chart>`; cut to 63 characters."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])[:63].rstrip("-")
    name = str(values.get("nameOverride") or chart)
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def _labels(chart: Chart, version: str, release: str, name: str, component: str = "") -> dict:
    out = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release,
           "app.kubernetes.io/version": chart.app_version(version).lstrip("v") or version,
           "helm.sh/chart": f"{chart.name}-{version}"}
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def workload(kind: str, name: str, ns: str, labels: dict, image: str, replicas: int | None = 1,
             resources: dict | None = None, port: int | None = None, args: list | None = None) -> dict:
    """A Deployment, StatefulSet or DaemonSet with one container."""
    sel = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance") if k in labels}
    if "app.kubernetes.io/component" in labels:
        sel["app.kubernetes.io/component"] = labels["app.kubernetes.io/component"]
    container: dict = {"name": labels.get("app.kubernetes.io/component") or labels["app.kubernetes.io/name"],
                       "image": image, "imagePullPolicy": "IfNotPresent"}
    if port:
        container["ports"] = [{"name": "http", "containerPort": int(port), "protocol": "TCP"}]
    if args:
        container["args"] = list(args)
    if resources:
        container["resources"] = copy.deepcopy(resources)
    spec: dict = {"selector": {"matchLabels": sel},
                  "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}}}
    if kind != "DaemonSet":
        spec["replicas"] = int(replicas if replicas is not None else 1)
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns,
                                                                  "labels": dict(labels)}, "spec": spec}


def service(name: str, ns: str, labels: dict, port: int, svc_type: str = "ClusterIP") -> dict:
    sel = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                                  "app.kubernetes.io/component") if k in labels}
    spec: dict = {"type": svc_type or "ClusterIP", "selector": sel,
                  "ports": [{"name": "http", "port": int(port), "targetPort": "http", "protocol": "TCP"}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": spec}


def crd(group: str, kind: str, plural: str, versions: list[str], scope: str = "Namespaced",
        short: list[str] | None = None) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List",
                               **({"shortNames": short} if short else {})},
                     "versions": [{"name": v, "served": True, "storage": i == 0, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for i, v in enumerate(versions)]}}


def _image(values: dict, prefix: str, default_repo: str, app_version: str) -> str:
    repo = _get(values, f"{prefix}image.repository") or default_repo
    registry = _get(values, f"{prefix}image.registry")
    tag = _get(values, f"{prefix}image.tag") or app_version
    return f"{registry}/{repo}:{tag}" if registry else f"{repo}:{tag}"


def _extra_objects(values: dict, ns: str) -> list[dict]:
    out = []
    for obj in values.get("extraObjects") or []:
        if isinstance(obj, dict) and obj.get("kind") and (obj.get("metadata") or {}).get("name"):
            o = copy.deepcopy(obj)
            o["metadata"].setdefault("namespace", ns)
            out.append(o)
    return out


# ------------------------------------------------------------------ renderers
def _podinfo(chart: Chart, version: str, release: str, ns: str, v: dict) -> tuple[list[dict], list[dict]]:
    name = fullname(chart.name, release, v)
    labels = _labels(chart, version, release, name)
    port = int(_get(v, "service.port") or _get(v, "service.httpPort") or 9898)
    objs = [workload("Deployment", name, ns, labels, _image(v, "", "ghcr.io/stefanprodan/podinfo", version),
                     _get(v, "replicaCount", 1), _get(v, "resources"), port),  # type: ignore[arg-type]
            service(name, ns, labels, port, str(_get(v, "service.type") or "ClusterIP"))]
    if _get(v, "redis.enabled"):
        rl = _labels(chart, version, release, f"{name}-redis")
        image = f"{_get(v, 'redis.repository') or 'redis'}:{_get(v, 'redis.tag') or '7.0.7'}"
        objs += [workload("Deployment", f"{name}-redis", ns, rl, image, 1, None, 6379),
                 service(f"{name}-redis", ns, rl, 6379)]
    if _get(v, "ingress.enabled"):
        hosts = _get(v, "ingress.hosts") or [{"host": "podinfo.local", "paths": [{"path": "/",
                                                                                  "pathType": "Prefix"}]}]
        rules = [{"host": h.get("host"), "http": {"paths": [
            {"path": p.get("path", "/"), "pathType": p.get("pathType", "Prefix"),
             "backend": {"service": {"name": name, "port": {"number": port}}}} for p in h.get("paths") or []]}}
            for h in hosts]  # type: ignore[union-attr]
        spec: dict = {"rules": rules}
        if _get(v, "ingress.className"):
            spec["ingressClassName"] = _get(v, "ingress.className")
        objs.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                     "metadata": {"name": name, "namespace": ns, "labels": dict(labels)}, "spec": spec})
    return [], objs


CERT_MANAGER_CRDS = [("cert-manager.io", "Certificate", "certificates", "Namespaced", ["cert", "certs"]),
                     ("cert-manager.io", "CertificateRequest", "certificaterequests", "Namespaced", ["cr", "crs"]),
                     ("cert-manager.io", "Issuer", "issuers", "Namespaced", []),
                     ("cert-manager.io", "ClusterIssuer", "clusterissuers", "Cluster", []),
                     ("acme.cert-manager.io", "Challenge", "challenges", "Namespaced", []),
                     ("acme.cert-manager.io", "Order", "orders", "Namespaced", [])]


def _cert_manager(chart: Chart, version: str, release: str, ns: str, v: dict) -> tuple[list[dict], list[dict]]:
    # cert-manager ships its CRDs as templates gated by crds.enabled (installCRDs before 1.15).
    objs = []
    if _get(v, "crds.enabled") or _get(v, "installCRDs"):
        objs += [crd(g, k, p, ["v1"], scope, short or None) for g, k, p, scope, short in CERT_MANAGER_CRDS]
    base = fullname(chart.name, release, v)
    for comp, suffix, image, port in (("controller", "", "quay.io/jetstack/cert-manager-controller", 9402),
                                      ("cainjector", "-cainjector", "quay.io/jetstack/cert-manager-cainjector", 0),
                                      ("webhook", "-webhook", "quay.io/jetstack/cert-manager-webhook", 10250)):
        prefix = "" if comp == "controller" else f"{comp}."
        labels = _labels(chart, version, release, f"{chart.name}{suffix}" if suffix else chart.name, comp)
        objs.append(workload("Deployment", f"{base}{suffix}", ns, labels,
                             _image(v, prefix, image, chart.app_version(version)),
                             _get(v, f"{prefix}replicaCount", 1), _get(v, f"{prefix}resources"),  # type: ignore
                             port or None))
        if port:
            objs.append(service(f"{base}{suffix}", ns, labels, port))
    return [], objs


def _ingress_nginx(chart: Chart, version: str, release: str, ns: str, v: dict) -> tuple[list[dict], list[dict]]:
    name = f"{fullname(chart.name, release, v)}-controller"
    labels = _labels(chart, version, release, chart.name, "controller")
    image = _image(v, "controller.", "registry.k8s.io/ingress-nginx/controller", chart.app_version(version))
    objs = [workload(str(_get(v, "controller.kind") or "Deployment"), name, ns, labels, image,
                     _get(v, "controller.replicaCount", 1), _get(v, "controller.resources"), 80,  # type: ignore
                     ["/nginx-ingress-controller", f"--ingress-class={_get(v, 'controller.ingressClass', 'nginx')}"]),
            service(name, ns, labels, 80, str(_get(v, "controller.service.type") or "LoadBalancer"))]
    objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns,
                                                                       "labels": dict(labels)},
                 "data": {k: str(x) for k, x in (_get(v, "controller.config") or {}).items()}})  # type: ignore
    return [], objs


def _redis(chart: Chart, version: str, release: str, ns: str, v: dict) -> tuple[list[dict], list[dict]]:
    name = f"{fullname(chart.name, release, v)}-master"
    labels = _labels(chart, version, release, chart.name, "master")
    image = _image(v, "", "bitnami/redis", chart.app_version(version))
    return [], [workload("StatefulSet", name, ns, labels, image, _get(v, "master.count", 1),  # type: ignore
                         _get(v, "master.resources"), 6379),  # type: ignore[arg-type]
                service(name, ns, labels, 6379)]


def _generic(image_repo: str, port: int, kind: str = "Deployment"):  # noqa: ANN202 - renderer factory
    def render(chart: Chart, version: str, release: str, ns: str, v: dict) -> tuple[list[dict], list[dict]]:
        name = fullname(chart.name, release, v)
        labels = _labels(chart, version, release, chart.name)
        replicas = _get(v, "singleBinary.replicas") if chart.name == "loki" else _get(v, "replicaCount", 1)
        objs = [workload(kind, name, ns, labels, _image(v, "", image_repo, chart.app_version(version)),
                         replicas, _get(v, "resources"), port),  # type: ignore[arg-type]
                service(name, ns, labels, int(_get(v, "service.port") or port),
                        str(_get(v, "service.type") or "ClusterIP"))]
        return [], objs + _extra_objects(v, ns)
    return render


KPS_CRDS = [("Alertmanager", "alertmanagers", "v1"), ("AlertmanagerConfig", "alertmanagerconfigs", "v1alpha1"),
            ("PodMonitor", "podmonitors", "v1"), ("Probe", "probes", "v1"), ("Prometheus", "prometheuses", "v1"),
            ("PrometheusAgent", "prometheusagents", "v1alpha1"), ("PrometheusRule", "prometheusrules", "v1"),
            ("ScrapeConfig", "scrapeconfigs", "v1alpha1"), ("ServiceMonitor", "servicemonitors", "v1"),
            ("ThanosRuler", "thanosrulers", "v1")]


def _kps_crds(values: dict) -> list[dict]:
    return [crd("monitoring.coreos.com", k, p, [ver]) for k, p, ver in KPS_CRDS]


def _kube_prometheus_stack(chart: Chart, version: str, release: str, ns: str,
                           v: dict) -> tuple[list[dict], list[dict]]:
    base = fullname(chart.name, release, v)
    objs: list[dict] = []
    parts = [("operator", "quay.io/prometheus-operator/prometheus-operator:v0.80.1", 8080, "Deployment", True),
             ("kube-state-metrics", "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0", 8080,
              "Deployment", _get(v, "kubeStateMetrics.enabled", True)),
             ("grafana", "docker.io/grafana/grafana:11.5.2", 80, "Deployment", _get(v, "grafana.enabled", True)),
             ("prometheus-node-exporter", "quay.io/prometheus/node-exporter:v1.9.0", 9100, "DaemonSet",
              _get(v, "nodeExporter.enabled", True))]
    for comp, image, port, kind, enabled in parts:
        if not enabled:
            continue
        labels = _labels(chart, version, release, f"{chart.name}-{comp}" if comp == "operator" else comp, comp)
        objs.append(workload(kind, f"{base}-{comp}", ns, labels, image, 1, None, port))
        objs.append(service(f"{base}-{comp}", ns, labels, port))
    if _get(v, "prometheus.enabled", True):
        spec = {"retention": _get(v, "prometheus.prometheusSpec.retention", "10d"),
                "podMonitorSelector": _get(v, "prometheus.prometheusSpec.podMonitorSelector") or {},
                "resources": _get(v, "prometheus.prometheusSpec.resources") or {}}
        objs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                     "metadata": {"name": f"{base}-prometheus", "namespace": ns,
                                  "labels": _labels(chart, version, release, f"{chart.name}-prometheus")},
                     "spec": spec})
    if _get(v, "alertmanager.enabled", True):
        objs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
                     "metadata": {"name": f"{base}-alertmanager", "namespace": ns,
                                  "labels": _labels(chart, version, release, f"{chart.name}-alertmanager")},
                     "spec": {"replicas": 1}})
    return [], objs


def _same(v: str) -> str:
    return v


def _mapped(table: dict[str, str]) -> Callable[[str], str]:
    """appVersion from the chart's major.minor (`4.12.1` → `1.12.1` style tables)."""
    def f(v: str) -> str:
        mm = ".".join(v.lstrip("v").split(".")[:2])
        return table.get(mm, v).replace("{p}", v.rsplit(".", 1)[-1])
    return f


CHARTS: dict[str, Chart] = {c.name: c for c in [
    Chart("podinfo", _versions(("6.5", 4), ("6.6", 3), ("6.7", 1), ("6.8", 0), ("6.9", 2)), _same,
          {"replicaCount": 1, "image": {"repository": "ghcr.io/stefanprodan/podinfo", "tag": ""},
           "service": {"type": "ClusterIP", "port": 9898}, "resources": {"requests": {"cpu": "1m",
                                                                                      "memory": "16Mi"}},
           "redis": {"enabled": False}, "ingress": {"enabled": False}}, _podinfo),
    Chart("cert-manager", ["v" + x for x in _versions(("1.14", 7), ("1.15", 5), ("1.16", 5), ("1.17", 4))], _same,
          {"replicaCount": 1, "crds": {"enabled": False, "keep": True}, "installCRDs": False}, _cert_manager),
    Chart("ingress-nginx", _versions(("4.10", 6), ("4.11", 5), ("4.12", 3)),
          _mapped({"4.10": "1.10.{p}", "4.11": "1.11.{p}", "4.12": "1.12.{p}"}),
          {"controller": {"replicaCount": 1, "kind": "Deployment", "service": {"type": "LoadBalancer"}}},
          _ingress_nginx),
    Chart("redis", ["18.19.4", "19.6.4", "20.6.3", "20.13.4"],
          _mapped({"18.19": "7.2.4", "19.6": "7.2.5", "20.6": "7.4.2", "20.13": "7.4.3"}),
          {"master": {"count": 1}}, _redis),
    Chart("loki", _versions(("6.24", 1), ("6.29", 0), ("6.30", 1)),
          _mapped({"6.24": "3.3.2", "6.29": "3.4.3", "6.30": "3.5.0"}),
          {"singleBinary": {"replicas": 1}, "service": {"port": 3100}}, _generic("grafana/loki", 3100, "StatefulSet")),
    Chart("promtail", ["6.16.6", "6.17.0"], _mapped({"6.16": "3.0.0", "6.17": "3.5.1"}), {},
          _generic("docker.io/grafana/promtail", 3101, "DaemonSet")),
    Chart("loki-stack", ["2.10.2", "2.10.3"], lambda v: "v2.9.3", {}, _generic("grafana/loki", 3100, "StatefulSet")),
    Chart("grafana", _versions(("8.10", 4), ("8.11", 0)), lambda v: "11.5.2", {"replicaCount": 1},
          _generic("docker.io/grafana/grafana", 3000)),
    Chart("kube-prometheus-stack", _versions(("69.0", 0), ("69.8", 2)), lambda v: "v0.80.1", {},
          _kube_prometheus_stack, _kps_crds),
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
