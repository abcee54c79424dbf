"""Reading Fluxplane's configuration from the environment.

Kept apart from settings.py so the rules (what is required when, how values are parsed) are plain functions
that tests can call with a dictionary instead of the process environment.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class Env:
    """Typed access to ``FLUXPLANE_*`` (and a few conventional) environment variables.

    Every parse error names the variable and the accepted values, so a mistyped deployment fails with one
    clear line instead of a traceback deep inside Django.
    """

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def str(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default).strip()

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")

    def int(self, name: str, default: int) -> int:
        raw = self.environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            return int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None

    def choice(self, name: str, default: str, choices: tuple[str, ...],
               aliases: Mapping[str, str] | None = None) -> str:
        """One of ``choices`` (case-insensitive; ``aliases`` map other accepted words onto them)."""
        raw = self.environ.get(name)
        value = (raw if raw is not None and raw.strip() else default).strip().lower()
        value = (aliases or {}).get(value, value)
        if value not in choices:
            accepted = ", ".join([*choices, *(aliases or {})])
            raise ImproperlyConfigured(f"{name}={raw!r} is not one of: {accepted}.")
        return value

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        raw = self.environ.get(name)
        if raw is None:
            return list(default or [])
        return [item.strip() for item in raw.split(",") if item.strip()]


def require(env: Env, name: str, why: str) -> str:
    """Return a required variable or fail with one line saying what it is for and how to set it."""
    value = env.str(name)
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set: {why}. Set it in the environment, or set FLUXPLANE_DEMO=1 for a local demo."
        )
    return value


def demo_secret_key(data_dir: Path) -> str:
    """A secret key for demo/debug mode, generated once and kept in the data directory (mode 0600).

    A fixed key in the source would be a shared secret between every demo install; a per-install file is not.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def redis_url_with_db(url: str, db: int | None) -> str:
    """Point a redis:// URL at a given database number (replacing any path), e.g. for an isolated test DB."""
    if db is None:
        return url
    base, _, _ = url.partition("?")
    scheme, sep, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}{sep}{host}/{db}"


def with_query(url: str, **params) -> str:
    """``url`` with query parameters added unless already present (e.g. redis-py's connection options)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in params.items():
        query.setdefault(key, str(value))
    return urlunsplit(parts._replace(query=urlencode(query)))
