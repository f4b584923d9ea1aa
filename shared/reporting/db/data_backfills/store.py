"""The runner's Postgres side: readiness, the audited tenant list and summary, and the per-tenant checkpoint.

Every statement runs as reporting_app in a unit of work's transaction: the checkpoint in
the tenant's own (row-level security on `data_backfill_progress`), the cross-tenant reads
only through the SECURITY DEFINER functions of migration 0018.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from reporting.adapters.postgres.connection import Connection, fetch_all, fetch_one, queue

# The functions and the grant on schema_migrations arrive together (0018): one check covers both.
INSTALLED = "SELECT to_regprocedure('reporting.data_backfill_tenants()') IS NOT NULL AS installed"
APPLIED = "SELECT filename FROM reporting.schema_migrations WHERE filename = ANY (CAST(:names AS text[]))"
TENANTS = "SELECT tenant_id::text AS tenant_id FROM reporting.data_backfill_tenants()"
SUMMARY = "SELECT script, tenants_finished, tenants_started, rows_done FROM reporting.data_backfill_summary()"

READ = """
SELECT last_key, rows_done, batches, finished_at FROM reporting.data_backfill_progress
 WHERE script = :script AND tenant_id = CAST(:tenant AS uuid)
"""
# Creates the checkpoint on first use and row-locks it either way (ON CONFLICT DO UPDATE
# locks like FOR UPDATE): two tasks that ever hold the same tenant take turns, and the
# second one reads the position the first one committed.
CLAIM = """
INSERT INTO reporting.data_backfill_progress AS p (script, tenant_id) VALUES (:script, CAST(:tenant AS uuid))
ON CONFLICT (script, tenant_id) DO UPDATE SET updated_at = p.updated_at
RETURNING p.last_key, p.rows_done, p.batches, p.finished_at
"""
ADVANCE = """
UPDATE reporting.data_backfill_progress
   SET last_key = CAST(:next_key AS text), rows_done = rows_done + :rows, batches = batches + 1, updated_at = now(),
       finished_at = CASE WHEN CAST(:next_key AS text) IS NULL THEN now() END
 WHERE script = :script AND tenant_id = CAST(:tenant AS uuid)
"""


@dataclass(frozen=True)
class Checkpoint:
    """Where one script stands for one tenant."""

    last_key: str | None = None
    rows_done: int = 0
    batches: int = 0
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


def _checkpoint(row: dict | None) -> Checkpoint:
    if row is None:
        return Checkpoint()
    return Checkpoint(row["last_key"], int(row["rows_done"]), int(row["batches"]), row["finished_at"])


def installed(conn: Connection) -> bool:
    """Whether migration 0018 (the runner's bookkeeping) is applied."""
    row = fetch_one(conn, INSTALLED)
    return bool(row and row["installed"])


def applied(conn: Connection, names: Iterable[str]) -> set[str]:
    """Which of these migration files are applied."""
    return {r["filename"] for r in fetch_all(conn, APPLIED, {"names": list(names)})}


def tenants(conn: Connection) -> list[str]:
    """Every tenant with rows here, by id (audited definer function)."""
    return [r["tenant_id"] for r in fetch_all(conn, TENANTS)]


def summary(conn: Connection) -> dict[str, tuple[int, int, int]]:
    """Per script: (tenants finished, tenants started but not finished, rows done), audited."""
    return {r["script"]: (int(r["tenants_finished"]), int(r["tenants_started"]), int(r["rows_done"] or 0))
            for r in fetch_all(conn, SUMMARY)}


def read(conn: Connection, script: str, tenant_id: str) -> Checkpoint:
    """The tenant's checkpoint, without locking or creating it (an empty one if none yet)."""
    return _checkpoint(fetch_one(conn, READ, {"script": script, "tenant": tenant_id}))


def claim(conn: Connection, script: str, tenant_id: str) -> Checkpoint:
    """The tenant's checkpoint, created if new, row-locked until the transaction ends."""
    return _checkpoint(fetch_one(conn, CLAIM, {"script": script, "tenant": tenant_id}))


def advance(conn: Connection, script: str, tenant_id: str, rows: int, next_key: str | None) -> None:
    """Record one batch (queued: it travels with the transaction's COMMIT, one round trip for both)."""
    queue(conn, ADVANCE, {"script": script, "tenant": tenant_id, "rows": rows, "next_key": next_key})
