"""Choice lists of the playbooks app."""

from django.db import models


class PlaybookRunStatus(models.TextChoices):
    """Lifecycle of a playbook run: the base Run states plus approval and expiry."""

    PENDING_APPROVAL = "pending_approval", "pending approval"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    ERRORED = "errored", "errored"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"


OPEN_STATUSES = (PlaybookRunStatus.PENDING_APPROVAL, PlaybookRunStatus.APPROVED, PlaybookRunStatus.QUEUED,
                 PlaybookRunStatus.RUNNING)


class Mode(models.TextChoices):
    EXEC = "exec", "exec (patches the cluster)"
    GITOPS = "gitops", "GitOps (pull request)"


class Decision(models.TextChoices):
    APPROVE = "approve", "approve"
    REJECT = "reject", "reject"


class ChangeState(models.TextChoices):
    """Where a GitOps change is after its run: the timeline shown on the request."""

    PR_OPEN = "pr_open", "pull request open"
    COMMITTED = "committed", "committed to the base branch"
    MERGED = "merged", "merged"
    CLOSED = "closed", "closed without merging"
    APPLIED = "applied", "applied by Flux"
    HEALTHY = "healthy", "applied, healthy"
    UNHEALTHY = "unhealthy", "applied, unhealthy"


TRACKED_CHANGE_STATES = (ChangeState.PR_OPEN, ChangeState.COMMITTED, ChangeState.MERGED, ChangeState.APPLIED)
