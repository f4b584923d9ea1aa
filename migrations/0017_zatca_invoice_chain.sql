-- 0017: the ZATCA e-invoicing unit's chain (issue 6, SPEC §8). The service is each KSA
-- property's e-invoicing (EGS) unit: it assigns the invoice counter (ICV, KSA-16) and the
-- previous invoice hash (PIH, KSA-13), signs, and reports. Two tables, both tenant-scoped:
--
--   * zatca_chain_heads: one row per property, the last link (counter and invoice hash).
--     The filing path locks it FOR UPDATE while it assigns, signs and stores the next link,
--     so concurrent filings of one property take consecutive counters and never share a
--     PIH: no gap, no fork (adapters/postgres/zatca_store.py).
--   * zatca_invoices: every document the unit signed, exactly as signed (the bytes a retry
--     re-reports), its place in the chain, its QR, and ZATCA's verdict with its validation
--     messages (scrubbed of values). UNIQUE (property, icv) and UNIQUE (property, previous
--     hash) make a gap-free, fork-free chain a database fact too; UNIQUE (property, uuid)
--     is ZATCA's document identity; UNIQUE (submission, role) makes a retried or
--     concurrent filing of one submission find its document instead of chaining another
--     (role: the subject's own document, or a correction's credit note and replacement).
--
-- A rejected document stays in the chain: every document of a unit takes the next counter
-- and the previous document's hash whatever ZATCA answered (reporting/adapters/regulatory/
-- zatca/store.py cites ZATCA's rule). So neither table is ever deleted from, a document's
-- chained content never changes, and a verdict, once recorded, stands.
-- A simplified invoice names no buyer: the stored XML carries the seller and the lines,
-- no guest data.

CREATE TABLE reporting.zatca_chain_heads (
  property_id   uuid        PRIMARY KEY,
  tenant_id     uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  -- 0 and NULL: the unit has issued nothing yet (the first document takes ICV 1 and the genesis PIH)
  icv           bigint      NOT NULL DEFAULT 0 CHECK (icv >= 0),
  invoice_hash  text        CHECK (invoice_hash ~ '^[A-Za-z0-9+/]{43}=$'),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, property_id) REFERENCES reporting.properties (tenant_id, property_id),
  CHECK ((icv = 0) = (invoice_hash IS NULL))
);
ALTER TABLE reporting.zatca_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.zatca_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.zatca_chain_heads
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.zatca_chain_heads TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.zatca_chain_heads TO reporting_app;

-- The head only ever moves one link forward.
CREATE OR REPLACE FUNCTION reporting.zatca_chain_head_forward() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.property_id IS DISTINCT FROM OLD.property_id OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
     OR NEW.icv <> OLD.icv + 1 THEN
    RAISE EXCEPTION 'the chain head of property % only moves one link forward (% -> %)',
      OLD.property_id, OLD.icv, NEW.icv USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER zatca_chain_head_forward BEFORE UPDATE ON reporting.zatca_chain_heads
  FOR EACH ROW EXECUTE FUNCTION reporting.zatca_chain_head_forward();
CREATE TRIGGER zatca_chain_heads_no_delete BEFORE DELETE ON reporting.zatca_chain_heads
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();

CREATE TABLE reporting.zatca_invoices (
  document_id         uuid        PRIMARY KEY,
  tenant_id           uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  property_id         uuid        NOT NULL,
  submission_id       uuid        NOT NULL,
  role                text        NOT NULL CHECK (role IN ('invoice', 'credit_note', 'replacement')),
  -- the submission's subject (an invoice number): the documents of one subject, across corrections
  subject_ref         text        NOT NULL CHECK (subject_ref ~ '^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$'),
  icv                 bigint      NOT NULL CHECK (icv >= 1),
  previous_hash       text        NOT NULL CHECK (previous_hash ~ '^[A-Za-z0-9+/]+={0,2}$'),
  invoice_hash        text        NOT NULL CHECK (invoice_hash ~ '^[A-Za-z0-9+/]{43}=$'),
  invoice_uuid        uuid        NOT NULL,
  invoice_number      text        NOT NULL CHECK (length(invoice_number) BETWEEN 1 AND 127),
  type_code           text        NOT NULL CHECK (type_code IN ('388', '381')),
  issued_at           timestamptz NOT NULL,
  -- a credit note: the number of the invoice it corrects (also in the XML's BillingReference)
  billing_reference   text,
  signed_xml          bytea       NOT NULL,
  qr                  text        NOT NULL CHECK (length(qr) BETWEEN 1 AND 1000),
  -- ZATCA's verdict; NULL until it gave one (a transient failure is not a verdict)
  outcome             text        CHECK (outcome IN ('reported', 'reported_with_warnings', 'rejected')),
  http_status         integer,
  -- [{level, code, category, message}], scrubbed of quoted values and long digit runs
  validation_messages jsonb       NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(validation_messages) = 'array'),
  report_attempts     integer     NOT NULL DEFAULT 0 CHECK (report_attempts >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  reported_at         timestamptz,
  CONSTRAINT zatca_invoices_icv_key UNIQUE (property_id, icv),
  CONSTRAINT zatca_invoices_pih_key UNIQUE (property_id, previous_hash),
  CONSTRAINT zatca_invoices_uuid_key UNIQUE (property_id, invoice_uuid),
  CONSTRAINT zatca_invoices_submission_key UNIQUE (submission_id, role),
  FOREIGN KEY (tenant_id, property_id) REFERENCES reporting.properties (tenant_id, property_id),
  FOREIGN KEY (tenant_id, submission_id) REFERENCES reporting.submissions (tenant_id, submission_id),
  -- the first document carries ZATCA's genesis PIH: base64 of the hex SHA-256 of "0" (chain.py)
  CHECK (icv > 1 OR previous_hash = 'NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=='),
  CHECK ((type_code = '381') = (billing_reference IS NOT NULL)),
  CHECK ((outcome IS NULL) = (reported_at IS NULL)),
  CHECK (outcome IS NULL OR http_status IS NOT NULL)
);
-- The operator's chain listing (reporting zatca chain): a property's documents by issue time.
CREATE INDEX zatca_invoices_issued ON reporting.zatca_invoices (property_id, issued_at);
-- The documents of one subject (a correction looks up what stands at ZATCA).
CREATE INDEX zatca_invoices_subject ON reporting.zatca_invoices (property_id, subject_ref);
ALTER TABLE reporting.zatca_invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.zatca_invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.zatca_invoices
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.zatca_invoices TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.zatca_invoices TO reporting_app;

-- What was signed is never rewritten, and ZATCA's first verdict stands; only the counters
-- of reporting calls and the verdict's arrival (NULL -> a verdict) move.
CREATE OR REPLACE FUNCTION reporting.zatca_invoice_immutable() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.document_id, NEW.tenant_id, NEW.property_id, NEW.submission_id, NEW.role, NEW.subject_ref, NEW.icv,
      NEW.previous_hash, NEW.invoice_hash, NEW.invoice_uuid, NEW.invoice_number, NEW.type_code, NEW.issued_at,
      NEW.billing_reference, NEW.signed_xml, NEW.qr, NEW.created_at)
     IS DISTINCT FROM
     (OLD.document_id, OLD.tenant_id, OLD.property_id, OLD.submission_id, OLD.role, OLD.subject_ref, OLD.icv,
      OLD.previous_hash, OLD.invoice_hash, OLD.invoice_uuid, OLD.invoice_number, OLD.type_code, OLD.issued_at,
      OLD.billing_reference, OLD.signed_xml, OLD.qr, OLD.created_at) THEN
    RAISE EXCEPTION 'zatca document % (ICV %) is signed and chained: immutable', OLD.document_id, OLD.icv
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.outcome IS NOT NULL AND (NEW.outcome, NEW.http_status, NEW.validation_messages, NEW.reported_at)
     IS DISTINCT FROM (OLD.outcome, OLD.http_status, OLD.validation_messages, OLD.reported_at) THEN
    RAISE EXCEPTION 'zatca document % already has ZATCA''s verdict', OLD.document_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.report_attempts < OLD.report_attempts THEN
    RAISE EXCEPTION 'zatca document %: report_attempts only grows', OLD.document_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER zatca_invoice_immutable BEFORE UPDATE ON reporting.zatca_invoices
  FOR EACH ROW EXECUTE FUNCTION reporting.zatca_invoice_immutable();
CREATE TRIGGER zatca_invoices_no_delete BEFORE DELETE ON reporting.zatca_invoices
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();
