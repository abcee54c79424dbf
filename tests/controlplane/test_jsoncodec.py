"""controlplane.jsoncodec: orjson where it can, the standard library for what orjson refuses, the same results."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from controlplane import jsoncodec


@pytest.mark.parametrize("text", [
    '{"kind": "Pod", "metadata": {"name": "podinfo", "labels": {"app": "ü"}}, "spec": {"replicas": 3}}',
    b'{"items": [], "metadata": {"resourceVersion": "42"}}',
    '{"value": NaN}',              # orjson refuses NaN; the standard library (and Python clients) accept it
    '{"s": "\\ud800"}',            # a lone surrogate, refused by orjson
    '{"big": 1e400}',              # beyond a double
], ids=["object", "bytes", "nan", "surrogate", "huge-number"])
def test_loads_matches_the_standard_library(text):
    expected = json.loads(text)
    got = jsoncodec.loads(text)
    assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize("value", [
    [{"cluster_id": 1, "uid": "u1", "labels": {"a": "b"}, "deleted_at": None, "suspended": False}],
    {"when": datetime(2026, 12, 2, 4, 30, tzinfo=UTC)},
    {1: "non-string key"},         # refused by orjson
    {"n": 2**70},                  # beyond 64 bits, refused by orjson
    {"d": Decimal("1.5")},         # not a JSON type: Django's encoder
], ids=["rows", "datetime", "int-key", "big-int", "decimal"])
def test_dumps_round_trips(value):
    text = jsoncodec.dumps(value)
    assert isinstance(text, str)
    decoded = json.loads(text)
    if "when" in value:
        assert datetime.fromisoformat(decoded["when"]) == value["when"]
    elif 1 in value:
        assert decoded == {"1": "non-string key"}
    elif "d" in value:
        assert decoded == {"d": "1.5"}
    else:
        assert decoded == value
