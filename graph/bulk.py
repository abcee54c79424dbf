"""Set-based writes for the sync: one statement upserts thousands of rows, whatever their number.

Django's ``bulk_create`` splits by the database's parameter limit (999 on SQLite, so ~30 rows of a 34-column model
per query), which makes the number of queries grow with the cluster. Here the rows travel as *one* JSON parameter
that the database unpacks itself (``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite), so a sync costs
a handful of statements per ``CHUNK`` rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models

from controlplane import jsoncodec
from graph.models import Edge, KubeObject

CHUNK = 5000
# Object rows go in smaller chunks: each carries spec and status, and a chunk is held four times over while it is sent
# (the row dicts, their JSON text, the driver's copy, the database's parse of it).
ROW_CHUNK = 2000

_PG_TYPES = {
    "CharField": "text", "TextField": "text", "JSONField": "jsonb", "BooleanField": "boolean",
    "BigIntegerField": "bigint", "DateTimeField": "timestamptz", "ForeignKey": "bigint",
}


def _columns(model: type[models.Model], exclude: Sequence[str] = ("id",)) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.column not in exclude]


def _converter(field: models.Field, vendor: str) -> Callable[[Any], Any]:
    """A function giving the JSON representation the database turns back into the column's type.

    Chosen once per column and call (not per value): looking up ``connection.vendor`` and the field type for each of
    a sync's ~2 million values cost more than encoding them."""
    sqlite = vendor == "sqlite"
    if isinstance(field, models.JSONField):
        # SQLite keeps JSON columns as text: pass the encoded document; PostgreSQL reads the jsonb value itself.
        return (lambda v: None if v is None else jsoncodec.dumps(v)) if sqlite else _same
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value if sqlite else datetime.isoformat
        return lambda v: adapt(v) if isinstance(v, datetime) else v
    if isinstance(field, models.BooleanField):
        return (lambda v: None if v is None else int(bool(v))) if sqlite else (lambda v: None if v is None else bool(v))
    return _same


def _same(value: Any) -> Any:
    return value


def _select_list(fields: list[models.Field], source: str) -> str:
    """SELECT expressions that read each column out of the JSON row."""
    if connection.vendor == "postgresql":
        return ", ".join(f'{source}."{f.column}"' for f in fields)
    return ", ".join(f"json_extract({source}.value, '$.{f.column}')" for f in fields)


def _rows_source(fields: list[models.Field], alias: str) -> str:
    if connection.vendor == "postgresql":
        types = ", ".join(f'"{f.column}" {_PG_TYPES[f.get_internal_type()]}' for f in fields)
        return f"jsonb_to_recordset(%s::jsonb) AS {alias}({types})"
    return f"json_each(%s) AS {alias}"


def upsert_objects(rows: Iterable[dict], update_fields: Sequence[str]) -> int:
    """Insert or update KubeObject rows (dicts keyed by field name) keyed by (cluster, uid).

    ``changed_at`` only moves when ``resource_version`` differs from the stored one, so "recently changed" means a
    change in the cluster, not a sync.
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"bulk upsert is not implemented for {connection.vendor}")
    fields = _columns(KubeObject)
    table = KubeObject._meta.db_table
    columns = ", ".join(f'"{f.column}"' for f in fields)
    by_name = {f.name: f for f in fields}
    updates = []
    for name in update_fields:
        column = by_name[name].column
        if name == "changed_at":
            updates.append(f'"{column}" = CASE WHEN {table}."resource_version" = excluded."resource_version" '
                           f'THEN {table}."{column}" ELSE excluded."{column}" END')
        else:
            updates.append(f'"{column}" = excluded."{column}"')
    where = "" if connection.vendor == "postgresql" else " WHERE true"  # SQLite needs it before ON CONFLICT
    sql = (f'INSERT INTO {table} ({columns}) SELECT {_select_list(fields, "r")} FROM {_rows_source(fields, "r")}'
           f'{where} ON CONFLICT ("cluster_id", "uid") DO UPDATE SET {", ".join(updates)}')
    plan = [(f.column, f.name if f.name != "cluster" else "cluster_id", _converter(f, connection.vendor))
            for f in fields]
    return _execute_chunked(sql, ({column: convert(row.get(name)) for column, name, convert in plan} for row in rows),
                            ROW_CHUNK)


def insert_edges(cluster_id: int, edges: Iterable[tuple[str, str, str]]) -> int:
    """Insert edges given as (source uid, target uid, type), resolving uids to rows inside the database; an edge
    already stored is left alone (the watch deltas may find one edge from both of its ends)."""
    table, objects = Edge._meta.db_table, KubeObject._meta.db_table
    if connection.vendor == "postgresql":
        source = "jsonb_to_recordset(%s::jsonb) AS e(s text, t text, ty text)"
        s, t, ty = "e.s", "e.t", "e.ty"
        join = "JOIN"
    else:
        source = "json_each(%s) AS e"
        s, t, ty = "json_extract(e.value, '$.s')", "json_extract(e.value, '$.t')", "json_extract(e.value, '$.ty')"
        # CROSS JOIN fixes SQLite's join order: the JSON rows outside, one index lookup per edge inside. Left to
        # itself the planner may loop over the objects table and re-parse the whole JSON document per row pair,
        # which made 300 edges take 13 s.
        join = "CROSS JOIN"
    sql = (f'INSERT INTO {table} ("cluster_id", "source_id", "target_id", "type") '
           f"SELECT {int(cluster_id)}, so.id, ta.id, {ty} FROM {source} "
           f'{join} {objects} so ON so."cluster_id" = {int(cluster_id)} AND so."uid" = {s} '
           f'{join} {objects} ta ON ta."cluster_id" = {int(cluster_id)} AND ta."uid" = {t}'
           f'{"" if connection.vendor == "postgresql" else " WHERE true"} '
           f'ON CONFLICT ("source_id", "target_id", "type") DO NOTHING')
    return _execute_chunked(sql, ({"s": a, "t": b, "ty": c} for a, b, c in edges))


def _execute_chunked(sql: str, rows: Iterable[dict], size: int = CHUNK) -> int:
    """Run ``sql`` once per ``size`` rows, encoding each chunk only when it is sent (a sync never holds every encoded
    row at once)."""
    written = 0
    rows = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(itertools.islice(rows, size)):
            cursor.execute(sql, [jsoncodec.dumps(chunk)])
            written += max(cursor.rowcount, 0)
    return written
