"""Periodic job of just-in-time access (registered in controlplane/cron.py)."""

from __future__ import annotations


def sweep_access_grants() -> dict[str, int]:
    """Every minute: activate, expire, remove and enforce access grants (idempotent, catches up after downtime)."""
    from jit.sweep import sweep

    return sweep()
