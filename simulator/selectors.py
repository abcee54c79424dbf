"""Label and field selectors, parsed the way the Kubernetes API server parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


class SelectorError(ValueError):
    """A selector string the API server would reject (HTTP 400)."""


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector: key, operator and values."""

    key: str
    op: str  # =, !=, in, notin, exists, !exists, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        val = labels.get(self.key)
        if self.op == "=":
            return has and val == self.values[0]
        if self.op == "!=":
            return not has or val != self.values[0]
        if self.op == "in":
            return has and val in self.values
        if self.op == "notin":
            return not has or val not in self.values
        if self.op == "exists":
            return has
        if self.op == "!exists":
            return not has
        if self.op in ("gt", "lt"):
            try:
                n, ref = int(val or ""), int(self.values[0])
            except ValueError:
                return False
            return n > ref if self.op == "gt" else n < ref
        raise SelectorError(f"unknown operator {self.op}")


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s=!(),]+)")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SelectorError(f"unable to parse requirement: {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k` into requirements (AND-ed)."""
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def need_key(tok: str) -> str:
        if not re.fullmatch(_KEY, tok):
            raise SelectorError(f"invalid label key {tok!r}")
        return tok

    while i < len(toks):
        tok = toks[i]
        if tok == "!":
            reqs.append(Requirement(need_key(toks[i + 1] if i + 1 < len(toks) else ""), "!exists"))
            i += 2
        else:
            key = need_key(tok)
            nxt = toks[i + 1] if i + 1 < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
                i += 1
            elif nxt in ("=", "==", "!="):
                val = toks[i + 2] if i + 2 < len(toks) and toks[i + 2] != "," else ""
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (val,)))
                i += 3 if val else 2
            elif nxt in ("in", "notin"):
                if i + 2 >= len(toks) or toks[i + 2] != "(":
                    raise SelectorError(f"expected '(' after {nxt} in {text!r}")
                j, vals = i + 3, []
                while j < len(toks) and toks[j] != ")":
                    if toks[j] != ",":
                        vals.append(toks[j])
                    j += 1
                if j >= len(toks):
                    raise SelectorError(f"missing ')' in {text!r}")
                reqs.append(Requirement(key, nxt, tuple(vals)))
                i = j + 1
            elif nxt in ("gt", "lt"):
                reqs.append(Requirement(key, nxt, (toks[i + 2],)))
                i += 3
            else:
                raise SelectorError(f"unable to parse requirement near {nxt!r} in {text!r}")
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError(f"expected ',' in {text!r}")
            i += 1
    return reqs


def selector_from_label_selector(sel: dict | None) -> list[Requirement] | None:
    """Convert a metav1.LabelSelector (matchLabels/matchExpressions) into requirements; None matches nothing."""
    if sel is None:
        return None
    reqs = [Requirement(k, "=", (v,)) for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for e in sel.get("matchExpressions") or []:
        reqs.append(Requirement(e["key"], ops[e["operator"]], tuple(e.get("values") or ())))
    return reqs


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


# Fields every kind supports, plus the per-kind ones kubectl and controllers commonly use.
_FIELDS: dict[str, Callable[[dict], str]] = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "type": lambda o: o.get("type", ""),
    "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
    "involvedObject.namespace": lambda o: (o.get("involvedObject") or {}).get("namespace", ""),
    "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
    "involvedObject.uid": lambda o: (o.get("involvedObject") or {}).get("uid", ""),
    "regarding.name": lambda o: (o.get("regarding") or {}).get("name", ""),
    "regarding.kind": lambda o: (o.get("regarding") or {}).get("kind", ""),
}


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """Parse `metadata.name=x,metadata.namespace!=y` into (field, op, value) triples."""
    if not text or not text.strip():
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)", part)
        if not m:
            raise SelectorError(f"invalid field selector: {part!r}")
        field_name, op, value = m.group(1), m.group(2), m.group(3)
        if field_name not in _FIELDS:
            raise SelectorError(f'field label not supported: {field_name}')
        out.append((field_name, "!=" if op == "!=" else "=", value))
    return out


def fields_match(sel: list[tuple[str, str, str]], obj: dict) -> bool:
    for name, op, value in sel:
        actual = _FIELDS[name](obj)
        if (actual == value) != (op == "="):
            return False
    return True


def field_equals(sel: list[tuple[str, str, str]], name: str) -> str | None:
    """The value an `=` clause pins `name` to, used to narrow a scan to one object."""
    for n, op, v in sel:
        if n == name and op == "=":
            return v
    return None
