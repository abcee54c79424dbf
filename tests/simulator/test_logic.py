"""Table-driven tests of the pure pieces: label/field selectors and the three patch formats."""

from __future__ import annotations

import pytest

from simulator.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from simulator.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("", True), ("app=web", True), ("app==web", True), ("app=db", False), ("app!=db", True), ("app!=web", False),
    ("missing!=x", True), ("tier in (front,back)", True), ("tier in (back)", False), ("tier notin (back)", True),
    ("tier notin (front)", False), ("missing notin (x)", True), ("env", True), ("missing", False),
    ("!missing", True), ("!env", False), ("app=web,tier in (front), env", True), ("app=web,env=dev", False),
    ("app = web", True),
])
def test_label_selectors(selector: str, expected: bool) -> None:
    assert labels_match(parse_label_selector(selector), LABELS) is expected


@pytest.mark.parametrize("bad", ["tier in front", "tier in (a", "=x", "a=b,,", "a b"])
def test_bad_label_selectors_are_rejected(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


OBJ = {"metadata": {"name": "a", "namespace": "ns1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(("selector", "expected"), [
    ("metadata.name=a", True), ("metadata.name==a", True), ("metadata.name!=a", False),
    ("metadata.namespace=ns1,metadata.name=a", True), ("metadata.namespace=ns2", False),
    ("status.phase=Running", True), ("status.phase!=Pending", True),
])
def test_field_selectors(selector: str, expected: bool) -> None:
    assert fields_match(parse_field_selector(selector), OBJ) is expected


def test_unknown_field_selector_is_rejected() -> None:
    with pytest.raises(SelectorError):
        parse_field_selector("spec.replicas=3")


@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": 1, "b": 2}, {"b": None}, {"a": 1}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}, {"a": {"x": 1, "y": 3, "z": 4}}),
    ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
    ({"a": 1}, {"a": {"b": None}}, {"a": {}}),
    ({"a": 1}, {}, {"a": 1}),
])
def test_merge_patch_rfc7386(target: dict, patch: dict, expected: dict) -> None:
    assert merge_patch(target, patch) == expected


@pytest.mark.parametrize(("doc", "ops", "expected"), [
    ({"a": 1}, [{"op": "add", "path": "/b", "value": 2}], {"a": 1, "b": 2}),
    ({"l": [1, 3]}, [{"op": "add", "path": "/l/1", "value": 2}], {"l": [1, 2, 3]}),
    ({"l": [1]}, [{"op": "add", "path": "/l/-", "value": 2}], {"l": [1, 2]}),
    ({"a": 1, "b": 2}, [{"op": "remove", "path": "/a"}], {"b": 2}),
    ({"a": 1}, [{"op": "replace", "path": "/a", "value": 5}], {"a": 5}),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a/b", "path": "/c"}], {"a": {}, "c": 1}),
    ({"a": [1]}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": [1], "b": [1]}),
    ({"a/b": 1, "m~n": 2}, [{"op": "replace", "path": "/a~1b", "value": 3}, {"op": "remove", "path": "/m~0n"}],
     {"a/b": 3}),
    ({"a": 1}, [{"op": "test", "path": "/a", "value": 1}, {"op": "add", "path": "/t", "value": True}],
     {"a": 1, "t": True}),
])
def test_json_patch_rfc6902(doc: dict, ops: list, expected: dict) -> None:
    assert json_patch(doc, ops) == expected


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/a", "value": 2}], [{"op": "remove", "path": "/zz"}],
    [{"op": "replace", "path": "/zz", "value": 1}], [{"op": "add", "path": "/x/y", "value": 1}],
    [{"op": "bogus", "path": "/a"}],
])
def test_json_patch_errors(ops: list) -> None:
    with pytest.raises(PatchError):
        json_patch({"a": 1}, ops)


POD = {"spec": {"containers": [{"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                               {"name": "side", "image": "s:1"}],
                "volumes": [{"name": "v1"}], "nodeSelector": {"k": "v"}},
       "metadata": {"finalizers": ["a"], "labels": {"x": "1"}}}


@pytest.mark.parametrize(("patch", "check"), [
    # Containers merge by name: only `app` changes, `side` stays.
    ({"spec": {"containers": [{"name": "app", "image": "a:2"}]}},
     lambda r: [c["image"] for c in r["spec"]["containers"]] == ["a:2", "s:1"]
     and r["spec"]["containers"][0]["env"] == [{"name": "X", "value": "1"}]),
    # Env merges by name inside the merged container.
    ({"spec": {"containers": [{"name": "app", "env": [{"name": "Y", "value": "2"}]}]}},
     lambda r: [e["name"] for e in r["spec"]["containers"][0]["env"]] == ["X", "Y"]),
    # $patch: delete removes one element by key.
    ({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
     lambda r: [c["name"] for c in r["spec"]["containers"]] == ["app"]),
    # $patch: replace on a map replaces it whole.
    ({"spec": {"nodeSelector": {"$patch": "replace", "n": "m"}}}, lambda r: r["spec"]["nodeSelector"] == {"n": "m"}),
    # $setElementOrder reorders merged lists.
    ({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
               "containers": [{"name": "app", "image": "a:3"}]}},
     lambda r: [c["name"] for c in r["spec"]["containers"]] == ["side", "app"]),
    # $deleteFromPrimitiveList removes scalars; finalizers merge as a set.
    ({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, lambda r: r["metadata"]["finalizers"] == []),
    ({"metadata": {"finalizers": ["b", "a"]}}, lambda r: r["metadata"]["finalizers"] == ["a", "b"]),
    # null deletes a key, as in merge patch; what kubectl annotate --overwrite sends.
    ({"metadata": {"labels": {"x": None, "y": "2"}}}, lambda r: r["metadata"]["labels"] == {"y": "2"}),
    # $retainKeys drops keys not listed.
    ({"spec": {"$retainKeys": ["containers"], "containers": []}},
     lambda r: set(r["spec"]) == {"containers"}),
])
def test_strategic_merge_patch(patch: dict, check: object) -> None:
    result = strategic_merge_patch(POD, patch)
    assert check(result)  # type: ignore[operator]
    assert POD["spec"]["containers"][0]["image"] == "a:1"  # the input is never mutated
