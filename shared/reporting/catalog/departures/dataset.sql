-- Departures for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per stay whose departure date is @run_date: guests who checked out
-- ('checked_out', with checked_out_at) and, for a date the night audit has not reached
-- yet, guests still 'in_house' who are due out. Ordered by floor and room.
-- Folio figures are as at the end of @run_date, over the stay's folio(s):
--   folio_total    = every posting (charges and their tax lines) on or before @run_date,
--   payments_total = money received minus refunds on or before @run_date,
--   balance        = folio_total - payments_total (0 once a guest has settled).

WITH
departing AS (
  SELECT
    r.reservation_id, r.confirmation_number, r.guest_id, r.status, r.room_id, r.room_type,
    r.arrival_date, r.departure_date, r.adults, r.children, r.segment, r.checked_out_at
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.departure_date = @run_date
    AND r.status IN ('checked_out', 'in_house')
),

posted AS (
  SELECT l.reservation_id, SUM(l.amount) AS folio_total
  FROM dw.folio_lines AS l
  WHERE l.tenant_id = @tenant_id
    AND l.property_id = @property_id
    AND l.business_date <= @run_date
    AND l.reservation_id IN (SELECT d.reservation_id FROM departing AS d)
  GROUP BY l.reservation_id
),

paid AS (
  SELECT p.reservation_id, SUM(p.amount) AS payments_total
  FROM dw.payments AS p
  WHERE p.tenant_id = @tenant_id
    AND p.property_id = @property_id
    AND p.business_date <= @run_date
    AND p.reservation_id IN (SELECT d.reservation_id FROM departing AS d)
  GROUP BY p.reservation_id
),

guest AS (
  SELECT g.guest_id, g.display_name, g.nationality
  FROM dw.guests AS g
  WHERE g.tenant_id = @tenant_id
    AND g.property_id = @property_id
),

room AS (
  SELECT rm.room_id, rm.room_number, rm.floor
  FROM dw.rooms AS rm
  WHERE rm.tenant_id = @tenant_id
    AND rm.property_id = @property_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  d.confirmation_number,
  d.status,
  rm.room_number,
  d.room_type,
  g.display_name AS guest_name,
  g.nationality,
  d.arrival_date,
  d.departure_date,
  DATE_DIFF(d.departure_date, d.arrival_date, DAY) AS nights,
  d.adults,
  d.children,
  d.segment,
  d.checked_out_at,
  CAST(COALESCE(po.folio_total, 0) AS NUMERIC) AS folio_total,
  CAST(COALESCE(pa.payments_total, 0) AS NUMERIC) AS payments_total,
  CAST(COALESCE(po.folio_total, 0) - COALESCE(pa.payments_total, 0) AS NUMERIC) AS balance,
  d.reservation_id
FROM departing AS d
LEFT JOIN posted AS po
  ON po.reservation_id = d.reservation_id
LEFT JOIN paid AS pa
  ON pa.reservation_id = d.reservation_id
LEFT JOIN guest AS g
  ON g.guest_id = d.guest_id
LEFT JOIN room AS rm
  ON rm.room_id = d.room_id
ORDER BY rm.floor ASC NULLS LAST, rm.room_number ASC NULLS LAST, d.confirmation_number
