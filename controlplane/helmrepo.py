"""The Helm repository adapter: which versions of a chart an HTTP(S) Helm repository offers (its index.yaml).

Used to show the versions a HelmRepository offers and to refuse a version or range none of them satisfies. OCI
repositories have no index and are not read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
import yaml
from django.core.cache import cache

from gitops.semver import parse_semver

MAX_INDEX_BYTES = 32 * 1024 * 1024  # big public repositories (bitnami) have indexes of several MB
CACHE_SECONDS = 300
FAILURE_CACHE_SECONDS = 60  # an unreachable repository is not asked again on every page view


class HelmIndexUnavailable(Exception):
    """The repository index could not be read or parsed (the message says why, for the form)."""


class HelmRepositoryIndex:
    """Reads ``<url>/index.yaml`` of one Helm repository (cached for a few minutes)."""

    def __init__(self, url: str, timeout: float = 5.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HelmIndexUnavailable(f"{url} is not an HTTP(S) Helm repository")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def versions(self, chart: str) -> list[str]:
        """The versions of ``chart``, newest first (prereleases included, as the index lists them)."""
        key = f"fluxplane:helmindex:{self.url}:{chart}"
        cached = cache.get(key)
        if isinstance(cached, str):
            raise HelmIndexUnavailable(cached)
        if cached is not None:
            return cached
        try:
            versions = self._read(chart)
        except HelmIndexUnavailable as exc:
            cache.set(key, str(exc), FAILURE_CACHE_SECONDS)
            raise
        cache.set(key, versions, CACHE_SECONDS)
        return versions

    def _read(self, chart: str) -> list[str]:
        try:
            response = requests.get(f"{self.url}/index.yaml", timeout=self.timeout, stream=True)
            response.raise_for_status()
            body = response.raw.read(MAX_INDEX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise HelmIndexUnavailable(f"cannot read {self.url}/index.yaml: {type(exc).__name__}") from None
        if len(body) > MAX_INDEX_BYTES:
            raise HelmIndexUnavailable(f"{self.url}/index.yaml is larger than {MAX_INDEX_BYTES // 1024 // 1024} MB")
        try:
            index = yaml.safe_load(body)
        except yaml.YAMLError:
            raise HelmIndexUnavailable(f"{self.url}/index.yaml is not valid YAML") from None
        entries = ((index or {}).get("entries") or {}).get(chart) if isinstance(index, dict) else None
        if not isinstance(entries, list):
            raise HelmIndexUnavailable(f"{self.url} has no chart named {chart!r}")
        found = {str(e.get("version")) for e in entries if isinstance(e, dict) and parse_semver(str(e.get("version")))}
        return sorted(found, key=parse_semver, reverse=True)
