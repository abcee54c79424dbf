"""The ``fluxplane`` CLI as a user runs it: a separate process, against a live test server, with a token from the
environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from guardian.shortcuts import assign_perm

from access import rules
from api.models import ApiToken
from playbooks.models import PlaybookRun
from tests.access.test_rules import tree  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(live_server, tmp_path):
    """Run ``python -m api.cli …`` as ``user`` (a token issued for them) and return (exit code, stdout, stderr)."""

    def _run(user, *args: str, token: str | None = None) -> tuple[int, str, str]:
        key = token or ApiToken.issue(user, "cli test")[1]
        env = {**os.environ, "FLUXPLANE_URL": live_server.url, "FLUXPLANE_TOKEN": key,
               "FLUXPLANE_CONFIG": str(tmp_path / "none")}
        done = subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    return _run


@pytest.fixture
def developer(tree, make_user):  # noqa: F811
    user = make_user("dev")
    for verb in (rules.VIEW, rules.RUN_PLAYBOOK):
        assign_perm(f"graph.{verb}", user, tree["ns"])
    return user


def test_get_why_request_and_runs(cli, developer, tree):  # noqa: F811
    tree["release"].rollup_health = "failed"
    tree["release"].rollup_message = "HelmRelease podinfo/podinfo: install timed out"
    tree["release"].status = {"conditions": [{"type": "Ready", "status": "False", "reason": "InstallFailed",
                                              "message": "install timed out"}]}
    tree["release"].save()

    code, out, err = cli(developer, "get", "deployments", "-A")
    assert code == 0, err
    assert out.splitlines()[0].split()[:3] == ["NAMESPACE", "NAME", "KIND"]
    assert "podinfo" in out and "web" not in out  # the other namespace is not the developer's

    code, out, err = cli(developer, "why", "helmrelease/podinfo", "-n", "podinfo")
    assert code == 0, err
    assert "is failed: HelmRelease podinfo/podinfo: install timed out" in out
    assert "Ready=False InstallFailed: install timed out" in out

    code, out, err = cli(developer, "-o", "json", "request", "reconcile", "helmrelease/podinfo", "-n", "podinfo")
    assert code == 0, err
    run = json.loads(out)
    assert PlaybookRun.objects.get(pk=run["id"]).requested_by == developer

    code, out, err = cli(developer, "runs", "--mine")
    assert code == 0, err
    assert out.splitlines()[1].split()[:2] == [str(run["id"]), "reconcile"]


def test_clear_errors(cli, developer, tree):  # noqa: F811
    code, _, err = cli(developer, "why", "deployment/web", "-n", "other")
    assert code == 1 and "not found in namespace other (or not visible to you)" in err
    code, _, err = cli(developer, "get", "kustomizations", token="fpt_forged")
    assert code == 1 and "401" in err and "Unknown, expired or revoked token" in err
    code, _, err = cli(developer, "request", "reconcile", "helmrelease/podinfo", "-n", "podinfo", "--set", "timeout")
    assert code == 1 and "--set takes key=value" in err


def test_audit_csv(cli, make_user, developer, tree):  # noqa: F811
    auditor = make_user("auditor", perms=("controlplane.view_auditevent",))
    cli(developer, "request", "reconcile", "helmrelease/podinfo", "-n", "podinfo")
    code, out, err = cli(auditor, "audit", "--since", "1h", "--format", "csv")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.startswith("id,time,actor_username,context")
    assert any(",run.requested," in row for row in rows)
    code, _, err = cli(developer, "audit")
    assert code == 1 and "403" in err
