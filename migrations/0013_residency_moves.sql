-- 0013: residency moves (plan §6, SPEC §9; issue 7): one row per move per deployment,
-- on each side. The source's row goes locked → exported → completed (region_changed:
-- the tenant is `moved`) or aborted (unlocked); the target's goes importing → imported
-- → completed (region_changed: the tenant is `active` here). Each step reads this row
-- to resume, and writes it in the same transaction as its own last change, so a crash
-- at any point leaves either the step done and recorded, or neither.

CREATE TABLE reporting.residency_moves (
  move_id        uuid        NOT NULL,
  tenant_id      uuid        NOT NULL REFERENCES reporting.tenants (tenant_id),
  side           text        NOT NULL CHECK (side IN ('source', 'target')),
  from_residency text        NOT NULL CHECK (from_residency IN ('AF', 'IN', 'KSA')),
  to_residency   text        NOT NULL CHECK (to_residency IN ('AF', 'IN', 'KSA')),
  state          text        NOT NULL CHECK (state IN ('locked', 'exported', 'importing', 'imported', 'completed',
                                                       'aborted')),
  -- tables, row counts, checksums, objects: what was exported or verified on import
  manifest       jsonb,
  started_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (move_id, side),
  CHECK (from_residency <> to_residency)
);
-- One unfinished move per tenant and side: a second `lock` cannot start a parallel move.
CREATE UNIQUE INDEX residency_moves_one_open ON reporting.residency_moves (tenant_id, side)
  WHERE state NOT IN ('completed', 'aborted');
ALTER TABLE reporting.residency_moves ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.residency_moves FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.residency_moves
  USING (tenant_id = reporting.current_tenant_id())
  WITH CHECK (tenant_id = reporting.current_tenant_id());
CREATE POLICY owner_maintenance ON reporting.residency_moves TO reporting_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON reporting.residency_moves TO reporting_app;
