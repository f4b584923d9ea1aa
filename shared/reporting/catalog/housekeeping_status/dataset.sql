-- Housekeeping status of every room for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per room in dw.rooms, ordered by floor and room number.
--   occupancy_status, housekeeping_status, service_status: housekeeping's record for the
--     date (dw.room_housekeeping_daily); NULL when housekeeping reported nothing for the room.
--   movement: from the stays - 'arrival' (a guest arrived today), 'stayover' (in house since
--     an earlier day), 'departure' (a guest left today and nobody sleeps there tonight),
--     'turnover' (a guest left and another arrived today), NULL (no guest movement).
--   guests: adults + children sleeping in the room tonight.
--   due_out_tomorrow: the guest in the room tonight departs the next day.

WITH
room AS (
  SELECT rm.room_id, rm.room_number, rm.room_type, rm.floor
  FROM dw.rooms AS rm
  WHERE rm.tenant_id = @tenant_id
    AND rm.property_id = @property_id
),

housekeeping AS (
  SELECT h.room_id, h.occupancy_status, h.housekeeping_status, h.service_status
  FROM dw.room_housekeeping_daily AS h
  WHERE h.tenant_id = @tenant_id
    AND h.property_id = @property_id
    AND h.business_date = @run_date
),

stay AS (
  SELECT r.reservation_id, r.room_id, r.arrival_date, r.departure_date, r.status, r.adults, r.children
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.status IN ('checked_out', 'in_house')
    AND r.room_id IS NOT NULL
    AND r.arrival_date <= @run_date
    AND r.departure_date >= @run_date
),

by_room AS (
  -- Aggregated per room so a room never fans out, whatever the stays table holds.
  SELECT
    s.room_id,
    LOGICAL_OR(s.arrival_date = @run_date) AS arrived_today,
    LOGICAL_OR(s.departure_date = @run_date AND s.status = 'checked_out') AS departed_today,
    LOGICAL_OR(s.departure_date > @run_date) AS in_house_tonight,
    SUM(IF(s.departure_date > @run_date, s.adults + s.children, 0)) AS guests,
    LOGICAL_OR(s.departure_date > @run_date AND DATE_DIFF(s.departure_date, @run_date, DAY) = 1) AS due_out_tomorrow
  FROM stay AS s
  GROUP BY s.room_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  rm.floor,
  rm.room_number,
  rm.room_type,
  h.occupancy_status,
  h.housekeeping_status,
  h.service_status,
  CASE
    WHEN b.arrived_today AND b.departed_today THEN 'turnover'
    WHEN b.arrived_today THEN 'arrival'
    WHEN b.in_house_tonight THEN 'stayover'
    WHEN b.departed_today THEN 'departure'
  END AS movement,
  COALESCE(b.guests, 0) AS guests,
  COALESCE(b.due_out_tomorrow, FALSE) AS due_out_tomorrow,
  rm.room_id
FROM room AS rm
LEFT JOIN housekeeping AS h
  ON h.room_id = rm.room_id
LEFT JOIN by_room AS b
  ON b.room_id = rm.room_id
ORDER BY rm.floor ASC NULLS LAST, rm.room_number
