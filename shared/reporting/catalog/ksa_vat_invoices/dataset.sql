-- KSA VAT: simplified tax invoices and credit notes issued on one business date, for one
-- property (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per invoice or credit note whose issue_date is @run_date, by invoice
-- counter (icv). No total row: each row is one ZATCA reporting subject and carries all the
-- UBL builder needs. Amounts in SAR, signed (credit notes negative, so sums give the day's
-- net position); the builder emits absolute values under type code 381 for credit notes.
--   vat_amount   = 15% of net_amount, rounded half up to the halala (once, on the invoice).
--   total_amount = net_amount + vat_amount.
--   issued_at    = local civil time (Asia/Riyadh): ZATCA's IssueDate / IssueTime.
--   original_invoice_number / original_issue_date: the invoice a credit note corrects.
--   payment_method: how the guest paid (or was refunded): cash | card | bank_transfer | mobile_wallet.
--   seller_*: the property's registration and Saudi national address (dw.properties).
--   lines_json: the invoice lines, a JSON array of {name, business_date, quantity, unit_price}
--     (net, signed like the invoice) in posting order; their sum is net_amount.

WITH
issued AS (
  SELECT
    i.invoice_id, i.invoice_number, i.icv, i.document_type, i.invoice_type_code, i.invoice_subtype,
    i.issue_date, i.issued_at, i.original_invoice_id, i.credit_reason, i.reservation_id, i.currency,
    i.net_amount, i.vat_rate, i.vat_amount, i.total_amount, i.payment_method, i.property_id
  FROM dw.invoices AS i
  WHERE i.tenant_id = @tenant_id
    AND i.property_id = @property_id
    AND i.issue_date = @run_date
),

original AS (
  SELECT o.invoice_id, o.invoice_number, o.issue_date
  FROM dw.invoices AS o
  WHERE o.tenant_id = @tenant_id
    AND o.property_id = @property_id
    AND o.invoice_id IN (SELECT c.original_invoice_id FROM issued AS c)
),

invoice_lines AS (
  SELECT
    l.invoice_id,
    TO_JSON_STRING(
      ARRAY_AGG(
        STRUCT(l.description AS name, l.business_date AS business_date, 1 AS quantity, l.amount AS unit_price)
        ORDER BY l.posted_at, l.line_id
      )
    ) AS lines_json
  FROM dw.folio_lines AS l
  WHERE l.tenant_id = @tenant_id
    AND l.property_id = @property_id
    AND l.line_type != 'tax'
    AND l.invoice_id IN (SELECT c.invoice_id FROM issued AS c)
  GROUP BY l.invoice_id
),

booking AS (
  SELECT r.reservation_id, r.confirmation_number
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.reservation_id IN (SELECT c.reservation_id FROM issued AS c)
),

seller AS (
  SELECT
    p.property_id, p.legal_name, p.vat_number, p.commercial_registration, p.street, p.building_number,
    p.district, p.city, p.postal_code
  FROM dw.properties AS p
  WHERE p.tenant_id = @tenant_id
    AND p.property_id = @property_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  i.icv,
  i.invoice_number,
  i.invoice_id AS invoice_uuid,
  i.document_type,
  i.invoice_type_code,
  i.invoice_subtype,
  i.issue_date,
  i.issued_at,
  o.invoice_number AS original_invoice_number,
  o.issue_date AS original_issue_date,
  i.credit_reason,
  i.payment_method,
  b.confirmation_number,
  s.legal_name AS seller_name,
  s.vat_number AS seller_vat_number,
  s.commercial_registration AS seller_commercial_registration,
  s.street AS seller_street,
  s.building_number AS seller_building_number,
  s.district AS seller_district,
  s.city AS seller_city,
  s.postal_code AS seller_postal_code,
  i.currency,
  CAST(i.net_amount AS NUMERIC) AS net_amount,
  CAST(i.vat_rate AS NUMERIC) AS vat_rate,
  CAST(i.vat_amount AS NUMERIC) AS vat_amount,
  CAST(i.total_amount AS NUMERIC) AS total_amount,
  il.lines_json
FROM issued AS i
LEFT JOIN original AS o
  ON o.invoice_id = i.original_invoice_id
LEFT JOIN invoice_lines AS il
  ON il.invoice_id = i.invoice_id
LEFT JOIN booking AS b
  ON b.reservation_id = i.reservation_id
LEFT JOIN seller AS s
  ON s.property_id = i.property_id
ORDER BY i.icv
