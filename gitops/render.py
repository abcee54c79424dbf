"""What Flux will apply for a Kustomization: ``kubectl kustomize`` of its path the way kustomize-controller
prepares it (a generated kustomization.yaml where there is none; ``spec.components``, ``targetNamespace``,
``namePrefix``/``nameSuffix`` added to the root kustomization), then postBuild substitution of ``${VAR}``,
``${VAR:-default}`` and ``${VAR:=default}`` from ``spec.postBuild.substitute`` on every object not annotated
``kustomize.toolkit.fluxcd.io/substitute: disabled``. Variables from ``substituteFrom`` are cluster data: the caller
reads the ConfigMaps (``with_cluster_variables``) and passes their values in; Secrets are never read (their values
would appear in a diff people read), so variables from them stay as written and the impact preview says which.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML

from . import kustomize, paths
from .errors import GitOpsError
from .validate import kubectl_binary
from .yamldoc import dump

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-=])([^}]*))?\}")
SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"


@dataclass(frozen=True)
class FluxKustomization:
    """The build-relevant part of a Flux Kustomization (from the mirror or from the repository's files)."""

    name: str
    namespace: str = "flux-system"
    path: str = "."
    components: tuple[str, ...] = ()
    target_namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    substitute: tuple[tuple[str, str], ...] = ()
    substitute_from: tuple[tuple[str, str, bool], ...] = ()  # spec.postBuild.substituteFrom: (kind, name, optional)
    cluster_variables: tuple[tuple[str, str], ...] = ()  # the values read from substituteFrom's ConfigMaps
    unresolved: tuple[str, ...] = ()  # "Secret flux-system/cluster-secrets: …": variables left as written, and why
    cluster: str = ""
    patches: tuple[str, ...] = ()  # spec.patches entries, as JSON (hashable)
    source_kind: str = "GitRepository"

    @property
    def label(self) -> str:
        where = f"{self.cluster}: " if self.cluster else ""
        return f"{where}Kustomization {self.namespace}/{self.name} ({paths.flux_path(self.path)}/)"

    @classmethod
    def from_spec(cls, name: str, namespace: str, spec: dict[str, Any], cluster: str = "") -> FluxKustomization:
        post = spec.get("postBuild") or {}
        return cls(name=name, namespace=namespace, path=str(spec.get("path") or "."),
                   components=tuple(str(c) for c in spec.get("components") or ()),
                   target_namespace=str(spec.get("targetNamespace") or ""),
                   name_prefix=str(spec.get("namePrefix") or ""), name_suffix=str(spec.get("nameSuffix") or ""),
                   substitute=tuple((str(k), str(v)) for k, v in (post.get("substitute") or {}).items()),
                   substitute_from=tuple(
                       (str(ref.get("kind") or ""), str(ref.get("name") or ""), bool(ref.get("optional")))
                       for ref in post.get("substituteFrom") or () if isinstance(ref, dict)),
                   cluster=cluster,
                   patches=tuple(json.dumps(p, sort_keys=True) for p in spec.get("patches") or ()
                                 if isinstance(p, dict)),
                   source_kind=str((spec.get("sourceRef") or {}).get("kind") or "GitRepository"))


    def with_cluster_variables(self, values: dict[str, str], unresolved: list[str]) -> FluxKustomization:
        """The same Kustomization with the variables read from its ``substituteFrom`` sources (in order, later
        sources overriding earlier ones, as kustomize-controller merges them) and what could not be read."""
        return replace(self, cluster_variables=tuple(values.items()), unresolved=tuple(unresolved))

    @property
    def variables(self) -> dict[str, str]:
        """What postBuild substitutes: substituteFrom's values, overridden by the inline ``substitute`` (Flux gives
        the inline values precedence)."""
        return {**dict(self.cluster_variables), **dict(self.substitute)}


@dataclass
class Build:
    """The objects a build renders, by identity ``(kind, namespace, name)``, or the error that stopped it."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    error: str = ""


def substitute(text: str, variables: dict[str, str]) -> str:
    """Flux's postBuild substitution of ``${VAR}`` and ``${VAR:-default}`` on a YAML text (a default that is itself
    a variable, ``${A:-${B}}``, is resolved inside out). An unknown variable without a default stays as written:
    its value is cluster data Fluxplane did not read."""
    for _ in range(5):
        new = _VAR.sub(lambda m: variables.get(m.group(1), m.group(3) if m.group(2) else m.group(0)), text)
        if new == text:
            break
        text = new
    return text


def build(repo_dir: str, ks: FluxKustomization, timeout: float = 60) -> Build:
    """Render ``ks`` from the working tree ``repo_dir``; kustomization.yaml files touched for the build are put
    back byte for byte afterwards."""
    rel = paths.flux_path(ks.path)
    target = paths.confine(repo_dir, rel)
    if not target.is_dir():
        return Build(error=f"{rel}/ does not exist")
    kfile = kustomize.kustomization_file(repo_dir, rel)
    original: bytes | None = None
    written = None
    extra: dict[str, Any] = {}
    if ks.components:
        extra["components"] = list(ks.components)
    if ks.target_namespace:
        extra["namespace"] = ks.target_namespace
    if ks.name_prefix:
        extra["namePrefix"] = ks.name_prefix
    if ks.name_suffix:
        extra["nameSuffix"] = ks.name_suffix
    if ks.patches:
        extra["patches"] = [json.loads(p) for p in ks.patches]
    try:
        if kfile is None:
            data = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                    "resources": kustomize.generated_resources(repo_dir, rel), **extra}
            written = target / "kustomization.yaml"
            written.write_text(dump(data))
        elif extra:
            written = paths.confine(repo_dir, kfile)
            original = written.read_bytes()
            data = kustomize.read_kustomization(repo_dir, rel) or {}
            for key, value in extra.items():
                data[key] = [*(data.get(key) or []), *value] if key in ("components", "patches") else value
            written.write_text(dump(data))
        try:
            proc = subprocess.run(  # noqa: S603 — argument list, no shell
                [kubectl_binary(), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(target)],
                capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return Build(error=f"{rel}: kubectl kustomize timed out")
    except (OSError, GitOpsError) as exc:
        return Build(error=f"{rel}: {exc}")
    finally:
        if written is not None:
            if original is None:
                written.unlink(missing_ok=True)
            else:
                written.write_bytes(original)
    if proc.returncode != 0:
        return Build(error=f"{rel}: kubectl kustomize failed: {proc.stderr.strip()[-800:]}")
    variables = ks.variables
    out = Build()
    loader = YAML(typ="safe", pure=True)
    for chunk in re.split(r"^---\s*$", proc.stdout, flags=re.MULTILINE):
        if not chunk.strip():
            continue
        try:
            doc = loader.load(chunk)
        except Exception:  # noqa: BLE001, S112 — kubectl's output is valid YAML; a surprise is skipped, not fatal
            continue
        if not isinstance(doc, dict):
            continue
        annotations = (doc.get("metadata") or {}).get("annotations") or {}
        if annotations.get(SUBSTITUTE_ANNOTATION) != "disabled" and "${" in chunk:
            try:
                doc = loader.load(substitute(chunk, variables)) or doc
            except Exception:  # noqa: BLE001, S110 — Flux would fail this object too; keep it unsubstituted
                pass
        meta = doc.get("metadata") or {}
        out.objects[(str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))] = doc
    return out


def identity(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace + '/' if namespace else ''}{name}"
