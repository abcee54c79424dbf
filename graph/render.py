"""The Argo-CD-style graph: select a scope of mirrored objects, lay it out left to right with Graphviz, as SVG.

Selection is done with a few queries (nodes of the scope, then their edges); DOT is generated here with every
label escaped; the SVG is cached by the hash of the DOT text, so an unchanged graph is never laid out twice.
"""

from __future__ import annotations

import hashlib
import html
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import graphviz
from django.core.cache import cache
from django.db.models import Q

from graph.choices import EdgeType, HealthChoices
from graph.models import Edge, KubeObject

HEALTH_COLOURS = {
    HealthChoices.HEALTHY: ("#e6f4ea", "#1e8e3e"),
    HealthChoices.PROGRESSING: ("#e8f0fe", "#1a73e8"),
    HealthChoices.DEGRADED: ("#fef7e0", "#e37400"),
    HealthChoices.FAILED: ("#fce8e6", "#d93025"),
    HealthChoices.SUSPENDED: ("#f1f3f4", "#5f6368"),
    HealthChoices.UNKNOWN: ("#ffffff", "#9aa0a6"),
}
HEALTH_ICONS = {
    HealthChoices.HEALTHY: "✔", HealthChoices.PROGRESSING: "↻", HealthChoices.DEGRADED: "⚠",
    HealthChoices.FAILED: "✖", HealthChoices.SUSPENDED: "⏸", HealthChoices.UNKNOWN: "?",
}
EDGE_STYLES = {
    EdgeType.CREATED: 'color="#5f6368"',
    EdgeType.OWNS: 'color="#9aa0a6" arrowhead=vee',
    EdgeType.SOURCE: 'color="#1a73e8" style=dashed arrowhead=empty',
    EdgeType.DEPENDS_ON: 'color="#e37400" style=dotted penwidth=1.6',
}
HEALTH_RANK = {HealthChoices.FAILED: 5, HealthChoices.DEGRADED: 4, HealthChoices.PROGRESSING: 3,
               HealthChoices.UNKNOWN: 2, HealthChoices.SUSPENDED: 1, HealthChoices.HEALTHY: 0}
POD_COLLAPSE_THRESHOLD = 4
MAX_NODES = 3000
CACHE_SECONDS = 3600


@dataclass
class GraphScope:
    """What to draw: one root's subtree, a namespace, or a whole cluster, optionally filtered."""

    cluster_id: int | None = None
    root_id: int | None = None
    namespace: str | None = None
    kinds: set[str] = field(default_factory=set)
    healths: set[str] = field(default_factory=set)
    collapse_pods: int = POD_COLLAPSE_THRESHOLD


@dataclass
class GraphData:
    nodes: dict[int, KubeObject]
    edges: list[tuple[int, int, str]]
    truncated: bool = False


def _live(qs):
    return qs.filter(deleted_at__isnull=True)


def select(scope: GraphScope, visible: Q | None = None) -> GraphData:
    """Pick the nodes and edges of a scope with a bounded number of queries; ``visible`` (from access.rules)
    drops what the user may not see."""
    if scope.root_id is not None:
        root = KubeObject.objects.get(pk=scope.root_id)
        rows = list(Edge.objects.filter(cluster_id=root.cluster_id).values_list("source_id", "target_id", "type",
                                                                                 "target__cluster_id"))
        # A hub's spec.kubeConfig appliers reach into spoke clusters (graph.remote): follow their subtrees too.
        spokes = {c for *_e, c in rows if c != root.cluster_id}
        if spokes:
            rows += list(Edge.objects.filter(cluster_id__in=spokes).values_list("source_id", "target_id", "type",
                                                                                "target__cluster_id"))
        edges = [(s, t, ty) for s, t, ty, _c in rows]
        children: dict[int, list[int]] = defaultdict(list)
        for source, target, type_ in edges:
            if type_ in (EdgeType.CREATED, EdgeType.OWNS):
                children[source].append(target)
        wanted = {root.pk}
        stack = [root.pk]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in wanted:
                    wanted.add(child)
                    stack.append(child)
        # Sources and dependencies of anything in the subtree are drawn beside it.
        wanted |= {t for s, t, ty in edges if s in wanted and ty in (EdgeType.SOURCE, EdgeType.DEPENDS_ON)}
        nodes_qs = KubeObject.objects.filter(pk__in=wanted)
    else:
        nodes_qs = KubeObject.objects.all()
        if scope.cluster_id is not None:
            nodes_qs = nodes_qs.filter(cluster_id=scope.cluster_id)
        if scope.namespace:
            nodes_qs = nodes_qs.filter(Q(namespace=scope.namespace) | Q(kind="Namespace", name=scope.namespace))
    nodes_qs = _live(nodes_qs)
    if visible is not None:
        nodes_qs = nodes_qs.filter(visible)
    if scope.kinds:
        nodes_qs = nodes_qs.filter(kind__in=scope.kinds) if scope.root_id is None else nodes_qs.filter(
            Q(kind__in=scope.kinds) | Q(pk=scope.root_id))
    if scope.healths:
        nodes_qs = nodes_qs.filter(rollup_health__in=scope.healths)
    fields = ["pk", "cluster_id", "kind", "name", "namespace", "family", "health", "health_message",
              "rollup_health", "rollup_message", "suspended", "deleted_at"]
    nodes = {o.pk: o for o in nodes_qs.only(*fields)[: MAX_NODES + 1]}
    truncated = len(nodes) > MAX_NODES
    if truncated:
        nodes = dict(list(nodes.items())[:MAX_NODES])
    edges = [
        (s, t, ty)
        for s, t, ty in Edge.objects.filter(source_id__in=list(nodes), target_id__in=list(nodes)).values_list(
            "source_id", "target_id", "type")
    ] if nodes else []
    return GraphData(nodes, edges, truncated)


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _node_label(obj: KubeObject, health: str) -> str:
    icon = HEALTH_ICONS.get(health, "?")
    rows = [
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#5f6368">{_esc(obj.kind)}</FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT"><B>{_esc(icon)} {_esc(obj.name)}</B></TD></TR>',
    ]
    if obj.namespace:
        rows.append(f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#5f6368">{_esc(obj.namespace)}</FONT></TD></TR>')
    if obj.suspended:
        rows.append('<TR><TD ALIGN="LEFT" BGCOLOR="#5f6368"><FONT POINT-SIZE="9" COLOR="white"> suspended '
                    '</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _collapse_pods(data: GraphData, threshold: int) -> tuple[list[str], list[tuple[str, str, str]], set[int]]:
    """Replace the Pods of an owner that has more than ``threshold`` of them with one counted node."""
    pods_by_owner: dict[int, list[int]] = defaultdict(list)
    for source, target, type_ in data.edges:
        if type_ == EdgeType.OWNS and data.nodes[target].kind == "Pod":
            pods_by_owner[source].append(target)
    lines, edges, hidden = [], [], set()
    for owner, pods in pods_by_owner.items():
        if len(pods) <= threshold:
            continue
        hidden.update(pods)
        worst = max((data.nodes[p].health for p in pods), key=lambda h: HEALTH_RANK.get(h, 2))
        ready = sum(1 for p in pods if data.nodes[p].health == HealthChoices.HEALTHY)
        fill, line = HEALTH_COLOURS.get(worst, HEALTH_COLOURS[HealthChoices.UNKNOWN])
        node_id = f"pods{owner}"
        label = f"{len(pods)} Pods\\n{ready} ready"
        lines.append(f'  {node_id} [label="{label}" shape=box3d style="filled" fillcolor="{fill}" color="{line}" '
                     f'tooltip="{_esc(f"{len(pods)} pods, worst: {worst}")}"];')
        edges.append((f"n{owner}", node_id, EdgeType.OWNS))
    return lines, edges, hidden


def to_dot(data: GraphData, url_for=lambda obj: "", collapse_pods: int = POD_COLLAPSE_THRESHOLD) -> str:
    """DOT text for the selection; node ids are the row pks, so the text is stable for unchanged data."""
    lines = [
        "digraph fluxplane {",
        '  graph [rankdir=LR bgcolor="transparent" nodesep=0.25 ranksep=0.6 fontname="Helvetica"];',
        '  node [shape=box style="rounded,filled" fontname="Helvetica" fontsize=11 penwidth=1.5];',
        '  edge [arrowsize=0.7];',
    ]
    extra_nodes, extra_edges, hidden = _collapse_pods(data, collapse_pods)
    for pk in sorted(data.nodes):
        if pk in hidden:
            continue
        obj = data.nodes[pk]
        health = obj.rollup_health if obj.is_flux else obj.health
        fill, line = HEALTH_COLOURS.get(health, HEALTH_COLOURS[HealthChoices.UNKNOWN])
        message = obj.rollup_message if obj.is_flux else obj.health_message
        tooltip = f"{obj.kind} {obj.namespace + '/' if obj.namespace else ''}{obj.name}: {health}"
        if message:
            tooltip += f" — {message}"
        url = url_for(obj)
        attrs = [f"label={_node_label(obj, health)}", f'fillcolor="{fill}"', f'color="{line}"',
                 f'tooltip="{_esc(tooltip[:500])}"', f'id="node{pk}"', f'class="health-{health}"']
        if url:
            attrs += [f'URL="{_esc(url)}"', 'target="_top"']
        lines.append(f"  n{pk} [{' '.join(attrs)}];")
    lines.extend(extra_nodes)
    for source, target, type_ in sorted(data.edges):
        if source in hidden or target in hidden:
            continue
        lines.append(f"  n{source} -> n{target} [{EDGE_STYLES.get(type_, '')} class=\"edge-{type_}\"];")
    for source, target, type_ in extra_edges:
        lines.append(f"  {source} -> {target} [{EDGE_STYLES.get(type_, '')}];")
    lines.append("}")
    return "\n".join(lines)


def render_svg(dot: str) -> str:
    """Lay out DOT with Graphviz ``dot``; cached by content hash."""
    key = "fluxplane:graph:svg:" + hashlib.sha256(dot.encode()).hexdigest()
    svg = cache.get(key)
    if svg is None:
        svg = graphviz.Source(dot, engine="dot").pipe(format="svg", encoding="utf-8")
        # Drop the XML prolog and DOCTYPE so the SVG can be inlined in an HTML page.
        svg = svg[svg.index("<svg"):]
        cache.set(key, svg, CACHE_SECONDS)
    return svg


def legend() -> list[tuple[str, str, str, str]]:
    """(health, icon, fill, line) for the page's legend."""
    return [(h.label, HEALTH_ICONS[h], *HEALTH_COLOURS[h]) for h in HealthChoices]


def edge_legend() -> Iterable[tuple[str, str]]:
    return [(t.label, EDGE_STYLES[t]) for t in EdgeType]
