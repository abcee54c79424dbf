"""From raw Kubernetes objects to mirror rows: identity, health, edges and roll-ups, computed in memory.

Pure (no database, no network): the sync feeds it what it listed and persists what it returns, which keeps the
graph rules table-testable and the number of database queries independent of the number of objects.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from graph import health as health_rules
from graph.choices import EdgeType
from graph.health.rollup import Path, describe, rollup_paths
from graph.helmstorage import release_name
from graph.kinds import (
    APPLIER_KINDS,
    MANAGER_KIND_GROUP,
    OPERATOR_GROUP,
    ORIGIN_ANNOTATION,
    OWNER_LABELS,
    SOURCE_GROUP,
    family_of,
    is_suspended,
    split_api_version,
)

logger = logging.getLogger(__name__)

# Annotations that are large and useless to a user, dropped before storage.
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
# Kinds whose payload is never mirrored: only their metadata is kept (secrets must never reach the database).
_METADATA_ONLY_KINDS = {("", "Secret"), ("", "ConfigMap")}
_yaml = YAML(typ="safe")


@dataclass
class Node:
    """One object ready to be stored: the row's fields, keyed by uid."""

    uid: str
    fields: dict[str, Any]
    raw: dict | None  # the listed object; dropped by the sync once the graph is built

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.fields["api_group"], self.fields["kind"], self.fields["namespace"], self.fields["name"])

    @property
    def label(self) -> str:
        ns = self.fields["namespace"]
        return f"{self.fields['kind']} {ns + '/' if ns else ''}{self.fields['name']}"


@dataclass
class Graph:
    """The result of a build: nodes by uid, edges as (source uid, target uid, type), and skipped objects."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def parse_origin(value: str | None) -> dict[str, str]:
    """Parse ``config.kubernetes.io/origin`` (a YAML block) into path/repo/ref; bad YAML gives ``{}``."""
    if not value:
        return {}
    try:
        data = _yaml.load(value)
    except YAMLError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(data[k]) for k in ("path", "repo", "ref") if data.get(k)}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def node_from_object(obj: dict) -> Node:
    """Build a Node from one API object. Raises ValueError for objects that cannot be mirrored."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not meta.get("uid") or not meta.get("name") or not obj.get("kind"):
        raise ValueError("object without metadata.uid, metadata.name or kind")
    group, version = split_api_version(str(obj.get("apiVersion", "")))
    kind = str(obj["kind"])
    # The listed object's own dicts, not copies (a 60k-object sync holds every one of them at once); a new dict only
    # when an annotation is dropped.
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if any(k in annotations for k in _DROPPED_ANNOTATIONS):
        annotations = {k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS}
    metadata_only = (group, kind) in _METADATA_ONLY_KINDS
    spec = {} if metadata_only else obj.get("spec") or {}
    status = {} if metadata_only else obj.get("status") or {}
    if not isinstance(spec, dict) or not isinstance(status, dict):
        raise ValueError("spec or status is not an object")
    origin = parse_origin(annotations.get(ORIGIN_ANNOTATION))
    managed_kind = managed_ns = managed_name = ""
    for name_label, namespace_label, _group, owner_kind in OWNER_LABELS:  # the last present one wins (kinds.py)
        if labels.get(name_label):
            managed_kind, managed_ns, managed_name = owner_kind, labels.get(namespace_label, ""), labels[name_label]
    fields = {
        "api_group": group,
        "api_version": version,
        "kind": kind,
        "family": family_of(group, kind),
        "namespace": meta.get("namespace") or "",
        "name": meta["name"],
        "labels": labels,
        "annotations": annotations,
        "spec": spec,
        "status": status,
        "owner_references": meta.get("ownerReferences") or [],
        "resource_version": str(meta.get("resourceVersion", "")),
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration") if isinstance(status, dict) else None,
        "suspended": is_suspended(group, spec, annotations),
        "managed_by_kind": managed_kind,
        "managed_by_namespace": managed_ns,
        "managed_by_name": managed_name,
        "origin_path": origin.get("path", ""),
        "origin_repo": origin.get("repo", ""),
        "origin_ref": origin.get("ref", ""),
        "created_in_cluster": _parse_time(meta.get("creationTimestamp")),
        "events": [],
    }
    return Node(uid=str(meta["uid"]), fields=fields, raw=obj)


def inventory_keys(obj: dict) -> list[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every entry in ``status.inventory`` (ids are ``ns_name_group_kind``)."""
    entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
    keys = []
    for entry in entries:
        parts = str(entry.get("id", "")).split("_")
        if len(parts) != 4:
            continue
        namespace, name, group, kind = parts
        keys.append((group, kind, namespace, name))
    return keys


# A stored verdict: (resourceVersion, health, reason, message) of an object's row, or None.
Previous = Callable[[str], "tuple[str, str, str, str] | None"]


def build_graph(objects: list[dict], events: list[dict] | None = None, now: datetime | None = None,
                helm_storage: dict | None = None, previous: Previous | None = None) -> Graph:
    """Turn listed objects into nodes (with health and roll-ups) and edges. Bad objects are reported, skipped.

    ``helm_storage`` maps (storage namespace, release) to the objects of its deployed Helm release, the fallback
    for HelmReleases without ``status.inventory`` (graph.helmstorage). ``previous`` gives an object's stored verdict
    by uid: a self-contained object (health.self_contained) whose resourceVersion has not moved keeps it instead of
    being assessed again — the resync's largest cost at 60k objects. Roll-ups are always computed afresh."""
    graph = Graph()
    for obj in objects:
        try:
            node = node_from_object(obj)
        except (ValueError, TypeError, AttributeError) as exc:
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            name = meta.get("name", "?") if isinstance(meta, dict) else "?"
            graph.problems.append(f"skipped {obj.get('kind', '?') if isinstance(obj, dict) else '?'} {name}: {exc}")
            continue
        graph.nodes[node.uid] = node

    by_key = {node.key: uid for uid, node in graph.nodes.items()}
    _add_edges(graph, by_key, helm_storage or {})
    _attach_events(graph, events or [])
    _assess(graph, now, previous)
    return graph


def references(f: dict, helm_keys: list | None = None) -> list[tuple[str, bool, tuple | None, str | None]]:
    """The edges one object's own fields determine, unresolved: (edge type, incoming, target key, target uid).

    ``incoming`` edges point at this object (its Flux-label parent, its ownerReferences), the others leave it
    (inventory entries, sources, dependsOn, named ResourceSet inputs). Exactly one of key (group, kind, namespace,
    name) and uid is set. ``helm_keys`` are the Helm release storage objects of a HelmRelease without
    ``status.inventory``. The full sync (build_graph) and the watch deltas (graph.delta) resolve the same list, so
    both draw the same edges (the full sync adds ResourceSet inputs selected by labels, _add_input_providers)."""
    refs: list[tuple[str, bool, tuple | None, str | None]] = []
    # created: Flux owner labels (Kustomization, HelmRelease, FluxInstance, ResourceSet)
    if f["managed_by_kind"] in MANAGER_KIND_GROUP:
        refs.append((EdgeType.CREATED, True, (MANAGER_KIND_GROUP[f["managed_by_kind"]], f["managed_by_kind"],
                                              f["managed_by_namespace"], f["managed_by_name"]), None))
    # created: status.inventory of the appliers (a spec.kubeConfig applier's inventory lives in another cluster:
    # graph.remote links it after the sync)
    if (f["api_group"], f["kind"]) in APPLIER_KINDS and not f["spec"].get("kubeConfig"):
        keys = inventory_keys({"status": f["status"]})
        if not keys and f["kind"] == "HelmRelease" and "inventory" not in f["status"]:
            keys = helm_keys or []
        refs.extend((EdgeType.CREATED, False, tuple(key), None) for key in keys)
    # owns: ownerReferences
    for ref in f["owner_references"]:
        if isinstance(ref, dict) and ref.get("uid"):
            refs.append((EdgeType.OWNS, True, None, str(ref["uid"])))
    # source and depends-on
    refs.extend((EdgeType.SOURCE, False, target, None) for target in _source_refs(f))
    for dep in f["spec"].get("dependsOn") or []:
        if not isinstance(dep, dict) or not dep.get("name"):
            continue
        # A ResourceSet's dependsOn names any kind by apiVersion/kind; Flux's own name their own kind.
        dep_group = split_api_version(str(dep["apiVersion"]))[0] if dep.get("apiVersion") else f["api_group"]
        refs.append((EdgeType.DEPENDS_ON, False, (dep_group, dep.get("kind") or f["kind"],
                                                  dep.get("namespace") or f["namespace"], dep["name"]), None))
    if (f["api_group"], f["kind"]) == (OPERATOR_GROUP, "ResourceSet"):
        for ref in f["spec"].get("inputsFrom") or []:
            if isinstance(ref, dict) and ref.get("name"):
                refs.append((EdgeType.SOURCE, False,
                             (OPERATOR_GROUP, "ResourceSetInputProvider", f["namespace"], ref["name"]), None))
    return refs


def helm_keys_of(node_raw: dict, helm_storage: dict) -> list:
    return helm_storage.get(release_name(node_raw), []) if helm_storage else []


def _add_edges(graph: Graph, by_key: dict, helm_storage: dict) -> None:
    edges = graph.edges
    providers: dict[str, list[Node]] = defaultdict(list)
    for node in graph.nodes.values():
        if (node.fields["api_group"], node.fields["kind"]) == (OPERATOR_GROUP, "ResourceSetInputProvider"):
            providers[node.fields["namespace"]].append(node)
    for uid, node in graph.nodes.items():
        f = node.fields
        helm_keys = helm_keys_of(node.raw, helm_storage) if f["kind"] == "HelmRelease" else None
        for type_, incoming, key, target_uid in references(f, helm_keys):
            other = by_key.get(key) if key is not None else (target_uid if target_uid in graph.nodes else None)
            if not other or other == uid:
                continue
            edges.add((other, uid, type_) if incoming else (uid, other, type_))
        if (f["api_group"], f["kind"]) == (OPERATOR_GROUP, "ResourceSet"):
            _add_input_providers(providers, uid, f, edges)


def _add_input_providers(providers: dict[str, list[Node]], uid: str, f: dict, edges: set) -> None:
    """A ResourceSet reads its inputs from the ResourceSetInputProviders ``spec.inputsFrom`` names or selects by
    labels (same namespace): a ``source`` edge, drawn like a Kustomization's to its GitRepository."""
    for ref in f["spec"].get("inputsFrom") or []:
        if not isinstance(ref, dict):
            continue
        selector = ref.get("selector") if isinstance(ref.get("selector"), dict) else {}
        match = selector.get("matchLabels") or {}
        for other in providers.get(f["namespace"], ()):
            o = other.fields
            if (ref.get("name") and o["name"] == ref["name"]) or \
                    (not ref.get("name") and match and all(o["labels"].get(k) == v for k, v in match.items())):
                edges.add((uid, other.uid, EdgeType.SOURCE))


def _source_group(kind: str) -> str:
    return "source.extensions.fluxcd.io" if kind == "ArtifactGenerator" else SOURCE_GROUP


def _source_refs(f: dict) -> list[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of the sources an object reads from, for any source kind."""
    spec, ns, refs = f["spec"], f["namespace"], []

    def add(ref: Any, default_kind: str = "") -> None:
        if isinstance(ref, dict) and ref.get("name"):
            kind = ref.get("kind") or default_kind
            refs.append((_source_group(kind), kind, ref.get("namespace") or ns, ref["name"]))

    add(spec.get("sourceRef"))
    chart = spec.get("chart") if f["kind"] == "HelmRelease" else None
    chart = chart.get("spec") if isinstance(chart, dict) else None
    if isinstance(chart, dict):
        add(chart.get("sourceRef"))
        source_ns = (chart.get("sourceRef") or {}).get("namespace") or ns
        # helm-controller generates the HelmChart `<namespace>-<name>` in the source's namespace.
        refs.append((SOURCE_GROUP, "HelmChart", source_ns, f"{ns}-{f['name']}"))
    add(spec.get("chartRef"))
    if isinstance(spec.get("sources"), list):  # ArtifactGenerator
        for source in spec["sources"]:
            add(source)
    return refs


def _attach_events(graph: Graph, events: list[dict]) -> None:
    per_object: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        uid = (event.get("involvedObject") or {}).get("uid")
        if uid in graph.nodes:
            per_object[uid].append({
                "type": event.get("type", ""),
                "reason": event.get("reason", ""),
                "message": event.get("message", ""),
                "count": event.get("count", 1),
                "time": event.get("lastTimestamp") or event.get("eventTime") or
                (event.get("metadata") or {}).get("creationTimestamp") or "",
            })
    for uid, items in per_object.items():
        items.sort(key=lambda e: e["time"] or "", reverse=True)
        graph.nodes[uid].fields["events"] = items[:20]


def tree_children(graph: Graph) -> dict[str, list[str]]:
    """Children in the Flux tree: what an object created (Flux) or owns (ownerReferences)."""
    children: dict[str, list[str]] = defaultdict(list)
    for source, target, type_ in graph.edges:
        if type_ in (EdgeType.CREATED, EdgeType.OWNS):
            children[source].append(target)
    for kids in children.values():
        kids.sort()
    return children


def _assess(graph: Graph, now: datetime | None, previous: Previous | None = None) -> None:
    children = tree_children(graph)
    assessments = {}
    for uid, node in graph.nodes.items():
        if previous is not None and health_rules.self_contained(node.raw):
            stored = previous(uid)
            if stored is not None and stored[0] == node.fields["resource_version"]:
                assessments[uid] = health_rules.Assessment(health_rules.Health(stored[1]), stored[2], stored[3])
                continue
        # Workloads read their pods through their ReplicaSets (Deployment → ReplicaSet → Pod): grandchildren too.
        kids = [graph.nodes[c].raw for c in children.get(uid, ())]
        kids += [graph.nodes[g].raw for c in children.get(uid, ()) for g in children.get(c, ())]
        try:
            assessments[uid] = health_rules.assess(node.raw, children=kids, now=now)
        except Exception as exc:  # noqa: BLE001 - one object's odd status must not break the sync
            logger.warning("health rules failed on %s: %s", node.label, exc)
            assessments[uid] = health_rules.Assessment(health_rules.Health.UNKNOWN, "AssessmentFailed", str(exc))
    paths = rollup_paths(assessments, children)
    label = lambda uid: graph.nodes[uid].label  # noqa: E731
    for uid, node in graph.nodes.items():
        own, path = assessments[uid], paths[uid]
        up = describe(uid, path, own, label)
        node.fields.update(
            # The enum's value, one shared string, rather than a new str per object.
            health=health_rules.Health(own.health).value, health_reason=own.reason[:100], health_message=own.message,
            rollup_health=health_rules.Health(up.health).value, rollup_message=up.message,
            rollup_path=path_to_json(path),
        )


def path_to_json(path: Path) -> dict | None:
    """A roll-up path as stored in ``KubeObject.rollup_path`` (None when it is the object alone)."""
    if path.length == 1:
        return None
    return {"leaf": path.leaf, "length": path.length, "head": list(path.head), "tail": list(path.tail)}


def path_from_json(uid: str, data: dict | None, own: health_rules.Assessment,
                   leaf_verdict: health_rules.Assessment | None) -> Path:
    """The stored path back as a rollup Path; ``leaf_verdict`` is the leaf's own assessment (its row's health)."""
    if not data:
        return Path(uid, own, 1, (uid,), (uid,))
    return Path(data["leaf"], leaf_verdict or own, int(data["length"]), tuple(data["head"]), tuple(data["tail"]))
