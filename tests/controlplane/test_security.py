"""Security: sign-in throttling, the CSP header, no inline scripts in our templates, and a walk over every admin
URL as an unprivileged staff user — nothing but the index and their own account pages may answer 200."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from controlplane.models import AuditEvent, Cluster, GitConnection, SystemRun
from graph.choices import Family
from graph.models import KubeObject
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def login(client, username, password):
    url = reverse("admin:login")
    return client.post(url, {"username": username, "password": password, "next": "/admin/"})


def test_sign_in_is_throttled_after_repeated_failures(client, make_user, settings):
    settings.FLUXPLANE_LOGIN_MAX_FAILURES = 3
    make_user("alice")
    for _ in range(3):
        assert "Please enter the correct username" in login(client, "alice", "wrong").content.decode()
    refused = login(client, "alice", "pw-alice")
    assert refused.status_code == 200 and "Too many failed sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(verb="login.throttled").exists()
    cache.clear()  # the lockout expired
    assert login(client, "alice", "pw-alice").status_code == 302


def test_every_response_carries_a_strict_csp(client, admin_user):
    client.force_login(admin_user)
    for url in ("/admin/", "/healthz", reverse("admin:login")):
        csp = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp


def test_no_inline_scripts_in_our_templates():
    inline = []
    for template in ROOT.glob("*/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", template.read_text()):
            inline.append(f"{template.relative_to(ROOT)}: {match.group(0)}")
    assert inline == []


# ------------------------------------------------------------------------------------------------ the admin walk
def _admin_patterns(patterns, prefix="") -> list[tuple[str, URLPattern]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found += _admin_patterns(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            found.append((prefix + str(p.pattern), p))
    return found


@pytest.fixture
def world(admin_user):
    now = timezone.now()
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:9")
    ks = KubeObject.objects.create(cluster=cluster, uid="u1", api_group="kustomize.toolkit.fluxcd.io",
                                   api_version="v1", kind="Kustomization", family=Family.KUSTOMIZATION,
                                   namespace="flux-system", name="apps", first_seen=now, last_seen=now)
    GitConnection.objects.create(name="g", provider="git", repository_url="/srv/git/fleet.git")
    SystemRun.objects.create(runner="ping")
    PlaybookRun.objects.create(playbook="suspend", runner="playbook", cluster=cluster, target=ks,
                               target_kind="Kustomization", target_name="apps", requested_by=admin_user,
                               status="pending_approval", approvals_required=1)
    AuditEvent.record("test.event", ks)
    return {"pk": ks.pk}


# Pages any signed-in staff user may open: the index, their own password page, and admin plumbing.
ALLOWED = {"index", "password_change", "password_change_done", "jsi18n", "logout", "login", "autocomplete",
           "view_on_site",
           # Lists scoped to what the user may see (their own runs and grants, grants on objects they may view):
           # they open, and show nothing of anybody else's (the world below has none of theirs).
           "playbooks_playbookrun_changelist", "access_myaccessgrant_changelist", "access_accessgrant_changelist",
           "access_activeaccessgrant_changelist",
           # Every staff user manages their own API tokens (the list shows only theirs).
           "api_apitoken_changelist", "api_apitoken_add"}


def test_unprivileged_staff_walk(client, make_user, world):
    user = make_user("walker")
    client.force_login(user)
    opened = []
    for route, pattern in _admin_patterns(admin.site.get_urls()):
        name = pattern.name or ""
        if name in ALLOWED:
            continue
        url = "/admin/" + re.sub(r"<[^>]+>", lambda m: "0" if "int:" in m.group(0) or "path:" in m.group(0)
                                  else "x", route).replace("^", "").replace("$", "")
        url = re.sub(r"/0/", f"/{world['pk']}/", url)
        response = client.get(url)
        if response.status_code == 200:
            opened.append(f"{name} {url}")
    # The scoped run list opens but shows nobody else's run.
    runs = client.get(reverse("admin:playbooks_playbookrun_changelist")).content.decode()
    assert "suspend Kustomization" not in runs
    assert opened == [], "pages an unprivileged staff user could open: " + ", ".join(opened)
