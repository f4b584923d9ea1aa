-- 0019: contract step of the deduct_out_of_order change (SPEC §9, plan §2).
-- contract: completes 0018_deduct_out_of_order_expand.sql
--
-- The column becomes the only truth: NOT NULL DEFAULT true, the jsonb key is removed from
-- every property's settings, and a CHECK keeps a key written by a release that still
-- dual-writes equal to the column. The sync trigger and the SQL reading of the key go:
-- no writer that knows only the key is left (the release before the expand is gone).
--
-- It ships only after the backfill has run everywhere, and checks that itself: while any
-- property's column is NULL or disagrees with its key, it RAISEs, the runner rolls it
-- back and stops (exit 1), and nothing of this file is applied. The operator then runs
-- the schema_backfill job to completion and `reporting db migrate` again
-- (docs/schema-backfills.md). On an empty database (a new deployment, the tests) there
-- is nothing to backfill and it applies at once.

-- Writers wait for this short transaction (a row per hotel); readers do not.
LOCK TABLE reporting.properties IN SHARE ROW EXCLUSIVE MODE;

DO $$
DECLARE
  pending bigint;
  tenants bigint;
BEGIN
  SELECT count(*), count(DISTINCT tenant_id) INTO pending, tenants
    FROM reporting.properties
   WHERE deduct_out_of_order IS DISTINCT FROM reporting.deduct_out_of_order_setting(settings);
  IF pending > 0 THEN
    RAISE EXCEPTION 'contract refused: % properties of % tenants are not backfilled (deduct_out_of_order)',
                    pending, tenants
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'run the schema_backfill job (reporting schema-backfill --script d0001) to completion, '
                     'then reporting db migrate again';
  END IF;
END $$;

DROP TRIGGER properties_deduct_out_of_order_sync ON reporting.properties;
DROP FUNCTION reporting.properties_deduct_out_of_order_sync();

ALTER TABLE reporting.properties
  ALTER COLUMN deduct_out_of_order SET DEFAULT true,
  ALTER COLUMN deduct_out_of_order SET NOT NULL;

UPDATE reporting.properties SET settings = settings - 'deduct_out_of_order' WHERE settings ? 'deduct_out_of_order';
ALTER TABLE reporting.properties ADD CONSTRAINT properties_deduct_out_of_order_one_truth
  CHECK (NOT settings ? 'deduct_out_of_order' OR settings -> 'deduct_out_of_order' = to_jsonb(deduct_out_of_order));

DROP FUNCTION reporting.deduct_out_of_order_setting(jsonb);

COMMENT ON COLUMN reporting.properties.deduct_out_of_order IS
  'USALI: out-of-order rooms are deducted from rooms available (default true). The settings key is gone (0019).';
