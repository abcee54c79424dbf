"""Which Helm values drive a field of a workload a HelmRelease renders, proven by rendering the chart.

Charts disagree on where the replicas, image and resources of a workload live: top-level ``replicaCount`` /
``image`` / ``resources`` (the ``helm create`` shape), app-template's ``controllers.<name>.replicas`` and
``controllers.<name>.containers.<c>.image``, a component or sub-chart prefix (``redis.`` …). Writing the wrong one
builds, is approved, merges — and changes nothing. So :func:`candidates` lists the paths of the common shapes that
fit the picked workload, in order, and :func:`prove` renders the chart (Helm's own engine, helm-python-sdk) before
and after each candidate and keeps the first whose rendered diff changes exactly the intended field of the intended
object. Without a chart the first candidate is used and the result says "unverified"; without a candidate the
change is refused (the Update Helm values form remains).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from .errors import InvalidInput, NotEditable
from .validate import split_image

FIELDS = ("replicas", "image", "resources")
_KIND_OF_TYPE = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet",
                 "cronjob": "CronJob", "job": "Job"}


@dataclass(frozen=True)
class Workload:
    """The picked object a values change must reach: kind, name and its container names (from the mirror)."""

    kind: str
    name: str
    containers: tuple[str, ...] = ()


@dataclass
class Intent:
    """What the user asked: ``field`` (replicas | image | resources) of ``container`` with the new ``value``
    (an int, an image reference, or {"requests": {...}, "limits": {...}})."""

    field: str
    value: Any
    container: str = ""


@dataclass
class Candidate:
    """One values path of a known chart shape: the mapping merged into ``spec.values`` and its dotted name."""

    patch: dict[str, Any]
    path: str
    shape: str


@dataclass
class Proof:
    """The chosen candidate and how sure we are: verified (rendered and checked) or unverified (why)."""

    candidate: Candidate
    verified: bool
    reason: str = ""
    rendered_diff: list[str] = field(default_factory=list)


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: mappings merge, anything else replaces, ``None`` deletes."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _nest(path: list[str], leaf: Any) -> dict[str, Any]:
    out: Any = leaf
    for key in reversed(path):
        out = {key: out}
    return out


def _image_values(image: str, style: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The image keys for ``image`` in the shape of ``existing`` (the chart's image mapping, when known): a
    ``registry`` key holds the registry host apart (bitnami's registry/repository, ingress-nginx's registry/image),
    an ``image`` key instead of ``repository`` holds the name."""
    name, tag, digest = split_image(image)
    existing = existing if isinstance(existing, dict) else {}
    out: dict[str, Any] = {}
    if "registry" in existing:
        host, _, rest = name.partition("/")
        if rest and ("." in host or ":" in host or host == "localhost"):
            out["registry"], name = host, rest
        else:  # a Docker Hub reference: the registry the reference means, spelled out
            out["registry"] = "docker.io"
            name = name if "/" in name else f"library/{name}"
    out["image" if "image" in existing and "repository" not in existing else "repository"] = name
    if style == "flat" or (digest and "digest" not in existing and existing):
        # podinfo's redis (repository/tag beside other keys), or a chart without a digest key: digest in the tag
        out["tag"] = f"{tag}@{digest}" if tag and digest else (tag or digest or "latest")
        return out
    out["tag"] = tag or "latest"
    if digest:
        out["digest"] = digest
    return out


def _leaf(intent: Intent, image_style: str = "nested") -> tuple[list[str], Any]:
    if intent.field == "replicas":
        return [], intent.value
    if intent.field == "image":
        if image_style == "flat":
            return [], _image_values(intent.value, "flat")
        return ["image"], _image_values(intent.value, "nested")
    return ["resources"], {k: v for k, v in intent.value.items() if v}


def release_names(release: str, chart: str) -> set[str]:
    """The names ``<fullname>`` takes in the common helpers: the release name, or ``<release>-<chart>`` when the
    release name does not contain the chart's."""
    names = {release}
    if chart and chart not in release:
        names.add(f"{release}-{chart}")
    return names


def candidates(release: str, chart: str, values: dict[str, Any], workload: Workload, intent: Intent
               ) -> list[Candidate]:
    """The values paths of the known chart shapes that may drive ``intent`` on ``workload``, most specific first.

    ``values`` are the effective values (chart defaults merged with the release's, or the release's alone when the
    chart is not available)."""
    out: list[Candidate] = []
    fullnames = release_names(release, chart)
    controllers = values.get("controllers")
    if isinstance(controllers, dict):  # app-template (bjw-s common library)
        enabled = [c for c, v in controllers.items() if not (isinstance(v, dict) and v.get("enabled") is False)]
        for ctl in enabled:
            spec = controllers.get(ctl) or {}
            kind = _KIND_OF_TYPE.get(str(spec.get("type") or "deployment").lower(), "")
            if kind != workload.kind:
                continue
            names = {f"{n}-{ctl}" for n in fullnames}
            if ctl in fullnames or len(enabled) == 1:
                names |= fullnames
            if workload.name not in names:
                continue
            if intent.field == "replicas":
                out.append(Candidate({"controllers": {ctl: {"replicas": intent.value}}},
                                     f"controllers.{ctl}.replicas", "app-template"))
                continue
            containers = {**(spec.get("initContainers") or {}), **(spec.get("containers") or {})}
            if intent.container not in containers:
                continue
            section = "containers" if intent.container in (spec.get("containers") or {}) else "initContainers"
            sub, leaf = _leaf(intent)
            out.append(Candidate({"controllers": {ctl: {section: {intent.container: _nest(sub, leaf)}}}},
                                 f"controllers.{ctl}.{section}.{intent.container}.{'.'.join(sub)}", "app-template"))
        return out  # an app-template release has no other shape
    for full in sorted(fullnames):
        if workload.name.startswith(full + "-"):
            suffix = workload.name[len(full) + 1:]
            prefixes = [p for p in (suffix, _camel(suffix)) if isinstance(values.get(p), dict)]
            for prefix in dict.fromkeys(prefixes):
                section = values[prefix]
                out.extend(_component(prefix, section, intent))
    if workload.name in fullnames or workload.name == release:
        if intent.field == "replicas":
            out.append(Candidate({"replicaCount": intent.value}, "replicaCount", "top-level"))
        elif intent.field == "image" and isinstance(values.get("image"), dict):
            out.append(Candidate({"image": _image_values(intent.value, "nested", values["image"])}, "image",
                                 "top-level"))
        else:
            sub, leaf = _leaf(intent)
            out.append(Candidate(_nest(sub, leaf), ".".join(sub), "top-level"))
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.title() for part in rest)


def _component(prefix: str, section: dict[str, Any], intent: Intent) -> list[Candidate]:
    """Paths under a component or sub-chart prefix — only those whose keys the effective values already have
    (a prefix's shape varies too much to invent keys)."""
    if intent.field == "replicas":
        return [Candidate({prefix: {key: intent.value}}, f"{prefix}.{key}", "prefix")
                for key in ("replicaCount", "replicas") if key in section]
    if intent.field == "image":
        if isinstance(section.get("image"), dict):
            return [Candidate({prefix: {"image": _image_values(intent.value, "nested", section["image"])}},
                              f"{prefix}.image", "prefix")]
        if "repository" in section or "tag" in section:
            return [Candidate({prefix: _image_values(intent.value, "flat")}, f"{prefix}.repository/tag", "prefix")]
        return []
    if "resources" in section:
        sub, leaf = _leaf(intent)
        return [Candidate({prefix: _nest(sub, leaf)}, f"{prefix}.resources", "prefix")]
    return []


PROBE_LIMIT = 16  # renders a probe may spend on one change (each candidate is one render)
_PROBE_DEPTH = 8


def _current(obj: dict, intent: Intent) -> Any:
    """What the intended field of the rendered object holds now (replicas, the container's image or resources)."""
    if intent.field == "replicas":
        return (obj.get("spec") or {}).get("replicas", 1)
    _, pod = _pod_spec(obj)
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        if container.get("name") == intent.container:
            return container.get(intent.field) or ({} if intent.field == "resources" else "")
    return None


def _mappings(values: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every mapping of the values tree with its key path (lists are not entered: a chart indexes them rarely)."""
    if not isinstance(values, dict) or len(path) > _PROBE_DEPTH:
        return []
    out = [(path, values)]
    for key, value in values.items():
        if isinstance(key, str):
            out.extend(_mappings(value, path + (key,)))
    return out


def probe_candidates(values: dict[str, Any], rendered: dict, intent: Intent) -> list[Candidate]:
    """Values paths found by what the picked object renders now, for charts of no known shape (kube-prometheus-
    stack's ``prometheusOperator.image``, loki's ``singleBinary.replicas``): a ``replicas``/``replicaCount`` that
    holds the rendered replicas, an image mapping whose name is in the rendered image, a ``resources`` mapping equal
    to the rendered resources. Only a guess until rendered: :func:`prove` keeps one only when the rendered diff is
    exactly the intended field."""
    current = _current(rendered, intent)
    if current is None:
        return []
    out: list[Candidate] = []
    for path, node in _mappings(values):
        if intent.field == "replicas":
            out += [Candidate(_nest([*path, key], intent.value), ".".join([*path, key]), "probed")
                    for key in ("replicas", "replicaCount")
                    if isinstance(node.get(key), int) and not isinstance(node[key], bool) and node[key] == current]
        elif intent.field == "image":
            name = node.get("repository") if isinstance(node.get("repository"), str) else node.get("image")
            if isinstance(name, str) and name and name in str(current):
                style = "nested" if path and path[-1] == "image" else "flat"
                out.append(Candidate(_nest(list(path), _image_values(intent.value, style, node)),
                                     ".".join(path) or "(top level)", "probed"))
        elif isinstance(node.get("resources"), dict) and node["resources"] == current:
            sub, leaf = _leaf(intent)
            out.append(Candidate(_nest([*path, *sub], leaf), ".".join([*path, *sub]), "probed"))
    return out


# ------------------------------------------------------------------------------------------------ rendering
class ChartRenderer:
    """A loaded chart rendered by Helm's engine (helm-python-sdk), offline."""

    def __init__(self, chart_path: str) -> None:
        try:
            import helm_python
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise NotEditable("the Helm engine (helm-python-sdk) is not installed") from exc
        self._helm = helm_python
        try:
            self.chart = helm_python.Chart.load(chart_path)
        except Exception as exc:  # noqa: BLE001 — every load error means "this chart cannot be used"
            raise NotEditable(f"the chart at {chart_path} cannot be loaded: {exc}") from None

    def close(self) -> None:
        self.chart.close()

    @property
    def name(self) -> str:
        return str(self.chart.metadata.get("name") or "")

    def effective(self, release_values: dict[str, Any]) -> dict[str, Any]:
        """The release's values coalesced with the chart's defaults, sub-charts' included (as Helm does)."""
        try:
            return dict(self.chart.merge_values(release_values))
        except Exception:  # noqa: BLE001 — the library refuses odd values: fall back to a plain merge
            return deep_merge(dict(self.chart.values or {}), release_values)

    def render(self, values: dict[str, Any], release: str, namespace: str) -> dict[tuple[str, str], dict]:
        """The rendered objects by (kind, name)."""
        return {(str(doc["kind"]), str((doc.get("metadata") or {}).get("name"))): doc
                for _, doc in self.documents(values, release, namespace)}

    def documents(self, values: dict[str, Any], release: str, namespace: str, revision: int = 1,
                  is_upgrade: bool = False) -> list[tuple[str, dict]]:
        """(template path, object) of every rendered manifest in template order, as ``helm template`` prints them
        (NOTES.txt and chart tests left out)."""
        try:
            out = self.chart.render(values, name=release, namespace=namespace or "default", revision=revision,
                                    is_install=not is_upgrade, is_upgrade=is_upgrade)
        except Exception as exc:  # noqa: BLE001 — a template error with these values: the candidate fails
            raise InvalidInput(f"the chart does not render with these values: {str(exc)[:300]}", "values") from None
        documents: list[tuple[str, dict]] = []
        loader = YAML(typ="safe", pure=True)
        for path, text in sorted(out.items()):
            if not path.endswith((".yaml", ".yml")) or "/tests/" in path:
                continue
            for doc in loader.load_all(text):
                if isinstance(doc, dict) and doc.get("kind"):
                    documents.append((path, doc))
        return documents


def _diff_paths(a: Any, b: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple] = []
        for key in dict.fromkeys([*a, *b]):
            if key not in a or key not in b:
                out.append(path + (key,))
            else:
                out.extend(_diff_paths(a[key], b[key], path + (key,)))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in _diff_paths(x, y, path + (i,))]
    return [] if a == b else [path]


def _pod_spec(obj: dict) -> tuple[tuple, dict]:
    if obj.get("kind") == "CronJob":
        prefix = ("spec", "jobTemplate", "spec", "template", "spec")
    else:
        prefix = ("spec", "template", "spec")
    node: Any = obj
    for key in prefix:
        node = (node or {}).get(key) or {}
    return prefix, node


def _intended(obj: dict, intent: Intent) -> tuple[tuple, Any] | None:
    """(path of the intended field in the rendered object, the value it must have)."""
    if intent.field == "replicas":
        return ("spec", "replicas"), intent.value
    prefix, pod = _pod_spec(obj)
    for section in ("containers", "initContainers"):
        for i, container in enumerate(pod.get(section) or []):
            if container.get("name") == intent.container:
                if intent.field == "image":
                    return prefix + (section, i, "image"), intent.value
                return prefix + (section, i, "resources"), None
    return None


def check_rendered(before: dict, after: dict, workload: Workload, intent: Intent) -> tuple[bool, list[str]]:
    """Whether the rendered objects differ exactly in the intended field of the intended object."""
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    notes = [f"{kind}/{name}" for kind, name in changed]
    if changed != [(workload.kind, workload.name)]:
        return False, notes
    obj = after[(workload.kind, workload.name)]
    intended = _intended(obj, intent)
    if intended is None:
        return False, notes
    path, want = intended
    diffs = _diff_paths(before[(workload.kind, workload.name)], obj)
    if not diffs or any(d[: len(path)] != path for d in diffs):
        return False, notes + [".".join(map(str, d)) for d in diffs]
    node: Any = obj
    for key in path:
        node = node[key] if isinstance(node, dict) or isinstance(key, int) else None
    if intent.field == "resources":
        for section, values in intent.value.items():
            for key, value in (values or {}).items():
                if str(((node or {}).get(section) or {}).get(key)) != str(value):
                    return False, notes
        return True, [".".join(map(str, d)) for d in diffs]
    return node == want, [".".join(map(str, d)) for d in diffs]


def prove(release: str, namespace: str, release_values: dict[str, Any], workload: Workload, intent: Intent,
          chart: ChartRenderer | None, chart_name: str = "", unavailable: str = "") -> Proof:
    """The values change for ``intent``: proven by rendering when ``chart`` is given, else the first candidate
    marked unverified (``unavailable`` says why). Raises NotEditable when no path can be found or proven."""
    if intent.container and workload.containers and intent.container not in workload.containers:
        raise InvalidInput(f"container: {workload.kind} {workload.name} has no container {intent.container!r} "
                           f"(it has {', '.join(workload.containers)})", "container")
    effective = chart.effective(release_values) if chart else release_values
    found = candidates(release, chart.name if chart else chart_name, effective, workload, intent)
    what = f"the {intent.field} of {workload.kind} {workload.name}" + (
        f" (container {intent.container})" if intent.container else "")
    no_path = NotEditable(f"no values path of the known chart shapes drives {what}; set the values with Update "
                          f"Helm values")
    if chart is None:
        if not found:
            raise no_path
        return Proof(found[0], False, unavailable or "the chart could not be loaded")
    before = chart.render(effective, release, namespace)
    if (workload.kind, workload.name) not in before:
        raise NotEditable(f"the chart does not render {workload.kind} {workload.name} with the release's values")
    # With the chart, a path of no known shape can be found too: by what the object renders now, then proven.
    known = {c.path for c in found}
    found += [c for c in probe_candidates(effective, before[(workload.kind, workload.name)], intent)
              if c.path not in known][:PROBE_LIMIT]
    if not found:
        raise no_path
    tried = []
    for candidate in found:
        try:
            after = chart.render(deep_merge(effective, candidate.patch), release, namespace)
        except InvalidInput as exc:
            tried.append(f"{candidate.path}: {exc}")
            continue
        ok, diff = check_rendered(before, after, workload, intent)
        if ok:
            return Proof(candidate, True, rendered_diff=diff)
        tried.append(f"{candidate.path}: changes {', '.join(diff) or 'nothing'}")
    raise NotEditable(f"no values path could be proven to change {what} (rendered the chart with "
                      f"{'; '.join(tried)}); set the values with Update Helm values")
