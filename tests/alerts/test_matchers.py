"""Silence matchers on RE2: the same alerts as Alertmanager (checked against the real one), linear time, RE2's
refusals as form errors, and a ReDoS pattern that leaves the service answering."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.core.exceptions import ValidationError

from alerts.matchers import matches, parse_matchers
from tests.alerts.conftest import ALERTMANAGER, free_port, obj, pods
from tests.graph.conftest import wait_for

# (operator, pattern, label value, what Alertmanager (Go RE2, ^(?:pattern)$) decides).
DIALECT = [
    ("=~", "[[:digit:]]+", "123", True),  # POSIX class: RE2 yes; Python re reads "[[:digit:]" + "]+"
    ("=~", r"\d+", "\u0663\u0664", False),  # \d is ASCII in RE2; Python matches Arabic-Indic digits
    ("=~", r"\w+", "\u00e9t\u00e9", False),  # \w is ASCII in RE2; Python matches accented letters
    ("=~", r"\pL+", "\u00e9t\u00e9", True),  # Unicode classes: RE2 yes; Python re refuses \p
    ("=~", "foo|bar", "foobar", False),  # the whole alternation is anchored
    ("=~", "foo", "xfoox", False),  # full match, not search
    ("=~", "(?i)WARN.*", "warning", True),
    ("=~", ".*", "", True),  # a missing label is the empty string
    ("!~", "crit.*", "critical", False),
    ("!~", "crit.*", "warning", True),
    ("=~", "((.*)*)*X", "a" * 5000, False),  # catastrophic for backtracking engines, linear on RE2
]


def python_re_would(op: str, pattern: str, value: str) -> bool | None:
    """What the previous implementation (Python ``re``) decided, None when it refused the pattern."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": re's own hint that it differs
            hit = re.fullmatch(pattern, value) is not None
    except re.error:
        return None
    return hit if op == "=~" else not hit


@pytest.mark.parametrize(("op", "pattern", "value", "expected"), DIALECT[:-1])
def test_matchers_follow_re2_not_python(op, pattern, value, expected):
    [matcher] = parse_matchers(f'v{op}"{pattern}"')
    assert matches([matcher], {"v": value} if value else {}) is expected


def test_the_dialect_table_really_differs_from_python_re():
    # The table is only worth something if it holds cases Python's re gets wrong or refuses.
    differing = [row for row in DIALECT[:4] if python_re_would(*row[:3]) != row[3]]
    assert len(differing) == 4


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=x)y", "(?<!x)y", "x++", "(a{1000}){1000}", "(", "a" * 2000])
def test_patterns_re2_refuses_are_a_form_error(pattern):
    with pytest.raises(ValidationError, match="not a regular expression Alertmanager accepts"):
        parse_matchers(f'alertname=~"{pattern}"')


def test_commas_inside_a_quoted_regex_do_not_split_it():
    parsed = parse_matchers('pod=~"web-[a-z]{1,5}", severity!="info"\nteam="a"')
    assert [(m["name"], m["value"]) for m in parsed] == [("pod", "web-[a-z]{1,5}"), ("severity", "info"),
                                                         ("team", "a")]


@pytest.fixture
def bare_alertmanager(tmp_path):
    """A real Alertmanager with a null receiver: the reference for which alerts a silence mutes."""
    if not os.path.exists(ALERTMANAGER):
        pytest.fail(f"{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager (.ci/run does)")
    port = free_port()
    config = tmp_path / "am.yml"
    config.write_text(json.dumps({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}))
    (tmp_path / "data").mkdir()
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=30, what="alertmanager to be ready")
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_fluxplane_and_alertmanager_silence_the_same_alerts(bare_alertmanager):
    now = datetime.now(UTC)
    stamp = {"startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}
    alerts = []
    for index, (_op, _pattern, value, _expected) in enumerate(DIALECT):
        labels = {"alertname": f"case{index}"}
        if value:
            labels["v"] = value
        alerts.append({"labels": labels, **stamp})
    requests.post(f"{bare_alertmanager}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()
    for index, (op, pattern, _value, _expected) in enumerate(DIALECT):
        matchers = [{"name": "alertname", "value": f"case{index}", "isRegex": False, "isEqual": True},
                    *parse_matchers(f'v{op}"{pattern}"')]
        requests.post(f"{bare_alertmanager}/api/v2/silences", json={
            "matchers": matchers, "createdBy": "test", "comment": pattern, **stamp}, timeout=10).raise_for_status()

    def muted_by_alertmanager() -> dict[str, bool]:
        listed = requests.get(f"{bare_alertmanager}/api/v2/alerts", timeout=10).json()
        return {a["labels"]["alertname"]: a["status"]["state"] == "suppressed" for a in listed}

    reference = wait_for(lambda: (m := muted_by_alertmanager()) and len(m) == len(DIALECT) and m,
                         what="alertmanager to list the alerts")
    for index, (op, pattern, value, expected) in enumerate(DIALECT):
        labels = {"alertname": f"case{index}", **({"v": value} if value else {})}
        ours = matches([{"name": "alertname", "value": f"case{index}", "isRegex": False, "isEqual": True},
                        *parse_matchers(f'v{op}"{pattern}"')], labels)
        assert reference[f"case{index}"] is expected, (op, pattern)
        assert ours is reference[f"case{index}"], (op, pattern)


@pytest.mark.django_db(transaction=True)
def test_a_redos_pattern_in_a_preview_leaves_the_service_answering(cluster, make_user, client):
    from alerts.intake import ingest_alertmanager

    pod = pods("podinfo", "podinfo")[0]
    ingest_alertmanager({"version": "4", "groupKey": "g", "alerts": [
        {"status": "firing", "labels": {"alertname": "a" * 4000, "namespace": "podinfo", "pod": pod.name},
         "annotations": {}, "startsAt": "2026-11-27T10:00:00Z", "fingerprint": "fp-redos"}]})
    oncall = make_user("oncall", perms=("graph.silence",))
    client.force_login(oncall)
    apps = obj("Kustomization", "flux-system", "apps")
    outcome = {}

    def preview():
        # ((.*)*)*X against 4000 characters: on a backtracking engine this never returns.
        outcome["page"] = client.post(f"/admin/alerts/silence/new/{apps.pk}/", {
            "duration_minutes": 60, "reason": "x", "include_descendants": "on", "_preview": "1",
            "matchers": 'alertname=~"((.*)*)*X"'})

    worker = threading.Thread(target=preview, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the preview did not return"
    page = outcome["page"]
    assert page.status_code == 200 and b"silence 0 firing alert(s)" in page.content
    page = client.post(f"/admin/alerts/silence/new/{apps.pk}/", {
        "duration_minutes": 60, "reason": "x", "include_descendants": "on", "_preview": "1",
        "matchers": r'alertname=~"(a)\1"'})
    assert page.status_code == 200 and b"not a regular expression Alertmanager accepts" in page.content
