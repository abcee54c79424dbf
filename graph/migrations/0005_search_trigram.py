"""Trigram indexes that serve the object search on PostgreSQL.

The admin's search is ``icontains`` on name, namespace, kind and uid, which PostgreSQL runs as
``UPPER(col::text) LIKE UPPER('%term%')``: no b-tree can serve a leading wildcard, so at 60k rows every search read
the whole table. A GIN index over the same expression with ``gin_trgm_ops`` serves it. ``pg_trgm`` is a trusted
extension (PostgreSQL 13+: the database owner may create it); where it cannot be created the search keeps working,
unindexed, and the migration says so. SQLite has no such index and needs none at its scale.
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

FIELDS = ("name", "namespace", "kind", "uid")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - an unprivileged role: the search still works, without the index
        logger.warning("pg_trgm is not available (%s); the object search stays unindexed", exc)
        return
    for field in FIELDS:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "graph_obj_{field}_trgm" ON "graph_kubeobject" '
                              f'USING gin ((UPPER("{field}"::text)) gin_trgm_ops)')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in FIELDS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "graph_obj_{field}_trgm"')


class Migration(migrations.Migration):
    dependencies = [("graph", "0004_delta_mirror")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
