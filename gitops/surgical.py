"""Surgical edits of one YAML document: only the intended lines of the original text change.

ruamel.yaml's round-trip dump reformats what it does not model exactly (``{ a: 1 }`` → ``{a: 1}``, a comment after
a list dash moves above it, ``key: null`` becomes ``key:``, an anchored value that is replaced loses its anchor and
its first alias takes it over). So the dump is never shipped: the mutated round-trip tree is compared with the
original one, and each difference becomes a text operation on the original lines, placed with ruamel's line and
column marks and written in the indentation of its neighbours:

- ``set``     a scalar replaced in place (its anchor, tag, quotes style and trailing comment kept);
- ``insert``  a new key written after its preceding sibling (or before the first), a whole new subtree at once;
- ``delete``  the lines of a removed key;
- ``append``  new items after the last item of a block sequence;
- ``replace`` the lines of one node re-written (a list replaced, a scalar becoming a mapping, a flow collection).

The result is parsed again and must equal the intended data — where the original uses an anchor, the aliases of a
changed anchored node change with it (that is what an in-place edit of an anchor means; :class:`Outcome` names
them). Anything else raises ``NotEditable``: a change is either minimal and correct, or refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import NotEditable
from .textops import Fallback, Op, Path, Renderer, apply, is_collection, is_flow, node_at, plainify, same_scalar
from .yamlload import plain_load

__all__ = ["Op", "Outcome", "Renderer", "diff", "edit"]


@dataclass
class Outcome:
    """The new document text and, per changed anchor, the alias paths that change with it."""

    text: str
    aliases: list[str] = field(default_factory=list)


def diff(before: Any, after: Any, path: Path = (), ops: list[Op] | None = None, *, in_flow: bool = False) -> list[Op]:
    """The operations turning the round-trip tree ``before`` into ``after`` (a mutated copy of the same text)."""
    ops = [] if ops is None else ops
    if before is after:
        return ops
    if isinstance(before, CommentedMap) and isinstance(after, CommentedMap):
        flow = in_flow or is_flow(before)
        keys_after = list(after.keys())
        for key in list(before.keys()):
            if key not in after:
                ops.append(Op("delete", path + (key,)))
        for pos, key in enumerate(keys_after):
            if key not in before:
                ops.append(Op("insert", path + (key,), after[key], pos))
            else:
                diff(before[key], after[key], path + (key,), ops, in_flow=flow)
        return _collapse_flow(ops, path, flow, after)
    if isinstance(before, CommentedSeq) and isinstance(after, CommentedSeq):
        flow = in_flow or is_flow(before)
        common = min(len(before), len(after))
        for i in range(common):
            diff(before[i], after[i], path + (i,), ops, in_flow=flow)
        if len(after) > len(before):
            ops.append(Op("append", path, after, len(before)))
        elif len(after) < len(before):
            ops.append(Op("replace", path, after))
        return _collapse_flow(ops, path, flow, after)
    if is_collection(before) or is_collection(after):
        ops.append(Op("replace", path, after))
    elif not same_scalar(before, after):
        ops.append(Op("set", path, after))
    return ops


def _collapse_flow(ops: list[Op], path: Path, flow: bool, after: Any) -> list[Op]:
    """Inside a flow collection only in-place scalar changes are surgical; anything else re-writes the whole flow
    node (one line in practice)."""
    if not flow:
        return ops
    inner = [op for op in ops if op.path[: len(path)] == path]
    if any(op.kind != "set" for op in inner):
        ops[:] = [op for op in ops if op not in inner] + [Op("replace", path, after)]
    return ops


# ------------------------------------------------------------------------------------------------ anchors
def anchored_paths(root: Any) -> dict[int, list[Path]]:
    """Every path of every anchored node (the first is the anchor, the others its aliases), by node identity."""
    found: dict[int, list[Path]] = {}
    expanded: set[int] = set()

    def visit(node: Any, path: Path) -> None:
        anchor = getattr(node, "anchor", None)
        if anchor is not None and getattr(anchor, "value", None):
            found.setdefault(id(node), []).append(path)
            if id(node) in expanded:
                return  # an alias: do not walk the same subtree again
            expanded.add(id(node))
        if isinstance(node, CommentedMap):
            for key in node:
                if key in node._ok:  # noqa: SLF001
                    visit(node[key], path + (key,))
        elif isinstance(node, CommentedSeq):
            for i, item in enumerate(node):
                visit(item, path + (i,))

    visit(root, ())
    return {k: v for k, v in found.items() if len(v) > 1}


def dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def to_plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {to_plain(k) if not isinstance(k, (CommentedSeq, CommentedMap)) else str(k): to_plain(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return plainify(node)


def _set_plain(root: Any, path: Path, value: Any, delete: bool = False) -> None:
    node = root
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def redirect(before: Any, ops: list[Op]) -> list[Op]:
    """Ops on an alias (or inside an aliased collection) moved to the anchor, where the value is written; an
    anchored value changes in place and every alias follows it. Duplicates (the same change seen through the anchor
    and its aliases) are dropped."""
    by_path = {path: paths for paths in anchored_paths(before).values() for path in paths}
    out: list[Op] = []
    seen: set[tuple[str, Path]] = set()
    for op in ops:
        for cut in range(len(op.path), -1, -1):
            prefix = op.path[:cut]
            if prefix in by_path and by_path[prefix][0] != prefix:
                op = Op(op.kind, by_path[prefix][0] + op.path[cut:], op.value, op.index)
                break
        if (op.kind, op.path) not in seen:
            seen.add((op.kind, op.path))
            out.append(op)
    return out


def expected(before: Any, after: Any, ops: list[Op]) -> tuple[Any, list[str]]:
    """The data the edited text must load as (the mutated tree, with aliases following their changed anchors)
    and a note per alias that changes."""
    data = to_plain(after)
    notes: list[str] = []
    by_path = {path: paths for paths in anchored_paths(before).values() for path in paths}
    for op in ops:
        new = None if op.kind == "delete" else to_plain(op.value)
        targets = [op.path]
        for cut in range(len(op.path), -1, -1):
            prefix = op.path[:cut]
            if prefix in by_path:
                name = getattr(node_at(before, prefix).anchor, "value", "")
                for alias in by_path[prefix][1:]:
                    targets.append(alias + op.path[cut:])
                    notes.append(f"{dotted(alias + op.path[cut:])} changes with it (alias *{name} of "
                                 f"{dotted(prefix)})")
                break
        for target in targets:
            try:
                if op.kind == "append":
                    _set_plain(data, target, new)
                else:
                    _set_plain(data, target, new, delete=op.kind == "delete")
            except (KeyError, IndexError, TypeError):
                raise Fallback("an alias that cannot follow its anchor") from None
    return data, notes


def edit(original: str, before: Any, after: Any, renderer: Renderer) -> Outcome:
    """The surgically edited text of one document (see the module docstring); NotEditable when it cannot be done."""
    ops = diff(before, after)
    if not ops:
        return Outcome(original)
    try:
        ops = redirect(before, ops)
        want, notes = expected(before, after, ops)
        text = apply(original, before, after, ops, renderer)
    except Fallback as exc:
        raise NotEditable(f"this change cannot be written without reformatting other lines ({exc}); "
                          "edit the file by hand") from None
    try:
        got = plain_load(text)
    except Exception:  # noqa: BLE001 — a misplaced operation: refuse, never ship it
        got = object()
    if got != want:
        raise NotEditable("this change cannot be written without reformatting other lines; edit the file by hand")
    return Outcome(text, notes)
