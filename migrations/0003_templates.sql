-- 0003: templates and their immutable, individually addressable versions.
-- A template with tenant_id NULL is platform-shared (seeded by 0005): every tenant
-- reads it, no tenant writes it.

CREATE TABLE reporting.templates (
  template_id  uuid        PRIMARY KEY,
  tenant_id    uuid        REFERENCES reporting.tenants (tenant_id),
  key          text        NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{1,62}$'),
  category     text        NOT NULL CHECK (category IN ('operational', 'regulatory')),
  name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (tenant_id, key)
);
ALTER TABLE reporting.templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON reporting.templates FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = reporting.current_tenant_id());
CREATE POLICY tenant_isolation ON reporting.templates
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.templates TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.templates TO reporting_app;

CREATE TABLE reporting.template_versions (
  template_version_id uuid        PRIMARY KEY,
  template_id         uuid        NOT NULL REFERENCES reporting.templates (template_id),
  tenant_id           uuid        REFERENCES reporting.tenants (tenant_id),
  version             integer     NOT NULL CHECK (version >= 1),
  status              text        NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
  layout              text        NOT NULL,
  dataset_sql         text        NOT NULL,
  params_schema       jsonb       NOT NULL CHECK (jsonb_typeof(params_schema) = 'object'),
  formats             text[]      NOT NULL CHECK (formats <@ ARRAY['pdf', 'csv', 'html'] AND cardinality(formats) >= 1),
  locales             text[]      NOT NULL CHECK (locales <@ ARRAY['en', 'ps', 'fa-AF', 'ar', 'hi'] AND cardinality(locales) >= 1),
  retention_class     text        NOT NULL
                      CHECK (retention_class IN ('operational', 'regulatory-af-police', 'regulatory-ksa-vat', 'regulatory-in-formc')),
  regulatory_adapter  text,
  catalog_hash        text        NOT NULL CHECK (catalog_hash ~ '^[0-9a-f]{64}$'),
  snapshot_hash       text        NOT NULL CHECK (snapshot_hash ~ '^[0-9a-f]{64}$'),
  created_at          timestamptz NOT NULL DEFAULT now(),
  published_at        timestamptz,
  archived_at         timestamptz,
  UNIQUE (template_id, version),
  CHECK ((status = 'draft') = (published_at IS NULL)),
  CHECK ((status = 'archived') = (archived_at IS NOT NULL))
);
CREATE INDEX template_versions_latest ON reporting.template_versions (template_id, version DESC) WHERE status = 'published';
ALTER TABLE reporting.template_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.template_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON reporting.template_versions FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = reporting.current_tenant_id());
CREATE POLICY tenant_isolation ON reporting.template_versions
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.template_versions TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.template_versions TO reporting_app;

-- Snapshot-on-run relies on this: once published, a version's content never changes.
-- Only draft -> published -> archived moves are allowed, and nothing else is touched.
CREATE OR REPLACE FUNCTION reporting.template_version_immutable() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' AND (
       NEW.layout IS DISTINCT FROM OLD.layout OR NEW.dataset_sql IS DISTINCT FROM OLD.dataset_sql
    OR NEW.params_schema IS DISTINCT FROM OLD.params_schema OR NEW.formats IS DISTINCT FROM OLD.formats
    OR NEW.locales IS DISTINCT FROM OLD.locales OR NEW.retention_class IS DISTINCT FROM OLD.retention_class
    OR NEW.regulatory_adapter IS DISTINCT FROM OLD.regulatory_adapter OR NEW.catalog_hash IS DISTINCT FROM OLD.catalog_hash
    OR NEW.snapshot_hash IS DISTINCT FROM OLD.snapshot_hash OR NEW.version IS DISTINCT FROM OLD.version
    OR NEW.template_id IS DISTINCT FROM OLD.template_id OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
    RAISE EXCEPTION 'template version % is % and immutable', OLD.template_version_id, OLD.status
      USING ERRCODE = 'check_violation';
  END IF;
  IF NOT ((OLD.status = NEW.status) OR (OLD.status = 'draft' AND NEW.status = 'published')
          OR (OLD.status = 'published' AND NEW.status = 'archived')) THEN
    RAISE EXCEPTION 'template version % cannot go from % to %', OLD.template_version_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER template_version_immutable BEFORE UPDATE ON reporting.template_versions
  FOR EACH ROW EXECUTE FUNCTION reporting.template_version_immutable();
CREATE OR REPLACE FUNCTION reporting.refuse_delete() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are kept as history: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER template_version_no_delete BEFORE DELETE ON reporting.template_versions
  FOR EACH ROW EXECUTE FUNCTION reporting.refuse_delete();
