"""The chart's git.type reaches FLUXPLANE_GIT_TYPE as given and the application reads it as that provider; anything
else stops at `helm install` (the environment variable alone also takes the aliases forgejo and http)."""

from __future__ import annotations

import pytest

from controlplane.config import Env

from .test_chart import MINIMAL, find, render

APP_TYPES = ("github", "gitlab", "gitea", "git")
ALIASES = {"forgejo": "gitea", "http": "git"}


@pytest.fixture(scope="module")
def helm():
    import helm_python

    return helm_python


@pytest.mark.parametrize("git_type,provider", [("github", "github"), ("gitlab", "gitlab"), ("gitea", "gitea"),
                                               ("git", "git")])
def test_git_type_passes_through(helm, git_type, provider):
    values = {**MINIMAL, "git": {"type": git_type, "apiUrl": "https://gitlab.example.com", "repository": "a/b/c"}}
    data = find(render(helm, values), "ConfigMap")["data"]
    assert data["FLUXPLANE_GIT_TYPE"] == git_type
    assert (data["FLUXPLANE_GIT_API_URL"], data["FLUXPLANE_GIT_REPOSITORY"]) == ("https://gitlab.example.com", "a/b/c")
    parsed = Env({"FLUXPLANE_GIT_TYPE": data["FLUXPLANE_GIT_TYPE"]}).choice("FLUXPLANE_GIT_TYPE", "github", APP_TYPES,
                                                                           ALIASES)
    assert parsed == provider


@pytest.mark.parametrize("git_type", ["azure_devops", "forgejo"])
def test_a_git_type_that_is_not_a_provider_is_refused_by_the_schema(helm, git_type):
    with pytest.raises(helm.HelmError, match="type"):
        render(helm, {**MINIMAL, "git": {"type": git_type}})
