"""`manage.py configure`: the cluster and the default git connection from settings, idempotently."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from controlplane.models import AuditEvent, Cluster, GitConnection

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(settings):
    settings.FLUXPLANE_CLUSTER_NAME = "production"
    settings.FLUXPLANE_CLUSTER_CONNECTION = "in-cluster"
    settings.FLUXPLANE_GIT_CONNECTION = "fleet"
    settings.FLUXPLANE_GIT_URL = "https://github.com/acme/fleet.git"
    settings.FLUXPLANE_GIT_TYPE = "github"
    settings.FLUXPLANE_GIT_TOKEN_REF = "file:/var/run/fluxplane/git-token"
    return settings


def test_creates_then_leaves_alone_then_updates(configured, capsys):
    call_command("configure")
    assert "created" in capsys.readouterr().out
    cluster, connection = Cluster.objects.get(), GitConnection.objects.get()
    assert (cluster.name, cluster.connection) == ("production", "in-cluster")
    assert (connection.github_full_name, connection.token_ref) == ("acme/fleet", "file:/var/run/fluxplane/git-token")
    events = AuditEvent.objects.count()

    call_command("configure")
    assert capsys.readouterr().out.count("unchanged") == 2
    assert AuditEvent.objects.count() == events, "an unchanged configuration writes nothing"

    configured.FLUXPLANE_GIT_BASE_BRANCH = "release"
    call_command("configure")
    connection.refresh_from_db()
    assert connection.base_branch == "release"
    changed = AuditEvent.objects.get(verb="gitconnection.changed")
    assert changed.before["base_branch"] == "main" and changed.after["base_branch"] == "release"


@pytest.mark.parametrize("setting,value,message", [
    ("FLUXPLANE_GIT_TOKEN_REF", "ghp_" + "a" * 36, "looks like a token"),
    ("FLUXPLANE_GIT_URL", "https://bot:secret@github.com/acme/fleet.git", "credentials"),
    ("FLUXPLANE_CLUSTER_NAME", "Prod_1", "DNS-1123"),
    ("FLUXPLANE_CLUSTER_CONNECTION", "kubeconfig", "kubeconfig file"),
])
def test_invalid_settings_stop_with_the_field_message_and_write_nothing(configured, setting, value, message):
    setattr(configured, setting, value)
    with pytest.raises(CommandError, match=message):
        call_command("configure")
    assert not Cluster.objects.exists() and not GitConnection.objects.exists()


def test_nothing_configured_does_nothing(settings):
    settings.FLUXPLANE_CLUSTER_NAME = ""
    settings.FLUXPLANE_GIT_CONNECTION = ""
    call_command("configure")
    assert not Cluster.objects.exists() and not GitConnection.objects.exists()
