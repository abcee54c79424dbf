"""Git plumbing the GitOps playbooks, the merge and the change tracking share: cached working copies, the git
identity of a user, the Kustomization that applies a run's target, and asking Flux to fetch after a merge. Below
base, merging and tracking so none of them needs another to reach these."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from controlplane.kube import KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import GitConnection
from gitops import GitOpsError
from gitops.repo import DEFAULT_COMMITTER, Identity, WorkingCopy
from graph.kinds import SOURCE_GROUP
from graph.models import KubeObject
from playbooks.fluxexec import REQUESTED_AT, rfc3339nano


def _cache(kind: str) -> Path:
    return Path(settings.FLUXPLANE_GIT_CACHE_DIR) / kind


def working_copy(connection: GitConnection, url: str, kind: str) -> WorkingCopy:
    """The cached clone of a repository (``preview`` for web previews, ``runs`` for jobs: separate so a preview
    never disturbs a running change). Tokens are used only for network remotes."""
    token = connection.resolve_token() if connection.token_ref and url.startswith(("https://", "http://")) else ""
    return WorkingCopy(_cache(kind), url, connection.base_branch, token=token, committer=DEFAULT_COMMITTER)


def identity_of(user) -> Identity:
    name = user.get_full_name() or user.get_username()
    email = user.email or f"{re.sub(r'[^A-Za-z0-9._-]', '-', user.get_username())}@users.fluxplane.invalid"
    return Identity(name, email)


def request_source_reconcile(cluster, kustomization: KubeObject, log) -> None:
    """After a merge, ask the Kustomization's source (GitRepository or OCIRepository) to fetch now (what `flux
    reconcile source git|oci` does), so the change is applied without waiting for the polling interval. Best effort:
    the interval still applies (an OCIRepository sees the change once CI has published the next artifact)."""
    source = (kustomization.spec or {}).get("sourceRef") or {}
    try:
        adapter = KubeAdapter(cluster)
        try:
            resource = adapter.find_resource(SOURCE_GROUP, source.get("kind") or "GitRepository", ("v1",))
            if resource is not None:
                adapter.patch(resource, source.get("namespace") or kustomization.namespace, source.get("name"),
                              {"metadata": {"annotations": {REQUESTED_AT: rfc3339nano()}}})
                log(f"requested a fetch of {source.get('kind') or 'GitRepository'} {source.get('name')}")
        finally:
            adapter.close()
    except (KubeUnreachable, KubeError) as exc:
        log(f"could not request a fetch of the source ({exc}); Flux will pick the change up at its interval",
            "warning")


def kustomization_of(run) -> KubeObject | None:
    """The Flux Kustomization that applies the run's target (its source file's owner), or None."""
    from playbooks.library import get_playbook

    try:
        ctx = get_playbook(run.playbook).context(run.target)
    except GitOpsError:
        return None
    return KubeObject.objects.filter(pk=ctx.kustomization.pk).first()
