"""Validation of clusters and git connections, and token references."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from controlplane.models import Cluster, GitConnection, TokenUnavailable

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fields,error_field", [
    ({"name": "prod", "connection": "kubeconfig", "kubeconfig_path": "/etc/k"}, None),
    ({"name": "prod", "connection": "in-cluster"}, None),
    ({"name": "demo", "connection": "simulator", "server_url": "http://127.0.0.1:6443"}, None),
    ({"name": "Prod_1", "connection": "in-cluster"}, "name"),
    ({"name": "-prod", "connection": "in-cluster"}, "name"),
    ({"name": "prod", "connection": "kubeconfig"}, "kubeconfig_path"),
    ({"name": "prod", "connection": "kubeconfig", "kubeconfig_path": "/etc/../root/k"}, "kubeconfig_path"),
    ({"name": "demo", "connection": "simulator"}, "server_url"),
    ({"name": "prod", "connection": "in-cluster", "server_url": "http://x:1"}, "server_url"),
])
def test_cluster_validation(fields, error_field):
    cluster = Cluster(**fields)
    if error_field is None:
        cluster.full_clean()
        return
    with pytest.raises(ValidationError) as excinfo:
        cluster.full_clean()
    assert error_field in excinfo.value.message_dict


GOOD = {"name": "fleet", "provider": "github", "repository_url": "https://github.com/org/fleet.git",
        "token_ref": "env:GITHUB_TOKEN", "base_branch": "main"}


@pytest.mark.parametrize("changes,error_field", [
    ({}, None),
    ({"provider": "git", "token_ref": "", "repository_url": "/srv/git/fleet.git"}, None),
    ({"token_ref": "file:/run/secrets/gh"}, None),
    ({"token_ref": "ghp_" + "a" * 36}, "token_ref"),
    ({"token_ref": "github_pat_" + "a" * 30}, "token_ref"),
    ({"token_ref": "GITHUB_TOKEN"}, "token_ref"),
    ({"token_ref": "file:relative/path"}, "token_ref"),
    ({"token_ref": ""}, "token_ref"),
    ({"repository_url": "https://bot:secret@github.com/org/fleet.git"}, "repository_url"),
    ({"base_branch": "main branch"}, "base_branch"),
    ({"base_branch": "../main"}, "base_branch"),
    ({"base_branch": "-x"}, "base_branch"),
])
def test_git_connection_validation(changes, error_field):
    connection = GitConnection(**{**GOOD, **changes})
    if error_field is None:
        connection.full_clean()
        return
    with pytest.raises(ValidationError) as excinfo:
        connection.full_clean()
    assert error_field in excinfo.value.message_dict


def test_token_is_read_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEET_TOKEN", "tok-from-env\n")
    assert GitConnection(name="a", token_ref="env:FLEET_TOKEN").resolve_token() == "tok-from-env"
    (tmp_path / "t").write_text("tok-from-file\n")
    assert GitConnection(name="a", token_ref=f"file:{tmp_path / 't'}").resolve_token() == "tok-from-file"


def test_unresolvable_tokens_say_where_they_looked_without_leaking(monkeypatch, tmp_path):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(TokenUnavailable, match="environment variable NOPE_TOKEN is not set"):
        GitConnection(name="a", token_ref="env:NOPE_TOKEN").resolve_token()
    with pytest.raises(TokenUnavailable, match="cannot read token file"):
        GitConnection(name="a", token_ref=f"file:{tmp_path / 'missing'}").resolve_token()


@pytest.mark.parametrize("git_type,expected", [("git", "git"), ("github", "github"), ("gitlab", "gitlab"),
                                               ("gitea", "gitea"), ("azure_devops", "github")])
def test_git_type_setting_is_the_default_provider(settings, git_type, expected):
    settings.FLUXPLANE_GIT_TYPE = git_type
    assert GitConnection(name="x").provider == expected


GITLAB = {"name": "fleet", "provider": "gitlab", "repository_url": "https://gitlab.example.com/platform/k8s/fleet.git",
          "token_ref": "env:GITLAB_TOKEN", "base_branch": "main"}
GITEA = {"name": "fleet", "provider": "gitea", "repository_url": "ssh://git@git.home.arpa:2222/homelab/fleet.git",
         "api_url": "https://git.home.arpa", "token_ref": "file:/run/secrets/gitea", "base_branch": "main"}


@pytest.mark.parametrize("base,changes,error_field,remote", [
    (GITLAB, {}, None, "platform/k8s/fleet"),
    (GITLAB, {"repository_url": "git@gitlab.com:platform/fleet.git", "api_url": ""}, None, "platform/fleet"),
    (GITLAB, {"github_repository": "1234"}, None, "1234"),
    (GITLAB, {"github_repository": "a/b/c/d"}, None, "a/b/c/d"),
    (GITLAB, {"github_repository": "not a path"}, "github_repository", None),
    (GITLAB, {"repository_url": "/srv/git/fleet.git"}, "github_repository", None),
    (GITLAB, {"token_ref": ""}, "token_ref", None),
    (GITLAB, {"token_ref": "glpat-" + "a" * 20}, "token_ref", None),
    (GITLAB, {"token_ref": "gldt-" + "a" * 20}, "token_ref", None),
    (GITLAB, {"merge_policy": "on-checks"}, None, "platform/k8s/fleet"),
    (GITEA, {}, None, "homelab/fleet"),
    (GITEA, {"api_url": ""}, "api_url", None),
    (GITEA, {"token_ref": "0123456789abcdef0123456789abcdef01234567"}, "token_ref", None),
    (GITEA, {"github_repository": "a/b/c"}, "github_repository", None),
    (GITEA, {"repository_url": "/srv/fleet.git", "github_repository": "homelab/fleet"}, None, "homelab/fleet"),
    ({**GOOD, "provider": "git", "token_ref": ""}, {"merge_policy": "on-checks"}, "merge_policy", None),
    (GOOD, {"merge_policy": "sometimes"}, "merge_policy", None),
])
def test_each_provider_needs_its_own_fields(base, changes, error_field, remote):
    connection = GitConnection(**{**base, **changes})
    if error_field is None:
        connection.full_clean()
        assert connection.remote_repository == remote
        return
    with pytest.raises(ValidationError) as excinfo:
        connection.full_clean()
    assert error_field in excinfo.value.message_dict


def test_merge_policy_falls_back_to_the_setting(settings):
    settings.FLUXPLANE_GIT_MERGE = "on-checks"
    assert GitConnection(**GITLAB).effective_merge_policy == "on-checks"
    assert GitConnection(**GITLAB, merge_policy="manual").effective_merge_policy == "manual"


def test_each_provider_gets_its_adapter(monkeypatch):
    from gitops.providers import GiteaProvider, GitHubProvider, GitLabProvider

    monkeypatch.setenv("GITLAB_TOKEN", "t")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    assert isinstance(GitConnection(**GITLAB).pull_requests(), GitLabProvider)
    assert isinstance(GitConnection(**GOOD).pull_requests(), GitHubProvider)
    gitea = GitConnection(**{**GITEA, "token_ref": "env:GITLAB_TOKEN"}).pull_requests()
    assert isinstance(gitea, GiteaProvider) and gitea.client.api == "https://git.home.arpa/api/v1"
    with pytest.raises(ValueError, match="working copy"):
        GitConnection(name="x", provider="git", repository_url="/srv/x.git").pull_requests()
    assert GitConnection(**GITLAB).change_request_label(3) == "merge request !3"
    assert GitConnection(**GITEA).change_request_label(3) == "pull request #3"
