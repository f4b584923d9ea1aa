"""The backfill's Postgres side: what to backfill, and the set-based request of a tenant's runs.

The set-based statement writes, per candidate run date, the same report run and the same
`report_run.requested.v1` outbox row the request use case writes one at a time. The
domain stays the single source of every value that matters: the caller passes, per
(property, template version), the idempotency key, the request fingerprint and the
event envelope as the domain builds them for a placeholder date, split around that date
(service_layer/backfill.py); SQL only puts each run date, run id and event id in place.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from reporting.adapters.postgres.connection import Connection, fetch_all, fetch_one, queue
from reporting.service_layer.backfill import BatchItem, BatchOutcome, PropertyRef

# Skips a date that already has a run of this property and template version in flight or
# succeeded (whatever its origin); ON CONFLICT skips the job's own earlier attempts.
# `wanted` is MATERIALIZED so each candidate's generated ids are drawn once.
REQUEST_BATCH = """
WITH item AS (
  SELECT * FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(
    property_id uuid, template_version_id uuid, snapshot_hash text, locale text, formats text[],
    first_date date, last_date date, key_prefix text, hash_prefix text, hash_suffix text, envelope jsonb)
), wanted AS MATERIALIZED (
  SELECT i.*, d::date AS run_date, gen_random_uuid() AS run_id, gen_random_uuid() AS event_id
    FROM item i CROSS JOIN LATERAL generate_series(i.first_date, i.last_date, interval '1 day') AS d
   WHERE NOT EXISTS (
     SELECT 1 FROM reporting.report_runs r
      WHERE r.tenant_id = CAST(:tenant AS uuid) AND r.property_id = i.property_id AND r.run_date = d::date
        AND r.template_version_id = i.template_version_id AND r.state IN ('requested', 'rendering', 'succeeded'))
), inserted AS (
  INSERT INTO reporting.report_runs (run_id, tenant_id, property_id, template_version_id, snapshot_hash, params,
                                     locale, formats, run_date, origin, idempotency_key, request_hash, state,
                                     requested_by, correlation_id, requested_at, due_by)
  SELECT w.run_id, CAST(:tenant AS uuid), w.property_id, w.template_version_id, w.snapshot_hash, '{}'::jsonb,
         w.locale, w.formats, w.run_date, 'backfill', w.key_prefix || to_char(w.run_date, 'YYYY-MM-DD'),
         encode(sha256(convert_to(w.hash_prefix || to_char(w.run_date, 'YYYY-MM-DD') || w.hash_suffix, 'UTF8')),
                'hex'),
         'requested', CAST(:requested_by AS text), CAST(:correlation_id AS uuid), CAST(:now AS timestamptz),
         CAST(:due_by AS timestamptz)
    FROM wanted w
  ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
  RETURNING run_id
), published AS (
  INSERT INTO reporting.outbox (event_id, tenant_id, subject, aggregate_id, envelope)
  SELECT w.event_id, CAST(:tenant AS uuid), 'report_run.requested.v1', w.run_id::text,
         w.envelope || jsonb_build_object(
           'event_id', w.event_id::text, 'aggregate_id', w.run_id::text,
           'data', (w.envelope -> 'data') || jsonb_build_object('run_id', w.run_id::text,
                                                                'run_date', to_char(w.run_date, 'YYYY-MM-DD')))
    FROM wanted w JOIN inserted USING (run_id)
  RETURNING 1
)
SELECT (SELECT count(*) FROM wanted) AS candidates, (SELECT count(*) FROM inserted) AS requested,
       (SELECT count(*) FROM published) AS published
"""

# The dry run's count: candidate dates that already have a run in flight or succeeded.
COUNT_PRESENT = """
WITH item AS (
  SELECT * FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS i(
    property_id uuid, template_version_id uuid, first_date date, last_date date)
)
SELECT count(DISTINCT (r.property_id, r.template_version_id, r.run_date)) AS present
  FROM item i JOIN reporting.report_runs r
    ON r.property_id = i.property_id AND r.template_version_id = i.template_version_id
   AND r.run_date BETWEEN i.first_date AND i.last_date AND r.state IN ('requested', 'rendering', 'succeeded')
"""

PROPERTIES = "SELECT property_id, timezone, locale FROM reporting.properties ORDER BY property_id"


class BackfillRepository:
    def __init__(self, conn: Connection, track: Callable[[Any], None] | None = None) -> None:
        self._conn = conn

    def tenants(self) -> list[str]:
        """Every active, flag-on tenant mirrored here (through the audited definer function)."""
        return [str(r["tenant_id"]) for r in fetch_all(self._conn, "SELECT tenant_id FROM reporting.backfill_tenants()")]

    def properties(self) -> list[PropertyRef]:
        """The tenant's properties (RLS keeps it to the tenant of the transaction)."""
        return [PropertyRef(str(r["property_id"]), r["timezone"], r["locale"])
                for r in fetch_all(self._conn, PROPERTIES)]

    def count_present(self, items: list[BatchItem]) -> int:
        row = fetch_one(self._conn, COUNT_PRESENT, {"items": json.dumps([
            {"property_id": i.property_id, "template_version_id": i.template_version_id,
             "first_date": i.first_date.isoformat(), "last_date": i.last_date.isoformat()} for i in items])})
        return int(row["present"]) if row else 0

    def request_batch(self, tenant_id: str, items: list[BatchItem], *, requested_by: str, correlation_id: str,
                      now: datetime, due_by: datetime) -> BatchOutcome:
        # The planner sees jsonb_to_recordset x generate_series as millions of rows and would JIT-compile
        # the statement: ~350 ms per chunk of a few hundred rows. Off for this transaction only (queued:
        # it travels with the statement).
        queue(self._conn, "SELECT set_config('jit', 'off', true)")
        row = fetch_one(self._conn, REQUEST_BATCH, {
            "items": json.dumps([i.as_row() for i in items]), "tenant": tenant_id, "requested_by": requested_by,
            "correlation_id": correlation_id, "now": now, "due_by": due_by})
        assert row is not None and row["requested"] == row["published"]
        return BatchOutcome(candidates=int(row["candidates"]), requested=int(row["requested"]))
