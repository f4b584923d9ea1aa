-- Cashier and shift report: payments by method per cashier and shift, with totals, for one
-- property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Shifts (local time): morning 06:00-14:00, evening 14:00-22:00, night 22:00-06:00; a night
-- shift belongs to the business date it starts on (dw.payments.business_date says which).
-- Output rows, in this order:
--   'detail'         one per shift, cashier and method (shifts morning, evening, night;
--                    cashiers by id; methods cash, card, bank_transfer, mobile_wallet);
--   'cashier_total'  after each cashier's details in a shift (method NULL): what the
--                    cashier must hand over for the shift;
--   'shift_total'    after each shift (cashier and method NULL);
--   'method_total'   one per method over the whole day (shift and cashier NULL);
--   'total'          the day (shift, cashier and method NULL), last.
-- received = money taken (amount > 0); refunded = refunds paid out (<= 0, signed);
-- net = received + refunded; transactions counts payments and refunds alike.
-- A day without payments gives no rows or (engines differ on an empty grouping set) only a
-- zero total row.

WITH
paid AS (
  SELECT p.shift, p.cashier_id, p.method, p.amount
  FROM dw.payments AS p
  WHERE p.tenant_id = @tenant_id
    AND p.property_id = @property_id
    AND p.business_date = @run_date
),

rolled AS (
  SELECT
    p.shift,
    p.cashier_id,
    p.method,
    GROUPING(p.shift) AS shift_grouped,
    GROUPING(p.cashier_id) AS cashier_grouped,
    GROUPING(p.method) AS method_grouped,
    COUNT(*) AS transactions,
    COUNTIF(p.amount < 0) AS refunds,
    SUM(IF(p.amount > 0, p.amount, 0)) AS received,
    SUM(IF(p.amount < 0, p.amount, 0)) AS refunded,
    SUM(p.amount) AS net
  FROM paid AS p
  GROUP BY GROUPING SETS ((p.shift, p.cashier_id, p.method), (p.shift, p.cashier_id), (p.shift), (p.method), ())
),

labelled AS (
  SELECT
    r.*,
    CASE
      WHEN r.shift_grouped = 0 AND r.cashier_grouped = 0 AND r.method_grouped = 0 THEN 'detail'
      WHEN r.shift_grouped = 0 AND r.cashier_grouped = 0 THEN 'cashier_total'
      WHEN r.shift_grouped = 0 THEN 'shift_total'
      WHEN r.method_grouped = 0 THEN 'method_total'
      ELSE 'total'
    END AS row_kind,
    CASE r.shift WHEN 'morning' THEN 1 WHEN 'evening' THEN 2 WHEN 'night' THEN 3 ELSE 4 END AS shift_order,
    CASE r.method
      WHEN 'cash' THEN 1 WHEN 'card' THEN 2 WHEN 'bank_transfer' THEN 3 WHEN 'mobile_wallet' THEN 4 ELSE 5
    END AS method_order
  FROM rolled AS r
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  l.row_kind,
  l.shift,
  l.cashier_id,
  l.method,
  l.transactions,
  l.refunds,
  CAST(COALESCE(l.received, 0) AS NUMERIC) AS received,
  CAST(COALESCE(l.refunded, 0) AS NUMERIC) AS refunded,
  CAST(COALESCE(l.net, 0) AS NUMERIC) AS net
FROM labelled AS l
ORDER BY
  l.shift_grouped,
  l.shift_order,
  l.method_grouped = 1 AND l.shift_grouped = 1,
  l.cashier_grouped,
  l.cashier_id,
  l.method_grouped,
  l.method_order
