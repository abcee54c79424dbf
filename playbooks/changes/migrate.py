"""The "Migrate API versions" playbook: one pull request that moves every manifest of the repository off the Flux
API versions current Flux no longer serves (apiVersion and the fields renamed on the way to GA, as
``flux migrate -f`` does), with the verified preview of every ClickOps change (gitops.fluxapi does the rewrite)."""

from __future__ import annotations

from typing import Any

from gitops import GitOpsError, NotEditable
from gitops.fluxapi import migrate_tree
from gitops.yamledit import Change
from graph.kinds import KUSTOMIZE_GROUP
from graph.models import KubeObject
from playbooks.changes.base import GitOpsPlaybook
from playbooks.changes.context import ChangeContext, context_for_kustomization
from playbooks.library import register


@register
class MigrateApiVersions(GitOpsPlaybook):
    """Offered on Kustomizations (the repository is the one their GitRepository follows); the whole repository is
    rewritten, the Kustomization's path must still build."""

    name = "migrate-api-versions"
    setting = "migrate_api_versions"
    title = "Migrate API versions"
    description = ("Rewrite every Flux object in the repository that uses an API version Flux no longer serves "
                   "(HelmRelease v2beta1/v2beta2 → v2, sources v1beta2 → v1, …) in one pull request.")
    kinds = frozenset({(KUSTOMIZE_GROUP, "Kustomization")})

    @classmethod
    def context(cls, obj: KubeObject) -> ChangeContext:
        return context_for_kustomization(obj)

    @classmethod
    def refusal(cls, obj: KubeObject) -> str | None:
        try:
            cls.context(obj)
        except (NotEditable, GitOpsError) as exc:
            return str(exc)
        return None

    @classmethod
    def apply(cls, repo_dir: str, ctx: ChangeContext, params: dict[str, Any]) -> Change:
        change = migrate_tree(repo_dir, ".", build_paths=[ctx.kustomization_ref.path or "."])
        if not change.files:
            raise NotEditable("nothing to migrate: every Flux object in the repository uses a served API version")
        return change
