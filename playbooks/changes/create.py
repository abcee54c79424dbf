"""The ClickOps creators: a Kustomization or Namespace beside a Kustomization's manifests, a Deployment or
HelmRelease in a Flux-managed namespace's folder — each listed where Flux builds it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from gitops import InvalidInput, create, validate
from gitops.render import FluxKustomization, build, identity
from graph.kinds import KUSTOMIZE_GROUP
from graph.models import KubeObject
from playbooks.changes.base import GitOpsPlaybook
from playbooks.changes.context import ChangeContext, context_for, context_for_kustomization
from playbooks.changes.forms import YamlField, check_input, requests_and_limits
from playbooks.library import register


def refuse_collisions(repo_dir: str, ctx: ChangeContext, wanted: list[tuple[str, str, str]],
                      build_ks: KubeObject | None = None) -> None:
    """A created object must not exist already: not in the cluster's mirror (whoever manages it: a Kustomization,
    a HelmRelease's rendering, nobody) and not in the rendered build of the Kustomization that will apply it.
    Raises InvalidInput on the name field."""
    cluster_id = ctx.kustomization.cluster_id
    for kind, namespace, name in wanted:
        found = KubeObject.objects.filter(cluster_id=cluster_id, kind=kind, name=name, namespace=namespace,
                                          deleted_at__isnull=True).first()
        if found is not None:
            owner = (f" (managed by {found.managed_by_kind} {found.managed_by_namespace}/{found.managed_by_name})"
                     if found.managed_by_kind else "")
            raise InvalidInput(f"name: {identity(kind, namespace, name)} already exists in cluster "
                               f"{ctx.kustomization.cluster.name}{owner}; choose another name", "name")
    ks = build_ks or ctx.kustomization
    rendered = build(repo_dir, FluxKustomization.from_spec(ks.name, ks.namespace, ks.spec or {}))
    for kind, namespace, name in wanted:
        if (kind, namespace, name) in rendered.objects:
            raise InvalidInput(f"name: {identity(kind, namespace, name)} is already defined in the build of "
                               f"Kustomization {ks.namespace}/{ks.name}; choose another name", "name")


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
        return check_input(validate.dns1123_label, self.cleaned_data["name"])

    def clean_path(self):
        return check_input(validate.repo_path, self.cleaned_data["path"], "path")

    def clean_interval(self):
        return check_input(validate.duration, self.cleaned_data["interval"], "interval")

    def clean_depends_on(self):
        return ",".join(check_input(validate.dns1123_label, n, "depends_on") for n in _names(
            self.cleaned_data["depends_on"]))

    def clean_target_namespace(self):
        value = self.cleaned_data["target_namespace"]
        return check_input(validate.dns1123_label, value, "target_namespace") if value else ""


class _ChildOfKustomization(GitOpsPlaybook):
    """Creators whose target is the parent Kustomization: new files go beside its manifests."""

    kinds = frozenset({(KUSTOMIZE_GROUP, "Kustomization")})

    @classmethod
    def group(cls) -> str:
        return "create"

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
    description = ("Propose a new Flux Kustomization (a child of this one) by pull request: its YAML in this one's "
                   "path, listed in the kustomization.yaml there.")
    form_class = CreateKustomizationForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        refuse_collisions(repo_dir, ctx, [("Kustomization", ctx.kustomization.namespace, params["name"])])
        source = (ctx.kustomization.spec or {}).get("sourceRef") or {}
        return create.create_kustomization(
            repo_dir, cls.parent_path(ctx), name=params["name"], path=params["path"],
            source_name=source.get("name", ""), namespace=ctx.kustomization.namespace,
            source_namespace=source.get("namespace", ""), interval=params["interval"], prune=bool(params["prune"]),
            depends_on=_names(params.get("depends_on") or ""), target_namespace=params.get("target_namespace") or "")


class CreateNamespaceForm(forms.Form):
    name = forms.CharField(max_length=63)

    def clean_name(self):
        return check_input(validate.dns1123_label, self.cleaned_data["name"])


@register
class CreateNamespace(_ChildOfKustomization):
    name = "create-namespace"
    setting = "createNamespace"
    title = "Create namespace"
    description = ("Propose a new namespace by pull request: a folder with namespace.yaml and kustomization.yaml, "
                   "listed in this Kustomization's path so it applies it.")
    form_class = CreateNamespaceForm

    @classmethod
    def apply(cls, repo_dir, ctx, params):
        refuse_collisions(repo_dir, ctx, [("Namespace", "", params["name"])])
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
        return check_input(validate.dns1123_label, self.cleaned_data["name"])

    def clean_image(self):
        check_input(validate.image_reference, self.cleaned_data["image"])
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
    def group(cls) -> str:
        return "create"

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
        wanted = [("Deployment", ctx.obj.name, params["name"])]
        if params.get("service"):
            wanted.append(("Service", ctx.obj.name, params["name"]))
        refuse_collisions(repo_dir, ctx, wanted)
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
        return check_input(validate.dns1123_label, self.cleaned_data["name"])

    def clean_chart(self):
        return check_input(validate.dns1123_label, self.cleaned_data["chart"], "chart")

    def clean_version(self):
        return check_input(validate.semver_constraint, self.cleaned_data["version"])

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
        refuse_collisions(repo_dir, ctx, [("HelmRelease", ctx.obj.name, params["name"])])
        return create.create_helmrelease(
            repo_dir, cls.locate(repo_dir, ctx), name=params["name"], chart=params["chart"],
            version=params["version"], repository_url=params["repository_url"], values=params.get("values") or None)

