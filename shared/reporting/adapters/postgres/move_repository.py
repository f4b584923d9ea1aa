"""Residency-move bookkeeping (migration 0013) and the tenant status changes a move makes, in the tenant's transaction."""
from __future__ import annotations

import json
from typing import Any, Callable

from reporting.adapters.postgres.connection import Connection, execute, fetch_one
from reporting.domain.tenant import Residency, TenantStatus


class MoveRepository:
    def __init__(self, conn: Connection, track: Callable[[Any], None] | None = None) -> None:
        self._conn = conn

    def get(self, move_id: str, side: str) -> dict[str, Any] | None:
        return fetch_one(self._conn, "SELECT * FROM reporting.residency_moves WHERE move_id = :m::uuid AND side = :s",
                         {"m": move_id, "s": side})

    def open_move(self, tenant_id: str, side: str) -> dict[str, Any] | None:
        return fetch_one(self._conn, """
            SELECT * FROM reporting.residency_moves
             WHERE tenant_id = :t::uuid AND side = :s AND state NOT IN ('completed', 'aborted')""",
                         {"t": tenant_id, "s": side})

    def start(self, move_id: str, tenant_id: str, side: str, from_residency: Residency, to_residency: Residency,
              state: str, manifest: dict[str, Any] | None = None) -> None:
        execute(self._conn, """
            INSERT INTO reporting.residency_moves (move_id, tenant_id, side, from_residency, to_residency, state,
                                                   manifest)
            VALUES (:m::uuid, :t::uuid, :side, :f, :to, :state, :manifest::jsonb)""",
                {"m": move_id, "t": tenant_id, "side": side, "f": str(from_residency), "to": str(to_residency),
                 "state": state, "manifest": None if manifest is None else json.dumps(manifest)})

    def advance(self, move_id: str, side: str, state: str, *, manifest: dict[str, Any] | None = None) -> None:
        execute(self._conn, """
            UPDATE reporting.residency_moves
               SET state = :state, manifest = coalesce(CAST(:manifest AS jsonb), manifest), updated_at = now()
             WHERE move_id = :m::uuid AND side = :side""",
                {"m": move_id, "side": side, "state": state,
                 "manifest": None if manifest is None else json.dumps(manifest)})

    def set_tenant_status(self, tenant_id: str, status: TenantStatus, *, moved_to: Residency | None = None) -> None:
        execute(self._conn, """
            UPDATE reporting.tenants SET status = :status, moved_to_residency = :moved_to, updated_at = now()
             WHERE tenant_id = :t::uuid""",
                {"t": tenant_id, "status": str(status), "moved_to": None if moved_to is None else str(moved_to)})

    def activate_here(self, tenant_id: str, residency: Residency, region: str) -> None:
        """The end of a move into this deployment: homed here, in this region, active (schedules resume)."""
        execute(self._conn, """
            UPDATE reporting.tenants SET residency = :r, stored_region = :region, status = 'active',
                   moved_to_residency = NULL, updated_at = now()
             WHERE tenant_id = :t::uuid""", {"t": tenant_id, "r": str(residency), "region": region})
