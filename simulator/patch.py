"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that cannot be applied (the API server answers 422 or 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _walk(doc: Any, pointer: str) -> tuple[Any, str | int]:
    """Return (container, last key) for a JSON pointer; the container must exist."""
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    parts = [_unescape(p) for p in pointer[1:].split("/")]
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError) as e:
                raise PatchError(f"path {pointer!r} not found") from e
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise PatchError(f"path {pointer!r} not found")
    last: str | int = parts[-1]
    if isinstance(cur, list) and last != "-":
        try:
            last = int(last)
        except ValueError as e:
            raise PatchError(f"invalid array index in {pointer!r}") from e
    return cur, last


def _get(doc: Any, pointer: str) -> Any:
    if pointer == "":
        return doc
    cont, key = _walk(doc, pointer)
    try:
        return cont[key]
    except (KeyError, IndexError, TypeError) as e:
        raise PatchError(f"path {pointer!r} not found") from e


def json_patch(doc: Any, ops: list[dict]) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test, applied in order to a copy."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path")
        if not isinstance(path, str):
            raise PatchError(f"operation {op!r} has no path")
        if kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"test failed at {path!r}")
            continue
        if kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op["from"]))
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
            doc = json_patch(doc, [{"op": "add", "path": path, "value": value}])
            continue
        if path == "":
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise PatchError("cannot remove the whole document")
        cont, key = _walk(doc, path)
        if kind == "add":
            if "value" not in op:
                raise PatchError(f"add at {path!r} has no value")
            if isinstance(cont, list):
                if key == "-":
                    cont.append(copy.deepcopy(op["value"]))
                elif 0 <= key <= len(cont):  # type: ignore[operator]
                    cont.insert(key, copy.deepcopy(op["value"]))  # type: ignore[arg-type]
                else:
                    raise PatchError(f"index out of range at {path!r}")
            elif isinstance(cont, dict):
                cont[key] = copy.deepcopy(op["value"])
            else:
                raise PatchError(f"cannot add at {path!r}")
        elif kind == "remove":
            try:
                del cont[key]
            except (KeyError, IndexError, TypeError) as e:
                raise PatchError(f"path {path!r} not found") from e
        elif kind == "replace":
            try:
                cont[key]  # noqa: B018 - replace requires the target to exist
            except (KeyError, IndexError, TypeError) as e:
                raise PatchError(f"path {path!r} not found") from e
            cont[key] = copy.deepcopy(op.get("value"))
        else:
            raise PatchError(f"unknown operation {kind!r}")
    return doc


# Patch merge keys of the built-in types (from the Go struct tags `patchMergeKey`), keyed by field name.
# Field names are unique enough across the kinds the simulator serves to key them by name alone.
MERGE_KEYS: dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "ports": "containerPort", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "secrets": "name",
    "containerStatuses": "name", "initContainerStatuses": "name",
}
# Service ports merge by port number, not containerPort.
SERVICE_MERGE_KEYS = {**MERGE_KEYS, "ports": "port"}
# Lists of scalars merged as sets (patchStrategy: merge on a []string).
SET_LISTS = {"finalizers"}


def strategic_merge_patch(target: Any, patch: Any, keys: dict[str, str] | None = None) -> Any:
    """Kubernetes strategic merge patch for the cases kubectl apply/annotate/edit produce.

    Lists named in `keys` merge element-wise by their merge key; `$patch: delete|replace`,
    `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` directives are honoured.
    Other lists replace, as for fields without a patch strategy.
    """
    return _smp(target, patch, MERGE_KEYS if keys is None else keys)


def _smp(target: Any, patch: Any, keys: dict[str, str]) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            result[field] = [x for x in result.get(field) or [] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list) and k in keys and isinstance(result.get(k), list):
            result[k] = _merge_list(result[k], v, keys[k], keys)
        elif isinstance(v, list) and k in SET_LISTS and isinstance(result.get(k), list):
            result[k] = result[k] + [x for x in v if x not in result[k]]
        elif isinstance(v, list):
            result[k] = [_smp(None, x, keys) if isinstance(x, dict) else copy.deepcopy(x) for x in v
                         if not (isinstance(x, dict) and x.get("$patch") == "delete")]
        elif isinstance(v, dict):
            merged = _smp(result.get(k), v, keys)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for field, order in orders.items():
        if isinstance(result.get(field), list) and field in keys:
            result[field] = _reorder(result[field], order, keys[field])
    return result


def _merge_list(current: list, patch: list, key: str, keys: dict[str, str]) -> list:
    out = [copy.deepcopy(x) for x in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(copy.deepcopy(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(_smp(None, item, keys))
        else:
            out[idx] = _smp(out[idx], item, keys)
    return out


def _reorder(items: list, order: list, key: str) -> list:
    rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}
    return sorted(items, key=lambda x: rank.get(x.get(key) if isinstance(x, dict) else None, len(rank)))
