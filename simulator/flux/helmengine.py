"""The Helm engine of the simulated helm-controller: the demo's chart packages (``chart_packages/<chart>/``, real
Helm charts) loaded at the version a repository serves and rendered by Helm's own engine (helm-python-sdk, through
gitops.helmvalues.ChartRenderer — the renderer ClickOps verifies values changes with).

A simulated repository lists many versions of one chart package: each version is the package with ``version`` and
``appVersion`` of its Chart.yaml set to that version (so ``.Chart.Version`` / ``.Chart.AppVersion`` render as a
real chart of that version would). Renders are cached by (chart, version, release, namespace, values) because a
HelmRelease is re-rendered on every drift check and every upgrade of a large fleet would otherwise re-run the
templates; loaded charts are kept for the life of the process.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

from gitops.charts import chart_record
from gitops.helmvalues import ChartRenderer

from .charts import Chart

PACKAGES = Path(__file__).parent / "chart_packages"
RENDER_CACHE_SIZE = 512

# Helm's install order (pkg/release/util/kind_sorter.go InstallOrder); kinds it does not list go last.
INSTALL_ORDER = ["PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
                 "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
                 "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
                 "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
                 "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
                 "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
                 "APIService"]
_ORDER = {kind: i for i, kind in enumerate(INSTALL_ORDER)}


class RenderError(Exception):
    """The chart does not render with these values (Helm's template error)."""


class _Engine:
    """Loaded chart versions and the render cache, shared by every helm-controller of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workdir: Path | None = None
        self._charts: dict[tuple[str, str], ChartRenderer] = {}
        self._records: dict[tuple[str, str], dict] = {}
        self._renders: OrderedDict[tuple, list[tuple[str, dict]]] = OrderedDict()
        self.hits = self.misses = 0

    def _chart(self, chart: Chart, version: str) -> ChartRenderer:
        key = (chart.name, version)
        if key not in self._charts:
            if self._workdir is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="fp-sim-charts-"))
                atexit.register(shutil.rmtree, self._workdir, True)
            target = self._workdir / f"{chart.name}-{version}" / chart.name
            shutil.copytree(PACKAGES / chart.name, target)
            meta = yaml.safe_load((target / "Chart.yaml").read_text())
            meta.update(version=version, appVersion=chart.app_version(version))
            (target / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
            self._charts[key] = ChartRenderer(str(target))
        return self._charts[key]

    def render(self, chart: Chart, version: str, release: str, namespace: str,
               values: dict) -> list[tuple[str, dict]]:
        """(template path, object) in Helm's install order; a deep copy the caller may change."""
        digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
        key = (chart.name, version, release, namespace, digest)
        with self._lock:
            docs = self._renders.get(key)
            if docs is not None:
                self.hits += 1
                self._renders.move_to_end(key)
            else:
                self.misses += 1
                try:
                    docs = self._chart(chart, version).documents(values, release, namespace)
                except Exception as exc:  # noqa: BLE001 — gitops' InvalidInput or a load error: the install fails
                    raise RenderError(str(exc)) from None
                docs.sort(key=lambda d: _ORDER.get(str(d[1].get("kind")), len(_ORDER)))
                self._renders[key] = docs
                while len(self._renders) > RENDER_CACHE_SIZE:
                    self._renders.popitem(last=False)
            return copy.deepcopy(docs)

    def crds(self, chart: Chart, version: str) -> list[dict]:
        """The CustomResourceDefinitions of the chart's ``crds/`` directory (installed as they are, not templated)."""
        with self._lock:
            files = self._chart(chart, version).chart.crds
        return [doc for f in files for doc in yaml.safe_load_all(f["data"]) if isinstance(doc, dict)]

    def record(self, chart: Chart, version: str) -> dict[str, Any]:
        """The chart as a Helm release record holds it (metadata, templates, values, files)."""
        key = (chart.name, version)
        with self._lock:
            if key not in self._records:
                self._records[key] = chart_record(self._chart(chart, version).chart)
            return self._records[key]


ENGINE = _Engine()
