-- 0002: the local mirror of tenant-service's tenants, and the hotels (properties).

CREATE TABLE reporting.tenants (
  tenant_id          uuid PRIMARY KEY,
  name               text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  residency          text        NOT NULL CHECK (residency IN ('AF', 'IN', 'KSA')),
  stored_region      text        NOT NULL,
  default_locale     text        NOT NULL DEFAULT 'en' CHECK (default_locale IN ('en', 'ps', 'fa-AF', 'ar', 'hi')),
  -- Mirror of tenant-service's per-tenant settings, e.g. {"reporting_v1": true}.
  features           jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(features) = 'object'),
  status             text        NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'locked_readonly', 'importing', 'moved')),
  moved_to_residency text        CHECK (moved_to_residency IN ('AF', 'IN', 'KSA')),
  synced_at          timestamptz NOT NULL DEFAULT now(),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'moved') = (moved_to_residency IS NOT NULL))
);
ALTER TABLE reporting.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.tenants
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
-- The schema owner runs migrations, seeds and the SECURITY DEFINER functions; the
-- policy names it explicitly so FORCE still binds every other role.
CREATE POLICY owner_maintenance ON reporting.tenants TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.tenants TO reporting_app;

CREATE TABLE reporting.properties (
  property_id    uuid        NOT NULL PRIMARY KEY,
  tenant_id      uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  timezone       text        NOT NULL,
  currency       char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  country        char(2)     NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  locale         text        NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'ps', 'fa-AF', 'ar', 'hi')),
  room_count     integer     NOT NULL CHECK (room_count >= 0),
  -- e.g. {"deduct_out_of_order": true}: whether OOO rooms leave rooms available (USALI allows both).
  settings       jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
  -- police branch code, VAT number, FRRO id ...; and which regulatory adapters are on.
  regulatory_ids jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(regulatory_ids) = 'object'),
  adapters       text[]      NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, property_id)
);
ALTER TABLE reporting.properties ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.properties FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.properties
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.properties TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.properties TO reporting_app;
