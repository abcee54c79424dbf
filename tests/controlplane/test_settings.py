"""Configuration: parsing, clear errors for missing secrets, and a clean `check --deploy` in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from controlplane.config import Env, demo_secret_key, redis_url_with_db
from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False),
                                          ("false", False), ("no", False), ("", False)])
def test_booleans(raw, expected):
    assert Env({"X": raw}).bool("X") is expected


def test_bad_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"FLUXPLANE_DEBUG='maybe' is not a boolean"):
        Env({"FLUXPLANE_DEBUG": "maybe"}).bool("FLUXPLANE_DEBUG")


def test_bad_integer_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"FLUXPLANE_PORT='80a' is not an integer"):
        Env({"FLUXPLANE_PORT": "80a"}).int("FLUXPLANE_PORT", 1)


@pytest.mark.parametrize("raw,expected", [(None, "github"), ("gitlab", "gitlab"), ("GitLab", "gitlab"),
                                          ("forgejo", "gitea"), ("gitea", "gitea"), ("http", "git"), ("git", "git")])
def test_git_type_choices_and_aliases(raw, expected):
    env = Env({} if raw is None else {"FLUXPLANE_GIT_TYPE": raw})
    choices = ("github", "gitlab", "gitea", "git")
    assert env.choice("FLUXPLANE_GIT_TYPE", "github", choices, {"forgejo": "gitea", "http": "git"}) == expected


def test_unknown_git_type_and_merge_policy_fail_at_start(tmp_path):
    base = {"FLUXPLANE_DEMO": "1", "FLUXPLANE_DATA_DIR": str(tmp_path)}
    result = run_django({**base, "FLUXPLANE_GIT_TYPE": "azure_devops"}, "check")
    assert result.returncode != 0 and "FLUXPLANE_GIT_TYPE='azure_devops' is not one of: github, gitlab" in result.stderr
    result = run_django({**base, "FLUXPLANE_GIT_MERGE": "always"}, "check")
    assert result.returncode != 0 and "FLUXPLANE_GIT_MERGE='always' is not one of: manual, on-approval, on-checks" \
        in result.stderr


def test_lists_drop_blanks():
    assert Env({"H": " a.example, ,b.example "}).list("H") == ["a.example", "b.example"]


@pytest.mark.parametrize("url,db,expected", [
    ("redis://127.0.0.1:6379/0", 13, "redis://127.0.0.1:6379/13"),
    ("redis://:pw@redis:6379", 2, "redis://:pw@redis:6379/2"),
    ("redis://h:1/4", None, "redis://h:1/4"),
])
def test_redis_db_selection(url, db, expected):
    assert redis_url_with_db(url, db) == expected


def test_demo_secret_key_is_generated_once_and_private(tmp_path):
    key = demo_secret_key(tmp_path)
    assert len(key) > 50
    assert demo_secret_key(tmp_path) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def run_django(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = clean_env(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "controlplane.settings", **env_overrides})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


PRODUCTION = {
    "FLUXPLANE_SECRET_KEY": "k" * 20 + "Xy9!Qz7#Lm2$Rt5%Wv8^Bn4&Hj6*Pd3(Fs1)Gk0" + "z" * 10,
    "FLUXPLANE_ALLOWED_HOSTS": "fluxplane.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
}


@pytest.mark.parametrize("missing,expected", [
    ("FLUXPLANE_SECRET_KEY", "FLUXPLANE_SECRET_KEY is not set: Django needs a long random secret key"),
    ("FLUXPLANE_ALLOWED_HOSTS", "FLUXPLANE_ALLOWED_HOSTS is not set: list the host names"),
    ("REDIS_URL", "REDIS_URL is not set: the job queue needs Redis"),
])
def test_production_mode_fails_loudly_on_missing_settings(tmp_path, missing, expected):
    env = {**PRODUCTION, "FLUXPLANE_DATA_DIR": str(tmp_path)}
    del env[missing]
    result = run_django(env, "check")
    assert result.returncode != 0
    assert expected in result.stderr
    assert "FLUXPLANE_DEMO=1" in result.stderr


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = run_django({**PRODUCTION, "FLUXPLANE_DATA_DIR": str(tmp_path)}, "check", "--deploy", "--fail-level",
                        "WARNING")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_demo_mode_needs_no_configuration(tmp_path):
    result = run_django({"FLUXPLANE_DEMO": "1", "FLUXPLANE_DATA_DIR": str(tmp_path)}, "check")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


@pytest.mark.django_db
def test_demo_users_can_ask_and_approve_but_not_administer(settings, tmp_path, capsys):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.DATA_DIR = tmp_path
    call_command("ensure_admin", "--demo-users")
    first = capsys.readouterr().out
    call_command("ensure_admin", "--demo-users")
    assert capsys.readouterr().out == first, "idempotent: the same logins again"
    developer = get_user_model().objects.get(username="developer")
    approver = get_user_model().objects.get(username="approver")
    assert developer.is_staff and not developer.is_superuser and developer.has_perm("graph.request_change")
    assert not developer.has_perm("graph.approve_run")
    assert approver.has_perm("graph.approve_run") and not approver.has_perm("graph.request_change")
    assert (tmp_path / "developer-password").stat().st_mode & 0o077 == 0
    assert f"login (developer): developer / {(tmp_path / 'developer-password').read_text()}" in first
