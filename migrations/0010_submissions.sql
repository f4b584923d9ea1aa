-- 0010: regulatory submissions (SPEC §3, §8): one row per subject a regulatory run
-- yields (a business date, an invoice, a guest stay), submitted through an adapter
-- before its legal cutoff. Read by the API here (issue 3); created, submitted,
-- retried and watched by the submit function and the watchdog (issue 6).
--
-- Idempotency: the subject itself is the key. UNIQUE NULLS NOT DISTINCT on
-- (tenant, property, adapter, subject kind, subject ref, corrects) gives
--   * one original submission per subject (corrects IS NULL, and NULLs compare
--     equal), however many times the triggering event or an overlapping hourly
--     run delivers it;
--   * one correction per submission it corrects: a resubmission (an explicit
--     operator action, SPEC §3) points at the latest submission of its subject, so
--     corrections form a single chain, never a fork, and a retried correction is
--     a no-op too.
-- A column-list constraint rather than an expression index, so INSERT … ON CONFLICT
-- ON CONSTRAINT submissions_subject_key can name it.

CREATE TABLE reporting.submissions (
  submission_id       uuid        PRIMARY KEY,
  tenant_id           uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  property_id         uuid        NOT NULL,
  -- the regulatory run the submission's payload came from (the payload stays in its artifacts)
  run_id              uuid        NOT NULL REFERENCES reporting.report_runs (run_id),
  adapter             text        NOT NULL CHECK (adapter IN ('fake', 'af_police', 'ksa_zatca', 'in_form_c')),
  subject_kind        text        NOT NULL CHECK (subject_kind IN ('business_date', 'invoice', 'guest_stay')),
  -- a business date, an invoice number or a stay id: never a name (the pattern has no room for one)
  subject_ref         text        NOT NULL CHECK (subject_ref ~ '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$'),
  -- a resubmission, by explicit operator action, of an earlier submission of the same tenant
  corrects            uuid,
  cutoff_at           timestamptz NOT NULL,
  state               text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'submitting', 'retrying', 'accepted', 'rejected', 'missed_cutoff')),
  attempts            integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- when the latest attempt started (a `submitting` row whose attempt is long gone was abandoned)
  last_attempt_at     timestamptz,
  -- the next planned attempt of a `retrying` submission; never planned past the cutoff
  next_attempt_at     timestamptz,
  authority_reference text        CHECK (length(authority_reference) BETWEEN 1 AND 200),
  -- a code only (ours or the authority's): free text may carry guest data and stays out of the row
  last_error_code     text        CHECK (last_error_code ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
  last_error_at       timestamptz,
  accepted_at         timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT submissions_subject_key
    UNIQUE NULLS NOT DISTINCT (tenant_id, property_id, adapter, subject_kind, subject_ref, corrects),
  -- the target of the composite foreign key below: a correction stays inside its tenant
  CONSTRAINT submissions_tenant_key UNIQUE (tenant_id, submission_id),
  FOREIGN KEY (tenant_id, property_id) REFERENCES reporting.properties (tenant_id, property_id),
  FOREIGN KEY (tenant_id, corrects) REFERENCES reporting.submissions (tenant_id, submission_id),
  CHECK (corrects IS DISTINCT FROM submission_id),
  -- each live adapter has one subject granularity (SPEC §8); the fake one stands in for any of them
  CHECK (adapter = 'fake'
         OR (adapter, subject_kind) IN (('af_police', 'business_date'), ('ksa_zatca', 'invoice'),
                                        ('in_form_c', 'guest_stay'))),
  CHECK (subject_kind <> 'business_date' OR subject_ref ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  CHECK (CASE state WHEN 'pending' THEN attempts = 0 WHEN 'missed_cutoff' THEN true ELSE attempts >= 1 END),
  CHECK (attempts = 0 OR last_attempt_at IS NOT NULL),
  CHECK (next_attempt_at IS NULL OR (state = 'retrying' AND next_attempt_at < cutoff_at)),
  CHECK ((state = 'accepted') = (accepted_at IS NOT NULL)),
  CHECK (state <> 'accepted' OR authority_reference IS NOT NULL),
  CHECK ((last_error_code IS NULL) = (last_error_at IS NULL)),
  CHECK (state <> 'rejected' OR last_error_code IS NOT NULL)
);
-- The watchdog (issue 6): submissions not yet final, by state and cutoff. accepted and
-- missed_cutoff are final; a rejected one stays watched until its cutoff (a permanent
-- rejection not corrected in time is a missed cutoff).
CREATE INDEX submissions_open_by_cutoff ON reporting.submissions (state, cutoff_at)
  WHERE state NOT IN ('accepted', 'missed_cutoff');
-- The retry loop: retrying submissions by their next planned attempt.
CREATE INDEX submissions_retry_due ON reporting.submissions (next_attempt_at) WHERE state = 'retrying';
-- The API's listing: a tenant's submissions, latest cutoff first, keyset-paginated.
CREATE INDEX submissions_listing ON reporting.submissions (tenant_id, cutoff_at DESC, submission_id DESC);
-- A submission's correction (corrects is last in the unique key, so that index cannot find it).
CREATE INDEX submissions_corrections ON reporting.submissions (tenant_id, corrects) WHERE corrects IS NOT NULL;
ALTER TABLE reporting.submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.submissions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.submissions
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.submissions TO reporting_owner USING (true) WITH CHECK (true);
-- No DELETE: a submission is the record of what was (or was not) filed with an authority.
GRANT SELECT, INSERT, UPDATE ON reporting.submissions TO reporting_app;
CREATE TRIGGER submissions_no_delete BEFORE DELETE ON reporting.submissions
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();
