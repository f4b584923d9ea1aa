-- 0016: the submission watchdog's cross-tenant read (issue 6). Like due_schedules() and
-- stuck_runs(): owned by reporting_owner, ids and the two fields the watchdog orders and
-- escalates by, every call recorded in cross_tenant_access_log. The watchdog then works on
-- each submission in its tenant's transaction, under row-level security.
--
-- What it returns: every submission not final (accepted and missed_cutoff are) that is
--   * pending (never attempted: the submit function's first attempt did not happen),
--   * retrying with its next attempt due,
--   * submitting for longer than the attempt timeout (the attempt was lost in a crash),
--   * rejected or otherwise open with its cutoff within the escalation horizon or past.
-- The partial indexes submissions_open_by_cutoff and submissions_retry_due serve it.
CREATE OR REPLACE FUNCTION reporting.submissions_to_watch(p_now timestamptz, p_horizon interval, p_limit integer)
  RETURNS TABLE (submission_id uuid, tenant_id uuid, cutoff_at timestamptz, state text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF p_now IS NULL OR p_horizon IS NULL OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'submissions_to_watch: a time, a horizon and a limit 1..100000'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT s.submission_id, s.tenant_id, s.cutoff_at, s.state FROM reporting.submissions s
     WHERE s.state NOT IN ('accepted', 'missed_cutoff')
       AND (s.state = 'pending'
            OR (s.state = 'retrying' AND s.next_attempt_at <= p_now)
            OR (s.state = 'submitting' AND s.last_attempt_at < p_now - interval '10 minutes')
            OR s.cutoff_at <= p_now + p_horizon)
     ORDER BY s.cutoff_at, s.submission_id
     LIMIT p_limit;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('submissions_to_watch', n);
END $$;
REVOKE ALL ON FUNCTION reporting.submissions_to_watch(timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.submissions_to_watch(timestamptz, interval, integer) TO reporting_app;
