"""What a run's page shows, computed once per view: the state in words, the timeline (requested → approved → PR
opened → merged → applied → healthy, or the step that failed and why), the diff split into coloured lines and the
parameters as labelled rows. Pure functions of the run and its audit events (one query), no provider calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib.contenttypes.models import ContentType

from controlplane.models import AuditEvent
from controlplane.presentation import diff_lines  # noqa: F401 - the run page names it here (playbooks/admin.py)
from playbooks.choices import ChangeState, Decision, Mode, PlaybookRunStatus
from playbooks.models import PlaybookRun

# Where a GitOps change stands once its job has finished: the words a person reads instead of "succeeded".
_CHANGE_WORDS = {
    ChangeState.PR_OPEN: ("pull request open: waiting to be merged", "waiting"),
    ChangeState.COMMITTED: ("committed: waiting for Flux to apply it", "waiting"),
    ChangeState.MERGED: ("merged: waiting for Flux to apply it", "waiting"),
    ChangeState.APPLIED: ("applied by Flux: waiting for the objects to become healthy", "waiting"),
    ChangeState.HEALTHY: ("applied, healthy", "ok"),
    ChangeState.UNHEALTHY: ("applied, unhealthy", "failed"),
    ChangeState.CLOSED: ("closed without merging", "failed"),
}
_STATUS_TONE = {
    PlaybookRunStatus.SUCCEEDED: "ok", PlaybookRunStatus.FAILED: "failed", PlaybookRunStatus.ERRORED: "failed",
    PlaybookRunStatus.REJECTED: "failed", PlaybookRunStatus.EXPIRED: "failed", PlaybookRunStatus.CANCELLED: "quiet",
}


def state_words(run: PlaybookRun) -> tuple[str, str]:
    """(words, tone) of where the run is; tone is ok | waiting | failed | quiet. A GitOps run is not "succeeded"
    while its change is still open: the words say where the change is."""
    if run.status == PlaybookRunStatus.SUCCEEDED and run.change_state in _CHANGE_WORDS:
        return _CHANGE_WORDS[run.change_state]
    return run.get_status_display(), _STATUS_TONE.get(run.status, "waiting")


def is_live(run: PlaybookRun) -> bool:
    """Whether the page keeps polling: the job is not finished, or its change is still moving."""
    from playbooks.choices import TRACKED_CHANGE_STATES

    return run.is_open or run.change_state in TRACKED_CHANGE_STATES or (
        run.mode == Mode.GITOPS and run.status == PlaybookRunStatus.SUCCEEDED and not run.change_state)


@dataclass
class Step:
    """One step of the timeline: done | current | failed | todo, when, and a line of detail."""

    label: str
    state: str = "todo"
    at: datetime | None = None
    detail: str = ""


def _events(run: PlaybookRun) -> dict[str, AuditEvent]:
    """The run's audit events by verb (the latest of each)."""
    ct = ContentType.objects.get_for_model(PlaybookRun, for_concrete_model=False)
    found: dict[str, AuditEvent] = {}
    events = AuditEvent.objects.filter(target_type__in=_run_types(ct), target_id=str(run.pk)).order_by("time", "id")
    for event in events:
        found[event.verb] = event
    return found


def _run_types(ct: ContentType) -> list[ContentType]:
    # Runs are audited as PlaybookRun, and approvals made from the inbox as its proxy PendingApproval.
    from playbooks.models import PendingApproval

    return [ct, ContentType.objects.get_for_model(PendingApproval, for_concrete_model=False)]


def timeline(run: PlaybookRun) -> list[Step]:
    """The steps of this run with time stamps from its audit events and approvals."""
    events = _events(run)
    approvals = list(run.approvals.all())
    steps = [Step("requested", "done", run.created_at, f"by {run.requested_by_username}")]

    # Approval.
    rejected = next((a for a in approvals if a.decision == Decision.REJECT), None)
    approved = [a for a in approvals if a.decision == Decision.APPROVE]
    if run.approvals_required == 0:
        steps.append(Step("approved", "done", run.created_at, "no approval needed"))
    elif rejected is not None:
        steps.append(Step("rejected", "failed", rejected.created_at, f"by {rejected.username}: {rejected.reason}"))
        return steps
    elif len(approved) >= run.approvals_required:
        steps.append(Step("approved", "done", approved[-1].created_at,
                          "by " + ", ".join(a.username for a in approved)))
    else:
        ending = {PlaybookRunStatus.EXPIRED: "expired unanswered", PlaybookRunStatus.CANCELLED: "cancelled"}
        if run.status in ending:
            steps.append(Step(ending[run.status], "failed", run.finished_at, ""))
            return steps
        steps.append(Step("approved", "current", None,
                          f"{len(approved)} of {run.approvals_required} approval(s), by someone other than "
                          f"{run.requested_by_username}"))

    failed = run.status in (PlaybookRunStatus.FAILED, PlaybookRunStatus.ERRORED)
    if run.mode != Mode.GITOPS:
        steps.append(_job_step("ran", run, failed))
        return steps

    # GitOps: the job commits and opens the change request, then the change moves on its own.
    change = {
        "pr": events.get(f"change.{ChangeState.PR_OPEN}") or events.get(f"change.{ChangeState.COMMITTED}"),
        "merged": events.get(f"change.{ChangeState.MERGED}") or events.get(f"change.{ChangeState.COMMITTED}"),
        "applied": events.get(f"change.{ChangeState.APPLIED}"),
        "health": events.get(f"change.{ChangeState.HEALTHY}") or events.get(f"change.{ChangeState.UNHEALTHY}"),
        "closed": events.get(f"change.{ChangeState.CLOSED}"),
    }
    pr_label = "committed" if run.change_state == ChangeState.COMMITTED else "pull request opened"
    if failed or (run.status == PlaybookRunStatus.CANCELLED and len(steps) > 1):
        steps.append(Step(pr_label, "failed", run.finished_at, run.error or run.get_status_display()))
        return steps
    if change["pr"] is None:
        steps.append(Step(pr_label, "current" if run.status == PlaybookRunStatus.RUNNING else "todo"))
    else:
        pr = f"#{run.pr_number}" if run.pr_number else (run.branch or run.commit_sha[:12])
        steps.append(Step(pr_label, "done", change["pr"].time, pr))
    if change["closed"] is not None:
        steps.append(Step("closed without merging", "failed", change["closed"].time, change["closed"].message))
        return steps
    order = [("merged", "merged"), ("applied", "applied by Flux"), ("health", "healthy")]
    waiting_marked = change["pr"] is None
    for key, label in order:
        event = change[key]
        if event is not None and not (key == "merged" and run.change_state == ChangeState.COMMITTED and
                                      change["merged"] is None):
            unhealthy = key == "health" and event.verb == f"change.{ChangeState.UNHEALTHY}"
            steps.append(Step("unhealthy" if unhealthy else label, "failed" if unhealthy else "done", event.time,
                              event.message))
        else:
            steps.append(Step(label, "todo" if waiting_marked else "current"))
            waiting_marked = True
    return steps


def _job_step(label: str, run: PlaybookRun, failed: bool) -> Step:
    if failed:
        return Step("failed", "failed", run.finished_at, run.error)
    if run.status == PlaybookRunStatus.SUCCEEDED:
        return Step("succeeded", "done", run.finished_at, "")
    if run.status == PlaybookRunStatus.RUNNING:
        return Step("running", "current", run.started_at, "")
    if run.status == PlaybookRunStatus.CANCELLED:
        return Step("cancelled", "failed", run.finished_at, "")
    return Step(label, "todo" if run.status == PlaybookRunStatus.PENDING_APPROVAL else "current", None,
                "queued" if run.status == PlaybookRunStatus.QUEUED else "")


def parameter_rows(run: PlaybookRun) -> list[tuple[str, str]]:
    """Parameters as (label, value) rows, labelled as the playbook's form labels them."""
    from playbooks.library import get_playbook

    try:
        fields = get_playbook(run.playbook).form_class.base_fields
    except LookupError:
        fields = {}
    rows = []
    parameters = run.parameters or {}
    # In the form's order, yes/no options after the values they qualify (PostgreSQL's jsonb keeps keys sorted by
    # length, not in the order they were written).
    declared = [k for k in fields if k in parameters]
    declared.sort(key=lambda k: isinstance(fields[k], forms.BooleanField))
    ordered = declared + sorted(k for k in parameters if k not in fields)
    for key in ordered:
        value = parameters[key]
        field = fields.get(key)
        label = str(field.label) if field is not None and field.label else key.replace("_", " ").capitalize()
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, dict | list):
            import json

            value = json.dumps(value, indent=1, default=str)
        rows.append((label, "—" if value in ("", None) else str(value)))
    return rows
