-- No-shows and cancellations for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: the no-shows of @run_date (status 'no_show', arrival_date = @run_date) and the
-- cancellations recorded on @run_date (status 'cancelled', cancelled_on = @run_date, for any
-- arrival date); no-shows first, then cancellations, each by arrival date and confirmation
-- number; then one total row last (is_total TRUE, per-booking columns NULL).
--   lead_time_days      = arrival_date - cancelled_on (cancellations only).
--   booked_room_revenue = nights x nightly rate (net of tax) the booking would have earned.
--   penalty_charged     = the no-show / late-cancellation fee charged (net of tax), else 0.
--   lost_room_revenue   = booked_room_revenue - penalty_charged.

WITH
lost AS (
  SELECT
    IF(r.status = 'no_show', 'no_show', 'cancellation') AS kind,
    r.reservation_id, r.confirmation_number, r.guest_id, r.segment, r.channel, r.rate_plan, r.room_type,
    r.booked_on, r.arrival_date, r.departure_date, r.cancelled_on, r.cancellation_reason,
    DATE_DIFF(r.departure_date, r.arrival_date, DAY) AS nights,
    CAST(COALESCE(r.nightly_rate, 0) AS NUMERIC) AS nightly_rate,
    CAST(COALESCE(r.penalty_amount, 0) AS NUMERIC) AS penalty_charged
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND (
      (r.status = 'no_show' AND r.arrival_date = @run_date)
      OR (r.status = 'cancelled' AND r.cancelled_on = @run_date)
    )
),

guest AS (
  SELECT g.guest_id, g.display_name, g.nationality
  FROM dw.guests AS g
  WHERE g.tenant_id = @tenant_id
    AND g.property_id = @property_id
),

detail AS (
  SELECT
    l.*,
    g.display_name AS guest_name,
    g.nationality,
    IF(l.kind = 'cancellation', DATE_DIFF(l.arrival_date, l.cancelled_on, DAY), NULL) AS lead_time_days,
    CAST(l.nights * l.nightly_rate AS NUMERIC) AS booked_room_revenue
  FROM lost AS l
  LEFT JOIN guest AS g
    ON g.guest_id = l.guest_id
),

listed AS (
  SELECT
    FALSE AS is_total, d.kind, d.confirmation_number, d.guest_name, d.nationality, d.segment, d.channel,
    d.rate_plan, d.room_type, d.booked_on, d.arrival_date, d.departure_date, d.nights, d.cancelled_on,
    d.lead_time_days, d.cancellation_reason, d.nightly_rate, d.booked_room_revenue, d.penalty_charged,
    CAST(d.booked_room_revenue - d.penalty_charged AS NUMERIC) AS lost_room_revenue, d.reservation_id
  FROM detail AS d
  UNION ALL
  SELECT
    TRUE, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, COALESCE(SUM(d.nights), 0), NULL,
    NULL, NULL, NULL, CAST(COALESCE(SUM(d.booked_room_revenue), 0) AS NUMERIC),
    CAST(COALESCE(SUM(d.penalty_charged), 0) AS NUMERIC),
    CAST(COALESCE(SUM(d.booked_room_revenue - d.penalty_charged), 0) AS NUMERIC), NULL
  FROM detail AS d
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  l.*
FROM listed AS l
ORDER BY l.is_total, l.kind DESC, l.arrival_date, l.confirmation_number
