-- 0009: per-tenant fairness (issue 3 item 6) and the per-tenant SLO (item 9).
--
-- rate_limits: one fixed one-minute window per tenant and bucket ('write' for
-- POST/PUT/PATCH/DELETE, 'read' for GET), shared by every function instance that
-- serves the tenant. The app bumps it with one UPSERT in a tiny transaction of its
-- own (never inside the request's transaction, which would serialise a tenant's
-- requests on the row lock) and deletes the tenant's older windows when it opens
-- a new one, so each tenant keeps at most one row per bucket.

CREATE TABLE reporting.rate_limits (
  tenant_id    uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  bucket       text        NOT NULL CHECK (bucket IN ('write', 'read')),
  window_start timestamptz NOT NULL,
  hits         integer     NOT NULL CHECK (hits >= 1),
  PRIMARY KEY (tenant_id, bucket, window_start)
);
ALTER TABLE reporting.rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.rate_limits
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.rate_limits TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON reporting.rate_limits TO reporting_app;

-- The in-flight cap counts a tenant's ad-hoc runs in requested/rendering before each
-- new one: a small partial index keeps that count off the whole table.
CREATE INDEX IF NOT EXISTS report_runs_user_in_flight ON reporting.report_runs (tenant_id)
  WHERE origin = 'user' AND state IN ('requested', 'rendering');

-- The SLO aggregate reads a tenant's runs by due time over a window (at most 90 days).
CREATE INDEX IF NOT EXISTS report_runs_by_due ON reporting.report_runs (tenant_id, due_by);
