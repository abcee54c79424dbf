"""The grant's files in git: one RoleBinding file per grant (so concurrent grants never touch the same lines
except their own entry in a kustomization's ``resources``), and its removal.

Where the file goes: the folder of the Namespace's source file when the owning Flux Kustomization builds that
folder itself; when the Namespace comes from a shared base outside the Kustomization's path (``../base/podinfo``,
used by staging and production alike), the file goes into the Kustomization's own path instead, so a grant for
one cluster never lands in every environment that shares the base.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from access.jit.models import GRANT_LABEL, MANAGED_BY_LABEL
from gitops import NotEditable, kustomize, paths
from gitops.create import list_in_kustomization
from gitops.locate import Location
from gitops.yamldoc import documents, dump, edit_document
from gitops.yamledit import Change

ANNOTATION = "fluxplane.io/"


@dataclass(frozen=True)
class BindingSpec:
    """Everything written into the RoleBinding file (plain values, already validated by the policy)."""

    grant_id: int
    run_id: int
    namespace: str
    role: str
    subject_kind: str
    subject_name: str
    requested_by: str
    approved_by: str
    duration: str
    expires_at: str  # ISO 8601: the latest moment the binding may exist (activation deadline + duration)
    ticket: str = ""

    @property
    def name(self) -> str:
        return binding_name(self.grant_id, self.role)

    @property
    def file_name(self) -> str:
        return f"fluxplane-access-{self.grant_id}.yaml"


def binding_name(grant_id: int, role: str) -> str:
    """``fluxplane-access-<grant>-<role>``, cut to a valid object name."""
    return f"fluxplane-access-{grant_id}-{role}"[:253].rstrip("-.")


def grant_folder(repo_dir: str, ns_loc: Location, namespace: str, target_namespace: str = "") -> str:
    """The folder the grant file goes to (see the module docstring); refuses folders whose kustomization would
    move the binding into another namespace."""
    if target_namespace and target_namespace != namespace:
        raise NotEditable(f"the Kustomization sets targetNamespace {target_namespace}, which would move the "
                          f"RoleBinding out of {namespace}")
    folder = paths.normalize(posixpath.dirname(ns_loc.path) or ".")
    build = paths.normalize(ns_loc.build_path)
    if not (build == "." or folder == build or folder.startswith(build + "/")):
        folder = build
    transformer = (kustomize.read_kustomization(repo_dir, folder) or {}).get("namespace")
    if transformer and transformer != namespace:
        raise NotEditable(f"{folder}/kustomization.yaml sets namespace: {transformer}, which would move the "
                          f"RoleBinding out of {namespace}")
    return folder


def render(spec: BindingSpec) -> str:
    """The RoleBinding document (ClusterRole reference, one subject, labels to find it, annotations to explain it)."""
    annotations = CommentedMap()
    annotations[ANNOTATION + "requested-by"] = spec.requested_by
    annotations[ANNOTATION + "approved-by"] = spec.approved_by
    annotations[ANNOTATION + "request-id"] = f"grant-{spec.grant_id}/run-{spec.run_id}"
    annotations[ANNOTATION + "duration"] = spec.duration
    annotations[ANNOTATION + "expires-at"] = spec.expires_at
    if spec.ticket:
        annotations[ANNOTATION + "ticket"] = spec.ticket
    labels = CommentedMap()
    labels[MANAGED_BY_LABEL] = "fluxplane"
    labels[GRANT_LABEL] = str(spec.grant_id)
    metadata = CommentedMap(name=spec.name, namespace=spec.namespace)
    metadata["labels"] = labels
    metadata["annotations"] = annotations
    subject = CommentedMap(kind=spec.subject_kind, name=spec.subject_name)
    subject["apiGroup"] = "rbac.authorization.k8s.io"
    doc = CommentedMap(apiVersion="rbac.authorization.k8s.io/v1", kind="RoleBinding", metadata=metadata)
    doc["roleRef"] = CommentedMap(apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name=spec.role)
    doc["subjects"] = CommentedSeq([subject])
    return dump(doc)


def add_grant(repo_dir: str, folder: str, build_path: str, spec: BindingSpec) -> Change:
    """Write the grant's own file and list it in the folder's kustomization.yaml (or rely on Flux's generated one)."""
    rel = paths.join(folder, spec.file_name)
    target = paths.confine(repo_dir, rel)
    if target.exists():
        raise NotEditable(f"{rel} already exists in the repository")
    target.write_text(render(spec), encoding="utf-8")
    listed = list_in_kustomization(repo_dir, folder, rel, build_path)
    summary = f"grant {spec.subject_kind.lower()} {spec.subject_name} {spec.role} for {spec.duration}"
    return Change([rel] + ([listed] if listed else []), [paths.normalize(build_path)], summary)


def remove_grant(repo_dir: str, rel: str, build_path: str) -> Change:
    """Delete the grant file and its ``resources`` entry; an already-removed file changes nothing (empty Change)."""
    folder = paths.normalize(posixpath.dirname(rel) or ".")
    files: list[str] = []
    target = paths.confine(repo_dir, rel)
    if target.exists():
        target.unlink()
        files.append(rel)
    kfile = kustomize.kustomization_file(repo_dir, folder)
    if kfile is not None:
        entry = kustomize.relative_entry(folder, rel)
        text = paths.confine(repo_dir, kfile).read_text(encoding="utf-8")
        if entry in ((documents(text)[0] or {}).get("resources") or []):

            def mutate(tree: CommentedMap) -> None:
                while entry in tree["resources"]:
                    tree["resources"].remove(entry)

            paths.confine(repo_dir, kfile).write_text(edit_document(text, 0, mutate), encoding="utf-8")
            files.append(kfile)
    return Change(files, [paths.normalize(build_path)] if files else [], f"remove access grant file {rel}")
