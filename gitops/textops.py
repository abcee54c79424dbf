"""Text operations of a surgical YAML edit (gitops.surgical): each difference of the round-trip trees written into
the original lines at ruamel's line/column marks, in the indentation and style of the neighbours."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

from .yamlload import plain_load

Path = tuple[Any, ...]


@dataclass
class Op:
    """One text operation on the original document, from a difference of the round-trip trees."""

    kind: str  # set | insert | delete | append | replace
    path: Path  # the key/item concerned (for insert: the new key; for append: the sequence)
    value: Any = None  # the new (round-trip) value
    index: int = 0  # for insert: position among the parent's keys; for append: first new item


def is_collection(node: Any) -> bool:
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


def same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, TaggedScalar) or isinstance(b, TaggedScalar):
        return (isinstance(a, TaggedScalar) and isinstance(b, TaggedScalar) and a.value == b.value
                and str(a.tag) == str(b.tag))
    return _category(a) == _category(b) and a == b and str(a) == str(b)


def is_flow(node: Any) -> bool:
    return is_collection(node) and bool(node.fa.flow_style())


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
            raise Fallback("a merged (<<) key")
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


class Fallback(Exception):
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
                raise Fallback("a flow scalar")
            return inner[1:-1].strip()
        if text.count("\n") != 1 or not text.startswith("k: "):
            raise Fallback("a multi-line scalar")
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
        raise Fallback("a multi-line quoted scalar")
    if ch == "'":
        i = start + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise Fallback("a multi-line quoted scalar")
    if ch in ("|", ">"):
        raise Fallback("a block scalar")
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
    flow = is_flow(parent)
    if isinstance(parent, CommentedMap):
        if key not in parent._ok:  # noqa: SLF001
            raise Fallback("a merged (<<) key")
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
            raise Fallback("an empty value")
        new = body[: colon + 1] + " " + new_text + body[colon + 1:] + line[len(body):]
        return _Edit(key_line, key_line, [new])
    prefix = _PREFIX.match(line, col)
    start = prefix.end() if prefix else col
    if line[start:start + 1] == "*":
        raise Fallback("an alias")
    end = _token_end(line, start, flow)
    token = line[start:end]
    if old is None and token == "":
        loaded = None
    else:
        try:
            loaded = _plain_load(f"k: {token}\n" if not flow else f"k: [{token}]\n")["k"]
        except Exception:  # noqa: BLE001 — a token we did not cut right: refuse rather than guess
            raise Fallback("an unparsable value") from None
        loaded = loaded[0] if flow and isinstance(loaded, list) and loaded else loaded
    if not same_scalar(plainify(old), loaded):
        raise Fallback("a value spread over several lines")
    if token == "" and old is None:
        new_text = " " + new_text if start > 0 and line[start - 1:start] != " " else new_text
    return _Edit(line_no, line_no, [line[:start] + new_text + line[end:]])


def plainify(value: Any) -> Any:
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
    raise Fallback("a sequence item without a dash")


def _replace(lines: list[str], before: Any, op: Op, renderer: Renderer) -> _Edit:
    if not op.path:
        raise Fallback("the whole document")
    parent = node_at(before, op.path[:-1])
    key = op.path[-1]
    if is_flow(parent):
        raise Fallback("inside a flow collection")
    first, last, col, _ = _span(before, op.path)
    if is_flow(parent[key]) and is_collection(op.value):
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
    if not isinstance(parent, CommentedMap) or is_flow(parent):
        raise Fallback("a flow mapping")
    own = [k for k in parent if k in parent._ok]  # noqa: SLF001
    if not own:
        raise Fallback("an empty mapping")
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
    if not isinstance(seq, CommentedSeq) or not len(seq) or is_flow(seq):
        raise Fallback("an empty or flow sequence")
    _, dash_col = _dash_column(lines, seq, 0)
    _, end, _, _ = _span(before, op.path + (len(seq) - 1,))
    new_items = list(op.value)[op.index:]
    return _Edit(end + 1, end, renderer.items(new_items, dash_col))


def _delete(lines: list[str], before: Any, op: Op) -> _Edit:
    parent = node_at(before, op.path[:-1])
    first, last, col, _ = _span(before, op.path)
    if lines[first][:col].strip():  # the key shares a line with a dash
        raise Fallback("the first key of a list item")
    own = [k for k in parent if k in parent._ok]  # noqa: SLF001
    if len(own) == 1:
        raise Fallback("the only key of a mapping")
    return _Edit(first, last, [])


def apply(original: str, before: Any, after: Any, ops: list[Op], renderer: Renderer) -> str:
    """Apply ``ops`` to the original text; raise Fallback when one cannot be placed."""
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
            except Fallback:  # a block or multi-line scalar: its lines are re-written
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
                raise Fallback("overlapping changes")
    for e in reversed(edits):  # bottom-up, so earlier line numbers stay valid; same-place inserts keep their order
        lines[e.first:e.last + 1] = e.lines
    text = "".join(lines)
    if not trailing and text.endswith("\n"):
        text = text[:-1]
    return text
