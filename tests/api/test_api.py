"""The REST API: permission tables per endpoint (who may and may not), tokens, requests with the forms' validation,
approvals, the audit export and the schema."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken, hash_key
from controlplane.models import AuditEvent
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db


def names(response) -> set[str]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {f"{r['kind']}/{r['name']}" for r in rows}


# Who sees which objects: the rules of the admin, never a second copy.
VISIBLE = {
    "root": {"Kustomization/apps", "Kustomization/infra", "Namespace/podinfo", "HelmRelease/podinfo",
             "Deployment/podinfo", "Deployment/web"},
    "dev": {"Namespace/podinfo", "HelmRelease/podinfo", "Deployment/podinfo"},
    "lead": {"Kustomization/apps", "Namespace/podinfo", "HelmRelease/podinfo", "Deployment/podinfo"},
    "auditor": set(),
    "nobody": set(),
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_objects_list_is_what_the_rules_let_each_user_see(api_as, who):
    response = api_as(who).get("/api/objects/")
    assert response.status_code == 200
    assert names(response) == VISIBLE[who]


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_an_invisible_object_is_404_like_a_missing_one(api_as, tree, who):
    client = api_as(who)
    for key, obj in tree.items():
        expected = 200 if f"{obj.kind}/{obj.name}" in VISIBLE[who] else 404
        assert client.get(f"/api/objects/{obj.pk}/").status_code == expected, key
        assert client.get(f"/api/objects/{obj.pk}/graph/").status_code == expected, key
    assert client.get("/api/objects/999999/").status_code == 404


def test_object_detail_has_conditions_and_only_visible_edges(api_as, tree):
    tree["release"].status = {"conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed",
                                              "message": "timed out"}]}
    tree["release"].save()
    body = api_as("dev").get(f"/api/objects/{tree['release'].pk}/").json()
    assert body["conditions"][0]["reason"] == "InstallFailed"
    # The release was created by apps (not visible to dev) and created the Deployment (visible).
    assert [(e["type"], e["direction"], e["object"]["name"]) for e in body["edges"]] == [("created", "out", "podinfo")]
    graph = api_as("dev").get(f"/api/objects/{tree['release'].pk}/graph/").json()
    assert {n["kind"] for n in graph["nodes"]} == {"HelmRelease", "Deployment"}


def test_objects_filters(api_as):
    client = api_as("root")
    assert names(client.get("/api/objects/", {"kind": "kustomization"})) == {"Kustomization/apps",
                                                                             "Kustomization/infra"}
    assert names(client.get("/api/objects/", {"namespace": "podinfo", "search": "pod"})) == {
        "HelmRelease/podinfo", "Deployment/podinfo"}
    assert client.get("/api/objects/", {"health": "nonsense"}).status_code == 400


@pytest.mark.parametrize(("who", "status"), [("root", 200), ("auditor", 200), ("dev", 403), ("nobody", 403)])
def test_audit_log_needs_the_audit_permission(api_as, who, status):
    assert api_as(who).get("/api/audit/").status_code == status


def test_anonymous_and_bad_tokens_are_refused(people):
    anonymous = APIClient()
    for path in ("/api/objects/", "/api/runs/", "/api/audit/", "/api/clusters/"):
        assert anonymous.get(path).status_code in (401, 403)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer fpt_not-a-token")
    assert bad.get("/api/objects/").status_code == 401


def test_token_is_stored_hashed_and_shown_once(people):
    token, key = ApiToken.issue(people["dev"], "ci")
    assert key.startswith("fpt_") and token.key_hash == hash_key(key)
    assert key not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    event = AuditEvent.objects.get(verb="api.token_created")
    assert key not in str(event.after) + event.message


def test_expired_and_revoked_tokens_stop_working(people):
    token, key = ApiToken.issue(people["dev"], "short", expires_at=timezone.now() + timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/objects/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/objects/").status_code == 401
    _, key2 = ApiToken.issue(people["dev"], "revoked")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key2}")
    ApiToken.objects.get(key_prefix=key2[:12]).revoke(people["dev"])
    assert client.get("/api/objects/").status_code == 401


def test_read_only_token_reads_but_never_writes(api_as, tree):
    client = api_as("dev", read_only=True)
    assert client.get("/api/runs/").status_code == 200
    response = client.post("/api/runs/", {"playbook": "reconcile", "target": tree["release"].pk}, format="json")
    assert response.status_code == 403
    assert not PlaybookRun.objects.exists()


def _request(client, tree, playbook="reconcile", target="release", **parameters):
    return client.post("/api/runs/", {"playbook": playbook, "target": tree[target].pk, "parameters": parameters},
                       format="json")


def test_request_approve_flow_and_nobody_approves_their_own(api_as, tree, settings):
    settings.FLUXPLANE_APPROVALS = {**settings.FLUXPLANE_APPROVALS, "reconcile": 1}
    dev, lead = api_as("dev"), api_as("lead")
    response = _request(dev, tree)
    assert response.status_code == 201, response.json()
    run = response.json()
    waiting = {r["id"] for r in lead.get("/api/approvals/").json()}
    if run["status"] == "pending_approval":
        assert run["id"] in waiting
        assert dev.post(f"/api/runs/{run['id']}/approve/", {}, format="json").status_code in (403, 404)
        assert run["id"] not in {r["id"] for r in dev.get("/api/approvals/").json()}
        approved = lead.post(f"/api/runs/{run['id']}/approve/", {"reason": "ok"}, format="json")
        assert approved.status_code == 200
        assert approved.json()["approvals"][0]["username"] == "lead"
    assert PlaybookRun.objects.get(pk=run["id"]).status in ("queued", "running", "succeeded", "failed", "errored")


@pytest.mark.parametrize(("who", "status"), [("dev", 201), ("lead", 403), ("nobody", 404), ("auditor", 404)])
def test_request_permission_table(api_as, tree, who, status):
    response = _request(api_as(who), tree)
    assert response.status_code == status, response.content
    assert PlaybookRun.objects.exists() is (status == 201)


def test_bad_parameters_get_the_forms_error_and_nothing_is_requested(api_as, tree):
    client = api_as("dev")
    response = _request(client, tree, timeout="until tomorrow")
    assert response.status_code == 400
    assert "timeout" in response.json()["parameters"]
    # A GitOps playbook on an object no Kustomization of a git source created: refused with the admin's reason.
    refused = _request(client, tree, playbook="scale", target="deploy", replicas=3)
    assert refused.status_code == 400 and refused.json()["detail"]
    assert _request(client, tree, playbook="no-such-playbook").status_code == 400
    assert _request(client, tree, playbook="suspend", target="deploy").status_code == 400  # not a Flux kind
    assert not PlaybookRun.objects.exists()


def test_runs_visibility_follows_the_rules(api_as, tree):
    run = _request(api_as("dev"), tree).json()
    assert run["id"] in {r["id"] for r in api_as("lead").get("/api/runs/").json()["results"]}
    assert api_as("nobody").get(f"/api/runs/{run['id']}/").status_code == 404
    assert api_as("nobody").get("/api/runs/").json()["results"] == []
    assert {r["id"] for r in api_as("dev").get("/api/runs/", {"mine": "true"}).json()["results"]} == {run["id"]}


def test_requester_cancels_but_others_may_not(api_as, tree, settings):
    settings.FLUXPLANE_APPROVALS = {**settings.FLUXPLANE_APPROVALS, "reconcile": 1}
    run = _request(api_as("dev"), tree).json()
    if run["status"] != "pending_approval":
        pytest.fail(f"reconcile with one approval should wait for it: {run['status']}")
    assert api_as("lead").post(f"/api/runs/{run['id']}/cancel/").status_code == 403
    assert api_as("dev").post(f"/api/runs/{run['id']}/cancel/").json()["status"] == "cancelled"


def test_audit_export_csv_and_since(api_as, people):
    AuditEvent.record("test.event", people["dev"], actor=people["root"], message="=cmd|' /C calc'!A0")
    client = api_as("auditor")
    response = client.get("/api/audit/export/", {"since": "1d"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    event = next(r for r in rows if r["verb"] == "test.event")
    assert event["actor_username"] == "root"
    assert not event["message"].startswith("=")  # spreadsheet formulas are defused, as in the admin export
    assert client.get("/api/audit/", {"since": "yesterday-ish"}).status_code == 400
    assert client.get("/api/audit/", {"verb": "test."}).json()["results"][0]["verb"] == "test.event"


def test_schema_and_docs_are_served_with_the_strict_csp(api_as, people, client):
    schema = api_as("root").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/objects/", "/api/runs/", "/api/runs/{id}/approve/", "/api/audit/"} <= set(paths)
    client.force_login(people["dev"])  # the browser's session works too
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "<script>" not in docs.content.decode().replace(" ", "")


def test_unprivileged_walk_over_the_api(api_as, tree, people):
    """Every route of the API, as a staff user with no grants at all: lists are empty or refused, every object id of
    the world answers 404 or 403, and no response names an object."""
    from django.urls import URLPattern, URLResolver

    import api.urls

    def routes(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from routes(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    run = _request(api_as("dev"), tree).json()
    client = api_as("nobody")
    ids = [obj.pk for obj in tree.values()] + [run["id"]]
    seen = []
    for route in set(routes(api.urls.urlpatterns)):
        if "format" in route or route.startswith(("schema", "docs")):
            continue
        def clean(route: str, pk: int) -> str:
            return re.sub(r"\(\?P<pk>[^)]*\)|<pk>", str(pk), route).replace("^", "").replace("$", "")

        candidates = sorted({clean(route, pk) for pk in ids})
        for path in candidates:
            response = client.get("/api/" + path)
            body = response.content.decode()
            assert response.status_code in (200, 403, 404, 405), (path, response.status_code)
            if response.status_code == 200:
                data = response.json()
                rows = data.get("results", data) if isinstance(data, dict) else data
                assert rows in ([], {}) or path == "", (path, body[:300])
            for obj in tree.values():
                assert f'"{obj.name}"' not in body or path == "", (path, obj.name)
            seen.append(path)
    assert any(p.startswith("objects/") for p in seen) and any(p.startswith("runs/") for p in seen)


@pytest.mark.parametrize("who", ["root", "dev", "lead", "nobody"])
def test_merge_needs_the_merge_permission_and_an_open_change(api_as, tree, settings, who):
    """Nobody merges an exec run (there is no change); without merge_change it is refused; invisible runs are 404."""
    run = _request(api_as("dev"), tree).json()
    response = api_as(who).post(f"/api/runs/{run['id']}/merge/")
    assert response.status_code == {"root": 400, "dev": 403, "lead": 403, "nobody": 404}[who], response.content
    if who == "root":  # allowed to merge, but an exec run has no change to merge
        assert "nothing to merge" in str(response.json())
    assert PlaybookRun.objects.get(pk=run["id"]).merge_sha == ""
