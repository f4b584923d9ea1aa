-- 0018: expand step of a two-phase change (SPEC §9, plan §2): the property setting
-- `settings.deduct_out_of_order` (a jsonb key) becomes the typed column
-- `properties.deduct_out_of_order boolean`. The contract step is 0019. Walkthrough and
-- release order: docs/schema-backfills.md.
--
-- Why: the setting decides whether out-of-order rooms leave "rooms available" (USALI
-- allows both), so it changes occupancy, ADR and RevPAR in every daily report. As a jsonb
-- key it is untyped and unchecked: the app reads it as Python truthiness, so
-- {"deduct_out_of_order": "false"} means *deduct* (a non-empty string), null means do
-- not deduct, and a misspelt key silently means the default. Nothing in the database
-- says which values are allowed. A boolean column (NOT NULL DEFAULT true after 0019)
-- states the rule, Postgres refuses anything else, and the renderer binds a real BOOL.
--
-- This file is additive only; the previous release keeps working on it unchanged:
--   1. the column, nullable: NULL means "not backfilled yet" (metadata-only, no rewrite);
--   2. reporting.deduct_out_of_order_setting(jsonb): the previous release's reading of the
--      key, in SQL, exactly (Python `bool(settings.get("deduct_out_of_order", True))`), so
--      the backfill and the trigger change no report's numbers;
--   3. a trigger filling the column for writers that only know the key (the previous
--      release during the rollout, a residency import from a deployment one release
--      behind), so the column never falls behind once the backfill has passed a row;
--   4. the schema-backfill runner's bookkeeping (reporting/db/data_backfills), used here
--      first: a per-(script, tenant) checkpoint table under row-level security, and two
--      audited SECURITY DEFINER functions, the runner's only cross-tenant reads.

ALTER TABLE reporting.properties ADD COLUMN deduct_out_of_order boolean;
COMMENT ON COLUMN reporting.properties.deduct_out_of_order IS
  'USALI: out-of-order rooms are deducted from rooms available. NULL until backfilled (d0001); NOT NULL from 0019.';

-- Python truthiness of the JSON value, key absent = true (the domain's default).
CREATE OR REPLACE FUNCTION reporting.deduct_out_of_order_setting(p_settings jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT CASE jsonb_typeof(p_settings -> 'deduct_out_of_order')
           WHEN 'boolean' THEN (p_settings ->> 'deduct_out_of_order')::boolean
           WHEN 'null'    THEN false
           WHEN 'number'  THEN (p_settings ->> 'deduct_out_of_order')::numeric <> 0
           WHEN 'string'  THEN (p_settings ->> 'deduct_out_of_order') <> ''
           WHEN 'array'   THEN jsonb_array_length(p_settings -> 'deduct_out_of_order') > 0
           WHEN 'object'  THEN (p_settings -> 'deduct_out_of_order') <> '{}'::jsonb
           ELSE true
         END $$;
REVOKE ALL ON FUNCTION reporting.deduct_out_of_order_setting(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.deduct_out_of_order_setting(jsonb) TO reporting_app;

-- A writer that sets the column (this release's repository) wins; a writer that only
-- knows the key (inserts without the column, or updates that change the key but leave
-- the column alone) gets the column derived from the key. Rows nobody writes are the
-- backfill's (d0001).
CREATE OR REPLACE FUNCTION reporting.properties_deduct_out_of_order_sync() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.deduct_out_of_order IS NULL THEN
      NEW.deduct_out_of_order := reporting.deduct_out_of_order_setting(NEW.settings);
    END IF;
  ELSIF NEW.deduct_out_of_order IS NOT DISTINCT FROM OLD.deduct_out_of_order
        AND (NEW.settings -> 'deduct_out_of_order') IS DISTINCT FROM (OLD.settings -> 'deduct_out_of_order') THEN
    NEW.deduct_out_of_order := reporting.deduct_out_of_order_setting(NEW.settings);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER properties_deduct_out_of_order_sync BEFORE INSERT OR UPDATE ON reporting.properties
  FOR EACH ROW EXECUTE FUNCTION reporting.properties_deduct_out_of_order_sync();

-- ---------------------------------------------------------------------------
-- The schema-backfill runner's bookkeeping.
-- ---------------------------------------------------------------------------

-- One checkpoint per (script, tenant), written in the same transaction as each batch:
-- a retried task resumes after last_key; finished_at set means a re-run does nothing.
-- Deployment-local (a residency move does not carry it: service_layer/residency_move.py).
CREATE TABLE reporting.data_backfill_progress (
  script      text        NOT NULL CHECK (script ~ '^d[0-9]{4}_[a-z0-9_]+$'),
  tenant_id   uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  -- the script's keyset position (its own key, as text); NULL before the first batch
  last_key    text,
  rows_done   bigint      NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
  batches     integer     NOT NULL DEFAULT 0 CHECK (batches >= 0),
  started_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (script, tenant_id),
  CHECK (finished_at IS NULL OR last_key IS NULL)
);
ALTER TABLE reporting.data_backfill_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.data_backfill_progress FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.data_backfill_progress
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.data_backfill_progress TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.data_backfill_progress TO reporting_app;

-- A script names the migration it needs (and the contract that retires it): the runner
-- reads which files are applied. File names only; the table is not tenant data.
GRANT SELECT (filename) ON reporting.schema_migrations TO reporting_app;

-- Every tenant with rows in this database, whatever its status or flag: a schema backfill
-- must reach every row (the contract step refuses otherwise), including a tenant that is
-- locked, importing or moved. Ids only; each batch then runs in the tenant's own
-- transaction under row-level security.
CREATE OR REPLACE FUNCTION reporting.data_backfill_tenants()
  RETURNS TABLE (tenant_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  RETURN QUERY SELECT t.tenant_id FROM reporting.tenants t ORDER BY t.tenant_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('data_backfill_tenants', n);
END $$;
REVOKE ALL ON FUNCTION reporting.data_backfill_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.data_backfill_tenants() TO reporting_app;

-- Counts per script for `reporting schema-backfill --list`: no tenant ids, no rows.
CREATE OR REPLACE FUNCTION reporting.data_backfill_summary()
  RETURNS TABLE (script text, tenants_finished bigint, tenants_started bigint, rows_done numeric)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  RETURN QUERY
    SELECT p.script, count(*) FILTER (WHERE p.finished_at IS NOT NULL),
           count(*) FILTER (WHERE p.finished_at IS NULL), sum(p.rows_done)
      FROM reporting.data_backfill_progress p
     GROUP BY p.script ORDER BY p.script;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('data_backfill_summary', n);
END $$;
REVOKE ALL ON FUNCTION reporting.data_backfill_summary() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.data_backfill_summary() TO reporting_app;
