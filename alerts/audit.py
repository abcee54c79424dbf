"""Audit events of alerts: one per state change (pending, firing, resolved) and one per silence match (silenced or
unsilenced). Called by every writer of alert state (intake, health, silence matching) once its rows are saved."""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.models import AuditEvent


def state_changed(alert, before: str | None) -> None:
    """``alert.<status>``: the alert entered its current status (``before`` None: it is new)."""
    where = f" on {alert.object}" if alert.object_id else ""
    AuditEvent.record(f"alert.{alert.status}", alert, before={"status": before} if before else None,
                      after={"status": alert.status, "severity": alert.severity, "starts_at": alert.starts_at,
                             "ends_at": alert.ends_at},
                      message=f"{alert.name}{where}: {before or 'new'} → {alert.status}")


def states_changed(alerts: Iterable, before: dict[int, str | None]) -> None:
    for alert in alerts:
        state_changed(alert, before.get(alert.pk))


def silence_matched(alert, silence_id: int | None, previous_id: int | None) -> None:
    """``alert.silenced`` when a silence now covers the alert, ``alert.unsilenced`` when none does any more."""
    if silence_id is not None:
        AuditEvent.record("alert.silenced", alert, before={"silenced_by": previous_id},
                          after={"silenced_by": silence_id}, message=f"{alert.name} silenced by silence #{silence_id}")
    else:
        AuditEvent.record("alert.unsilenced", alert, before={"silenced_by": previous_id},
                          after={"silenced_by": None}, message=f"{alert.name}: silence #{previous_id} no longer "
                                                               f"covers it")
