"""Multi-document YAML files edited with ruamel.yaml round-trip, keeping every untouched byte.

A file is split into documents at ``---`` lines; untouched documents are kept verbatim. An edited document is
round-tripped by ruamel.yaml (comments, key order and quotes kept), and then every changed hunk of the dump that
does not contain an intended change (ruamel normalises ``{ }`` to ``{}``, re-indents mixed sequence styles …) is put
back to the original text. The result is parsed again and must equal the intended data; otherwise the plain
ruamel dump is used, so the outcome is always correct and, in practice, minimal.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import NotEditable

_SEPARATOR = re.compile(r"^---[ \t]*(#.*)?$")
_DOC_END = re.compile(r"^\.\.\.[ \t]*$")


@dataclass
class Segment:
    """One piece of a file: a separator line (kept verbatim) or a document's text."""

    text: str
    is_separator: bool


def split_documents(text: str) -> list[Segment]:
    """Split a YAML stream into separator and document segments whose concatenation is the input."""
    segments: list[Segment] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if _SEPARATOR.match(bare) or _DOC_END.match(bare):
            segments.append(Segment("".join(current), False))
            segments.append(Segment(line, True))
            current = []
        elif bare.startswith("--- ") or bare.startswith("---\t"):
            # content on the separator line ("--- !tag", "--- {a: 1}") cannot be split safely
            raise NotEditable("a document starts on its '---' line; edit this file by hand")
        else:
            current.append(line)
    segments.append(Segment("".join(current), False))
    return segments


def guess_indent(text: str) -> tuple[int, int]:
    """The (mapping indent, sequence dash offset) most used in ``text``; (2, 2) when there is no evidence.

    ruamel's own guess looks at the first nested block only and is fooled by files mixing styles."""
    maps: dict[int, int] = {}
    offsets: dict[int, int] = {}
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for cur, nxt in zip(lines, lines[1:], strict=False):
        stripped = cur.strip()
        if not stripped.endswith(":") or stripped.startswith("- ") and stripped.count(":") > 1:
            continue
        col = len(cur) - len(cur.lstrip()) + (2 if stripped.startswith("- ") else 0)
        ncol = len(nxt) - len(nxt.lstrip())
        if nxt.lstrip().startswith("- "):
            if ncol - col in (0, 2, 4):
                offsets[ncol - col] = offsets.get(ncol - col, 0) + 1
        elif ncol > col:
            maps[ncol - col] = maps.get(ncol - col, 0) + 1
    indent = max(maps, key=lambda k: maps[k]) if maps else 2
    offset = max(offsets, key=lambda k: offsets[k]) if offsets else 2
    return indent, offset


def _yaml(indent: int = 2, block_seq_indent: int | None = None) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    seq_offset = block_seq_indent if block_seq_indent is not None else 0
    yaml.indent(mapping=indent, sequence=indent + seq_offset, offset=seq_offset)
    return yaml


def _safe_load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def has_content(text: str) -> bool:
    """True when a document segment holds a value (not only comments and blank lines)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def documents(text: str) -> list[Any]:
    """The plain (safe-loaded) values of the non-empty documents of a file, in order."""
    return [_safe_load(seg.text) for seg in split_documents(text) if not seg.is_separator and has_content(seg.text)]


def _document_segment(segments: list[Segment], index: int) -> int:
    count = -1
    for pos, seg in enumerate(segments):
        if not seg.is_separator and has_content(seg.text):
            count += 1
            if count == index:
                return pos
    raise NotEditable(f"the file has no document #{index}")


def _leaf_paths(before: Any, after: Any, path: tuple = ()) -> list[tuple]:
    """Paths (tuples of keys/indexes) where two plain trees differ; a whole subtree counts once."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple] = []
        for key in list(before) + [k for k in after if k not in before]:
            if key not in before or key not in after:
                out.append(path + (key,))
            else:
                out.extend(_leaf_paths(before[key], after[key], path + (key,)))
        return out
    if before != after or type(before) is not type(after):
        return [path]
    return []


def _node_lines(node: Any) -> tuple[int, int] | None:
    """First and last line (0-based) a ruamel collection occupies, from its line/column info."""
    first = last = None
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, CommentedMap):
            for key in cur:
                line = cur.lc.key(key)[0]
                value_line = cur.lc.value(key)[0]
                first = line if first is None else min(first, line)
                last = max(last or 0, line, value_line + _extra_lines(cur[key]))
                stack.append(cur[key])
        elif isinstance(cur, CommentedSeq):
            for i, item in enumerate(cur):
                line = cur.lc.item(i)[0]
                first = line if first is None else min(first, line)
                last = max(last or 0, line + _extra_lines(item))
                stack.append(item)
    return None if first is None else (first, last)


def _extra_lines(value: Any) -> int:
    return str(value).count("\n") if isinstance(value, str) else 0


def _path_lines(root: Any, path: tuple) -> tuple[int, int] | None:
    """Lines of the node at ``path`` (its key line through its last descendant), or of its deepest ancestor."""
    node = root
    span: tuple[int, int] | None = None
    for key in path:
        if isinstance(node, CommentedMap) and key in node:
            key_line = node.lc.key(key)[0]
            child = node[key]
            inner = _node_lines(child) if isinstance(child, (CommentedMap, CommentedSeq)) else None
            end = inner[1] if inner else node.lc.value(key)[0] + _extra_lines(child)
            span = (key_line, end)
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line = node.lc.item(key)[0]
            child = node[key]
            inner = _node_lines(child) if isinstance(child, (CommentedMap, CommentedSeq)) else None
            span = (line, inner[1] if inner else line + _extra_lines(child))
            node = child
        else:
            break
    if span is None:
        return _node_lines(root) if isinstance(root, (CommentedMap, CommentedSeq)) else None
    return span


def _minimise(original: str, dumped: str, before_rt: Any, after_rt: Any, paths: list[tuple]) -> str:
    """Keep the dump only in hunks that touch a changed path; restore the original text elsewhere."""
    old_lines = original.splitlines(keepends=True)
    new_lines = dumped.splitlines(keepends=True)
    old_spans = [s for s in (_path_lines(before_rt, p) for p in paths) if s]
    new_spans = [s for s in (_path_lines(after_rt, p) for p in paths) if s]

    def touches(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
        if lo == hi:  # pure insertion/deletion point: touching the line before or at it counts
            return any(a <= lo <= b + 1 for a, b in spans)
        return any(a < hi and lo <= b for a, b in spans)

    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(old_lines[i1:i2])
        elif touches(old_spans, i1, i2) or touches(new_spans, j1, j2):
            out.extend(new_lines[j1:j2])
        else:
            out.extend(old_lines[i1:i2])
    return "".join(out)


def edit_document(text: str, index: int, mutate: Callable[[Any], None]) -> str:
    """Apply ``mutate`` to document ``index`` of a YAML file's text (round-trip tree, changed in place).

    Returns the new file text; other documents, separators and untouched lines stay byte for byte."""
    segments = split_documents(text)
    pos = _document_segment(segments, index)
    original = segments[pos].text
    yaml = _yaml(*guess_indent(original))
    before_rt = yaml.load(original)
    tree = yaml.load(original)
    mutate(tree)
    buf = io.StringIO()
    yaml.dump(tree, buf)
    dumped = buf.getvalue()
    expected = _safe_load(dumped)
    after_rt = yaml.load(dumped)
    paths = _leaf_paths(_safe_load(original), expected)
    if not paths:
        return text
    result = _minimise(original, dumped, before_rt, after_rt, paths)
    try:
        ok = _safe_load(result) == expected
    except Exception:  # noqa: BLE001 — any parse failure means the merge of hunks went wrong
        ok = False
    if not ok:
        result = dumped
    if original.endswith("\n") is False and result.endswith("\n") and pos == len(segments) - 1:
        result = result[:-1]  # a file without a final newline keeps it that way
    segments[pos] = Segment(result, False)
    return "".join(seg.text for seg in segments)


def replace_document_text(text: str, index: int, new_text: str) -> str:
    """Replace document ``index`` with ``new_text`` verbatim (the user's own formatting and comments)."""
    segments = split_documents(text)
    pos = _document_segment(segments, index)
    if not new_text.endswith("\n"):
        new_text += "\n"
    segments[pos] = Segment(new_text, False)
    return "".join(seg.text for seg in segments)


def document_text(text: str, index: int) -> str:
    """The source text of document ``index`` (what the Edit playbook shows in its editor)."""
    segments = split_documents(text)
    return segments[_document_segment(segments, index)].text


def dump(data: Any, indent: int = 2, block_seq_indent: int = 2) -> str:
    """Render new YAML (for created files) in the fixtures' style: 2-space maps, sequences indented by 2."""
    buf = io.StringIO()
    _yaml(indent, block_seq_indent).dump(data, buf)
    return buf.getvalue()
