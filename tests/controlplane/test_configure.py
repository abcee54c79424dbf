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


@pytest.mark.parametrize("git_type,url,api_url,repository,remote", [
    ("gitlab", "https://gitlab.example.com/platform/k8s/fleet.git", "https://gitlab.example.com", "",
     "platform/k8s/fleet"),
    ("gitlab", "https://gitlab.com/acme/fleet.git", "", "4711", "4711"),
    ("gitea", "https://git.home.arpa/homelab/fleet.git", "https://git.home.arpa", "", "homelab/fleet"),
])
def test_the_chart_git_type_makes_a_gitlab_or_gitea_connection(configured, git_type, url, api_url, repository,
                                                                remote):
    configured.FLUXPLANE_GIT_TYPE = git_type
    configured.FLUXPLANE_GIT_URL = url
    configured.FLUXPLANE_GIT_API_URL = api_url
    configured.FLUXPLANE_GIT_REPOSITORY = repository
    call_command("configure")
    connection = GitConnection.objects.get()
    assert (connection.provider, connection.remote_repository) == (git_type, remote)
    assert connection.token_ref == "file:/var/run/fluxplane/git-token"


def test_gitea_without_its_server_url_is_refused(configured):
    configured.FLUXPLANE_GIT_TYPE = "gitea"
    configured.FLUXPLANE_GIT_URL = "https://git.home.arpa/homelab/fleet.git"
    configured.FLUXPLANE_GIT_API_URL = ""
    with pytest.raises(CommandError, match="needs the server URL"):
        call_command("configure")
    assert not GitConnection.objects.exists()
