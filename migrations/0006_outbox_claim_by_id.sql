-- 0006: claim specific outbox rows by id. The request and render paths publish the
-- events they just committed straight away (the sweeper only catches what is left
-- behind); claiming by id keeps that fast path and a concurrent sweeper from both
-- holding the same row: whoever claims first publishes, the other skips it.

CREATE OR REPLACE FUNCTION reporting.claim_outbox_events(p_event_ids uuid[], p_lease_seconds integer)
  RETURNS TABLE (event_id uuid, tenant_id uuid, subject text, aggregate_id text, envelope jsonb, claim_count integer)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF coalesce(cardinality(p_event_ids), 0) NOT BETWEEN 1 AND 1000 OR p_lease_seconds NOT BETWEEN 1 AND 3600 THEN
    RAISE EXCEPTION 'claim_outbox_events: 1..1000 ids and lease 1..3600 s' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    WITH claimable AS (
      SELECT o.event_id FROM reporting.outbox o
       WHERE o.event_id = ANY (p_event_ids)
         AND o.published_at IS NULL AND o.dead_lettered_at IS NULL
         AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
       ORDER BY o.created_at
         FOR UPDATE SKIP LOCKED)
    UPDATE reporting.outbox o
       SET claimed_until = clock_timestamp() + make_interval(secs => p_lease_seconds),
           claim_count = o.claim_count + 1
      FROM claimable c
     WHERE o.event_id = c.event_id
    RETURNING o.event_id, o.tenant_id, o.subject, o.aggregate_id, o.envelope, o.claim_count;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('claim_outbox_events', n);
  END IF;
END $$;
REVOKE ALL ON FUNCTION reporting.claim_outbox_events(uuid[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.claim_outbox_events(uuid[], integer) TO reporting_app;
