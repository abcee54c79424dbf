"""Object-page panels (controlplane.extensions, slot ``object``) read live from the cluster: Kubernetes events and
pod logs on Pod and workload pages, the release history on HelmRelease pages (graph/live.py does the reading).

Who sees them: whoever may view the object (access.rules.can_view), nothing else. Logs are not a separate
permission: what a pod logs is shown after redaction, and a user who may view a Deployment already reads its pod
template, its events and its Helm values (docs/permissions.md).
"""

from __future__ import annotations

from django.utils.dateparse import parse_datetime

from access import rules
from controlplane import extensions
from controlplane.presentation import diff_lines
from graph import live


def _when(value: str):
    return parse_datetime(value) if value else None


@extensions.register_panel("object", "admin/graph/panels/workload_live.html", order=30)
def workload_panel(request, object) -> dict | None:  # noqa: A002 - the page's own name for it
    """Events and the last log lines per container of a Pod or workload the user may view."""
    if object is None or object.kind not in live.WORKLOAD_KINDS or object.deleted_at is not None:
        return None
    if not rules.can_view(request.user, object):
        return None
    found = live.workload_live(object)
    events = [{**e, "last_at": _when(e["last"])} for e in found.events]
    return {"live": found, "live_events": events, "mirror_events": object.events if found.error else [],
            "tail_lines": live.TAIL_LINES}


@extensions.register_panel("object", "admin/graph/panels/helm_history.html", order=35)
def helm_history_panel(request, object) -> dict | None:  # noqa: A002
    """The revisions of a HelmRelease the user may view, with the values diff between consecutive ones."""
    if object is None or object.kind != "HelmRelease" or object.deleted_at is not None:
        return None
    if not rules.can_view(request.user, object):
        return None
    try:
        revisions = live.release_history(object)
    except live.ClusterSilent as exc:
        return {"history_error": str(exc), "revisions": []}
    return {"history_error": "", "revisions": [
        {"r": r, "updated_at": _when(r.updated), "diff_rows": diff_lines("\n".join(r.diff))} for r in revisions]}
