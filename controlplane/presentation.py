"""Words for times and durations as people say them ("just now", "5 min ago", "in 3 h", "7 days")."""

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
