"""Core models: connections to clusters and git, the audit log, and runs."""

from controlplane.models.audit import AuditEvent, AuditImmutableError
from controlplane.models.connections import Cluster, GitConnection, TokenUnavailable
from controlplane.models.runs import TERMINAL_STATUSES, Run, RunStatus, SystemRun

__all__ = [
    "TERMINAL_STATUSES",
    "AuditEvent",
    "AuditImmutableError",
    "Cluster",
    "GitConnection",
    "Run",
    "RunStatus",
    "SystemRun",
    "TokenUnavailable",
]
