"""Label matchers as Alertmanager writes them (``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``).

Stored in Alertmanager API v2 form (``{"name", "value", "isRegex", "isEqual"}``) so they are pushed unchanged.
Regular expressions are anchored, as in Alertmanager.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LINE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def parse_matchers(text: str) -> list[dict]:
    """One matcher per line (or comma separated); values may be quoted. Raises ValidationError with the line."""
    matchers = []
    for raw in re.split(r"[\n,]", text or ""):
        if not raw.strip():
            continue
        found = _LINE.match(raw)
        if not found:
            raise ValidationError(f"Not a matcher: {raw.strip()!r} (write name=value, name!=value, name=~regex or "
                                  f"name!~regex).")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        matchers.append({"name": name, "value": value, "isRegex": "~" in op, "isEqual": not op.startswith("!")})
    return validate_matchers(matchers)


def validate_matchers(matchers: list[dict]) -> list[dict]:
    """Check names and compile regexes; returns normalised dicts."""
    clean = []
    for matcher in matchers:
        name, value = str(matcher.get("name", "")), str(matcher.get("value", ""))
        if not _LABEL_NAME.match(name):
            raise ValidationError(f"{name!r} is not a label name.")
        is_regex, is_equal = bool(matcher.get("isRegex")), bool(matcher.get("isEqual", True))
        if is_regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValidationError(f"{name}: {value!r} is not a regular expression ({exc}).") from None
        clean.append({"name": name, "value": value, "isRegex": is_regex, "isEqual": is_equal})
    return clean


def matches(matchers: list[dict], labels: dict) -> bool:
    """All matchers hold for ``labels`` (a missing label is the empty string, as in Alertmanager)."""
    for matcher in matchers:
        actual = str(labels.get(matcher["name"], ""))
        hit = re.fullmatch(matcher["value"], actual) is not None if matcher["isRegex"] else actual == matcher["value"]
        if hit != matcher["isEqual"]:
            return False
    return True


def format_matchers(matchers: list[dict]) -> str:
    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return ", ".join(f'{m["name"]}{ops[(m["isRegex"], m["isEqual"])]}"{m["value"]}"' for m in matchers)
