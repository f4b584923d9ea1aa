"""d0001: fill `properties.deduct_out_of_order` (expand 0018) from the `settings` key it replaces (contract 0019).

The value is the previous release's own reading of the key
(`reporting.deduct_out_of_order_setting`, Python truthiness, absent = true), so no
report's numbers change when reads switch to the column. Idempotent: a row whose column
already agrees with its key is visited, not written.
"""
from __future__ import annotations

from reporting.adapters.postgres.connection import Connection, fetch_one

REQUIRES = "0018_deduct_out_of_order_expand.sql"
RETIRED_BY = "0019_deduct_out_of_order_contract.sql"
DESCRIPTION = "properties.deduct_out_of_order from settings.deduct_out_of_order"

# Keyset on (tenant_id, property_id): the UNIQUE index serves both the scan and the order. A data-modifying
# CTE runs to completion whether or not the outer query reads it.
FILL_BATCH = """
WITH batch AS (
  SELECT property_id FROM reporting.properties
   WHERE tenant_id = CAST(:tenant AS uuid)
     AND (CAST(:after AS uuid) IS NULL OR property_id > CAST(:after AS uuid))
   ORDER BY property_id
   LIMIT :limit
), filled AS (
  UPDATE reporting.properties p
     SET deduct_out_of_order = reporting.deduct_out_of_order_setting(p.settings)
    FROM batch b
   WHERE p.property_id = b.property_id
     AND p.deduct_out_of_order IS DISTINCT FROM reporting.deduct_out_of_order_setting(p.settings)
)
SELECT (SELECT count(*) FROM batch) AS visited,
       (SELECT property_id::text FROM batch ORDER BY property_id DESC LIMIT 1) AS last_key
"""

COUNT_ROWS = """
SELECT count(*) AS n FROM reporting.properties
 WHERE tenant_id = CAST(:tenant AS uuid) AND (CAST(:after AS uuid) IS NULL OR property_id > CAST(:after AS uuid))
"""


def run_batch(conn: Connection, tenant_id: str, after_key: str | None, limit: int) -> tuple[int, str | None]:
    """Fill up to `limit` of the tenant's properties after `after_key`; (rows visited, next key or None)."""
    row = fetch_one(conn, FILL_BATCH, {"tenant": tenant_id, "after": after_key, "limit": limit})
    assert row is not None
    visited = int(row["visited"])
    return visited, (row["last_key"] if visited == limit else None)


def count_rows(conn: Connection, tenant_id: str, after_key: str | None) -> int:
    """The tenant's properties after `after_key` (what is left to visit)."""
    row = fetch_one(conn, COUNT_ROWS, {"tenant": tenant_id, "after": after_key})
    return int(row["n"]) if row else 0
