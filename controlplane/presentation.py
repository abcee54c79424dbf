"""Words for times and durations as people say them ("just now", "5 min ago", "in 3 h", "7 days"), and unified
diffs as coloured rows (run pages, Helm release history)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

_UNITS = ((86400 * 7, "week", "weeks"), (86400, "day", "days"), (3600, "h", "h"), (60, "min", "min"))


def naturaldelta(delta: timedelta | None) -> str:
    """A duration in at most two units: ``7 days``, ``4 h 30 min``, ``45 s``; ``—`` for none."""
    if delta is None:
        return "—"
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    parts = []
    for size, one, many in _UNITS:
        if seconds >= size and len(parts) < 2:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count} {one if count == 1 else many}")
        elif parts:
            break  # "1 week 2 days", never "1 week 0 days 3 h"
    return " ".join(parts)


def naturaltime(when: datetime | None, now: datetime | None = None) -> str:
    """``just now`` within 45 s, else ``5 min ago`` / ``in 3 h`` (one unit, enough at a glance)."""
    if when is None:
        return "—"
    delta = (now or timezone.now()) - when
    seconds = delta.total_seconds()
    if abs(seconds) < 45:
        return "just now"
    words = naturaldelta(timedelta(seconds=abs(seconds))).split(" ")
    words = " ".join(words[:2])
    return f"{words} ago" if seconds > 0 else f"in {words}"


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, text) per line of a unified diff: file headers, hunks, additions, removals, context."""
    rows = []
    for line in diff.splitlines():
        if line.startswith(("diff --git", "+++", "---", "index ", "new file", "deleted file", "# ")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        rows.append((kind, line))
    return rows
