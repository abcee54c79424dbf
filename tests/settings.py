"""Test settings: the real settings in demo mode, a dedicated Redis database, immediate enqueueing.

The test command (scripts/test.sh) points FLUXPLANE_TEST_REDIS_URL at the machine's Redis (a dedicated DB
number, flushed at session start) or at an embedded Redis it starts; DATABASE_URL picks PostgreSQL.
"""

import os
import tempfile

os.environ.setdefault("FLUXPLANE_DEMO", "1")
os.environ.setdefault("FLUXPLANE_DATA_DIR", tempfile.mkdtemp(prefix="fluxplane-test-"))

from controlplane.settings import *  # noqa: E402,F403
from controlplane.settings import RQ_QUEUES  # noqa: E402

REDIS_URL = os.environ.get("FLUXPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
for queue in RQ_QUEUES.values():
    queue["URL"] = REDIS_URL
RQ = {"COMMIT_MODE": "auto"}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns about a missing directory
FLUXPLANE_EXEC_POLL_SECONDS = 0.1
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
