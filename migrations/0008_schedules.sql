-- 0008: schedules (SPEC §3: a pinned template version fired on a cron in an IANA
-- timezone) and the owner's function the scheduler tick finds due schedules with.

CREATE TABLE reporting.schedules (
  schedule_id         uuid        PRIMARY KEY,
  tenant_id           uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  property_id         uuid        NOT NULL,
  -- the PINNED version: an archived version keeps firing until the schedule is updated (plan §7)
  template_version_id uuid        NOT NULL REFERENCES reporting.template_versions (template_version_id),
  -- 5-field cron on local wall time in `timezone`; validated by the domain (croniter + zoneinfo)
  cron                text        NOT NULL CHECK (length(cron) BETWEEN 9 AND 200),
  timezone            text        NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
  params              jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
  formats             text[]      NOT NULL CHECK (formats <@ ARRAY['pdf', 'csv', 'html'] AND cardinality(formats) >= 1),
  locale              text        NOT NULL CHECK (locale IN ('en', 'ps', 'fa-AF', 'ar', 'hi')),
  enabled             boolean     NOT NULL DEFAULT true,
  -- the UTC instant of the next occurrence not yet requested; the tick advances it
  -- (optimistically: UPDATE ... WHERE next_fire_at = <what it read>)
  next_fire_at        timestamptz NOT NULL,
  last_fired_at       timestamptz,
  created_by          text        NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  -- soft delete: the row stays as the history behind the runs it requested
  deleted_at          timestamptz,
  FOREIGN KEY (tenant_id, property_id) REFERENCES reporting.properties (tenant_id, property_id),
  CHECK (deleted_at IS NULL OR NOT enabled)
);
-- What due_schedules scans: only live schedules, in firing order.
CREATE INDEX schedules_due ON reporting.schedules (next_fire_at) WHERE enabled AND deleted_at IS NULL;
-- The API's listing: a tenant's live schedules, optionally of one property, in a stable order.
CREATE INDEX schedules_listing ON reporting.schedules (tenant_id, created_at, schedule_id) WHERE deleted_at IS NULL;
ALTER TABLE reporting.schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.schedules
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.schedules TO reporting_owner USING (true) WITH CHECK (true);
-- No DELETE: deleting a schedule is an UPDATE of deleted_at (and the trigger refuses it for the owner too).
GRANT SELECT, INSERT, UPDATE ON reporting.schedules TO reporting_app;
CREATE TRIGGER schedules_no_delete BEFORE DELETE ON reporting.schedules
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();

-- The scheduler tick's only cross-tenant read (SPEC §4): ids, tenants and due instants
-- of live schedules whose tenant may work now, oldest first. Nothing else leaves the
-- function; the tick reads each schedule again inside its tenant's own transaction.
-- A tenant that is not `active` (locked_readonly during a residency move, importing,
-- moved) or whose reporting flag is off is paused: its schedules are not returned and
-- keep their next_fire_at, so the tick catches up when the tenant may work again.
-- A plain read, no row locks: locks taken here would end with this call's statement
-- long before the tick writes, so the tick locks rows in the tenant's transaction.
CREATE OR REPLACE FUNCTION reporting.due_schedules(p_now timestamptz, p_limit integer)
  RETURNS TABLE (schedule_id uuid, tenant_id uuid, next_fire_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF p_now IS NULL OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'due_schedules: a time and a limit 1..100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT s.schedule_id, s.tenant_id, s.next_fire_at
      FROM reporting.schedules s
      JOIN reporting.tenants t ON t.tenant_id = s.tenant_id
     WHERE s.enabled AND s.deleted_at IS NULL AND s.next_fire_at <= p_now
       AND t.status = 'active' AND t.features @> '{"reporting_v1": true}'::jsonb
     ORDER BY s.next_fire_at, s.schedule_id
     LIMIT p_limit;
  GET DIAGNOSTICS n = ROW_COUNT;
  -- Every call is recorded, even an empty one: it is also the evidence that the tick ran.
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('due_schedules', n);
END $$;
REVOKE ALL ON FUNCTION reporting.due_schedules(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.due_schedules(timestamptz, integer) TO reporting_app;
