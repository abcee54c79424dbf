"""``manage.py wait_for_schema``: wait until every migration this code knows is applied (init containers).

Workers, the scheduler and the watcher run against the database schema of their release: started before the
migration Job (or the web pod's migrate init container) finishes, they would fail on missing tables and columns.
Their init container runs this command; it polls ``migrate --check``'s question (is anything unapplied?) and exits
0 once nothing is, or 1 after ``--timeout`` seconds (the pod then restarts the init container, with back-off).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor


def unapplied(database: str = "default") -> list[str]:
    """Migrations of the code not applied to the database, as ``app.name``."""
    connection = connections[database]
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    return [f"{migration.app_label}.{migration.name}" for migration, _ in executor.migration_plan(targets)]


class Command(BaseCommand):
    help = "Wait until the database schema has every migration of this code (exit 1 after --timeout seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=600.0)
        parser.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args, timeout: float, interval: float, **options):
        deadline = time.monotonic() + timeout
        said = ""
        while True:
            try:
                pending = unapplied()
                status = f"{len(pending)} migrations not applied yet (first: {pending[0]})" if pending else ""
            except DatabaseError as exc:
                pending, status = None, f"database not reachable: {exc}".strip()
            finally:
                connections.close_all()
            if pending == []:
                self.stdout.write("schema is up to date")
                return
            if status != said:
                self.stdout.write(f"waiting for the schema: {status}")
                said = status
            if time.monotonic() >= deadline:
                raise CommandError(f"the schema is not up to date after {timeout:.0f}s: {status}")
            time.sleep(interval)
