"""Rolled-up health: the worst of a node's subtree, with a "why" chain to the failing descendant.

All nodes are computed in one pass, iteratively (no recursion limit), and cycles are safe: Tarjan's strongly
connected components turn the graph into a DAG of components, processed sinks first, so every child outside a
node's component is already rolled up when the node is reached. Inside a cycle every member reaches every other,
so they share the component's worst verdict; each member's chain follows a shortest in-component path to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .base import Assessment, Health

N = TypeVar("N", bound=Hashable)

# Chains longer than HEAD + TAIL nodes are shortened to their first HEAD and last TAIL nodes ("a → b → c → … (n more)
# → w → x → y → z: msg"), so a deep (or pathological) tree costs O(1) per node in time and memory, not O(depth).
HEAD = 3
TAIL = 4


@dataclass(frozen=True)
class _Path:
    """Where a roll-up verdict comes from: the leaf's own assessment and the hops to it (bounded)."""

    leaf: Hashable
    verdict: Assessment  # the leaf's own assessment
    length: int  # nodes on the path, this node and the leaf included
    head: tuple  # first min(length, HEAD) nodes
    tail: tuple  # last min(length, TAIL) nodes


def _extend(node: Hashable, via: _Path) -> _Path:
    """The path from ``node`` through its child's path ``via``."""
    head = (node, *via.head)[:HEAD]
    tail = via.tail if via.length >= TAIL else (node, *via.tail)
    return _Path(via.leaf, via.verdict, via.length + 1, head, tail)


def _own(node: Hashable, verdict: Assessment) -> _Path:
    return _Path(node, verdict, 1, (node,), (node,))


def _better(candidate: _Path, best: _Path | None) -> bool:
    """Strictly worse health wins. On a tie of a *bad* word (unknown and worse) the deeper path wins, because a
    parent that fails its health check (HealthCheckFailed, InstallFailed) usually fails *because of* the descendant,
    which is the root cause. Healthy and suspended ties keep the shallower path: nothing to explain below."""
    if best is None:
        return True
    a, b = candidate.verdict.health.severity, best.verdict.health.severity
    if a != b:
        return a > b
    return a >= Health.UNKNOWN.severity and candidate.length > best.length


def rollup_all(
    assessments: Mapping[N, Assessment],
    children: Mapping[N, Iterable[N]],
    label: Callable[[N], str],
) -> dict[N, Assessment]:
    """The rolled-up Assessment of every node in ``assessments``.

    ``children`` maps a node to its child nodes in the Flux tree (created and owns edges; not source or depends-on,
    which would blame a shared GitRepository's failure on every app). Child ids without an assessment are ignored.
    ``label`` names a node in the chain, e.g. "HelmRelease podinfo/podinfo".

    The result keeps the node's own assessment when nothing below is worse. Otherwise its health and reason are the
    culprit's, ``culprit`` is the culprit's id, and the message is the chain
    "apps → HelmRelease podinfo/podinfo → Deployment podinfo/podinfo: 0/2 ready, ImagePullBackOff: ...".
    """
    paths = _paths(assessments, children)
    return {node: describe(node, path, assessments[node], label) for node, path in paths.items()}


def describe(node: N, path: _Path, own: Assessment, label: Callable[[N], str]) -> Assessment:
    """The rolled-up Assessment a node's worst path gives: its own when the path is just itself, else the culprit's
    health and reason with the chain "a → b → … → leaf: message"."""
    if path.length == 1:
        return own
    if path.length <= HEAD + TAIL:
        hops = [str(label(n)) for n in (*path.head, *path.tail[len(path.tail) - (path.length - len(path.head)):])]
    else:
        hops = [*(str(label(n)) for n in path.head), f"… ({path.length - HEAD - TAIL} more)",
                *(str(label(n)) for n in path.tail)]
    message = " → ".join(hops) + (f": {path.verdict.message}" if path.verdict.message else "")
    return Assessment(path.verdict.health, path.verdict.reason, message, culprit=path.leaf)


def rollup_paths(assessments: Mapping[N, Assessment], children: Mapping[N, Iterable[N]]) -> dict[N, _Path]:
    """Every node's worst path (what :func:`rollup_all` describes), for callers that store paths to update a roll-up
    incrementally with :func:`best_path` (graph.delta)."""
    return _paths(assessments, children)


def best_path(node: N, own: Assessment, child_paths: Iterable[_Path]) -> _Path:
    """A node's worst path from its own assessment and its children's paths (in the order ``rollup_all`` visits
    them: children sorted, deduplicated). Exact for a node outside any cycle."""
    best = _own(node, own)
    for via in child_paths:
        candidate = _extend(node, via)
        if _better(candidate, best):
            best = candidate
    return best


Path = _Path


def rollup(
    node: N,
    assessments: Mapping[N, Assessment],
    children: Mapping[N, Iterable[N]],
    label: Callable[[N], str],
) -> Assessment:
    """The rolled-up Assessment of one node (computes only its reachable subtree)."""
    reachable: dict[N, Assessment] = {}
    todo = [node]
    while todo:
        n = todo.pop()
        if n in reachable or n not in assessments:
            continue
        reachable[n] = assessments[n]
        todo.extend(children.get(n, ()))
    if node not in reachable:
        raise KeyError(node)
    return rollup_all(reachable, children, label)[node]


def _paths(assessments: Mapping[N, Assessment], children: Mapping[N, Iterable[N]]) -> dict[N, _Path]:
    """Each node's worst path, via an iterative Tarjan SCC pass (components come out sinks first)."""
    kids: dict[N, list[N]] = {
        n: [c for c in dict.fromkeys(children.get(n, ())) if c in assessments] for n in assessments
    }
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    paths: dict[N, _Path] = {}
    counter = 0
    for root in assessments:
        if root in index:
            continue
        # Explicit DFS stack of (node, iterator position) replaces recursion.
        work: list[tuple[N, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            recurse = False
            vk = kids[v]
            while i < len(vk):
                w = vk[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if work:  # propagate lowlink to the parent frame
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                _solve_component(component, assessments, kids, paths)
    return paths


def _solve_component(
    component: list[N],
    assessments: Mapping[N, Assessment],
    kids: Mapping[N, list[N]],
    paths: dict[N, _Path],
) -> None:
    """Roll up one strongly connected component whose outside children are all done."""
    members = set(component)
    local: dict[N, _Path] = {}
    for n in component:
        best: _Path | None = _own(n, assessments[n])
        for c in kids[n]:
            if c not in members:
                candidate = _extend(n, paths[c])
                if _better(candidate, best):
                    best = candidate
        local[n] = best
    if len(component) == 1:
        paths[component[0]] = local[component[0]]
        return
    # A cycle: find the member with the worst local path, then route every member to it over in-component edges
    # (breadth-first on reversed edges, so each member's next hop is already solved when it is reached).
    target = component[0]
    for n in component[1:]:
        if local[n].verdict.health.severity > local[target].verdict.health.severity:
            target = n
    worst_severity = local[target].verdict.health.severity
    parents: dict[N, list[N]] = {n: [] for n in component}
    for n in component:
        for c in kids[n]:
            if c in members:
                parents[c].append(n)
    paths[target] = local[target]
    queue = deque([target])
    while queue:
        c = queue.popleft()
        for p in parents[c]:
            if p in paths:
                continue
            if local[p].verdict.health.severity >= worst_severity:
                paths[p] = local[p]
            else:
                paths[p] = _extend(p, paths[c])
            queue.append(p)
