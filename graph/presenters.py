"""What the detail page shows about an object: key status lines, the origin file and its git link, YAML."""

from __future__ import annotations

import io
import posixpath
import re

from ruamel.yaml import YAML

from graph.builder import inventory_keys
from graph.choices import Family
from graph.kinds import KUSTOMIZE_GROUP
from graph.models import KubeObject

REPORTS_OBSERVED_GENERATION = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                               "HorizontalPodAutoscaler", "PodDisruptionBudget"}


def key_status(obj: KubeObject) -> list[tuple[str, str]]:
    """The status fields a user looks for first, per kind (revisions, reconcile times, inventory, replicas)."""
    status, spec, rows = obj.status or {}, obj.spec or {}, []

    def add(label: str, value) -> None:
        if value not in (None, "", [], {}):
            rows.append((label, str(value)))

    add("Last applied revision", status.get("lastAppliedRevision"))
    add("Last attempted revision", status.get("lastAttemptedRevision"))
    add("Artifact revision", (status.get("artifact") or {}).get("revision"))
    add("Last handled reconcile at", status.get("lastHandledReconcileAt"))
    # Only controllers report status.observedGeneration (Flux kinds, Deployments, StatefulSets, …): for a Pod, a
    # ConfigMap or a Service "not yet observed" would be read as a stuck object.
    if obj.generation and (obj.observed_generation is not None or obj.kind in REPORTS_OBSERVED_GENERATION
                           or obj.family not in (Family.WORKLOAD, Family.OTHER)):
        seen = obj.observed_generation
        add("Observed generation", f"not yet observed (generation {obj.generation})" if seen is None else
            f"{seen} of {obj.generation}" + (" (up to date)" if seen == obj.generation else " (catching up)"))
    if status.get("inventory") is not None:
        add("Inventory", f"{len(inventory_keys({'status': status}))} objects")
    history = status.get("history") or []
    if obj.kind == "HelmRelease" and history:
        latest = history[0]
        add("Release", f"{latest.get('chartName', '')} {latest.get('chartVersion', '')} "
                       f"(revision {latest.get('version', '?')}, {latest.get('status', '')})")
    add("Interval", spec.get("interval"))
    add("Path", spec.get("path"))
    if obj.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        add("Replicas", f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)} ready")
    if obj.kind == "Pod":
        add("Phase", status.get("phase"))
    return rows


def origin_file(obj: KubeObject) -> dict | None:
    """Where in git this object comes from: the origin path joined with the Kustomization's spec.path, the
    source's URL and ref, and a browsable link for GitHub-hosted sources."""
    if not obj.origin_path or obj.managed_by_kind != "Kustomization":
        return None
    ks = KubeObject.objects.filter(
        cluster_id=obj.cluster_id, api_group=KUSTOMIZE_GROUP, kind="Kustomization",
        namespace=obj.managed_by_namespace, name=obj.managed_by_name, deleted_at__isnull=True,
    ).only("spec", "namespace").first()
    if ks is None:
        return {"path": obj.origin_path, "repo": obj.origin_repo, "ref": obj.origin_ref, "url": ""}
    base = str((ks.spec or {}).get("path") or ".").lstrip("./") or "."
    path = posixpath.normpath(posixpath.join(base, obj.origin_path))
    source_ref = (ks.spec or {}).get("sourceRef") or {}
    repo_url, ref = obj.origin_repo, obj.origin_ref
    if not repo_url and source_ref.get("kind") == "GitRepository":
        source = KubeObject.objects.filter(
            cluster_id=obj.cluster_id, kind="GitRepository", name=source_ref.get("name"),
            namespace=source_ref.get("namespace") or ks.namespace, deleted_at__isnull=True,
        ).only("spec").first()
        if source is not None:
            repo_url = (source.spec or {}).get("url", "")
            git_ref = (source.spec or {}).get("ref") or {}
            ref = git_ref.get("commit") or git_ref.get("tag") or git_ref.get("branch") or "main"
    return {"path": path, "repo": repo_url, "ref": ref, "url": browse_url(repo_url, ref, path)}


_GITHUB = re.compile(r"^(?:https://|ssh://git@|git@)github\.com[/:]([^/]+)/([^/]+?)(?:\.git)?/?$")


def browse_url(repo_url: str, ref: str, path: str) -> str:
    """A web link to the file for GitHub repositories; empty when the host is unknown."""
    match = _GITHUB.match(repo_url or "")
    if not match or path.startswith(".."):
        return ""
    return f"https://github.com/{match.group(1)}/{match.group(2)}/blob/{ref or 'main'}/{path}"


def to_yaml(data) -> str:
    if not data:
        return ""
    yaml = YAML()
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
