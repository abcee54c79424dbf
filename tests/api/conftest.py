"""Fixtures of the API tests: the small Flux tree of the access tests, people with grants on it, and tokens."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from access import rules
from api.models import ApiToken
from tests.access.test_rules import tree  # noqa: F401  (fixture)


@pytest.fixture
def people(tree, make_user):  # noqa: F811
    """Who is who: a superuser; a podinfo developer (view + run + change + request on the podinfo namespace); an
    approver on apps; an auditor (audit log only); and a staff user with no grants at all."""
    developer = make_user("dev")
    for verb in (rules.VIEW, rules.RUN_PLAYBOOK, rules.REQUEST_CHANGE):
        assign_perm(f"graph.{verb}", developer, tree["ns"])
    approver = make_user("lead")
    for verb in (rules.VIEW, rules.APPROVE_RUN):
        assign_perm(f"graph.{verb}", approver, tree["apps"])
    return {
        "root": make_user("root", superuser=True),
        "dev": developer,
        "lead": approver,
        "auditor": make_user("auditor", perms=("controlplane.view_auditevent",)),
        "nobody": make_user("nobody"),
    }


@pytest.fixture
def api_as(people):
    """An API client authenticated with a fresh personal token of ``who`` (read-only on request)."""

    def _client(who: str, **token_options) -> APIClient:
        _token, key = ApiToken.issue(people[who], f"{who} test", **token_options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return _client
