-- 0004: report runs and their artifacts; the transactional outbox, the consumer
-- inbox and the append-only audit log; the SECURITY DEFINER functions that are the
-- only way to work across tenants (claiming outbox rows).

CREATE TABLE reporting.report_runs (
  run_id              uuid        PRIMARY KEY,
  tenant_id           uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  property_id         uuid        NOT NULL,
  template_version_id uuid        NOT NULL REFERENCES reporting.template_versions (template_version_id),
  -- snapshot-on-run (plan §4): what the run was pinned to at request time
  snapshot_hash       text        NOT NULL CHECK (snapshot_hash ~ '^[0-9a-f]{64}$'),
  params              jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
  locale              text        NOT NULL CHECK (locale IN ('en', 'ps', 'fa-AF', 'ar', 'hi')),
  formats             text[]      NOT NULL CHECK (formats <@ ARRAY['pdf', 'csv', 'html'] AND cardinality(formats) >= 1),
  run_date            date        NOT NULL,
  origin              text        NOT NULL CHECK (origin IN ('user', 'schedule', 'backfill')),
  idempotency_key     text        NOT NULL CHECK (idempotency_key ~ '^(user|schedule|backfill):.{1,240}$'),
  -- sha256 of the canonical request: the same key with another body is a conflict
  request_hash        text        NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  state               text        NOT NULL DEFAULT 'requested'
                      CHECK (state IN ('requested', 'rendering', 'succeeded', 'failed', 'cancelled', 'superseded')),
  attempts            integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  error_code          text,
  error_message       text,
  requested_by        text        NOT NULL,
  correlation_id      uuid        NOT NULL,
  supersedes          uuid        REFERENCES reporting.report_runs (run_id),
  superseded_by       uuid        REFERENCES reporting.report_runs (run_id),
  requested_at        timestamptz NOT NULL,
  due_by              timestamptz NOT NULL,
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, property_id) REFERENCES reporting.properties (tenant_id, property_id),
  CHECK ((state = 'failed') = (error_code IS NOT NULL))
);
CREATE INDEX report_runs_by_property_date ON reporting.report_runs (tenant_id, property_id, run_date DESC);
CREATE INDEX report_runs_in_flight ON reporting.report_runs (state, started_at) WHERE state IN ('requested', 'rendering');
ALTER TABLE reporting.report_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.report_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.report_runs
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.report_runs TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.report_runs TO reporting_app;

CREATE TABLE reporting.artifacts (
  artifact_id     uuid        PRIMARY KEY,
  tenant_id       uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  run_id          uuid        NOT NULL REFERENCES reporting.report_runs (run_id),
  format          text        NOT NULL CHECK (format IN ('pdf', 'csv', 'html')),
  object_uri      text        NOT NULL,
  generation      bigint      NOT NULL,
  sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes      bigint      NOT NULL CHECK (size_bytes >= 0),
  retention_class text        NOT NULL,
  locked_until    timestamptz,
  encryption      text        NOT NULL DEFAULT 'none' CHECK (encryption IN ('none', 'envelope')),
  region          text        NOT NULL,
  -- set on index entries imported by a residency move: the object stayed there
  original_region text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, format)
);
ALTER TABLE reporting.artifacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.artifacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.artifacts
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.artifacts TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON reporting.artifacts TO reporting_app;

CREATE TABLE reporting.outbox (
  event_id           uuid        PRIMARY KEY,
  tenant_id          uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  subject            text        NOT NULL CHECK (subject ~ '^[a-z_]+\.[a-z_]+\.v[0-9]+$'),
  aggregate_id       text        NOT NULL,
  -- the whole envelope of SPEC §5, exactly as it will be published
  envelope           jsonb       NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_until      timestamptz,
  claim_count        integer     NOT NULL DEFAULT 0,
  published_at       timestamptz,
  dead_lettered_at   timestamptz,
  dead_letter_reason text
);
CREATE INDEX outbox_pending ON reporting.outbox (created_at) WHERE published_at IS NULL AND dead_lettered_at IS NULL;
ALTER TABLE reporting.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.outbox
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.outbox TO reporting_owner USING (true) WITH CHECK (true);
-- The app writes events inside its own transactions; claiming and marking go
-- through the functions below.
GRANT SELECT, INSERT ON reporting.outbox TO reporting_app;

CREATE TABLE reporting.inbox (
  consumer     text        NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
  event_id     uuid        NOT NULL,
  tenant_id    uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  subject      text        NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
ALTER TABLE reporting.inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.inbox
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.inbox TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON reporting.inbox TO reporting_app;

CREATE TABLE reporting.audit_log (
  audit_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  actor       text        NOT NULL,
  action      text        NOT NULL,
  target_type text        NOT NULL,
  target_id   text        NOT NULL,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_target ON reporting.audit_log (tenant_id, target_type, target_id);
ALTER TABLE reporting.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.audit_log
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.audit_log TO reporting_owner USING (true) WITH CHECK (true);
-- Append-only: no UPDATE or DELETE grant, and a trigger for the owner too.
GRANT SELECT, INSERT ON reporting.audit_log TO reporting_app;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON reporting.audit_log
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();

-- Claim up to p_limit unpublished outbox rows of any tenant for p_lease_seconds.
-- SKIP LOCKED lets several relays run at once without double claims; a lease that
-- runs out (a relay that crashed) makes the row claimable again.
CREATE OR REPLACE FUNCTION reporting.claim_outbox(p_limit integer, p_lease_seconds integer)
  RETURNS TABLE (event_id uuid, tenant_id uuid, subject text, aggregate_id text, envelope jsonb, claim_count integer)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  IF p_limit NOT BETWEEN 1 AND 1000 OR p_lease_seconds NOT BETWEEN 1 AND 3600 THEN
    RAISE EXCEPTION 'claim_outbox: limit 1..1000 and lease 1..3600 s' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    WITH claimable AS (
      SELECT o.event_id FROM reporting.outbox o
       WHERE o.published_at IS NULL AND o.dead_lettered_at IS NULL
         AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
       ORDER BY o.created_at
       LIMIT p_limit
         FOR UPDATE SKIP LOCKED)
    UPDATE reporting.outbox o
       SET claimed_until = clock_timestamp() + make_interval(secs => p_lease_seconds),
           claim_count = o.claim_count + 1
      FROM claimable c
     WHERE o.event_id = c.event_id
    RETURNING o.event_id, o.tenant_id, o.subject, o.aggregate_id, o.envelope, o.claim_count;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('claim_outbox', n);
  END IF;
END $$;
REVOKE ALL ON FUNCTION reporting.claim_outbox(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.claim_outbox(integer, integer) TO reporting_app;

-- Mark claimed rows published (after the broker or local bus accepted them).
CREATE OR REPLACE FUNCTION reporting.mark_outbox_published(p_event_ids uuid[])
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  UPDATE reporting.outbox SET published_at = clock_timestamp(), claimed_until = NULL
   WHERE event_id = ANY (p_event_ids) AND published_at IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('mark_outbox_published', n);
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION reporting.mark_outbox_published(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.mark_outbox_published(uuid[]) TO reporting_app;

-- Release a claimed row for a later retry, or set it aside as dead with a reason
-- (a row that can never be published must not block or loop forever).
CREATE OR REPLACE FUNCTION reporting.release_outbox(p_event_id uuid, p_dead boolean, p_reason text)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
DECLARE
  n integer;
BEGIN
  UPDATE reporting.outbox
     SET claimed_until = CASE WHEN p_dead THEN NULL ELSE claimed_until END,
         dead_lettered_at = CASE WHEN p_dead THEN clock_timestamp() END,
         dead_letter_reason = CASE WHEN p_dead THEN left(p_reason, 500) END
   WHERE event_id = p_event_id AND published_at IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO reporting.cross_tenant_access_log (function, row_count) VALUES ('release_outbox', n);
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION reporting.release_outbox(uuid, boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.release_outbox(uuid, boolean, text) TO reporting_app;
