"""Secrets never appear in logs, audit events, runs or pages: a full GitOps change with a real token reference
(GitHub simulator + PyGithub), then every place Fluxplane writes to is searched for the token."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from controlplane.models import AuditEvent, GitConnection
from graph.models import KubeObject
from playbooks.changes.library import Scale
from playbooks.models import PlaybookRun
from tests.playbooks.test_gitops_e2e import TOKEN, demo, people, request_and_approve  # noqa: F401
from tests.playbooks.test_provider_e2e import BOT, host  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_git_token_never_leaks(demo, people, drain, client, admin_user, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    sim, cluster, gh_repo = demo
    dev, lead = people
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    run = request_and_approve(Scale, deployment, dev, lead, {"replicas": 2}, drain)
    assert run.pr_number, "the token was used: a pull request was opened through the GitHub API"

    client.force_login(admin_user)
    connection = GitConnection.objects.get()
    pages = [
        reverse("admin:playbooks_playbookrun_change", args=[run.pk]),
        reverse("admin:controlplane_gitconnection_change", args=[connection.pk]),
        reverse("admin:controlplane_auditevent_changelist"),
        deployment.admin_url(),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert TOKEN not in body, url
    export = client.post(reverse("admin:controlplane_auditevent_changelist"), {
        "action": "export_csv", "_selected_action": list(AuditEvent.objects.values_list("pk", flat=True))})
    assert TOKEN not in b"".join(export.streaming_content).decode()
    for event in AuditEvent.objects.all():
        assert TOKEN not in f"{event.before} {event.after} {event.message} {event.target_repr}"
    run.refresh_from_db()
    assert TOKEN not in f"{run.log} {run.result} {run.parameters} {run.error} {run.diff} {run.pr_url}"
    assert TOKEN not in PlaybookRun.objects.filter(pk=run.pk).values().first().__repr__()
    assert TOKEN not in caplog.text


def test_gitlab_and_gitea_tokens_never_leak(host, people, drain, client, admin_user, caplog, settings):  # noqa: F811
    """The same search after a change opened, blocked by a failing pipeline and merged on checks, on GitLab and
    Gitea: the token is read from its file reference and sent to the API, and written nowhere."""
    caplog.set_level(logging.DEBUG)
    settings.FLUXPLANE_GIT_MERGE = "on-checks"
    h, cluster, connection = host
    dev, lead = people
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    run = request_and_approve(Scale, deployment, dev, lead, {"replicas": 2}, drain)
    head = h.request(run.pr_number).head_sha
    h.report_ci(head, passed=False)
    from playbooks.changes.tracking import track_changes

    track_changes()
    h.report_ci(head, passed=True)
    track_changes()
    run.refresh_from_db()
    assert run.merge_sha, run.log  # the token was used all the way to the merge

    client.force_login(admin_user)
    for url in [reverse("admin:playbooks_playbookrun_change", args=[run.pk]),
                reverse("admin:controlplane_gitconnection_change", args=[connection.pk]),
                reverse("admin:controlplane_gitconnection_changelist"),
                reverse("admin:controlplane_auditevent_changelist")]:
        assert BOT not in client.get(url).content.decode(), url
    for event in AuditEvent.objects.all():
        assert BOT not in f"{event.before} {event.after} {event.message} {event.target_repr}"
    assert BOT not in PlaybookRun.objects.filter(pk=run.pk).values().first().__repr__()
    assert BOT not in GitConnection.objects.filter(pk=connection.pk).values().first().__repr__()
    assert BOT not in caplog.text


@pytest.mark.parametrize("kind, group, spec, secret, kept", [
    # a HelmRelease's inline values: secret keys masked, the rest shown
    ("HelmRelease", "helm.toolkit.fluxcd.io", {"values": {"auth": {"adminPassword": "hunter2-values"},
                                                         "replicaCount": 2}}, "hunter2-values", "replicaCount: 2"),
    # a container's env entry whose name means a secret, and credentials in a URL
    ("Deployment", "apps", {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.27", "env": [
        {"name": "DB_PASSWORD", "value": "hunter2-env"}, {"name": "LOG_LEVEL", "value": "debug"}]}]}}},
     "hunter2-env", "value: debug"),
    ("GitRepository", "source.toolkit.fluxcd.io", {"url": "https://bot:hunter2-url@git.example.com/fleet.git"},
     "hunter2-url", "git.example.com/fleet.git"),
])
def test_an_object_page_masks_secrets_in_spec_and_status(client, admin_user, kind, group, spec, secret, kept):
    from django.utils import timezone

    from controlplane.models import Cluster

    now = timezone.now()
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:9")
    obj = KubeObject.objects.create(cluster=cluster, uid="u1", api_group=group, api_version="v1", kind=kind,
                                    namespace="apps", name="web", first_seen=now, last_seen=now, spec=spec,
                                    status={"lastAttempted": {"password": secret}})
    client.force_login(admin_user)
    body = client.get(obj.admin_url()).content.decode()
    assert kept in body  # the page shows the spec …
    assert secret not in body  # … but not its secrets
