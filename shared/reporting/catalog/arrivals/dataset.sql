-- Arrivals for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per reservation due to arrive on @run_date that was not cancelled:
-- guests who arrived (status 'in_house' or 'checked_out'), no-shows ('no_show'), and,
-- for a date the night audit has not reached yet, bookings still 'reserved'.
-- Ordered by floor and room (unassigned last), then confirmation number.
--   nights        = departure_date - arrival_date (booked length of stay).
--   nightly_rate  = the booked rate, net of tax (0 for complimentary / house use).
--   checked_in_at = local civil time of check-in, NULL until the guest arrives.

WITH
arriving AS (
  SELECT
    r.reservation_id, r.confirmation_number, r.guest_id, r.status, r.room_id, r.room_type,
    r.arrival_date, r.departure_date, r.adults, r.children, r.segment, r.channel, r.rate_plan,
    r.nightly_rate, r.group_code, r.is_complimentary, r.is_house_use, r.checked_in_at
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.arrival_date = @run_date
    AND r.status != 'cancelled'
),

guest AS (
  SELECT g.guest_id, g.display_name, g.nationality, g.is_foreign
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
  a.confirmation_number,
  a.status,
  rm.room_number,
  a.room_type,
  g.display_name AS guest_name,
  g.nationality,
  g.is_foreign,
  a.adults,
  a.children,
  a.arrival_date,
  a.departure_date,
  DATE_DIFF(a.departure_date, a.arrival_date, DAY) AS nights,
  a.segment,
  a.channel,
  a.rate_plan,
  CAST(a.nightly_rate AS NUMERIC) AS nightly_rate,
  a.group_code,
  a.is_complimentary,
  a.is_house_use,
  a.checked_in_at,
  a.reservation_id
FROM arriving AS a
LEFT JOIN guest AS g
  ON g.guest_id = a.guest_id
LEFT JOIN room AS rm
  ON rm.room_id = a.room_id
ORDER BY rm.floor ASC NULLS LAST, rm.room_number ASC NULLS LAST, a.confirmation_number
