-- 0007: the API lists a tenant's runs newest first with keyset pagination
-- (requested_at, run_id); this index serves that order without a sort.
CREATE INDEX IF NOT EXISTS report_runs_listing ON reporting.report_runs (tenant_id, requested_at DESC, run_id DESC);
