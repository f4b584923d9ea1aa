"""The outbox seen across tenants, through reporting_owner's SECURITY DEFINER functions only.

The app role has no cross-tenant SELECT or UPDATE on the outbox; these functions
return the minimum a relay needs and write each call to cross_tenant_access_log.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from reporting.adapters.postgres.connection import fetch_all
from reporting.adapters.postgres.pool import ConnectionPool
from reporting.service_layer.ports import OutboxRow, OutboxStore


def _row(raw: dict[str, Any]) -> OutboxRow:
    envelope = raw["envelope"] if isinstance(raw["envelope"], dict) else json.loads(raw["envelope"])
    return OutboxRow(event_id=str(raw["event_id"]), subject=raw["subject"], aggregate_id=raw["aggregate_id"],
                     envelope=envelope, claim_count=int(raw["claim_count"]))


class PostgresOutboxStore(OutboxStore):
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def _call(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        conn = self._pool.get()
        broken = False
        try:
            rows = fetch_all(conn, sql, params)
            conn.commit()
            return rows
        except Exception:
            broken = True
            try:
                conn.rollback()
            except Exception:
                pass
            raise
        finally:
            self._pool.put(conn, broken=broken)

    def claim(self, limit: int, lease_seconds: int) -> list[OutboxRow]:
        rows = self._call("SELECT * FROM reporting.claim_outbox(:n, :lease)", {"n": limit, "lease": lease_seconds})
        return [_row(r) for r in rows]

    def claim_ids(self, event_ids: Sequence[str], lease_seconds: int) -> list[OutboxRow]:
        if not event_ids:
            return []
        rows = self._call("SELECT * FROM reporting.claim_outbox_events(CAST(:ids AS uuid[]), :lease)",
                          {"ids": list(event_ids), "lease": lease_seconds})
        return [_row(r) for r in rows]

    def mark_published(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self._call("SELECT reporting.mark_outbox_published(CAST(:ids AS uuid[])) AS n", {"ids": list(event_ids)})

    def release(self, event_id: str, *, dead: bool, reason: str) -> None:
        self._call("SELECT reporting.release_outbox(CAST(:e AS uuid), :dead, :r) AS n",
                   {"e": event_id, "dead": dead, "r": reason})
