"""Fixtures shared by every app's tests: real Redis (flushed per session), queue draining, users."""

from __future__ import annotations

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rq import SimpleWorker

QUEUES = ("high", "playbooks", "default", "low")


@pytest.fixture(scope="session")
def redis_connection():
    """The test Redis database, emptied once per session. Fails loudly if Redis is not there."""
    connection = django_rq.get_connection("default")
    connection.ping()
    connection.flushdb()
    return connection


@pytest.fixture(autouse=True)
def isolated_redis(redis_connection):
    """Every test starts with an empty Redis database: primary keys repeat across tests (rolled back), so a job,
    lock or deferred dependency left by an earlier test would otherwise act on this test's rows."""
    redis_connection.flushdb()


@pytest.fixture
def drain(redis_connection):
    """Run every queued job in-process with a non-forking SimpleWorker until the queues are empty."""

    def _drain() -> None:
        queues = [django_rq.get_queue(name) for name in QUEUES]
        # Jobs that depend on others are enqueued when those finish; a burst can end just before, so go again
        # until nothing is queued or waiting on a dependency.
        for _ in range(50):
            SimpleWorker(queues, connection=redis_connection).work(burst=True, with_scheduler=False)
            if all(q.count == 0 and q.deferred_job_registry.count == 0 for q in queues):
                return
        raise AssertionError("queues did not drain")

    yield _drain
    for name in QUEUES:
        django_rq.get_queue(name).empty()


@pytest.fixture
def make_user(db):
    """Create a user; ``perms`` are 'app_label.codename' strings granted directly."""

    def _make(username: str, *, staff: bool = True, superuser: bool = False, perms: tuple[str, ...] = ()):
        user = get_user_model().objects.create_user(
            username=username, password="pw-" + username, is_staff=staff, is_superuser=superuser
        )
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return get_user_model().objects.get(pk=user.pk)  # fresh instance: permission cache empty

    return _make


@pytest.fixture
def admin_user(make_user):
    return make_user("root", superuser=True)


# Variables a test process may carry (set by pytest-django, the browser fixture, CI) that must not leak into the
# production-like subprocesses some tests start (manage.py check --deploy, the entrypoint, scripts/run.sh).
TEST_ONLY_ENV = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")


def clean_env(environ) -> dict[str, str]:
    """The environment for a production-like subprocess: no FLUXPLANE_* and no test-only variables."""
    return {k: v for k, v in environ.items() if not k.startswith("FLUXPLANE_") and k not in TEST_ONLY_ENV}
