"""Notifications through the webhook endpoint and the real worker (``drain()``) to a real HTTP receiver: a failing
delivery is recorded, audited, retried and capped; a retry does not deliver an alert silenced meanwhile; an alert
that resolves and fires again is notified again; AccessBindingReapplied is notified; approval requests go to the
routed channels with the request, the diff summary and a link built from FLUXPLANE_BASE_URL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django_rq
import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from alerts import notify
from alerts.choices import DeliveryState
from alerts.jobs import deliver_job, repush_silences
from alerts.models import Alert, Channel, Delivery, Silence
from controlplane.models import AuditEvent
from playbooks.choices import PlaybookRunStatus
from playbooks.exec_playbooks import Reconcile
from playbooks.models import PlaybookRun
from tests.alerts.conftest import AM_TOKEN, obj, pods

pytestmark = pytest.mark.django_db(transaction=True)
AM_URL = "/alerts/hooks/alertmanager"


class Answering:
    """A local HTTP receiver that answers each POST with the next status of ``statuses`` (then the last one) and
    records what it received."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.bodies = list(statuses), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append((self.path, json.loads(body or b"{}")))
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict]:
        return [body for p, body in self.bodies if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answering():
    made = []

    def _make(*statuses: int) -> Answering:
        made.append(Answering(list(statuses)))
        return made[-1]

    yield _make
    for server in made:
        server.close()


def post_alert(client, pod_name: str, status: str = "firing", starts_at: str = "2026-11-27T10:00:00Z",
               fingerprint: str = "crash-1"):
    """Alertmanager's webhook for one crash-looping pod of podinfo."""
    payload = {"version": "4", "groupKey": '{}:{alertname="KubePodCrashLooping"}', "status": status,
               "receiver": "fluxplane", "alerts": [{
                   "status": status, "fingerprint": fingerprint, "startsAt": starts_at,
                   "endsAt": "2026-11-27T11:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                   "labels": {"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "podinfo",
                              "pod": pod_name},
                   "annotations": {"summary": f"{pod_name} is crash looping"}}]}
    answer = client.post(AM_URL, json.dumps(payload), content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {AM_TOKEN}")
    assert answer.status_code == 200, answer.content


def test_a_failing_delivery_is_recorded_audited_retried_and_capped(client, cluster, alert_settings, answering,
                                                                    drain):
    receiver = answering(500)
    Channel.objects.create(name="ops", kind="webhook", url=f"{receiver.url}/ops")
    post_alert(client, pods("podinfo", "podinfo")[0].name)
    drain()  # the notification job, in the worker

    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
    assert delivery.error == f"{receiver.url}/ops answered 500"
    assert len(receiver.on("/ops")) == 1
    failed = AuditEvent.objects.get(verb="notification.failed")
    assert failed.target_id == str(delivery.pk) and "attempt 1" in failed.message and failed.actor_username
    # The next attempt is scheduled with backoff (the worker's scheduler runs it).
    scheduled = django_rq.get_queue("default").scheduled_job_registry.get_job_ids()
    assert f"fluxplane-delivery-{delivery.pk}-2" in scheduled

    deliver_job(delivery.pk)  # the scheduled retry, as the worker runs it
    for _ in range(5):
        repush_silences()  # the periodic retry of failed deliveries
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, notify.MAX_ATTEMPTS)
    assert delivery.error.endswith(f"(gave up after {notify.MAX_ATTEMPTS} attempts)")
    assert len(receiver.on("/ops")) == notify.MAX_ATTEMPTS, "no attempt past the cap"
    assert AuditEvent.objects.filter(verb="notification.failed").count() == notify.MAX_ATTEMPTS
    assert deliver_job(delivery.pk) == 0


def test_a_retry_does_not_deliver_an_alert_silenced_meanwhile(client, cluster, alert_settings, answering, drain,
                                                              make_user):
    receiver = answering(503, 200)
    Channel.objects.create(name="ops", kind="webhook", url=f"{receiver.url}/ops")
    pod = pods("podinfo", "podinfo")[0]
    post_alert(client, pod.name)
    drain()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED

    oncall = make_user("oncall")
    apps = obj("Kustomization", "flux-system", "apps")
    assign_perm("graph.silence", oncall, apps)
    silence = Silence.open(target=apps, user=oncall, ends_at=timezone.now() + timedelta(hours=1), reason="rollout")
    alert = Alert.objects.get()
    assert alert.silenced_by == silence
    assert AuditEvent.objects.filter(verb="alert.silenced", target_id=str(alert.pk)).count() == 1

    deliver_job(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SKIPPED and "silenced" in delivery.error
    assert len(receiver.on("/ops")) == 1, "the silenced alert was delivered after all"
    assert AuditEvent.objects.filter(verb="notification.skipped", target_id=str(delivery.pk)).exists()


def test_an_alert_that_resolves_and_fires_again_is_notified_again(client, cluster, alert_settings, answering,
                                                                  drain):
    receiver = answering(200)
    Channel.objects.create(name="ops", kind="webhook", url=f"{receiver.url}/ops")
    pod = pods("podinfo", "podinfo")[0].name
    post_alert(client, pod, "firing", "2026-11-27T10:00:00Z")
    drain()
    post_alert(client, pod, "firing", "2026-11-27T10:00:00Z")  # the same state again: nothing new
    drain()
    post_alert(client, pod, "resolved", "2026-11-27T10:00:00Z")
    drain()
    post_alert(client, pod, "firing", "2026-11-27T12:00:00Z")  # it fires again
    drain()
    assert [body["status"] for body in receiver.on("/ops")] == ["firing", "resolved", "firing"]
    assert all(body["alerts"][0]["labels"]["pod"] == pod for body in receiver.on("/ops"))

    alert = Alert.objects.get()
    changes = list(AuditEvent.objects.filter(target_id=str(alert.pk), verb__in=["alert.firing", "alert.resolved"])
                   .order_by("id").values_list("verb", flat=True))
    assert changes == ["alert.firing", "alert.resolved", "alert.firing"], "one event per state change"
    assert AuditEvent.objects.filter(verb="notification.sent").count() == 3


def test_access_binding_reapplied_is_notified(cluster, answering, drain):
    from jit.sweep import reappeared

    receiver = answering(200)
    Channel.objects.create(name="security", kind="webhook", url=f"{receiver.url}/sec", severities="critical")
    reappeared(None, "RoleBinding podinfo/fluxplane-access-7 carries the grant label but no live grant: deleted",
               cluster, "podinfo", "fluxplane-access-7")
    drain()
    [body] = receiver.on("/sec")
    assert body["status"] == "firing"
    assert body["alerts"][0]["name"] == "AccessBindingReapplied" and body["alerts"][0]["severity"] == "critical"
    assert AuditEvent.objects.filter(verb="alert.firing", target_id=str(Alert.objects.get().pk)).exists()


DIFF = """\
diff --git a/apps/podinfo/release.yaml b/apps/podinfo/release.yaml
--- a/apps/podinfo/release.yaml
+++ b/apps/podinfo/release.yaml
@@ -10,3 +10,3 @@ spec:
   values:
-    replicaCount: 2
+    replicaCount: 3
"""


def test_approval_requests_go_to_the_routed_channels_with_diff_summary_and_link(
        cluster, answering, drain, make_user, settings, django_capture_on_commit_callbacks):
    settings.FLUXPLANE_APPROVALS = {"exec": 1, "gitops": 1}
    settings.FLUXPLANE_BASE_URL = "https://fluxplane.example.com/"
    receiver = answering(200)
    Channel.objects.create(name="podinfo-team", kind="webhook", url=f"{receiver.url}/team", namespaces="podinfo",
                           severities="critical")  # severities do not apply to approval requests
    Channel.objects.create(name="chat", kind="slack", url=f"{receiver.url}/chat")
    Channel.objects.create(name="cert-manager", kind="webhook", url=f"{receiver.url}/cm", namespaces="cert-manager")
    Channel.objects.create(name="alerts-only", kind="webhook", url=f"{receiver.url}/quiet", approval_requests=False)
    dev = make_user("dev", perms=("graph.run_playbook",))
    frontend = obj("HelmRelease", "podinfo", "frontend")
    with django_capture_on_commit_callbacks(execute=True):
        run = PlaybookRun.request(Reconcile, frontend, dev, {"timeout": 60}, diff=DIFF)
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL
    drain()  # the delivery jobs

    link = f"https://fluxplane.example.com/admin/playbooks/pendingapproval/{run.pk}/change/"
    [team] = receiver.on("/team")
    assert team["kind"] == "approval_request" and team["status"] == "approval" and team["url"] == link
    assert team["diffSummary"] == "1 file changed, +1 −1: apps/podinfo/release.yaml"
    assert team["run"]["requestedBy"] == "dev" and team["run"]["target"] == "HelmRelease podinfo/frontend"
    assert team["run"]["parameters"] == {"timeout": 60}
    [chat] = receiver.on("/chat")
    assert "approval needed: reconcile HelmRelease podinfo/frontend" in chat["text"] and link in chat["text"]
    assert "dev asks to run reconcile" in chat["text"] and "+1 −1" in chat["text"]
    assert not receiver.on("/cm") and not receiver.on("/quiet")
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}
    assert AuditEvent.objects.filter(verb="notification.sent").count() == 2
