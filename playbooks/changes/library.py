"""The ClickOps playbooks: each a form (validated before anything reaches git), an edit of the source files, and
the conventions of the git engine (branch ``fluxplane/<playbook>-<run>``, ``chore(kind/name): …`` commits)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from controlplane.gitops import InvalidInput, NotEditable, create, validate, yamledit
from graph.kinds import HELM_GROUP, KUSTOMIZE_GROUP
from graph.models import KubeObject
from playbooks.changes.base import GitOpsPlaybook
from playbooks.changes.context import ChangeContext, context_for, context_for_kustomization, helm_release_of
from playbooks.library import register

WORKLOADS = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job"),
                       ("batch", "CronJob")})
HELMRELEASE = (HELM_GROUP, "HelmRelease")


def _check(fn, *args, **kwargs):
    """Run a git-engine validator and turn its InvalidInput into a form ValidationError (same message)."""
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        raise ValidationError(str(exc)) from None


class YamlField(forms.CharField):
    """A YAML mapping typed by a user: parsed safely (no anchors, tabs, several documents, duplicate keys)."""

    widget = forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"})

    def to_python(self, value):
        # Browsers submit a textarea's line breaks as CRLF; the files in git use LF (with CRLF, an edited document
        # would be written with a CR on every line and its diff would replace the whole document).
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        _check(validate.load_user_yaml, value, "yaml")
        return value


def containers_of(obj: KubeObject) -> list[str]:
    template = (obj.spec or {}).get("template") or {}
    if obj.kind == "CronJob":
        template = (((obj.spec or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return [c.get("name") for c in ((template.get("spec") or {}).get("containers") or []) if c.get("name")]


class ContainerForm(forms.Form):
    container = forms.CharField(max_length=63)

    def clean_container(self):
        return _check(validate.dns1123_label, self.cleaned_data["container"], "container")


# ---------------------------------------------------------------------------------------------------------- scale
class ScaleForm(forms.Form):
    replicas = forms.IntegerField(min_value=0, max_value=1000)


@register
class Scale(GitOpsPlaybook):
    """spec.replicas as an integer (Deployments and StatefulSets); a Helm-rendered workload's release gets
    ``replicaCount`` in its values, the Helm chart convention."""

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
            return yamledit.merge_values(repo_dir, loc, {"replicaCount": int(params["replicas"])})
        return yamledit.set_replicas(repo_dir, loc, int(params["replicas"]))


# ---------------------------------------------------------------------------------------------------------- image
class ImageForm(ContainerForm):
    image = forms.CharField(max_length=500, help_text="e.g. ghcr.io/stefanprodan/podinfo:6.9.2")

    def clean_image(self):
        _check(validate.image_reference, self.cleaned_data["image"], "image")
        return self.cleaned_data["image"]


class _HelmAwareWorkloadPlaybook(GitOpsPlaybook):
    """Workload playbooks: a Helm-rendered workload is changed through its HelmRelease's values; the form starts
    with the first container."""

    @classmethod
    def edit_target(cls, obj):
        return helm_release_of(obj) or obj

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
            name, tag, digest = validate.split_image(params["image"])
            image = {"repository": name, "tag": tag or "latest"}
            if digest:
                image["digest"] = digest
            return yamledit.merge_values(repo_dir, loc, {"image": image})
        return yamledit.set_image(repo_dir, loc, params["container"], params["image"])


# ---------------------------------------------------------------------------------------------------------- resources
def requests_and_limits(data: dict) -> tuple[dict[str, str], dict[str, str]]:
    """cpu/memory requests and limits from ``<resource>_request`` / ``<resource>_limit`` fields, validated as
    quantities with limits ≥ requests (ValidationError with the git engine's message)."""
    requests = {k: data[f"{k}_request"] for k in ("cpu", "memory") if data.get(f"{k}_request")}
    limits = {k: data[f"{k}_limit"] for k in ("cpu", "memory") if data.get(f"{k}_limit")}
    for key, value in (*requests.items(), *limits.items()):
        _check(validate.quantity, value, key)
    _check(validate.resources, requests, limits)
    return requests, limits


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
            resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
            return yamledit.merge_values(repo_dir, loc, {"resources": resources})
        return yamledit.set_resources(repo_dir, loc, params["container"], requests or None, limits or None)


# ---------------------------------------------------------------------------------------------------------- helm
class ValuesForm(forms.Form):
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
        return yamledit.merge_values(repo_dir, cls.locate(repo_dir, ctx), params["values"])


class ChartVersionForm(forms.Form):
    version = forms.CharField(max_length=100, help_text="an exact version (6.9.2) or a range (6.x, >=6.0.0 <7.0.0)")

    def clean_version(self):
        return _check(validate.semver_constraint, self.cleaned_data["version"], "version")


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
    def apply(cls, repo_dir, ctx, params):
        return yamledit.set_chart_version(repo_dir, cls.locate(repo_dir, ctx), params["version"])


# ---------------------------------------------------------------------------------------------------------- edit
class EditForm(forms.Form):
    document = YamlField(help_text="the source document from git (not the live object)")


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


# ---------------------------------------------------------------------------------------------------------- create
def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class CreateKustomizationForm(forms.Form):
    name = forms.CharField(max_length=63)
    path = forms.CharField(max_length=500, help_text="repository path of the manifests, e.g. ./apps/staging/web")
    interval = forms.CharField(max_length=20, initial="10m")
    prune = forms.BooleanField(required=False, initial=True)
    depends_on = forms.CharField(required=False, max_length=500, help_text="Kustomization names, comma separated")
    target_namespace = forms.CharField(required=False, max_length=63)

    def clean_name(self):
        return _check(validate.dns1123_label, self.cleaned_data["name"])

    def clean_path(self):
        return _check(validate.repo_path, self.cleaned_data["path"], "path")

    def clean_interval(self):
        return _check(validate.duration, self.cleaned_data["interval"], "interval")

    def clean_depends_on(self):
        return ",".join(_check(validate.dns1123_label, n, "depends_on") for n in _names(
            self.cleaned_data["depends_on"]))

    def clean_target_namespace(self):
        value = self.cleaned_data["target_namespace"]
        return _check(validate.dns1123_label, value, "target_namespace") if value else ""


class _ChildOfKustomization(GitOpsPlaybook):
    """Creators whose target is the parent Kustomization: new files go beside its manifests."""

    kinds = frozenset({(KUSTOMIZE_GROUP, "Kustomization")})

    @classmethod
    def context(cls, obj):
        return context_for_kustomization(obj)

    @classmethod
    def parent_path(cls, ctx: ChangeContext) -> str:
        return validate.repo_path(ctx.kustomization_ref.path, "path")


@register
class CreateKustomization(_ChildOfKustomization):
    name = "create-kustomization"
    setting = "createKustomization"
    title = "Create Kustomization"
    description = "Add a Flux Kustomization beside this one's manifests (listed in the right kustomization.yaml)."
    form_class = CreateKustomizationForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        source = (ctx.kustomization.spec or {}).get("sourceRef") or {}
        return create.create_kustomization(
            repo_dir, cls.parent_path(ctx), name=params["name"], path=params["path"],
            source_name=source.get("name", ""), namespace=ctx.kustomization.namespace,
            source_namespace=source.get("namespace", ""), interval=params["interval"], prune=bool(params["prune"]),
            depends_on=_names(params.get("depends_on") or ""), target_namespace=params.get("target_namespace") or "")


class CreateNamespaceForm(forms.Form):
    name = forms.CharField(max_length=63)

    def clean_name(self):
        return _check(validate.dns1123_label, self.cleaned_data["name"])


@register
class CreateNamespace(_ChildOfKustomization):
    name = "create-namespace"
    setting = "createNamespace"
    title = "Create namespace"
    description = "Add a folder with namespace.yaml and a kustomization.yaml, listed in this Kustomization's path."
    form_class = CreateNamespaceForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        return create.create_namespace(repo_dir, cls.parent_path(ctx), params["name"])


class CreateDeploymentForm(forms.Form):
    name = forms.CharField(max_length=63)
    image = forms.CharField(max_length=500)
    replicas = forms.IntegerField(min_value=0, max_value=1000, initial=1)
    port = forms.IntegerField(required=False, min_value=1, max_value=65535)
    cpu_request = forms.CharField(required=False, max_length=32)
    memory_request = forms.CharField(required=False, max_length=32)
    cpu_limit = forms.CharField(required=False, max_length=32)
    memory_limit = forms.CharField(required=False, max_length=32)
    service = forms.BooleanField(required=False, help_text="also create a Service (needs a port)")

    def clean_name(self):
        return _check(validate.dns1123_label, self.cleaned_data["name"])

    def clean_image(self):
        _check(validate.image_reference, self.cleaned_data["image"])
        return self.cleaned_data["image"]

    def clean(self):
        data = super().clean()
        requests, limits = requests_and_limits(data)
        if data.get("service") and not data.get("port"):
            raise ValidationError("A Service needs a port.")
        data["requests"], data["limits"] = requests, limits
        return data


class _InNamespace(GitOpsPlaybook):
    """Creators whose target is a Flux-managed Namespace: new files go into that namespace's folder."""

    kinds = frozenset({("", "Namespace")})

    @classmethod
    def context(cls, obj):
        return context_for(obj)


@register
class CreateDeployment(_InNamespace):
    name = "create-deployment"
    setting = "createDeployment"
    title = "Create Deployment"
    description = "Add a Deployment (and optionally a Service) in this namespace's folder, listed for its build."
    form_class = CreateDeploymentForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        return create.create_deployment(
            repo_dir, cls.locate(repo_dir, ctx), name=params["name"], image=params["image"],
            replicas=int(params["replicas"]), port=params.get("port"), requests=params.get("requests") or None,
            limits=params.get("limits") or None, service=bool(params.get("service")))


class CreateHelmReleaseForm(forms.Form):
    name = forms.CharField(max_length=53)
    chart = forms.CharField(max_length=100)
    version = forms.CharField(max_length=100, help_text="exact version or range")
    repository_url = forms.CharField(max_length=500, help_text="https://… (HelmRepository) or oci://… (OCIRepository)")
    values = YamlField(required=False)

    def clean_name(self):
        return _check(validate.dns1123_label, self.cleaned_data["name"])

    def clean_chart(self):
        return _check(validate.dns1123_label, self.cleaned_data["chart"], "chart")

    def clean_version(self):
        return _check(validate.semver_constraint, self.cleaned_data["version"])

    def clean_repository_url(self):
        url = self.cleaned_data["repository_url"].strip()
        if not url.startswith(("https://", "oci://")) or any(c in url for c in " \t\n\"'"):
            raise ValidationError("Use an https:// or oci:// repository URL.")
        return url


@register
class CreateHelmRelease(_InNamespace):
    name = "create-helmrelease"
    setting = "createHelmRelease"
    title = "Create HelmRelease"
    description = "Add a HelmRelease (with its HelmRepository or OCIRepository) in this namespace's folder."
    form_class = CreateHelmReleaseForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        return create.create_helmrelease(
            repo_dir, cls.locate(repo_dir, ctx), name=params["name"], chart=params["chart"],
            version=params["version"], repository_url=params["repository_url"], values=params.get("values") or None)


def cleaned_for_storage(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as stored on the run (JSON-safe)."""
    return {k: v for k, v in data.items() if v not in (None, "")}


__all__ = ["NotEditable", "cleaned_for_storage"]
