"""Postgres side of per-tenant fairness and service levels: request-rate windows, runs in flight, the SLO aggregate.

Every statement runs in the unit of work's tenant-scoped transaction, so RLS keeps
it to the one tenant (rate_limits and report_runs are both FORCEd).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from typing import Callable

from reporting.adapters.postgres.connection import Connection, fetch_all, queue
from reporting.service_layer.fairness import FairnessStore, WindowCount
from reporting.service_layer.slo import LateRun, SloFigures, SloStore

# Counts one call in the tenant's window, only for a tenant the request gate would let in
# (mirrored, flag on) and only while under the limit: a refused call leaves the row as it was.
# Delete-on-write: every bump also drops the tenant's older windows (a primary-key range of a
# row or two), so a tenant keeps at most one row per bucket however long it runs.
BUMP_WINDOW = """
WITH enabled AS (
  -- set_config here (not a separate SET LOCAL) saves a round trip: a counter lost in a
  -- crash costs nothing, so this transaction does not wait for its WAL flush.
  SELECT tenant_id FROM reporting.tenants, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
   WHERE tenant_id = CAST(:tenant AS uuid)
     AND coalesce(features -> CAST(:flag AS text) = 'true'::jsonb, false)
), dropped AS (
  DELETE FROM reporting.rate_limits
   WHERE tenant_id = CAST(:tenant AS uuid) AND window_start < CAST(:window_start AS timestamptz)
), bumped AS (
  INSERT INTO reporting.rate_limits AS r (tenant_id, bucket, window_start, hits)
  SELECT tenant_id, CAST(:bucket AS text), CAST(:window_start AS timestamptz), 1 FROM enabled
  ON CONFLICT (tenant_id, bucket, window_start) DO UPDATE SET hits = r.hits + 1
   WHERE r.hits < CAST(:limit AS integer)
  RETURNING r.hits
)
SELECT EXISTS (SELECT 1 FROM enabled) AS enabled, b.hits
  FROM (SELECT 1) AS one LEFT JOIN bumped AS b ON true
"""

LOCK_RUN_ADMISSION = "SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(:ns, :key)) AS l"
RUN_ADMISSION_NAMESPACE = 0x494E464C  # "INFL": apart from run_lock's "REND" keys

USER_RUNS_IN_FLIGHT = """
SELECT count(*) AS n FROM reporting.report_runs
 WHERE tenant_id = CAST(:tenant AS uuid) AND origin = 'user' AND state IN ('requested', 'rendering')
"""

# One aggregate (service_layer/slo.py says what counts) plus the newest late runs, in one statement.
SLO_FIGURES = """
WITH due AS (
  SELECT run_id, property_id, template_version_id, origin, state, due_by, finished_at,
         coalesce(state IN ('succeeded', 'superseded') AND finished_at <= due_by, false) AS on_time
    FROM reporting.report_runs
   WHERE due_by >= CAST(:start AS timestamptz) AND due_by < CAST(:end AS timestamptz)
     AND due_by <= CAST(:now AS timestamptz)
     AND origin IN ('user', 'schedule')
     AND NOT coalesce(state = 'cancelled' AND finished_at <= due_by, false)
     AND (CAST(:props AS uuid[]) IS NULL OR property_id = ANY (CAST(:props AS uuid[])))
), totals AS (
  SELECT count(*) AS runs_due, count(*) FILTER (WHERE on_time) AS succeeded_on_time FROM due
)
SELECT t.runs_due, t.succeeded_on_time, l.run_id, l.property_id, l.template_version_id, l.origin, l.state,
       l.due_by, l.finished_at
  FROM totals AS t
  LEFT JOIN LATERAL (
    SELECT * FROM due WHERE NOT on_time ORDER BY due_by DESC, run_id DESC LIMIT CAST(:late_limit AS integer)
  ) AS l ON true
 ORDER BY l.due_by DESC, l.run_id DESC
"""


class PostgresFairnessStore(FairnessStore):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def bump_window(self, tenant_id: str, bucket: str, window_start: datetime, limit: int,
                    flag: str) -> Callable[[], WindowCount]:
        # Queued: the bump travels with the transaction's COMMIT, one round trip for the lot.
        later = queue(self._conn, BUMP_WINDOW, {"tenant": tenant_id, "flag": flag, "bucket": bucket,
                                                "window_start": window_start, "limit": limit})

        def count() -> WindowCount:
            row = later.one()
            assert row is not None
            return WindowCount(enabled=bool(row["enabled"]), admitted=row["hits"] is not None, hits=row["hits"])

        return count

    def lock_and_count_user_runs(self, tenant_id: str) -> Callable[[], int]:
        # Queued, not sent: both travel with the caller's next statement. The count is its own
        # statement after the lock's, so its snapshot sees every run committed while we waited.
        queue(self._conn, LOCK_RUN_ADMISSION,
              {"ns": RUN_ADMISSION_NAMESPACE, "key": uuid.UUID(tenant_id).int & 0x7FFFFFFF})
        count = queue(self._conn, USER_RUNS_IN_FLIGHT, {"tenant": tenant_id})
        return lambda: int(count.one()["n"])


class PostgresSloStore(SloStore):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def figures(self, *, start: datetime, end: datetime, now: datetime, property_ids: list[str] | None,
                late_limit: int) -> SloFigures:
        rows = fetch_all(self._conn, SLO_FIGURES, {"start": start, "end": end, "now": now, "props": property_ids,
                                                   "late_limit": late_limit})
        late = tuple(LateRun(run_id=str(r["run_id"]), property_id=str(r["property_id"]),
                             template_version_id=str(r["template_version_id"]), origin=r["origin"],
                             state=r["state"], due_by=r["due_by"], finished_at=r["finished_at"])
                     for r in rows if r["run_id"] is not None)
        return SloFigures(runs_due=int(rows[0]["runs_due"]), succeeded_on_time=int(rows[0]["succeeded_on_time"]),
                          late=late)
