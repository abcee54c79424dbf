"""Semantic versions and Helm (Masterminds/semver) constraints: parse, match, pick the latest match.

Plain Python, shared by the product (which versions a HelmRepository offers for a constraint) and the simulator
(which chart version a HelmRelease resolves to).
"""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def parse_semver(v: str) -> tuple[int, int, int, tuple] | None:
    """(major, minor, patch, prerelease-key) or None; a release sorts after all its prereleases."""
    m = _SEMVER.match(str(v).strip())
    if not m:
        return None
    pre = m.group(4)
    key: tuple = (1,) if pre is None else (0, *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), key


def _match_one(ver: tuple, raw: str, constraint: str) -> bool:
    c = constraint.strip()
    if c in ("", "*", "x", "X"):
        return ver[3] == (1,)
    op_m = re.match(r"^(>=|<=|!=|>|<|=|~|\^)?\s*(.+)$", c)
    if op_m is None:  # cannot happen for a non-empty string; keeps the type checker honest without assert
        return False
    op, rest = op_m.group(1) or "", op_m.group(2)
    parts = rest.lstrip("v").split("-")[0].split(".")
    wild = [p in ("x", "X", "*") for p in parts]
    if any(wild) and not op:
        # `1.x`, `1.2.x`: match every release with the same leading numbers.
        fixed = [int(p) for p, w in zip(parts, wild, strict=False) if not w]
        return ver[3] == (1,) and list(ver[: len(fixed)]) == fixed[: len(fixed)] and len(fixed) == wild.index(True)
    want = parse_semver(rest)
    if want is None:
        return False
    # Masterminds/semver: a prerelease only satisfies constraints that themselves name a prerelease.
    if ver[3] != (1,) and want[3] == (1,):
        return False
    cmp = (ver > want) - (ver < want)
    if op == "^":
        return cmp >= 0 and ver[0] == want[0]
    if op == "~":
        return cmp >= 0 and ver[:2] == want[:2]
    return {"": cmp == 0, "=": cmp == 0, "!=": cmp != 0, ">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0,
            "<=": cmp <= 0}[op]


def semver_match(version: str, constraint: str) -> bool:
    """Masterminds-style constraint check: `1.x`, `*`, `>=1.0.0-alpha`, `>=1.0.0 <2.0.0`, `~1.2`, `a || b`."""
    ver = parse_semver(version)
    if ver is None:
        return False
    for alt in str(constraint).split("||"):
        parts = [p for p in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", alt.strip()) if p]
        if all(_match_one(ver, version, p) for p in parts or ["*"]):
            return True
    return False


def latest_matching(versions: list[str], constraint: str | None) -> str | None:
    """The highest version satisfying `constraint` (None/empty means the latest release)."""
    ok = [v for v in versions if parse_semver(v) and semver_match(v, constraint or "*")]
    return max(ok, key=lambda v: parse_semver(v)) if ok else None  # type: ignore[arg-type,return-value]
