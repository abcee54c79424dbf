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

import io
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

from .errors import NotEditable
from .yamlload import plain_load

Path = tuple[Any, ...]


@dataclass
class Op:
    """One text operation on the original document, from a difference of the round-trip trees."""

    kind: str  # set | insert | delete | append | replace
    path: Path  # the key/item concerned (for insert: the new key; for append: the sequence)
    value: Any = None  # the new (round-trip) value
    index: int = 0  # for insert: position among the parent's keys; for append: first new item


@dataclass
class Outcome:
    """The new document text and, per changed anchor, the alias paths that change with it."""

    text: str
    aliases: list[str] = field(default_factory=list)


def _is_collection(node: Any) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq))


def _category(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "seq"
    return type(value).__name__


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, TaggedScalar) or isinstance(b, TaggedScalar):
        return (isinstance(a, TaggedScalar) and isinstance(b, TaggedScalar) and a.value == b.value
                and str(a.tag) == str(b.tag))
    return _category(a) == _category(b) and a == b and str(a) == str(b)


def _is_flow(node: Any) -> bool:
    return _is_collection(node) and bool(node.fa.flow_style())


def diff(before: Any, after: Any, path: Path = (), ops: list[Op] | None = None, *, in_flow: bool = False) -> list[Op]:
    """The operations turning the round-trip tree ``before`` into ``after`` (a mutated copy of the same text)."""
    ops = [] if ops is None else ops
    if before is after:
        return ops
    if isinstance(before, CommentedMap) and isinstance(after, CommentedMap):
        flow = in_flow or _is_flow(before)
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
        flow = in_flow or _is_flow(before)
        common = min(len(before), len(after))
        for i in range(common):
            diff(before[i], after[i], path + (i,), ops, in_flow=flow)
        if len(after) > len(before):
            ops.append(Op("append", path, after, len(before)))
        elif len(after) < len(before):
            ops.append(Op("replace", path, after))
        return _collapse_flow(ops, path, flow, after)
    if _is_collection(before) or _is_collection(after):
        ops.append(Op("replace", path, after))
    elif not _same_scalar(before, after):
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


# ------------------------------------------------------------------------------------------------ positions
def node_at(root: Any, path: Path) -> Any:
    node = root
    for key in path:
        node = node[key]
    return node


def _extra_lines(value: Any) -> int:
    return str(value).count("\n") if isinstance(value, str) else 0


def last_line(node: Any, start: int) -> int:
    """The last line (0-based) a node occupies, ``start`` being the line of its key or first item."""
    last = start
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, CommentedMap):
            for key in cur:
                if key not in cur._ok:  # noqa: SLF001 — merged keys live in another node
                    continue
                last = max(last, cur.lc.key(key)[0], cur.lc.value(key)[0] + _extra_lines(cur[key]))
                stack.append(cur[key])
        elif isinstance(cur, CommentedSeq):
            for i, item in enumerate(cur):
                last = max(last, cur.lc.item(i)[0] + _extra_lines(item))
                stack.append(item)
    return last


def _span(root: Any, path: Path) -> tuple[int, int, int, str]:
    """(first line, last line, column, prefix of the first line) of the entry at ``path`` in its parent."""
    parent = node_at(root, path[:-1])
    key = path[-1]
    if isinstance(parent, CommentedMap):
        if key not in parent._ok:  # noqa: SLF001
            raise _Fallback("a merged (<<) key")
        line, col = parent.lc.key(key)
    else:
        line, col = parent.lc.item(key)
    end = last_line(parent[key], line)
    if isinstance(parent, CommentedMap):
        end = max(end, parent.lc.value(key)[0] + _extra_lines(parent[key]))
    return line, _extend(root_lines(root), end, col), col, ""


def root_lines(root: Any) -> list[str]:
    return getattr(root, "_fp_lines", [])


def _extend(lines: list[str], end: int, col: int) -> int:
    """The marks stop at the last scalar's first line; a block scalar (``|-``), a multi-line plain scalar or a
    comment inside the node reach further: every following line indented deeper than ``col`` belongs to it."""
    j = end + 1
    while j < len(lines):
        text = lines[j]
        if text.strip():
            if len(text) - len(text.lstrip(" ")) <= col:
                break
            end = j
        j += 1
    return end


class _Fallback(Exception):
    """An operation this module cannot place surgically (the caller refuses the edit)."""


# ------------------------------------------------------------------------------------------------ rendering
class Renderer:
    """Dumps new nodes in the document's indentation style."""

    def __init__(self, indent: int, offset: int) -> None:
        self.yaml = YAML(typ="rt")
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096
        self.yaml.indent(mapping=indent, sequence=indent + offset, offset=offset)
        self.indent, self.offset = indent, offset

    def dump(self, data: Any) -> str:
        buf = io.StringIO()
        self.yaml.dump(data, buf)
        return buf.getvalue()

    def entry(self, key: Any, value: Any, col: int, first_prefix: str | None = None) -> list[str]:
        """``key: value`` lines at column ``col`` (the first line may carry another prefix, e.g. a dash)."""
        text = self.dump(CommentedMap([(key, value)]))
        return _indent(text, col, first_prefix)

    def items(self, values: list[Any], col: int) -> list[str]:
        seq = CommentedSeq(values)
        text = self.dump(seq)
        # a top-level sequence is dumped at its offset; re-base it on the dash column
        lines = text.splitlines(keepends=True)
        strip = min((len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()), default=0)
        return [(" " * col + ln[strip:]) if ln.strip() else ln for ln in lines]

    def scalar(self, value: Any, flow: bool) -> str:
        text = self.dump(CommentedMap([("k", [value] if flow else value)]))
        if flow:
            text = self.dump(CommentedMap([("k", _flow_seq([value]))]))
            inner = text.split(": ", 1)[1].strip()
            if not (inner.startswith("[") and inner.endswith("]")):
                raise _Fallback("a flow scalar")
            return inner[1:-1].strip()
        if text.count("\n") != 1 or not text.startswith("k: "):
            raise _Fallback("a multi-line scalar")
        return text[3:].rstrip("\n")


def _flow_seq(values: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _indent(text: str, col: int, first_prefix: str | None = None) -> list[str]:
    lines = text.splitlines(keepends=True)
    out = []
    for i, ln in enumerate(lines):
        if i == 0 and first_prefix is not None:
            out.append(first_prefix + ln)
        else:
            out.append((" " * col + ln) if ln.strip() else ln)
    return out


# ------------------------------------------------------------------------------------------------ scalar tokens
_PREFIX = re.compile(r"(?:[&!][^\s,\[\]{}]*\s+)*")


def _token_end(line: str, start: int, flow: bool) -> int:
    ch = line[start:start + 1]
    if ch == '"':
        i = start + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        raise _Fallback("a multi-line quoted scalar")
    if ch == "'":
        i = start + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise _Fallback("a multi-line quoted scalar")
    if ch in ("|", ">"):
        raise _Fallback("a block scalar")
    end = len(line.rstrip("\r\n"))
    comment = re.search(r"\s#", line[start:end])
    if comment:
        end = start + comment.start()
    if flow:
        stop = re.search(r"[,\]}]", line[start:end])
        if stop:
            end = start + stop.start()
    while end > start and line[end - 1] in " \t":
        end -= 1
    return end


def _plain_load(text: str) -> Any:
    return plain_load(text)  # one tolerant loader (value tag, unknown tags) for the whole engine


# ------------------------------------------------------------------------------------------------ applying
@dataclass
class _Edit:
    first: int  # first original line replaced (0-based)
    last: int  # last original line replaced (inclusive); first-1 for a pure insertion before ``first``
    lines: list[str]


def _set(lines: list[str], before: Any, op: Op, renderer: Renderer) -> _Edit:
    parent = node_at(before, op.path[:-1])
    key = op.path[-1]
    flow = _is_flow(parent)
    if isinstance(parent, CommentedMap):
        if key not in parent._ok:  # noqa: SLF001
            raise _Fallback("a merged (<<) key")
        key_line = parent.lc.key(key)[0]
        line_no, col = parent.lc.value(key)
    else:
        key_line, _ = parent.lc.item(key)
        line_no, col = key_line, parent.lc.item(key)[1]
    old = parent[key]
    line = lines[line_no]
    new_text = renderer.scalar(op.value, flow)
    if old is None and line_no != key_line:  # ``key:`` with an empty value: the value goes after the colon
        line = lines[key_line]
        body = line.rstrip("\r\n")
        comment = re.search(r"\s#", body)
        cut = comment.start() if comment else len(body)
        colon = body.rfind(":", 0, cut)
        if colon < 0:
            raise _Fallback("an empty value")
        new = body[: colon + 1] + " " + new_text + body[colon + 1:] + line[len(body):]
        return _Edit(key_line, key_line, [new])
    prefix = _PREFIX.match(line, col)
    start = prefix.end() if prefix else col
    if line[start:start + 1] == "*":
        raise _Fallback("an alias")
    end = _token_end(line, start, flow)
    token = line[start:end]
    if old is None and token == "":
        loaded = None
    else:
        try:
            loaded = _plain_load(f"k: {token}\n" if not flow else f"k: [{token}]\n")["k"]
        except Exception:  # noqa: BLE001 — a token we did not cut right: refuse rather than guess
            raise _Fallback("an unparsable value") from None
        loaded = loaded[0] if flow and isinstance(loaded, list) and loaded else loaded
    if not _same_scalar(_plainify(old), loaded):
        raise _Fallback("a value spread over several lines")
    if token == "" and old is None:
        new_text = " " + new_text if start > 0 and line[start - 1:start] != " " else new_text
    return _Edit(line_no, line_no, [line[:start] + new_text + line[end:]])


def _plainify(value: Any) -> Any:
    if isinstance(value, TaggedScalar):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
    return value


def _dash_column(lines: list[str], seq: CommentedSeq, index: int) -> tuple[int, int]:
    """(line of the dash, its column) of item ``index`` of a block sequence."""
    line_no, col = seq.lc.item(index)
    for ln in range(line_no, -1, -1):
        text = lines[ln]
        pos = text.rfind("-", 0, col if ln == line_no else len(text))
        if pos >= 0 and text[:pos].strip() == "" and text[pos + 1:pos + 2] in (" ", "\n", "\r", ""):
            return ln, pos
        if ln != line_no and text.strip() and not text.lstrip().startswith("#"):
            break
    raise _Fallback("a sequence item without a dash")


def _replace(lines: list[str], before: Any, op: Op, renderer: Renderer) -> _Edit:
    if not op.path:
        raise _Fallback("the whole document")
    parent = node_at(before, op.path[:-1])
    key = op.path[-1]
    if _is_flow(parent):
        raise _Fallback("inside a flow collection")
    first, last, col, _ = _span(before, op.path)
    if _is_flow(parent[key]) and _is_collection(op.value):
        op.value.fa.set_flow_style()  # a flow collection stays one (``[a, b]`` → ``[a, b, c]``)
    if isinstance(parent, CommentedMap):
        line = lines[first]
        prefix = line[:col]
        return _Edit(first, last, renderer.entry(key, op.value, col, prefix if prefix.strip() else None))
    dash_line, dash_col = _dash_column(lines, parent, key)
    new = renderer.items([op.value], dash_col)
    prefix = lines[dash_line][:dash_col]
    if prefix.strip():  # a nested dash ("- - x"): keep what precedes it
        new[0] = prefix + new[0][dash_col:]
    return _Edit(dash_line, last, new)


def _insert(lines: list[str], before: Any, after: Any, op: Op, renderer: Renderer) -> _Edit:
    parent_path, key = op.path[:-1], op.path[-1]
    parent = node_at(before, parent_path)
    if not isinstance(parent, CommentedMap) or _is_flow(parent):
        raise _Fallback("a flow mapping")
    own = [k for k in parent if k in parent._ok]  # noqa: SLF001
    if not own:
        raise _Fallback("an empty mapping")
    col = parent.lc.key(own[0])[1]
    new_lines = renderer.entry(key, op.value, col)
    keys_after = list(node_at(after, parent_path).keys())
    preceding = [k for k in keys_after[: keys_after.index(key)] if k in own]
    if not preceding:
        first_line = parent.lc.key(own[0])[0]
        if lines[first_line][:col].strip() == "":  # the first key on its own line: insert before it
            return _Edit(first_line, first_line - 1, new_lines)
        preceding = [own[-1]]  # the first key shares a dash line: order does not matter, append
    _, end, _, _ = _span(before, parent_path + (preceding[-1],))
    return _Edit(end + 1, end, new_lines)


def _append(lines: list[str], before: Any, op: Op, renderer: Renderer) -> _Edit:
    seq = node_at(before, op.path)
    if not isinstance(seq, CommentedSeq) or not len(seq) or _is_flow(seq):
        raise _Fallback("an empty or flow sequence")
    _, dash_col = _dash_column(lines, seq, 0)
    _, end, _, _ = _span(before, op.path + (len(seq) - 1,))
    new_items = list(op.value)[op.index:]
    return _Edit(end + 1, end, renderer.items(new_items, dash_col))


def _delete(lines: list[str], before: Any, op: Op) -> _Edit:
    parent = node_at(before, op.path[:-1])
    first, last, col, _ = _span(before, op.path)
    if lines[first][:col].strip():  # the key shares a line with a dash
        raise _Fallback("the first key of a list item")
    own = [k for k in parent if k in parent._ok]  # noqa: SLF001
    if len(own) == 1:
        raise _Fallback("the only key of a mapping")
    return _Edit(first, last, [])


def apply(original: str, before: Any, after: Any, ops: list[Op], renderer: Renderer) -> str:
    """Apply ``ops`` to the original text; raise _Fallback when one cannot be placed."""
    lines = original.splitlines(keepends=True)
    before._fp_lines = lines  # the text the marks point into, for _span's extension
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
        trailing = False
    else:
        trailing = True
    edits: list[_Edit] = []
    for op in ops:
        if op.kind == "set":
            try:
                edits.append(_set(lines, before, op, renderer))
            except _Fallback:  # a block or multi-line scalar: its lines are re-written
                edits.append(_replace(lines, before, op, renderer))
        elif op.kind == "replace":
            edits.append(_replace(lines, before, op, renderer))
        elif op.kind == "insert":
            edits.append(_insert(lines, before, after, op, renderer))
        elif op.kind == "append":
            edits.append(_append(lines, before, op, renderer))
        elif op.kind == "delete":
            edits.append(_delete(lines, before, op))
    edits.sort(key=lambda e: (e.first, e.last))
    for a, b in zip(edits, edits[1:], strict=False):
        if b.first <= a.last or (b.first == a.first and a.last < a.first and b.last < b.first):
            if not (a.last < a.first and b.last < b.first and a.first == b.first):
                raise _Fallback("overlapping changes")
    for e in reversed(edits):  # bottom-up, so earlier line numbers stay valid; same-place inserts keep their order
        lines[e.first:e.last + 1] = e.lines
    text = "".join(lines)
    if not trailing and text.endswith("\n"):
        text = text[:-1]
    return text


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
    return _plainify(node)


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
                raise _Fallback("an alias that cannot follow its anchor") from None
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
    except _Fallback as exc:
        raise NotEditable(f"this change cannot be written without reformatting other lines ({exc}); "
                          "edit the file by hand") from None
    try:
        got = _plain_load(text)
    except Exception:  # noqa: BLE001 — a misplaced operation: refuse, never ship it
        got = object()
    if got != want:
        raise NotEditable("this change cannot be written without reformatting other lines; edit the file by hand")
    return Outcome(text, notes)
