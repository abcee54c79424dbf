"""Workload controllers reach the statuses kstatus expects: rollouts, broken images, crash loops, others."""

from __future__ import annotations

from simulator import Simulator

from . import kstatus
from .conftest import deployment, wait_for


def _status_of(sim: Simulator, kind: str, ns: str, name: str) -> str:
    return kstatus.compute(sim.store.get(kind, ns, name))


def test_deployment_rolls_out_to_current_with_owned_replicaset_and_pods(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("web", ns, replicas=3))
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current", what="Current deployment")
    d = sim.store.get("deployments", ns, "web")
    rs = sim.store.list("replicasets", ns)
    assert len(rs) == 1
    h = rs[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs[0]["metadata"]["name"] == f"web-{h}"
    assert rs[0]["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    pods = sim.store.list("pods", ns, label_selector=f"pod-template-hash={h}")
    assert len(pods) == 3 and all(p["metadata"]["ownerReferences"][0]["uid"] == rs[0]["metadata"]["uid"]
                                  for p in pods)
    assert all(kstatus.compute(p) == "Current" for p in pods)
    assert kstatus.compute(rs[0]) == "Current"
    conds = {c["type"]: c["reason"] for c in d["status"]["conditions"]}
    assert conds == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


def test_template_change_rolls_out_a_new_replicaset(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("web", ns))
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current", what="first rollout")
    sim.store.patch("deployments", ns, "web",
                    {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}},
                    "strategic")
    d = sim.store.get("deployments", ns, "web")
    assert d["metadata"]["generation"] == 2
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current"
             and sim.store.get("deployments", ns, "web")["status"]["observedGeneration"] == 2, what="rollout")
    rs = sorted(sim.store.list("replicasets", ns),
                key=lambda r: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    assert [r["spec"]["replicas"] for r in rs] == [0, 2]
    pods = sim.store.list("pods", ns)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.28"}


def test_broken_image_never_ready_then_progress_deadline_fails(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("bad", ns, image="ghcr.io/acme/app:broken", progressDeadlineSeconds=1))
    pods = wait_for(lambda: sim.store.list("pods", ns), what="pods")
    assert all(p["status"]["phase"] == "Pending" for p in pods)  # type: ignore[union-attr]
    waiting = pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]  # type: ignore[index]
    assert waiting["reason"] == "ImagePullBackOff"
    assert kstatus.compute(pods[0]) == "InProgress"  # type: ignore[index]
    wait_for(lambda: _status_of(sim, "deployments", ns, "bad") == "Failed", what="ProgressDeadlineExceeded")
    d = sim.store.get("deployments", ns, "bad")
    prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert prog["status"] == "False" and prog["reason"] == "ProgressDeadlineExceeded"
    assert d["status"].get("availableReplicas", 0) == 0 and d["status"]["unavailableReplicas"] == 2


def test_broken_rollout_keeps_old_pods_serving(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("web", ns))
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current", what="first rollout")
    sim.store.patch("deployments", ns, "web",
                    {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:broken"}]}}}},
                    "strategic")
    wait_for(lambda: len(sim.store.list("replicasets", ns)) == 2, what="second ReplicaSet")
    wait_for(lambda: sim.store.get("deployments", ns, "web")["status"].get("updatedReplicas") == 2, what="status")
    d = sim.store.get("deployments", ns, "web")
    assert kstatus.compute(d) == "InProgress"
    assert d["status"]["readyReplicas"] == 2 and d["status"]["replicas"] == 4


def test_crashloop_pods_fail_and_deployment_stays_in_progress(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("crash", ns, image="acme/app:crashloop", replicas=1))
    pod = wait_for(lambda: next(iter(sim.store.list("pods", ns)), None), what="pod")
    cs = pod["status"]["containerStatuses"][0]  # type: ignore[index]
    assert pod["status"]["phase"] == "Running" and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"  # type: ignore[index]
    assert cs["restartCount"] > 0 and kstatus.compute(pod) == "Failed"  # type: ignore[arg-type]
    wait_for(lambda: sim.store.get("deployments", ns, "crash")["status"].get("observedGeneration") == 1,
             what="status")
    assert _status_of(sim, "deployments", ns, "crash") == "InProgress"


def test_scale_subresource_and_scale_down(sim: Simulator, ns: str) -> None:
    sim.store.create(deployment("web", ns, replicas=1))
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current", what="rollout")
    sim.store.patch("deployments", ns, "web", {"spec": {"replicas": 4}}, "merge")
    wait_for(lambda: _status_of(sim, "deployments", ns, "web") == "Current"
             and len(sim.store.list("pods", ns)) == 4, what="scale up")
    sim.store.patch("deployments", ns, "web", {"spec": {"replicas": 2}}, "merge")
    wait_for(lambda: len(sim.store.list("pods", ns)) == 2 and _status_of(sim, "deployments", ns, "web") == "Current",
             what="scale down")


def test_statefulset_daemonset_and_job(sim: Simulator, ns: str) -> None:
    tmpl = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "redis:7"}]}}
    sim.store.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
                      "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}},
                               "template": tmpl}})
    sim.store.create({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
                      "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": tmpl}})
    sim.store.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": ns},
                      "spec": {"template": tmpl}})
    sim.store.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fails", "namespace": ns},
                      "spec": {"backoffLimit": 1, "template": {**tmpl, "spec": {"containers": [
                          {"name": "c", "image": "acme/job:crashloop"}]}}}})
    wait_for(lambda: _status_of(sim, "statefulsets", ns, "db") == "Current", what="StatefulSet")
    sts_pods = sim.store.list("pods", ns, label_selector="statefulset.kubernetes.io/pod-name")
    assert sorted(p["metadata"]["name"] for p in sts_pods) == ["db-0", "db-1"]
    wait_for(lambda: _status_of(sim, "daemonsets", ns, "agent") == "Current", what="DaemonSet")
    wait_for(lambda: any(c["type"] == "Complete" for c in sim.store.get("jobs", ns, "once").get("status", {}).get(
        "conditions", [])), what="Job complete")
    assert _status_of(sim, "jobs", ns, "once") == "Current"
    wait_for(lambda: _status_of(sim, "jobs", ns, "fails") == "Failed", what="Job failed")
    # Template change on the StatefulSet replaces pods one by one with the new revision.
    sim.store.patch("statefulsets", ns, "db", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "redis:8"}]}}}}, "strategic")
    wait_for(lambda: _status_of(sim, "statefulsets", ns, "db") == "Current"
             and sim.store.get("statefulsets", ns, "db")["status"]["observedGeneration"] == 2
             and sim.store.get("statefulsets", ns, "db")["status"]["updatedReplicas"] == 2, what="sts rollout")
    images = {p["spec"]["containers"][0]["image"] for p in sim.store.list(
        "pods", ns, label_selector="statefulset.kubernetes.io/pod-name")}
    assert images == {"redis:8"}


def test_bare_pod_gets_scheduled_and_unschedulable_marker(sim: Simulator, ns: str) -> None:
    for name, image in (("ok", "nginx:1"), ("stuck", "nginx:unschedulable")):
        sim.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                          "spec": {"containers": [{"name": "c", "image": image}]}})
    wait_for(lambda: kstatus.compute(sim.store.get("pods", ns, "ok")) == "Current", what="running pod")
    assert sim.store.get("pods", ns, "ok")["spec"]["nodeName"]
    stuck = wait_for(lambda: sim.store.get("pods", ns, "stuck").get("status"), what="pending pod")
    assert stuck["phase"] == "Pending"  # type: ignore[index]
    assert stuck["conditions"][0]["reason"] == "Unschedulable"  # type: ignore[index]
