"""Adapter for the Alertmanager HTTP API v2: the only module of Fluxplane that talks to Alertmanager.

Models, jobs and admin use :class:`AlertmanagerClient`; it speaks plain HTTP with urllib (no extra dependency) and
turns every failure into :class:`AlertmanagerError` with Alertmanager's own message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any


class AlertmanagerError(Exception):
    """Alertmanager could not be reached or refused a request; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class AlertmanagerClient:
    """A narrow client of one Alertmanager: alerts, silences, status."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0):
        self.base = url.rstrip("/") + "/api/v2"
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        url = self.base + path + (("?" + urllib.parse.urlencode(query, doseq=True)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:500]
            raise AlertmanagerError(f"Alertmanager answered {exc.code} to {method} {path}: {detail}",
                                    exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertmanagerError(f"Alertmanager at {self.base} unreachable: {reason}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    # ------------------------------------------------------------------ status and alerts
    def status(self) -> dict:
        """GET /status (version, cluster state, config)."""
        return self._call("GET", "/status")

    def post_alerts(self, alerts: list[dict]) -> None:
        """POST /alerts: each ``{"labels", "annotations", "startsAt", "endsAt", "generatorURL"}``."""
        self._call("POST", "/alerts", alerts)

    def alerts(self, filters: list[str] | None = None, silenced: bool = True, inhibited: bool = True,
               active: bool = True) -> list[dict]:
        """GET /alerts with Alertmanager's filter expressions, e.g. ``['namespace="podinfo"']``."""
        query = {"silenced": str(silenced).lower(), "inhibited": str(inhibited).lower(),
                 "active": str(active).lower()}
        if filters:
            query["filter"] = filters
        return self._call("GET", "/alerts", query=query) or []

    # ------------------------------------------------------------------ silences
    def silences(self, filters: list[str] | None = None) -> list[dict]:
        """GET /silences (every state; callers look at ``status.state``)."""
        return self._call("GET", "/silences", query={"filter": filters} if filters else None) or []

    def silence(self, silence_id: str) -> dict:
        """GET /silence/{id}."""
        return self._call("GET", f"/silence/{urllib.parse.quote(silence_id)}")

    def put_silence(self, *, matchers: list[dict], starts_at: datetime, ends_at: datetime, created_by: str,
                    comment: str, silence_id: str | None = None) -> str:
        """POST /silences: create, or update ``silence_id``. Alertmanager may answer with a new id (when matchers
        change it expires the old silence and creates another): the returned id is the one to keep."""
        body = {"matchers": matchers, "startsAt": rfc3339(starts_at), "endsAt": rfc3339(ends_at),
                "createdBy": created_by, "comment": comment}
        if silence_id:
            body["id"] = silence_id
        answer = self._call("POST", "/silences", body)
        if not isinstance(answer, dict) or not answer.get("silenceID"):
            raise AlertmanagerError(f"unexpected answer to POST /silences: {answer!r}"[:300])
        return answer["silenceID"]

    def expire_silence(self, silence_id: str) -> bool:
        """DELETE /silence/{id}. Returns False when it was already expired or is unknown (nothing left to do)."""
        try:
            self._call("DELETE", f"/silence/{urllib.parse.quote(silence_id)}")
        except AlertmanagerError as exc:
            if exc.status == 404:
                return False
            if exc.status in (400, 500):  # "silence already expired" in some versions
                try:
                    state = (self.silence(silence_id).get("status") or {}).get("state")
                except AlertmanagerError:
                    raise exc from None
                if state == "expired":
                    return False
            raise
        return True
