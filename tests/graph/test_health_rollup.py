"""Health words, their order, and roll-ups along the Flux tree (the "why" chain). No database is touched."""

from __future__ import annotations

from graph.health import Assessment, Health, rollup, rollup_all, worst

# ------------------------------------------------------------------ words and roll-ups


def test_severity_order() -> None:
    order = [Health.HEALTHY, Health.SUSPENDED, Health.UNKNOWN, Health.PROGRESSING, Health.DEGRADED, Health.FAILED]
    assert sorted(Health, key=lambda h: h.severity) == order
    assert Health.worst([]) == Health.HEALTHY
    assert Health.worst(["suspended", Health.FAILED, "healthy"]) == Health.FAILED
    assert Health.worst([Health.SUSPENDED, Health.HEALTHY]) == Health.SUSPENDED
    assert [v for v, _ in Health.choices()][0] == "failed"
    assert worst([]) is None
    first = Assessment(Health.DEGRADED, "A", "a")
    assert worst([Assessment(Health.HEALTHY, "", ""), first, Assessment(Health.DEGRADED, "B", "b")]) is first


def h(health: Health, reason: str = "R", message: str = "m") -> Assessment:
    return Assessment(health, reason, message)


def test_rollup_names_the_failing_path() -> None:
    own = {
        "apps": h(Health.DEGRADED, "HealthCheckFailed", "health check failed after 5m"),
        "hr": h(Health.DEGRADED, "InstallFailed", "context deadline exceeded"),
        "dep": h(Health.DEGRADED, "ImagePullBackOff", "0/2 ready, ImagePullBackOff: Back-off pulling image"),
        "svc": h(Health.HEALTHY, "Current", "ClusterIP service"),
        "rs": h(Health.PROGRESSING, "RolloutInProgress", "0/2 ready"),
    }
    kids = {"apps": ["hr"], "hr": ["svc", "dep"], "dep": ["rs"]}
    names = {"apps": "apps", "hr": "HelmRelease podinfo/podinfo", "dep": "Deployment podinfo/podinfo",
             "svc": "Service podinfo/podinfo", "rs": "ReplicaSet podinfo/podinfo-7d9f8c6b5"}
    result = rollup_all(own, kids, names.__getitem__)
    assert result["apps"] == Assessment(
        Health.DEGRADED, "ImagePullBackOff",
        "apps → HelmRelease podinfo/podinfo → Deployment podinfo/podinfo: 0/2 ready, ImagePullBackOff: "
        "Back-off pulling image", culprit="dep")
    assert result["svc"] == own["svc"]  # nothing below: own verdict unchanged
    assert result["dep"] == own["dep"]  # own degraded beats a progressing child
    assert rollup("hr", own, kids, names.__getitem__) == result["hr"]


def test_suspended_parent_does_not_hide_failed_child() -> None:
    own = {"apps": h(Health.SUSPENDED, "Suspended", "suspended"), "job": h(Health.FAILED, "BackoffLimitExceeded"),
           "cm": h(Health.HEALTHY)}
    result = rollup_all(own, {"apps": ["cm", "job"]}, str)
    assert (result["apps"].health, result["apps"].reason, result["apps"].culprit) == (
        Health.FAILED, "BackoffLimitExceeded", "job")
    assert result["apps"].message == "apps → job: m"
    quiet = rollup_all({"apps": own["apps"], "cm": own["cm"]}, {"apps": ["cm"]}, str)
    assert quiet["apps"] == own["apps"]  # a suspended parent over healthy children stays suspended


def test_healthy_tree_keeps_own_messages() -> None:
    own = {"a": h(Health.HEALTHY, "ReconciliationSucceeded", "Applied revision"), "b": h(Health.HEALTHY)}
    assert rollup_all(own, {"a": ["b"]}, str)["a"] == own["a"]


def test_rollup_cycles_are_safe() -> None:
    own = {"a": h(Health.HEALTHY), "b": h(Health.HEALTHY), "c": h(Health.HEALTHY), "d": h(Health.FAILED, "X", "boom"),
           "e": h(Health.PROGRESSING, "P", "p"), "self": h(Health.DEGRADED, "S", "s")}
    # a → b → c → a is a cycle; c → d (failed) leaves it; e → a enters it; self-loop and unknown ids are ignored.
    kids = {"a": ["b", "missing"], "b": ["c"], "c": ["a", "d"], "e": ["a"], "self": ["self"]}
    result = rollup_all(own, kids, str)
    assert result["a"].message == "a → b → c → d: boom"
    assert result["b"].message == "b → c → d: boom"
    assert result["c"].message == "c → d: boom"
    assert result["e"].message == "e → a → b → c → d: boom"
    assert all(result[n].health == Health.FAILED for n in "abce")
    assert result["self"] == own["self"]
    assert rollup("b", own, kids, str).message == "b → c → d: boom"


def test_rollup_cycle_worst_inside_the_cycle() -> None:
    own = {"a": h(Health.HEALTHY), "b": h(Health.DEGRADED, "D", "bad"), "c": h(Health.HEALTHY)}
    result = rollup_all(own, {"a": ["b"], "b": ["c"], "c": ["a"]}, str)
    assert result["c"].message == "c → a → b: bad"
    assert result["b"] == own["b"]


def test_rollup_10k_nodes_wide_and_deep() -> None:
    # A wide tree: 1 root, 100 Kustomizations, 99 objects each.
    own: dict[int, Assessment] = {i: h(Health.HEALTHY) for i in range(10_000)}
    kids: dict[int, list[int]] = {0: list(range(1, 101))}
    for k in range(1, 101):
        kids[k] = list(range(101 + (k - 1) * 99, 101 + k * 99))
    own[9_999] = h(Health.DEGRADED, "CrashLoopBackOff", "back-off")
    result = rollup_all(own, kids, lambda n: f"n{n}")
    assert len(result) == 10_000
    assert result[0].message == "n0 → n100 → n9999: back-off"
    # A 10k-deep chain with a cycle back to the top: no recursion limit, bounded messages.
    chain = {i: [i + 1] for i in range(9_999)}
    chain[9_999] = [0]
    own[5_000] = h(Health.FAILED, "Stalled", "stuck")
    deep = rollup_all(own, chain, lambda n: f"n{n}")
    assert deep[0].health == Health.FAILED and deep[0].culprit == 5_000
    assert deep[0].message.startswith("n0 → n1 → n2 → … (") and deep[0].message.endswith("n4999 → n5000: stuck")
    assert all(len(a.message) < 200 for a in deep.values())
