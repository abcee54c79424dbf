"""The ClickOps change playbooks (the creators are in playbooks.changes.create): each a form (validated before
anything reaches git), an edit of the source files, and the conventions of the git engine (branch
``fluxplane/<playbook>-<run>``, ``chore(kind/name): …`` commits)."""

from __future__ import annotations

from dataclasses import replace

from django import forms
from django.core.exceptions import ValidationError

from controlplane.helmrepo import HelmIndexUnavailable, HelmRepositoryIndex
from gitops import InvalidInput, validate, yamledit
from gitops.helmvalues import Intent
from gitops.semver import latest_matching
from graph.kinds import HELM_GROUP
from graph.models import KubeObject
from playbooks.changes import helm
from playbooks.changes.base import GitOpsPlaybook
from playbooks.changes.context import context_for, helm_release_of
from playbooks.changes.forms import (
    ContainerForm,
    OverlayMixin,
    YamlField,
    check_input,
    containers_of,
    requests_and_limits,
)
from playbooks.library import register

WORKLOADS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job"),
                       ("batch", "CronJob")})
HELMRELEASE = (HELM_GROUP, "HelmRelease")


# ---------------------------------------------------------------------------------------------------------- scale
class ScaleForm(OverlayMixin):
    replicas = forms.IntegerField(min_value=0, max_value=1000)


def _helm_aware_context(obj):
    """The context of a workload's source: its HelmRelease's when Helm rendered it (the workload rides along, so
    the values path can be found for *that* workload)."""
    release = helm_release_of(obj)
    ctx = context_for(release or obj)
    return replace(ctx, workload=obj) if release is not None else ctx


@register
class Scale(GitOpsPlaybook):
    """spec.replicas as an integer (Deployments and StatefulSets); a Helm-rendered workload is scaled through the
    values path of its chart that drives it (app-template ``controllers.<name>.replicas``, ``replicaCount`` …),
    proven by rendering the chart (playbooks.changes.helm)."""

    name = "scale"
    setting = "scale"
    title = "Scale"
    description = "Set the number of replicas in git (a pull request), as an integer where it is defined."
    kinds = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), HELMRELEASE})
    form_class = ScaleForm

    @classmethod
    def edit_target(cls, obj):
        return helm_release_of(obj) or obj

    @classmethod
    def context(cls, obj):
        return _helm_aware_context(obj)

    @classmethod
    def warnings(cls, obj):
        hpas = KubeObject.objects.filter(cluster_id=obj.cluster_id, kind="HorizontalPodAutoscaler",
                                         namespace=obj.namespace, deleted_at__isnull=True)
        names = [h.name for h in hpas if ((h.spec or {}).get("scaleTargetRef") or {}).get("name") == obj.name]
        return [f"HorizontalPodAutoscaler {n} manages the replicas of {obj}: it will override this." for n in names]

    @classmethod
    def form_initial(cls, obj):
        return {"replicas": (obj.spec or {}).get("replicas")}

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        loc = cls.locate(repo_dir, ctx)
        if ctx.obj.kind == "HelmRelease":
            replicas = validate.replicas(int(params["replicas"]))
            return helm.values_change(repo_dir, ctx, loc, Intent("replicas", replicas), f"scale to {replicas}",
                                      cls.overlay(repo_dir, ctx, params))
        return yamledit.set_replicas(repo_dir, loc, int(params["replicas"]), overlay=cls.overlay(repo_dir, ctx, params))


# ---------------------------------------------------------------------------------------------------------- image
class ImageForm(ContainerForm):
    image = forms.CharField(max_length=500, help_text="e.g. ghcr.io/stefanprodan/podinfo:6.9.2")

    def clean_image(self):
        check_input(validate.image_reference, self.cleaned_data["image"], "image")
        return self.cleaned_data["image"]


class _HelmAwareWorkloadPlaybook(GitOpsPlaybook):
    """Workload playbooks: a Helm-rendered workload is changed through its HelmRelease's values; the form starts
    with the first container."""

    @classmethod
    def edit_target(cls, obj):
        return helm_release_of(obj) or obj

    @classmethod
    def context(cls, obj):
        return _helm_aware_context(obj)

    @classmethod
    def form_initial(cls, obj):
        names = containers_of(obj)
        return {"container": names[0]} if names else {}


@register
class UpdateImage(_HelmAwareWorkloadPlaybook):
    """The image of one container — where it is set: the workload's pod template, a kustomization ``images:``
    entry that overrides it, or a Helm release's ``image.repository``/``image.tag`` values."""

    name = "update-image"
    setting = "updateImage"
    title = "Update image"
    description = "Change a container image in git (a pull request), where the tag is actually set."
    kinds = WORKLOADS | {HELMRELEASE}
    form_class = ImageForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        loc = cls.locate(repo_dir, ctx)
        if ctx.obj.kind == "HelmRelease":
            intent = Intent("image", params["image"], params["container"])
            return helm.values_change(repo_dir, ctx, loc, intent,
                                      f"set image of {params['container']} to {params['image']}",
                                      cls.overlay(repo_dir, ctx, params))
        return yamledit.set_image(repo_dir, loc, params["container"], params["image"],
                                  overlay=cls.overlay(repo_dir, ctx, params))


# ---------------------------------------------------------------------------------------------------------- resources
class ResourcesForm(ContainerForm):
    cpu_request = forms.CharField(required=False, max_length=32, label="CPU request", help_text="e.g. 100m")
    memory_request = forms.CharField(required=False, max_length=32, label="Memory request", help_text="e.g. 64Mi")
    cpu_limit = forms.CharField(required=False, max_length=32, label="CPU limit")
    memory_limit = forms.CharField(required=False, max_length=32, label="Memory limit")

    def clean(self):
        data = super().clean()
        requests, limits = requests_and_limits(data)
        if not requests and not limits:
            raise ValidationError("Give at least one request or limit.")
        data["requests"], data["limits"] = requests, limits
        return data


@register
class UpdateResources(_HelmAwareWorkloadPlaybook):
    """Requests and limits of one container (quantities validated, limits ≥ requests); for a Helm release,
    ``resources`` in its values."""

    name = "update-resources"
    setting = "updateResources"
    title = "Update resources"
    description = "Set CPU/memory requests and limits in git (a pull request)."
    kinds = WORKLOADS | {HELMRELEASE}
    form_class = ResourcesForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        loc = cls.locate(repo_dir, ctx)
        requests, limits = params.get("requests") or {}, params.get("limits") or {}
        if ctx.obj.kind == "HelmRelease":
            existing = _current_resources(ctx, params["container"])
            merged_req = {**(existing.get("requests") or {}), **requests}
            merged_lim = {**(existing.get("limits") or {}), **limits}
            validate.resources(merged_req, merged_lim)  # limits below requests are refused here too
            resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
            return helm.values_change(repo_dir, ctx, loc, Intent("resources", resources, params["container"]),
                                      f"set resources of {params['container']}", cls.overlay(repo_dir, ctx, params))
        return yamledit.set_resources(repo_dir, loc, params["container"], requests or None, limits or None,
                                      overlay=cls.overlay(repo_dir, ctx, params))


def _current_resources(ctx, container: str) -> dict:
    """The live resources of the picked workload's container (what a partial change is merged with)."""
    workload = ctx.workload
    if workload is None:
        return {}
    template = (workload.spec or {}).get("template") or {}
    for item in (template.get("spec") or {}).get("containers") or []:
        if item.get("name") == container:
            return {k: {kk: str(vv) for kk, vv in (v or {}).items()} for k, v in (item.get("resources") or {}).items()
                    if k in ("requests", "limits")}
    return {}


# ---------------------------------------------------------------------------------------------------------- helm
class ValuesForm(OverlayMixin):
    values = YamlField(help_text="YAML merged into spec.values (comments kept; null deletes a key)")


@register
class UpdateHelmValues(GitOpsPlaybook):
    """Merge YAML into ``spec.values`` where the values live (an overlay patch file when one sets them);
    ``valuesFrom`` is shown and never clobbered."""

    name = "update-helm-values"
    setting = "updateHelmValues"
    title = "Update Helm values"
    description = "Merge values into the HelmRelease's spec.values in git (a pull request)."
    kinds = frozenset({HELMRELEASE})
    form_class = ValuesForm

    @classmethod
    def warnings(cls, obj):
        sources = (obj.spec or {}).get("valuesFrom") or []
        return [f"valuesFrom {s.get('kind')} {s.get('name')} also sets values (not changed here)" for s in sources]

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        return yamledit.merge_values(repo_dir, cls.locate(repo_dir, ctx), params["values"],
                                     overlay=cls.overlay(repo_dir, ctx, params))


class ChartVersionForm(forms.Form):
    version = forms.CharField(max_length=100, help_text="an exact version (6.9.2) or a range (6.x, >=6.0.0 <7.0.0)")

    def clean_version(self):
        return check_input(validate.semver_constraint, self.cleaned_data["version"], "version")


@register
class UpdateHelmChartVersion(GitOpsPlaybook):
    """``spec.chart.spec.version`` (exact or a semver range, validated)."""

    name = "update-helm-chart-version"
    setting = "updateHelmChartVersion"
    title = "Update chart version"
    description = "Change the HelmRelease chart version or range in git (a pull request)."
    kinds = frozenset({HELMRELEASE})
    form_class = ChartVersionForm

    @classmethod
    def form_initial(cls, obj):
        return {"version": (((obj.spec or {}).get("chart") or {}).get("spec") or {}).get("version", "")}

    @classmethod
    def offered_versions(cls, release: KubeObject) -> tuple[str, list[str]]:
        """(repository URL, versions of the release's chart it offers, newest first). Raises HelmIndexUnavailable
        when the index cannot be read (OCI repositories, no network, no such chart)."""
        chart = ((release.spec or {}).get("chart") or {}).get("spec") or {}
        ref = chart.get("sourceRef") or {}
        if ref.get("kind") != "HelmRepository":
            raise HelmIndexUnavailable(f"the chart comes from a {ref.get('kind') or 'chartRef'}, not a HelmRepository")
        repo = KubeObject.objects.filter(cluster_id=release.cluster_id, kind="HelmRepository", name=ref.get("name"),
                                         namespace=ref.get("namespace") or release.namespace,
                                         deleted_at__isnull=True).first()
        if repo is None:
            raise HelmIndexUnavailable(f"HelmRepository {ref.get('name')} is not in the mirror")
        url = str((repo.spec or {}).get("url") or "")
        return url, HelmRepositoryIndex(url).versions(str(chart.get("chart") or ""))

    @classmethod
    def warnings(cls, obj):
        try:
            url, versions = cls.offered_versions(obj)
        except HelmIndexUnavailable as exc:
            return [f"The versions the repository offers are not known ({exc}): the version is checked for its "
                    f"syntax only."]
        shown = ", ".join(versions[:15]) + (" …" if len(versions) > 15 else "")
        return [f"{url} offers: {shown}"]

    @classmethod
    def check_version(cls, release: KubeObject, constraint: str) -> str | None:
        """Refuse a version or range that no version in the repository index satisfies; returns the version Flux
        would pick (None when the index cannot be read: then only the syntax was checked)."""
        try:
            url, versions = cls.offered_versions(release)
        except HelmIndexUnavailable:
            return None
        picked = latest_matching(versions, constraint)
        if picked is None:
            raise InvalidInput(f"version: no version of the chart in {url} matches {constraint!r} (newest offered: "
                               f"{', '.join(versions[:5]) or 'none'})", "version")
        return picked

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        picked = cls.check_version(ctx.obj, params["version"])
        change = yamledit.set_chart_version(repo_dir, cls.locate(repo_dir, ctx), params["version"])
        if picked:
            change.summary += f" (resolves to {picked})"
        return change


# ---------------------------------------------------------------------------------------------------------- edit
class EditForm(forms.Form):
    document = YamlField(help_text="the source document from git (not the live object); its anchors are kept",
                         allow_anchors=True)


@register
class Edit(GitOpsPlaybook):
    """Replace the object's *source document* with the edited YAML (identity fields cannot change)."""

    name = "edit"
    setting = "edit"
    title = "Edit"
    description = "Edit the object's source YAML from git and propose it as a pull request."
    kinds = frozenset()  # any object applied by a Kustomization (see applies_to)
    form_class = EditForm

    @classmethod
    def applies_to(cls, obj):
        return obj.deleted_at is None and obj.managed_by_kind == "Kustomization"

    @classmethod
    def source_text(cls, obj: KubeObject) -> str:
        """The current source document (read from the preview working copy) to prefill the editor."""
        from playbooks.changes.base import working_copy

        ctx = cls.context(obj)
        wc = working_copy(ctx.connection, ctx.repository_url, "preview")
        with wc.lock():
            wc.prepare()
            return yamledit.source_document(str(wc.path), cls.locate(str(wc.path), ctx))

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        return yamledit.replace_document(repo_dir, cls.locate(repo_dir, ctx), params["document"])
