"""Schedules in Postgres, and the scheduler tick's set-based statements (one per batch, not one per run).

Everything but `due` runs inside the unit of work's tenant-scoped transaction, so RLS
keeps it to one tenant; `due` is the one cross-tenant read, through the owner's
audited SECURITY DEFINER function (SPEC §4).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Iterable

from reporting.adapters.postgres.connection import Connection, execute, fetch_all, fetch_one
from reporting.domain.report_run import ReportRun
from reporting.domain.schedule import DueSchedule, Firing, Recurrence, Schedule, ScheduleAdvance


_COLUMNS = ("schedule_id, tenant_id, property_id, template_version_id, cron, timezone, params, formats, locale, "
            "enabled, next_fire_at, last_fired_at, created_by, created_at, updated_at, deleted_at")


def _schedule(row: dict[str, Any]) -> Schedule:
    return Schedule(
        schedule_id=str(row["schedule_id"]), tenant_id=str(row["tenant_id"]), property_id=str(row["property_id"]),
        template_version_id=str(row["template_version_id"]), cron=row["cron"], timezone=row["timezone"],
        params=row["params"], formats=list(row["formats"]), locale=row["locale"], enabled=row["enabled"],
        next_fire_at=row["next_fire_at"], last_fired_at=row["last_fired_at"], created_by=row["created_by"],
        created_at=row["created_at"], updated_at=row["updated_at"], deleted_at=row["deleted_at"])


def _params(s: Schedule) -> dict[str, Any]:
    return {"schedule_id": s.schedule_id, "tenant_id": s.tenant_id, "property_id": s.property_id,
            "template_version_id": s.template_version_id, "cron": s.cron, "timezone": s.timezone,
            "params": json.dumps(s.params), "formats": list(s.formats), "locale": s.locale, "enabled": s.enabled,
            "next_fire_at": s.next_fire_at, "last_fired_at": s.last_fired_at, "created_by": s.created_by,
            "created_at": s.created_at, "updated_at": s.updated_at, "deleted_at": s.deleted_at}


class ScheduleRepository:
    def __init__(self, conn: Connection, track: Callable[[Any], None]) -> None:
        self._conn = conn
        self._track = track  # schedules raise no events; runs added by the tick do

    # ---- the API's use cases ----

    def add(self, s: Schedule) -> None:
        execute(self._conn, f"""
            INSERT INTO reporting.schedules ({_COLUMNS})
            VALUES (:schedule_id::uuid, :tenant_id::uuid, :property_id::uuid, :template_version_id::uuid, :cron,
                    :timezone, :params::jsonb, :formats, :locale, :enabled, :next_fire_at, :last_fired_at,
                    :created_by, :created_at, :updated_at, :deleted_at)""", _params(s))

    def get(self, schedule_id: str, *, for_update: bool = False) -> Schedule | None:
        """A live (not deleted) schedule of the current tenant."""
        row = fetch_one(self._conn, f"""
            SELECT {_COLUMNS} FROM reporting.schedules
             WHERE schedule_id = :s::uuid AND deleted_at IS NULL""" + (" FOR UPDATE" if for_update else ""),
            {"s": schedule_id})
        return _schedule(row) if row else None

    def list(self, *, limit: int, property_ids: list[str] | None = None,
             after: tuple[datetime, str] | None = None) -> list[Schedule]:
        """Live schedules, oldest first, keyset-paginated on (created_at, schedule_id)."""
        rows = fetch_all(self._conn, f"""
            SELECT {_COLUMNS} FROM reporting.schedules
             WHERE deleted_at IS NULL
               AND (CAST(:props AS uuid[]) IS NULL OR property_id = ANY (CAST(:props AS uuid[])))
               AND (CAST(:after_at AS timestamptz) IS NULL
                    OR (created_at, schedule_id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
             ORDER BY created_at, schedule_id
             LIMIT :limit""",
            {"props": property_ids, "after_at": after[0] if after else None,
             "after_id": after[1] if after else None, "limit": limit})
        return [_schedule(r) for r in rows]

    def save(self, s: Schedule) -> None:
        """Write an edited schedule (the caller holds its row lock from get(for_update=True))."""
        execute(self._conn, """
            UPDATE reporting.schedules SET template_version_id = :template_version_id::uuid, cron = :cron,
                   timezone = :timezone, params = :params::jsonb, formats = :formats, locale = :locale,
                   enabled = :enabled, next_fire_at = :next_fire_at, updated_at = :updated_at,
                   deleted_at = :deleted_at
             WHERE schedule_id = :schedule_id::uuid""", _params(s))

    # ---- the scheduler tick ----

    def due(self, now: datetime, limit: int) -> list[DueSchedule]:
        """Due schedules of every tenant that may work, oldest first (the owner's audited function)."""
        rows = fetch_all(self._conn, "SELECT * FROM reporting.due_schedules(:now, :limit)",
                         {"now": now, "limit": limit})
        return [DueSchedule(str(r["schedule_id"]), str(r["tenant_id"]), r["next_fire_at"]) for r in rows]

    def lock_due(self, schedule_ids: Iterable[str], now: datetime) -> list[Firing]:
        """Lock those still due and read what firing them needs (few columns: ten thousand rows per tick).
        SKIP LOCKED: a schedule another tick holds right now is that tick's to fire."""
        rows = fetch_all(self._conn, """
            SELECT s.schedule_id, s.tenant_id, s.property_id, s.template_version_id, v.snapshot_hash, s.cron,
                   s.timezone, s.params, s.formats, s.locale, s.next_fire_at, v.regulatory_adapter
              FROM reporting.schedules s
              JOIN reporting.template_versions v ON v.template_version_id = s.template_version_id
             WHERE s.schedule_id = ANY (CAST(:ids AS uuid[]))
               AND s.enabled AND s.deleted_at IS NULL AND s.next_fire_at <= :now
             ORDER BY s.next_fire_at, s.schedule_id
               FOR UPDATE OF s SKIP LOCKED""", {"ids": list(schedule_ids), "now": now})
        return [Firing(schedule_id=str(r["schedule_id"]), tenant_id=str(r["tenant_id"]),
                       property_id=str(r["property_id"]), template_version_id=str(r["template_version_id"]),
                       snapshot_hash=r["snapshot_hash"], recurrence=Recurrence(r["cron"], r["timezone"]),
                       params=r["params"], formats=list(r["formats"]), locale=r["locale"],
                       next_fire_at=r["next_fire_at"], regulatory_adapter=r["regulatory_adapter"]) for r in rows]

    def add_runs(self, runs: list[ReportRun]) -> set[str]:
        """Insert the runs in one statement, skipping idempotency keys the tenant already has; returns the
        keys inserted. Only those runs are tracked, so only their events reach the outbox."""
        if not runs:
            return set()
        rows = [{"run_id": r.run_id, "tenant_id": r.tenant_id, "property_id": r.property_id,
                 "template_version_id": r.template_version_id, "snapshot_hash": r.snapshot_hash,
                 "params": r.params, "locale": r.locale, "formats": list(r.formats),
                 "run_date": r.run_date.isoformat(), "origin": str(r.origin), "idempotency_key": r.idempotency_key,
                 "request_hash": r.request_hash, "state": str(r.state), "requested_by": r.requested_by,
                 "correlation_id": r.correlation_id, "requested_at": r.requested_at.isoformat(),
                 "due_by": r.due_by.isoformat()} for r in runs]
        inserted = fetch_all(self._conn, """
            INSERT INTO reporting.report_runs (run_id, tenant_id, property_id, template_version_id, snapshot_hash,
                                               params, locale, formats, run_date, origin, idempotency_key,
                                               request_hash, state, requested_by, correlation_id, requested_at,
                                               due_by)
            SELECT r.run_id, r.tenant_id, r.property_id, r.template_version_id, r.snapshot_hash, r.params, r.locale,
                   r.formats, r.run_date, r.origin, r.idempotency_key, r.request_hash, r.state, r.requested_by,
                   r.correlation_id, r.requested_at, r.due_by
              FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
                     run_id uuid, tenant_id uuid, property_id uuid, template_version_id uuid, snapshot_hash text,
                     params jsonb, locale text, formats text[], run_date date, origin text, idempotency_key text,
                     request_hash text, state text, requested_by text, correlation_id uuid,
                     requested_at timestamptz, due_by timestamptz)
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING idempotency_key""", {"rows": json.dumps(rows)})
        keys = {row["idempotency_key"] for row in inserted}
        for run in runs:
            if run.idempotency_key in keys:
                self._track(run)
        return keys

    def advance(self, moves: list[ScheduleAdvance]) -> set[str]:
        """Move each schedule's next_fire_at, only where it still holds what the tick read (optimistic);
        returns the ids moved."""
        if not moves:
            return set()
        rows = fetch_all(self._conn, """
            UPDATE reporting.schedules s
               SET next_fire_at = m.next_at, last_fired_at = coalesce(m.fired_at, s.last_fired_at)
              FROM jsonb_to_recordset(CAST(:moves AS jsonb))
                   AS m(schedule_id uuid, expected timestamptz, next_at timestamptz, fired_at timestamptz)
             WHERE s.schedule_id = m.schedule_id AND s.next_fire_at = m.expected
            RETURNING s.schedule_id""",
            {"moves": json.dumps([{"schedule_id": m.schedule_id, "expected": m.expected.isoformat(),
                                   "next_at": m.to.isoformat(),
                                   "fired_at": m.fired.isoformat() if m.fired else None} for m in moves])})
        return {str(r["schedule_id"]) for r in rows}
