"""History loader on the local DuckDB warehouse: one transaction deletes a property's range and writes the files' rows.

It works through the DuckDBWarehouse that reads the same database (bootstrap's `_build_warehouse`), not a
second connection: DuckDB lets one process attach a database file once, and a second attach of the file
the reports read would fail (or, from another process, wait on its lock).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import duckdb

from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.domain.errors import WarehouseUnavailable
from reporting.logs import get_logger
from reporting.service_layer.ports import WarehouseLoader

__all__ = ["DuckDBWarehouseLoader", "HISTORY_TABLES", "KEYS", "UPSERTED"]

log = get_logger(__name__)

HISTORY_TABLES = ("rooms", "guests", "reservations", "room_nights", "room_status_daily")


def check_replace_request(date_range: tuple[date, date], tables: Mapping[str, Any]) -> tuple[date, date]:
    """Refuse a programming error before any write, in every loader: unknown tables, an inverted range."""
    unknown = set(tables) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"not history tables: {sorted(unknown)}")
    first, last = date_range
    if first > last:
        raise ValueError("date_range: first is after last")
    return first, last
KEYS: dict[str, tuple[str, ...]] = {
    "rooms": ("room_id",), "guests": ("guest_id",), "reservations": ("reservation_id",),
    "room_nights": ("reservation_id", "stay_date"), "room_status_daily": ("business_date", "room_id"),
}
# Not dated: the rows the files name are updated (their columns only) or added; the others are kept.
UPSERTED = ("rooms", "guests")
_SCOPE = ("tenant_id", "property_id")

# The nights go first: they include every night of a reservation the next statement replaces.
_DELETE_ROOM_NIGHTS = """
DELETE FROM dw.room_nights
WHERE tenant_id = $tenant_id AND property_id = $property_id
  AND (stay_date BETWEEN $first AND $last
       OR list_contains(CAST($reservation_ids AS VARCHAR[]), reservation_id)
       OR reservation_id IN (SELECT r.reservation_id FROM dw.reservations AS r
                             WHERE r.tenant_id = $tenant_id AND r.property_id = $property_id
                               AND r.arrival_date BETWEEN $first AND $last))"""
_DELETE_RESERVATIONS = """
DELETE FROM dw.reservations
WHERE tenant_id = $tenant_id AND property_id = $property_id
  AND (arrival_date BETWEEN $first AND $last
       OR list_contains(CAST($reservation_ids AS VARCHAR[]), reservation_id))"""
_DELETE_ROOM_STATUS = """
DELETE FROM dw.room_status_daily
WHERE tenant_id = $tenant_id AND property_id = $property_id AND business_date BETWEEN $first AND $last"""


class DuckDBWarehouseLoader(WarehouseLoader):
    """WarehouseLoader on the local DuckDB warehouse (delete + insert in one transaction)."""

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        """Write through the warehouse the reports read (same database, same process-wide attachment)."""
        if not isinstance(warehouse, DuckDBWarehouse):
            raise TypeError(f"DuckDBWarehouseLoader needs a DuckDBWarehouse, got {type(warehouse).__name__}")
        self._warehouse = warehouse

    def replace_history(self, tenant_id: str, property_id: str, date_range: tuple[date, date],
                        tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                        import_id: str | None = None) -> dict[str, int]:
        """Replace the property's range (see WarehouseLoader) in one DuckDB transaction."""
        first, last = check_replace_request(date_range, tables)
        scope = {"tenant_id": str(tenant_id), "property_id": str(property_id)}
        ranged = {**scope, "first": first, "last": last}
        reservation_ids = [str(r["reservation_id"]) for r in tables.get("reservations", ())]
        for table, rows in tables.items():
            _check_rows(table, rows)
        counts: dict[str, int] = {}
        try:
            with self._warehouse.transaction() as cur:
                cur.execute(_DELETE_ROOM_NIGHTS, {**ranged, "reservation_ids": reservation_ids})
                cur.execute(_DELETE_RESERVATIONS, {**ranged, "reservation_ids": reservation_ids})
                cur.execute(_DELETE_ROOM_STATUS, ranged)
                for table in HISTORY_TABLES:
                    counts[table] = _write(cur, table, scope, tables.get(table, ()))
        except duckdb.Error as exc:
            # Not the message: a constraint error quotes the row's values (guest data); the cause keeps it.
            log.warning("history load failed; nothing was replaced", extra={"error_type": type(exc).__name__,
                                                                             "import_id": import_id})
            raise WarehouseUnavailable(f"local warehouse write failed ({type(exc).__name__}): nothing was "
                                       "replaced; running the import again is safe") from exc
        log.info("history replaced in the local warehouse", extra={
            "tenant_id": scope["tenant_id"], "property_id": scope["property_id"], "first_date": first.isoformat(),
            "last_date": last.isoformat(), "rows": counts, "import_id": import_id})
        return counts


def _table_columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of dw.<table> as the database has them (identifiers never come from the caller)."""
    rows = cur.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = 'dw' AND table_name = ?"
        " ORDER BY ordinal_position", [table]).fetchall()
    if not rows:
        raise ValueError(f"unknown warehouse table dw.{table}")
    return [r[0] for r in rows]


def _check_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse rows that name their own tenant or property, or whose columns differ (a caller's bug)."""
    if not rows:
        return
    names = list(rows[0].keys())
    if any(n in _SCOPE for n in names):
        raise ValueError(f"dw.{table}: rows must not carry tenant_id / property_id; the loader stamps them")
    if any(list(r.keys()) != names for r in rows):
        raise ValueError(f"dw.{table}: every row must have the same columns")


def _write(cur: duckdb.DuckDBPyConnection, table: str, scope: Mapping[str, str],
           rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows (stamped with the scope), column-wise in one statement; rooms and guests are upserted."""
    if not rows:
        return 0
    names = list(rows[0].keys())
    existing = _table_columns(cur, table)
    unknown = [n for n in names if n not in existing]
    if unknown:
        raise ValueError(f"dw.{table}: unknown columns {unknown}")
    columns = [*_SCOPE, *names]
    values = [[scope["tenant_id"]] * len(rows), [scope["property_id"]] * len(rows),
              *[[r[n] for r in rows] for n in names]]
    col_sql = ", ".join(f'"{c}"' for c in columns)
    sel_sql = ", ".join(f"UNNEST(${i + 1})" for i in range(len(columns)))
    sql = f'INSERT INTO dw."{table}" ({col_sql}) SELECT {sel_sql}'
    if table in UPSERTED:
        key = [*_SCOPE, *KEYS[table]]
        update = [c for c in names if c not in key]
        # Only the file's columns change: a guest's other columns (from the live feed) are kept.
        sql += f" ON CONFLICT ({', '.join(key)}) DO " + (
            "UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update) if update else "NOTHING")
    cur.execute(sql, values)
    return len(rows)
