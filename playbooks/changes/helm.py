"""Workload changes through a HelmRelease's values: the values path that drives the picked workload's field is
found among the known chart shapes and proven by rendering the release's chart (gitops.helmvalues); the chart comes
from the release's Helm storage in the cluster, else from ``FLUXPLANE_HELM_CHARTS_DIR`` (gitops.charts)."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from django.conf import settings

from controlplane.kube import KubeAdapter, KubeError, KubeUnreachable
from gitops import NotEditable, helmvalues, yamledit
from gitops.charts import ChartUnavailable, chart_dir_from_release, decode_storage, find_in_folder
from gitops.yamledit import Change
from graph.models import KubeObject
from playbooks.changes.context import ChangeContext
from playbooks.changes.forms import containers_of

_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"}


def release_facts(release: KubeObject) -> dict[str, Any]:
    """Release name, namespace, chart name/version and storage place of a mirrored HelmRelease (status.history
    first: what helm-controller installed)."""
    spec, status = release.spec or {}, release.status or {}
    latest = (status.get("history") or [{}])[0] or {}
    target_ns = spec.get("targetNamespace") or release.namespace
    name = latest.get("name") or spec.get("releaseName") or (
        f"{spec['targetNamespace']}-{release.name}" if spec.get("targetNamespace") else release.name)
    chart = ((spec.get("chart") or {}).get("spec") or {}).get("chart") or ""
    return {"name": name, "namespace": latest.get("namespace") or target_ns,
            "chart": latest.get("chartName") or chart.rsplit("/", 1)[-1],
            "version": latest.get("chartVersion") or "", "revision": latest.get("version"),
            "storage_namespace": spec.get("storageNamespace") or release.namespace}


def _from_storage(release: KubeObject, facts: dict[str, Any], into: str) -> str:
    if not facts.get("revision"):
        raise ChartUnavailable("the release has no installed revision in its status")
    try:
        adapter = KubeAdapter(release.cluster)
        try:
            resource = adapter.find_resource("", "Secret", ("v1",))
            if resource is None:
                raise ChartUnavailable("the cluster serves no Secrets")
            secret = adapter.get(resource, facts["storage_namespace"],
                                 f"sh.helm.release.v1.{facts['name']}.v{facts['revision']}")
        finally:
            adapter.close()
    except (KubeUnreachable, KubeError) as exc:
        raise ChartUnavailable(f"the release's Helm storage cannot be read ({exc})") from None
    record = decode_storage(((secret or {}).get("data") or {}).get("release") or "")
    return str(chart_dir_from_release(record, into))


def load_chart(release: KubeObject) -> tuple[helmvalues.ChartRenderer | None, str, str]:
    """(renderer or None, why it is None, the temporary directory to remove)."""
    facts = release_facts(release)
    tmp = tempfile.mkdtemp(prefix="fp-chart-")
    reasons = []
    for source in ("storage", "folder"):
        try:
            path = _from_storage(release, facts, tmp) if source == "storage" else str(
                find_in_folder(settings.FLUXPLANE_HELM_CHARTS_DIR, facts["chart"], facts["version"]))
            return helmvalues.ChartRenderer(path), "", tmp
        except ChartUnavailable as exc:
            reasons.append(str(exc))
        except NotEditable as exc:
            reasons.append(str(exc))
    return None, "; ".join(reasons), tmp


def workload_of(ctx: ChangeContext) -> helmvalues.Workload:
    """The picked workload, or (the HelmRelease itself was picked) the workload named like the release."""
    if ctx.workload is not None and ctx.workload.kind in _KINDS:
        return helmvalues.Workload(ctx.workload.kind, ctx.workload.name, tuple(containers_of(ctx.workload)))
    facts = release_facts(ctx.obj)
    rendered = KubeObject.objects.filter(cluster_id=ctx.obj.cluster_id, managed_by_kind="HelmRelease",
                                         managed_by_name=ctx.obj.name, managed_by_namespace=ctx.obj.namespace,
                                         kind__in=_KINDS, deleted_at__isnull=True)
    named = [o for o in rendered if o.name == facts["name"]] or list(rendered)
    if len(named) == 1:
        return helmvalues.Workload(named[0].kind, named[0].name, tuple(containers_of(named[0])))
    return helmvalues.Workload("Deployment", facts["name"])


def values_change(repo_dir: str, ctx: ChangeContext, loc, intent: helmvalues.Intent, summary: str,
                  overlay=None) -> Change:
    """Write the proven (or, without a chart, the most likely) values path for ``intent``; the change's notes say
    which path and whether rendering proved it."""
    facts = release_facts(ctx.obj)
    workload = workload_of(ctx)
    renderer, why, tmp = load_chart(ctx.obj)
    try:
        proof = helmvalues.prove(facts["name"], facts["namespace"], (ctx.obj.spec or {}).get("values") or {},
                                 workload, intent, renderer, facts["chart"], why)
    finally:
        if renderer is not None:
            renderer.close()
        shutil.rmtree(tmp, ignore_errors=True)
    change = yamledit.merge_values(repo_dir, loc, proof.candidate.patch, overlay=overlay)
    change.summary = f"{summary} ({proof.candidate.path})"
    if proof.verified:
        change.notes.insert(0, f"Effect verified: rendering chart {facts['chart']} with the new values changes only "
                               f"{', '.join(proof.rendered_diff)} of {workload.kind} {workload.name}.")
    else:
        change.notes.insert(0, f"Effect unverified: {proof.reason}. {proof.candidate.path} is the "
                               f"{proof.candidate.shape} chart convention for {workload.kind} {workload.name}.")
    return change
