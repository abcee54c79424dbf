"""Label matchers as Alertmanager writes them (``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``).

Stored in Alertmanager API v2 form (``{"name", "value", "isRegex", "isEqual"}``) so they are pushed unchanged.

Regular expressions run on RE2 (google-re2), the engine behind Go's ``regexp`` that Alertmanager uses, anchored
exactly as Alertmanager anchors them (``^(?:value)$``). So a silence covers here the alerts it covers in
Alertmanager (``\\d`` is ASCII only, ``[[:alpha:]]`` is a class, backreferences and lookarounds are refused), and
matching is linear in the input: no pattern can tie up a web worker or a job (``((.*)*)*X`` is harmless). Patterns
are compiled once per process (an LRU cache) with a memory limit; a pattern RE2 refuses is a form error.
"""

from __future__ import annotations

import functools
import re

import re2
from django.core.exceptions import ValidationError

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LINE = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")

MAX_PATTERN_LENGTH = 1024  # characters; Alertmanager values are label values, never this long
MAX_PROGRAM_BYTES = 1 << 20  # RE2's memory budget per compiled pattern: refuses patterns like (a{1000}){1000}


class MatcherError(ValueError):
    """A regular expression RE2 (hence Alertmanager) refuses."""


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_BYTES
    options.log_errors = False  # a refused pattern is the user's input, reported in the form, not logged to stderr
    return options


@functools.lru_cache(maxsize=1024)
def compile_pattern(value: str):
    """The compiled, fully anchored RE2 program for a matcher value (cached: silences rematch many alerts)."""
    if len(value) > MAX_PATTERN_LENGTH:
        raise MatcherError(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(f"^(?:{value})$", options=_options())
    except re2.error as exc:
        message = exc.args[0] if exc.args else str(exc)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise MatcherError(str(message)) from None


def _split(text: str) -> list[str]:
    """Split on newlines, and on commas outside double quotes (a quoted regex may hold ``{1,3}``)."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "\n" or (char == "," and not quoted):
            parts.append("".join(current))
            current, quoted = [], False
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_matchers(text: str) -> list[dict]:
    """One matcher per line (or comma separated); values may be quoted. Raises ValidationError with the line."""
    matchers = []
    for raw in _split(text or ""):
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
    """Check names and compile regexes with RE2; returns normalised dicts."""
    clean = []
    for matcher in matchers:
        name, value = str(matcher.get("name", "")), str(matcher.get("value", ""))
        if not _LABEL_NAME.match(name):
            raise ValidationError(f"{name!r} is not a label name.")
        is_regex, is_equal = bool(matcher.get("isRegex")), bool(matcher.get("isEqual", True))
        if is_regex:
            try:
                compile_pattern(value)
            except MatcherError as exc:
                raise ValidationError(f"{name}: {value!r} is not a regular expression Alertmanager accepts (RE2 "
                                      f"syntax: {exc}).") from None
        clean.append({"name": name, "value": value, "isRegex": is_regex, "isEqual": is_equal})
    return clean


def matches(matchers: list[dict], labels: dict) -> bool:
    """All matchers hold for ``labels`` (a missing label is the empty string, as in Alertmanager).

    A stored pattern RE2 refuses (written before validation used RE2) matches nothing, so an equality-only reading
    never silences more than Alertmanager would.
    """
    for matcher in matchers:
        actual = str(labels.get(matcher["name"], ""))
        if matcher["isRegex"]:
            try:
                hit = compile_pattern(matcher["value"]).match(actual) is not None
            except MatcherError:
                return False
        else:
            hit = actual == matcher["value"]
        if hit != matcher["isEqual"]:
            return False
    return True


def format_matchers(matchers: list[dict]) -> str:
    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return ", ".join(f'{m["name"]}{ops[(m["isRegex"], m["isEqual"])]}"{m["value"]}"' for m in matchers)
