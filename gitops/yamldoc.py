"""Multi-document YAML files edited with ruamel.yaml round-trip, keeping every untouched byte.

A file is split into documents at ``---`` lines; untouched documents are kept verbatim. An edited document is
loaded by ruamel.yaml round-trip, changed as a tree, and the difference is written back into the original text
line by line (gitops.surgical): ruamel's own dump, which reformats flow maps, comments in lists and anchors, is
never shipped. The result is parsed again and must equal the intended data, or the edit is refused.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML

from . import surgical
from .errors import NotEditable
from .yamlload import plain_load

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


def has_content(text: str) -> bool:
    """True when a document segment holds a value (not only comments and blank lines)."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def documents(text: str) -> list[Any]:
    """The plain (safe-loaded) values of the non-empty documents of a file, in order."""
    return [plain_load(seg.text) for seg in split_documents(text) if not seg.is_separator and has_content(seg.text)]


def _document_segment(segments: list[Segment], index: int) -> int:
    count = -1
    for pos, seg in enumerate(segments):
        if not seg.is_separator and has_content(seg.text):
            count += 1
            if count == index:
                return pos
    raise NotEditable(f"the file has no document #{index}")


def edit_document(text: str, index: int, mutate: Callable[[Any], None], notes: list[str] | None = None) -> str:
    """Apply ``mutate`` to document ``index`` of a YAML file's text (round-trip tree, changed in place).

    Returns the new file text: only the lines of the intended change differ (gitops.surgical); other documents,
    separators and every untouched line stay byte for byte. An anchored value changes in place, its aliases with
    it: one line per alias that follows is appended to ``notes``. Raises NotEditable when the change cannot be
    written without reformatting other lines."""
    segments = split_documents(text)
    pos = _document_segment(segments, index)
    original = segments[pos].text
    renderer = surgical.Renderer(*guess_indent(original))
    yaml = _yaml(*guess_indent(original))
    before_rt = yaml.load(original)
    tree = yaml.load(original)
    mutate(tree)
    outcome = surgical.edit(original, before_rt, tree, renderer)
    if outcome.text == original:
        return text
    if notes is not None:
        notes.extend(outcome.aliases)
    segments[pos] = Segment(outcome.text, False)
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
