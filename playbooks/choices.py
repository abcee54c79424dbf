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
