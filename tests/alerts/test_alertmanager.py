"""End to end with a real Alertmanager: alerts posted to it reach Fluxplane through its webhook, resolve to mirrored
objects, are silenced by hierarchy, notified once per group; the pushed silence suppresses them in Alertmanager and
expiring it in Fluxplane expires it there."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
import requests
from django.utils import timezone
from guardian.shortcuts import assign_perm

from alerts.choices import PushState
from alerts.models import Alert, AlertmanagerConnection, Channel, PushedSilence, Silence
from tests.alerts.conftest import AM_TOKEN, obj, pods, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def am_alert(alertname: str, **labels) -> dict:
    return {"labels": {"alertname": alertname, "severity": "warning", **labels},
            "annotations": {"summary": f"{alertname} on {labels}"}}


def am_alerts(url: str, filters: list[str]) -> list[dict]:
    answer = requests.get(f"{url}/api/v2/alerts", params={"filter": filters}, timeout=5)
    answer.raise_for_status()
    return answer.json()


def test_alertmanager_alerts_resolve_silence_push_and_expire(cluster, alertmanager, receiver, make_user, drain,
                                                             live_server, db_turns):
    podinfo_pods = pods("podinfo", "podinfo")
    cm_pod = pods("cert-manager", "cert-manager")[0]
    replicaset = obj("ReplicaSet", "podinfo", podinfo_pods[0].name.rsplit("-", 1)[0])
    Channel.objects.create(name="all", kind="webhook", url=f"{receiver.url}/all")
    Channel.objects.create(name="cm-slack", kind="slack", url=f"{receiver.url}/slack", namespaces="cert-manager")

    # Two crash-looping podinfo pods (one Alertmanager group), a pod recreated since the last sync (walked up to
    # its ReplicaSet), a Deployment alert, a cert-manager pod, and an alert naming nothing Fluxplane mirrors.
    posted = [
        am_alert("KubePodCrashLooping", namespace="podinfo", pod=podinfo_pods[0].name),
        am_alert("KubePodCrashLooping", namespace="podinfo", pod=podinfo_pods[1].name),
        am_alert("KubePodNotReady", namespace="podinfo", pod=f"{replicaset.name}-zzzzz"),
        am_alert("KubeDeploymentReplicasMismatch", namespace="podinfo", deployment="podinfo"),
        am_alert("KubePodCrashLooping", namespace="cert-manager", pod=cm_pod.name),
        am_alert("NodeDiskFull", instance="node-1"),
    ]
    requests.post(f"{alertmanager}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
    db_turns.wait_for(lambda: Alert.objects.count() == 6, what="the webhook to deliver every alert")

    by_name = {(a.name, a.labels.get("pod", a.labels.get("deployment", ""))): a for a in Alert.objects.all()}
    assert by_name[("KubePodCrashLooping", podinfo_pods[0].name)].object == podinfo_pods[0]
    assert by_name[("KubePodCrashLooping", podinfo_pods[1].name)].object == podinfo_pods[1]
    assert by_name[("KubePodNotReady", f"{replicaset.name}-zzzzz")].object == replicaset
    assert by_name[("KubeDeploymentReplicasMismatch", "podinfo")].object == obj("Deployment", "podinfo", "podinfo")
    assert by_name[("KubePodCrashLooping", cm_pod.name)].object == cm_pod
    unresolved = Alert.objects.get(name="NodeDiskFull")
    assert unresolved.object is None and unresolved.status == "firing" and "no label names" in unresolved.resolution
    assert all(a.status == "firing" and a.silenced_by is None for a in Alert.objects.all())

    # Notifications: once per alert group, routed by namespace.
    drain()
    groups = [(body["groupKey"], tuple(sorted(a["fingerprint"] for a in body["alerts"])))
              for body in receiver.on("/all")]
    assert len(groups) == len(set(groups)) == len({a.group_key for a in Alert.objects.all()})
    crash = next(body for body in receiver.on("/all") if body["alerts"][0]["name"] == "KubePodCrashLooping"
                 and body["alerts"][0]["namespace"] == "podinfo")
    assert len(crash["alerts"]) == 2
    slack = receiver.on("/slack")
    assert len(slack) == 1 and cm_pod.name in slack[0]["text"] and "podinfo-" not in slack[0]["text"]
    # Alertmanager (or a proxy) delivering the same group again notifies nobody again.
    payload = {"version": "4", "groupKey": crash_group(), "status": "firing", "receiver": "fluxplane",
               "alerts": [{"status": "firing", "labels": a.labels, "annotations": a.annotations,
                           "startsAt": a.starts_at.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
                           "fingerprint": a.fingerprint} for a in Alert.objects.filter(name="KubePodCrashLooping",
                                                                                       namespace="podinfo")]}
    with db_turns.outside():
        again = requests.post(f"{live_server.url}/alerts/hooks/alertmanager", json=payload, timeout=5,
                              headers={"Authorization": f"Bearer {AM_TOKEN}"})
    assert again.status_code == 200, again.text
    drain()
    assert len(receiver.on("/all")) == len(groups)

    # A silence on Kustomization apps, pushed to Alertmanager.
    connection = AlertmanagerConnection.objects.create(name="am", url=alertmanager, push_silences=True)
    oncall = make_user("oncall")
    assign_perm("graph.silence", oncall, obj("Kustomization", "flux-system", "apps"))
    silence = Silence.open(target=obj("Kustomization", "flux-system", "apps"), user=oncall,
                           ends_at=timezone.now() + timedelta(hours=2), reason="podinfo rollout")
    silenced = set(Alert.objects.filter(silenced_by=silence).values_list("name", "namespace"))
    assert silenced == {("KubePodCrashLooping", "podinfo"), ("KubePodNotReady", "podinfo"),
                        ("KubeDeploymentReplicasMismatch", "podinfo")}
    assert Alert.objects.filter(silenced_by=silence).count() == 4
    assert Alert.objects.get(namespace="cert-manager").silenced_by is None
    assert unresolved.silenced_by is None

    drain()  # the push job
    pushes = list(PushedSilence.objects.filter(silence=silence, connection=connection))
    assert pushes and all(p.state == PushState.PUSHED and p.alertmanager_id for p in pushes)
    remote = {s["id"]: s for s in requests.get(f"{alertmanager}/api/v2/silences", timeout=5).json()}
    assert {p.alertmanager_id for p in pushes} <= {i for i, s in remote.items() if s["status"]["state"] == "active"}
    assert len(remote) == len(pushes)
    pod_silence = remote[next(p.alertmanager_id for p in pushes if p.key == "podinfo/pod")]
    assert {"name": "namespace", "value": "podinfo", "isRegex": False, "isEqual": True} in pod_silence["matchers"]

    def states():
        return {(a["labels"]["alertname"], a["labels"].get("namespace", "")): a["status"]["state"]
                for a in am_alerts(alertmanager, [])}

    wait_for(lambda: states()[("KubePodCrashLooping", "podinfo")] == "suppressed", what="Alertmanager to mute")
    assert states() == {("KubePodCrashLooping", "podinfo"): "suppressed", ("KubePodNotReady", "podinfo"): "suppressed",
                        ("KubeDeploymentReplicasMismatch", "podinfo"): "suppressed",
                        ("KubePodCrashLooping", "cert-manager"): "active", ("NodeDiskFull", ""): "active"}

    # Pushing again (a retry) changes nothing in Alertmanager: no duplicate silences. Alertmanager moved each
    # silence's past start to its creation time and compares starts by the second: wait for the next second so a
    # retry that sent our own start would be caught replacing every silence.
    from alerts.jobs import push_silence_job

    time.sleep(1.1)
    push_silence_job(silence.pk)
    assert {s["id"] for s in requests.get(f"{alertmanager}/api/v2/silences", timeout=5).json()} == set(remote)

    # Extending it updates the same Alertmanager silences in place.
    silence.update(oncall, ends_at=silence.ends_at + timezone.timedelta(minutes=30))
    drain()
    after = requests.get(f"{alertmanager}/api/v2/silences", timeout=5).json()
    assert {s["id"] for s in after} == set(remote)
    assert all(s["endsAt"].startswith(silence.ends_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")) for s in after)

    # Expiring the Fluxplane silence expires it in Alertmanager and unmutes the alerts.
    silence.expire(oncall)
    drain()
    remote = requests.get(f"{alertmanager}/api/v2/silences", timeout=5).json()
    assert remote and all(s["status"]["state"] == "expired" for s in remote)
    assert set(PushedSilence.objects.filter(silence=silence).values_list("state", flat=True)) == {PushState.EXPIRED}
    wait_for(lambda: set(states().values()) == {"active"}, what="Alertmanager to unmute")
    assert not Alert.objects.filter(silenced_by=silence, status="firing").exists()


def crash_group() -> str:
    return Alert.objects.filter(name="KubePodCrashLooping", namespace="podinfo").values_list(
        "group_key", flat=True).first()
