"""Not found means not found: every admin URL that takes an id, every admin action and the id/query parameters,
fuzzed with ids of objects outside the user's grants, answer exactly as for ids that do not exist, and never show
an invisible object's name. Walked as a user with no grants and as a namespace-scoped user."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access.jit.models import AccessGrant
from alerts.models import Silence
from controlplane.models import Cluster
from graph.choices import Family
from graph.models import KubeObject
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db

HIDDEN = "zz-hidden-secretname"  # appears in names/namespaces of every object the users may not see


def _patterns(patterns, prefix="") -> list[tuple[str, URLPattern]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found += _patterns(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            found.append((prefix + str(p.pattern), p))
    return found


def _kube(cluster, kind, namespace, name, group="", family=Family.OTHER, **extra) -> KubeObject:
    now = timezone.now()
    return KubeObject.objects.create(cluster=cluster, uid=f"{kind}-{namespace}-{name}", api_group=group,
                                     api_version="v1", kind=kind, family=family, namespace=namespace, name=name,
                                     first_seen=now, last_seen=now, **extra)


@pytest.fixture
def world(admin_user):
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:9")
    flux = "kustomize.toolkit.fluxcd.io"
    mine = {
        "ns": _kube(cluster, "Namespace", "", "team-a"),
        "ks": _kube(cluster, "Kustomization", "team-a", "team-a-apps", flux, Family.KUSTOMIZATION),
    }
    hidden = {
        "ns": _kube(cluster, "Namespace", "", HIDDEN),
        "ks": _kube(cluster, "Kustomization", HIDDEN, f"{HIDDEN}-ks", flux, Family.KUSTOMIZATION),
        "deploy": _kube(cluster, "Deployment", HIDDEN, f"{HIDDEN}-deploy", "apps"),
    }
    # Ids of the hidden run, silence and grant never equal an id the walker may see in another table.
    run = PlaybookRun.objects.create(pk=5001, playbook="suspend", runner="playbook", cluster=cluster,
                                     target=hidden["ks"],
                                     target_kind="Kustomization", target_name=hidden["ks"].name,
                                     target_namespace=HIDDEN, requested_by=admin_user, status="pending_approval",
                                     approvals_required=1)
    silence = Silence.objects.create(pk=6001, target=hidden["ks"], cluster=cluster,
                                     target_label=f"Kustomization {HIDDEN}",
                                     reason=HIDDEN, starts_at=timezone.now(),
                                     ends_at=timezone.now() + timezone.timedelta(hours=1), created_by=admin_user)
    grant = AccessGrant.objects.create(pk=7001, cluster=cluster, namespace_object=hidden["ns"], namespace=HIDDEN,
                                       role="view", requested_by=admin_user, reason=HIDDEN, duration_choice="1h",
                                       subject_name=admin_user.username, duration_seconds=3600)
    missing = max(o.pk for o in KubeObject.objects.all()) + 1000
    return {"mine": mine, "hidden": hidden, "run": run, "silence": silence, "grant": grant, "missing": missing}


@pytest.fixture(params=["no-grants", "namespace-scoped"])
def walker(request, make_user, world):
    user = make_user(f"walker-{request.param}")
    if request.param == "namespace-scoped":
        for verb in ("view_kubeobject", "run_playbook", "request_change", "silence", "request_access",
                     "approve_run"):
            assign_perm(f"graph.{verb}", user, world["mine"]["ns"])
    return user


PRODUCT_APPS = ("graph/", "playbooks/", "alerts/", "access/", "jit/", "controlplane/")


def _fill(route: str, value: int) -> str:
    path = re.sub(r"<[^>]+>", lambda m: str(value) if "int:" in m.group(0) or "path:" in m.group(0) else "x",
                  route).replace("^", "").replace("$", "")
    return "/admin/" + path


def _outcome(response, hidden_id: int, missing_id: int) -> tuple:
    location = response.get("Location", "").replace(f"/{missing_id}/", "/ID/").replace(f"/{hidden_id}/", "/ID/")
    return response.status_code, location


def _hidden_ids(world) -> list[int]:
    ids = [o.pk for o in world["hidden"].values()]
    return ids


def test_every_id_url_answers_for_a_hidden_object_as_for_a_missing_one(client, world, walker):
    client.force_login(walker)
    checked = 0
    for route, pattern in _patterns(admin.site.get_urls()):
        # Django's own auth pages (users, groups) are the stock admin's, for superusers only; the product's are walked.
        if "<" not in route or pattern.name in ("view_on_site",) or not route.startswith(PRODUCT_APPS):
            continue
        for hidden_id in sorted({*_hidden_ids(world), world["run"].pk, world["silence"].pk, world["grant"].pk}):
            missing = world["missing"] + hidden_id
            for method in ("get", "post"):
                shown = getattr(client, method)(_fill(route, hidden_id), {"extends": hidden_id})
                absent = getattr(client, method)(_fill(route, missing), {"extends": missing})
                assert HIDDEN not in shown.content.decode(errors="replace"), f"{method} {route} shows a name"
                assert _outcome(shown, hidden_id, missing) == _outcome(absent, hidden_id, missing), \
                    f"{method.upper()} {_fill(route, hidden_id)} differs from a missing id"
                checked += 1
    assert checked > 50


def test_every_admin_action_and_bulk_page_drops_hidden_ids(client, world, walker):
    client.force_login(walker)
    hidden = _hidden_ids(world)
    fuzzed = [*hidden, world["mine"]["ks"].pk, world["missing"], 0, -1, 10**12]
    for model, model_admin in admin.site._registry.items():
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        request = client.get(url).wsgi_request
        for action in (model_admin.get_actions(request) or {"delete_selected": None}):
            page = client.post(url, {"action": action, "_selected_action": [str(i) for i in fuzzed], "index": "0"})
            assert HIDDEN not in page.content.decode(errors="replace"), f"{action} on {url} shows a hidden name"
    for playbook in ("suspend", "resume", "reconcile"):
        page = client.post(f"/admin/playbooks/playbookrun/bulk/{playbook}/",
                           {"_selected_action": [str(i) for i in fuzzed]})
        body = page.content.decode(errors="replace")
        assert HIDDEN not in body
        confirmed = client.post(f"/admin/playbooks/playbookrun/bulk/{playbook}/",
                                {"_selected_action": [str(i) for i in hidden], "confirm": "1"})
        assert HIDDEN not in confirmed.content.decode(errors="replace")
    assert not PlaybookRun.objects.filter(requested_by=walker).exclude(target=world["mine"]["ks"]).exists()


def test_graph_root_and_query_parameters(client, world, walker):
    client.force_login(walker)
    for hidden_id in _hidden_ids(world):
        for params in ({"root": hidden_id}, {"root": hidden_id, "kind": "Deployment"}):
            shown = client.get("/admin/graph/kubeobject/graph/", params)
            absent = client.get("/admin/graph/kubeobject/graph/", {**params, "root": world["missing"]})
            assert HIDDEN not in shown.content.decode(errors="replace")
            assert shown.status_code == absent.status_code
    for params in ({"namespace": HIDDEN}, {"q": HIDDEN}, {"namespace": HIDDEN, "kind": "Deployment"}):
        for url in ("/admin/graph/kubeobject/graph/", "/admin/graph/kubeobject/", "/admin/alerts/alert/",
                    "/admin/alerts/silence/", "/admin/playbooks/playbookrun/", "/admin/access/accessgrant/"):
            page = client.get(url, params)
            body = page.content.decode(errors="replace")
            # The query string is echoed back in the page (search box, filter links): drop it before looking.
            assert HIDDEN not in body.replace(f"={HIDDEN}", "").replace(f'value="{HIDDEN}"', ""), (url, params)
    autocomplete = client.get("/admin/autocomplete/", {"term": HIDDEN, "app_label": "playbooks",
                                                       "model_name": "playbookrun", "field_name": "target"})
    assert HIDDEN not in autocomplete.content.decode(errors="replace")
    if walker.username.endswith("namespace-scoped"):
        own = client.get("/admin/graph/kubeobject/graph/", {"root": world["mine"]["ks"].pk})
        assert own.status_code == 200 and b"team-a-apps" in own.content
