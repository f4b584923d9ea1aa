-- 0001: the reporting schema, the per-transaction tenant setting, and the audit
-- of cross-tenant access.
--
-- Runs as reporting_owner (the schema owner). reporting_app, which every function,
-- job, the demo and the local bus connect as, is NOBYPASSRLS and owns nothing.

CREATE SCHEMA IF NOT EXISTS reporting;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO reporting_app;

-- The tenant of the current transaction, set with SET LOCAL / set_config(..., true).
-- NULLIF: after a SET LOCAL ends, the setting reads back as '' (not NULL) for the
-- rest of the session; '' must mean "no tenant", never a cast error.
CREATE OR REPLACE FUNCTION reporting.current_tenant_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
REVOKE ALL ON FUNCTION reporting.current_tenant_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.current_tenant_id() TO reporting_app;

-- Every call of a SECURITY DEFINER function (the only cross-tenant path) leaves a
-- row here: which function, for whom, how many rows it touched. Not tenant-scoped
-- (it spans tenants by nature), so the app can neither read nor write it directly.
CREATE TABLE reporting.cross_tenant_access_log (
  access_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  function    text        NOT NULL,
  caller      text        NOT NULL DEFAULT session_user,
  row_count   integer     NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON reporting.cross_tenant_access_log FROM PUBLIC;
