"""The cluster data of Flux's postBuild substitution: the values of a Kustomization's ``substituteFrom``
ConfigMaps, read from its cluster, so the impact preview renders what Flux will apply (``${CLUSTER_DOMAIN}`` as
the cluster has it, not as written). Secrets are never read: their values would appear in a diff that people read
and that is stored on the run; variables from them stay as written, and the preview says so."""

from __future__ import annotations

from controlplane.kube import KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import Cluster
from gitops.render import FluxKustomization


class ClusterVariables:
    """Reads substituteFrom ConfigMaps for the Kustomizations an impact preview builds, each ConfigMap once per
    preview (many Kustomizations of a cluster share one ``cluster-settings``), one connection per cluster."""

    def __init__(self, clusters: dict[str, Cluster]):
        self.clusters = clusters
        self._adapters: dict[str, KubeAdapter | Exception] = {}
        self._data: dict[tuple[str, str, str], dict[str, str] | str] = {}

    def __call__(self, ks: FluxKustomization) -> FluxKustomization:
        if not ks.substitute_from:
            return ks
        values: dict[str, str] = {}
        unresolved: list[str] = []
        for kind, name, optional in ks.substitute_from:
            where = f"{kind} {ks.namespace}/{name}"
            if kind != "ConfigMap":
                unresolved.append(f"{where}: Fluxplane does not read Secrets; its variables are shown as written")
                continue
            data = self._configmap(ks.cluster, ks.namespace, name)
            if isinstance(data, str):
                if not (optional and data == "not found"):
                    unresolved.append(f"{where}: {data}; its variables are shown as written")
                continue
            values.update(data)  # later sources override earlier ones, as kustomize-controller merges them
        return ks.with_cluster_variables(values, unresolved)

    def _configmap(self, cluster: str, namespace: str, name: str) -> dict[str, str] | str:
        key = (cluster, namespace, name)
        if key not in self._data:
            self._data[key] = self._read(cluster, namespace, name)
        return self._data[key]

    def _read(self, cluster: str, namespace: str, name: str) -> dict[str, str] | str:
        adapter = self._adapter(cluster)
        if isinstance(adapter, Exception):
            return f"cluster {cluster} did not answer ({adapter})"
        try:
            resource = adapter.find_resource("", "ConfigMap", ("v1",))
            if resource is None:
                return "the cluster serves no ConfigMaps"
            body = adapter.get(resource, namespace, name)
        except KubeError as exc:
            return "not found" if exc.status == 404 else f"could not be read ({exc.status} {exc.reason})"
        except KubeUnreachable as exc:
            return f"cluster {cluster} did not answer ({exc})"
        return {str(k): str(v) for k, v in (body.get("data") or {}).items()}

    def _adapter(self, cluster: str) -> KubeAdapter | Exception:
        if cluster not in self._adapters:
            try:
                if cluster not in self.clusters:
                    raise KubeUnreachable(f"cluster {cluster} is not known")
                self._adapters[cluster] = KubeAdapter(self.clusters[cluster], timeout=(3, 5))
            except KubeUnreachable as exc:
                self._adapters[cluster] = exc
        return self._adapters[cluster]

    def close(self) -> None:
        for adapter in self._adapters.values():
            if isinstance(adapter, KubeAdapter):
                adapter.close()


def cluster_variables() -> ClusterVariables:
    """A reader over every known cluster (the Kustomizations of an impact preview may live in any of them)."""
    return ClusterVariables({c.name: c for c in Cluster.objects.all()})

