-- Police guest register (Afghanistan) for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one line per guest movement on @run_date, numbered from 1 (line_number):
--   'check_in'  every stay arriving on @run_date that actually arrived ('in_house' or
--               'checked_out'), nationals and foreigners alike;
--   'check_out' every stay that checked out on @run_date.
-- Check-ins first, then check-outs, each by local time of the movement, room and
-- confirmation number. Identity columns are the registered guest's (the booker):
-- accompanying persons are counted in adults/children, not listed. Visa columns are NULL
-- for Afghan nationals. Times are local civil times (Asia/Kabul at an AF property).
-- Every submitted field is a column so the regulatory payload is built from these rows.

WITH
movement AS (
  SELECT
    'check_in' AS movement, 1 AS movement_order, r.checked_in_at AS movement_at,
    r.reservation_id, r.confirmation_number, r.guest_id, r.room_id, r.arrival_date, r.departure_date,
    r.adults, r.children, r.purpose_of_visit, r.arrived_from_city, r.arrived_from_country,
    r.next_destination_city, r.next_destination_country
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.arrival_date = @run_date
    AND r.status IN ('in_house', 'checked_out')
  UNION ALL
  SELECT
    'check_out' AS movement, 2 AS movement_order, r.checked_out_at AS movement_at,
    r.reservation_id, r.confirmation_number, r.guest_id, r.room_id, r.arrival_date, r.departure_date,
    r.adults, r.children, r.purpose_of_visit, r.arrived_from_city, r.arrived_from_country,
    r.next_destination_city, r.next_destination_country
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.departure_date = @run_date
    AND r.status = 'checked_out'
),

guest AS (
  SELECT
    g.guest_id, g.family_name, g.given_names, g.gender, g.date_of_birth, g.nationality, g.is_foreign,
    g.home_address, g.document_type, g.document_number, g.document_issuing_country,
    g.document_issue_date, g.document_expiry_date, g.visa_number, g.visa_type, g.visa_issue_date,
    g.visa_expiry_date
  FROM dw.guests AS g
  WHERE g.tenant_id = @tenant_id
    AND g.property_id = @property_id
),

room AS (
  SELECT rm.room_id, rm.room_number
  FROM dw.rooms AS rm
  WHERE rm.tenant_id = @tenant_id
    AND rm.property_id = @property_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  ROW_NUMBER() OVER (
    ORDER BY m.movement_order, m.movement_at, rm.room_number, m.confirmation_number
  ) AS line_number,
  m.movement,
  m.movement_at,
  rm.room_number,
  m.confirmation_number,
  g.family_name,
  g.given_names,
  g.gender,
  g.date_of_birth,
  g.nationality,
  g.is_foreign,
  g.document_type,
  g.document_number,
  g.document_issuing_country,
  g.document_issue_date,
  g.document_expiry_date,
  g.visa_number,
  g.visa_type,
  g.visa_issue_date,
  g.visa_expiry_date,
  g.home_address,
  m.arrived_from_city,
  m.arrived_from_country,
  m.next_destination_city,
  m.next_destination_country,
  m.purpose_of_visit,
  m.arrival_date,
  m.departure_date,
  DATE_DIFF(m.departure_date, m.arrival_date, DAY) AS nights,
  m.adults,
  m.children,
  m.reservation_id,
  m.guest_id
FROM movement AS m
LEFT JOIN guest AS g
  ON g.guest_id = m.guest_id
LEFT JOIN room AS rm
  ON rm.room_id = m.room_id
ORDER BY line_number
