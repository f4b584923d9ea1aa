-- 0012: cross-tenant reads for the backfill job and the stuck-run watchdog (issue 7).
--
-- Both are SECURITY DEFINER functions owned by reporting_owner, like due_schedules():
-- the app role reads across tenants only through them, they return ids and nothing
-- else, and every call is recorded in cross_tenant_access_log. The work itself (the
-- runs a backfill requests, the run a watchdog fails) happens afterwards in each
-- tenant's own transaction, under row-level security.

-- Tenants a backfill over "every tenant" covers: mirrored here, flag on, active.
-- A tenant being moved (locked_readonly, importing, moved) is not backfilled: its
-- runs would be requested in the wrong residency or refused by the lock.
CREATE OR REPLACE FUNCTION reporting.backfill_tenants()
  RETURNS TABLE (tenant_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  RETURN QUERY
    SELECT t.tenant_id FROM reporting.tenants t
     WHERE t.status = 'active' AND t.features @> '{"reporting_v1": true}'::jsonb
     ORDER BY t.tenant_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('backfill_tenants', n);
END $$;
REVOKE ALL ON FUNCTION reporting.backfill_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.backfill_tenants() TO reporting_app;

-- Runs in `rendering` that started before p_started_before (oldest first): the watchdog
-- fails each one in its tenant's transaction, re-checking the state under a row lock.
-- The partial index report_runs_in_flight (state, started_at) serves this scan.
CREATE OR REPLACE FUNCTION reporting.stuck_runs(p_started_before timestamptz, p_limit integer)
  RETURNS TABLE (run_id uuid, tenant_id uuid)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF p_started_before IS NULL OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'stuck_runs: a time and a limit 1..100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT r.run_id, r.tenant_id FROM reporting.report_runs r
     WHERE r.state = 'rendering' AND r.started_at < p_started_before
     ORDER BY r.started_at, r.run_id
     LIMIT p_limit;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('stuck_runs', n);
END $$;
REVOKE ALL ON FUNCTION reporting.stuck_runs(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.stuck_runs(timestamptz, integer) TO reporting_app;
