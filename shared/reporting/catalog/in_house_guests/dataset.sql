-- In-house guests for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per room night on @run_date of a stay that happened ('checked_out' or
-- 'in_house'), i.e. every occupied room that night - paying, complimentary and house use
-- alike (the rooms_occupied of the daily occupancy report). A guest whose room is missing
-- from dw.rooms is still listed, with room_number NULL. Ordered by floor and room.
--   night_number = which night of the stay @run_date is (1 = arrival night).
--   room_rate    = that night's room revenue, net of tax (0 for complimentary / house use).
--   balance      = folio postings minus payments on or before @run_date.

WITH
tonight AS (
  SELECT n.reservation_id, n.room_id, n.room_revenue
  FROM dw.room_nights AS n
  WHERE n.tenant_id = @tenant_id
    AND n.property_id = @property_id
    AND n.stay_date = @run_date
),

stay AS (
  SELECT
    r.reservation_id, r.confirmation_number, r.guest_id, r.arrival_date, r.departure_date,
    r.adults, r.children, r.segment, r.channel, r.rate_plan, r.group_code,
    r.is_complimentary, r.is_house_use
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.status IN ('checked_out', 'in_house')
    AND r.arrival_date <= @run_date
    AND r.departure_date > @run_date
),

posted AS (
  SELECT l.reservation_id, SUM(l.amount) AS total
  FROM dw.folio_lines AS l
  WHERE l.tenant_id = @tenant_id
    AND l.property_id = @property_id
    AND l.business_date <= @run_date
    AND l.reservation_id IN (SELECT t.reservation_id FROM tonight AS t)
  GROUP BY l.reservation_id
),

paid AS (
  SELECT p.reservation_id, SUM(p.amount) AS total
  FROM dw.payments AS p
  WHERE p.tenant_id = @tenant_id
    AND p.property_id = @property_id
    AND p.business_date <= @run_date
    AND p.reservation_id IN (SELECT t.reservation_id FROM tonight AS t)
  GROUP BY p.reservation_id
),

guest AS (
  SELECT g.guest_id, g.display_name, g.nationality, g.is_foreign
  FROM dw.guests AS g
  WHERE g.tenant_id = @tenant_id
    AND g.property_id = @property_id
),

room AS (
  SELECT rm.room_id, rm.room_number, rm.room_type, rm.floor
  FROM dw.rooms AS rm
  WHERE rm.tenant_id = @tenant_id
    AND rm.property_id = @property_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  rm.floor,
  rm.room_number,
  rm.room_type,
  s.confirmation_number,
  g.display_name AS guest_name,
  g.nationality,
  g.is_foreign,
  s.arrival_date,
  s.departure_date,
  DATE_DIFF(@run_date, s.arrival_date, DAY) + 1 AS night_number,
  DATE_DIFF(s.departure_date, s.arrival_date, DAY) AS nights,
  s.adults,
  s.children,
  s.segment,
  s.channel,
  s.rate_plan,
  s.group_code,
  s.is_complimentary,
  s.is_house_use,
  CAST(t.room_revenue AS NUMERIC) AS room_rate,
  CAST(COALESCE(po.total, 0) - COALESCE(pa.total, 0) AS NUMERIC) AS balance,
  s.reservation_id
FROM tonight AS t
JOIN stay AS s
  ON s.reservation_id = t.reservation_id
LEFT JOIN posted AS po
  ON po.reservation_id = t.reservation_id
LEFT JOIN paid AS pa
  ON pa.reservation_id = t.reservation_id
LEFT JOIN guest AS g
  ON g.guest_id = s.guest_id
LEFT JOIN room AS rm
  ON rm.room_id = t.room_id
ORDER BY rm.floor ASC NULLS LAST, rm.room_number ASC NULLS LAST, s.confirmation_number
