"""A tenant's rows of one table, as text, out of one deployment and into another (residency moves).

Runs in the unit of work's tenant-scoped transaction as reporting_app: row-level
security decides what is read and checks what is written, on both sides. Table and
column names come from the catalog (pg_attribute) and a fixed list of tables, never
from input, and are quoted.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from reporting.adapters.postgres.connection import Connection, fetch_all, fetch_one

COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
 WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
   AND a.attidentity <> 'a'  -- GENERATED ALWAYS ids (audit_log): the target numbers its own rows
 ORDER BY a.attnum
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(name: str) -> str:
    schema, _, table = name.partition(".")
    return f"{_ident(schema)}.{_ident(table)}"


class TenantRows:
    def __init__(self, conn: Connection, track: Callable[[Any], None] | None = None) -> None:
        self._conn = conn

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, SQL type) of each column, in table order."""
        return [(r["name"], r["type"]) for r in fetch_all(self._conn, COLUMNS, {"table": table})]

    def page(self, table: str, columns: Sequence[str], key: str, *, after: str | None,
             limit: int) -> tuple[list[list[str | None]], str | None]:
        """The transaction tenant's own rows (platform rows excluded), as Postgres text, in the text order of a
        unique key column, `limit` at a time after the key `after`; and the last row's key (None at the end)."""
        select = ", ".join(f"{_ident(c)}::text" for c in columns)
        rows = fetch_all(self._conn, f"""
            SELECT {_ident(key)}::text AS "__key", {select} FROM {_table(table)}
             WHERE tenant_id = reporting.current_tenant_id()
               AND (CAST(:after AS text) IS NULL OR {_ident(key)}::text > CAST(:after AS text))
             ORDER BY {_ident(key)}::text LIMIT :limit""", {"after": after, "limit": limit})
        values = [list(r.values()) for r in rows]
        return [v[1:] for v in values], (values[-1][0] if len(values) == limit else None)

    def count(self, table: str) -> int:
        row = fetch_one(self._conn, f"SELECT count(*) AS n FROM {_table(table)} "
                                    "WHERE tenant_id = reporting.current_tenant_id()")
        return int(row["n"]) if row else 0

    def insert(self, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str | None]]) -> int:
        """Insert text rows cast to each column's type; rows already there (same key) are left as they are."""
        if not rows:
            return 0
        names = [c for c, _ in columns]
        record = ", ".join(f"{_ident(f'c{i}')} text" for i in range(len(names)))
        casts = ", ".join(f"CAST(r.{_ident(f'c{i}')} AS {type_})" for i, (_, type_) in enumerate(columns))
        payload = json.dumps([{f"c{i}": v for i, v in enumerate(row)} for row in rows])
        row = fetch_one(self._conn, f"""
            WITH inserted AS (
              INSERT INTO {_table(table)} ({", ".join(_ident(n) for n in names)})
              SELECT {casts} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({record})
              ON CONFLICT DO NOTHING RETURNING 1)
            SELECT count(*) AS n FROM inserted""", {"rows": payload})
        return int(row["n"]) if row else 0

    def set_column(self, table: str, key: str, column: str, column_type: str,
                   values: Sequence[tuple[str, str | None]]) -> None:
        """Second pass for self-references (a row pointing at a later row): key → value, cast to its type."""
        if not values:
            return
        fetch_all(self._conn, f"""
            UPDATE {_table(table)} AS t SET {_ident(column)} = CAST(v.value AS {column_type})
              FROM jsonb_to_recordset(CAST(:values AS jsonb)) AS v(key text, value text)
             WHERE t.{_ident(key)}::text = v.key""",
                  {"values": json.dumps([{"key": k, "value": v} for k, v in values])})

    def unpublished_events(self) -> int:
        row = fetch_one(self._conn, "SELECT count(*) AS n FROM reporting.outbox "
                                    "WHERE published_at IS NULL AND dead_lettered_at IS NULL")
        return int(row["n"]) if row else 0

    def tenant_tables(self) -> list[str]:
        """Every table of the schema with a tenant_id column (what a move must account for)."""
        rows = fetch_all(self._conn, """
            SELECT c.table_schema || '.' || c.table_name AS name FROM information_schema.columns c
              JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = 'reporting' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
             ORDER BY 1""")
        return [r["name"] for r in rows]
