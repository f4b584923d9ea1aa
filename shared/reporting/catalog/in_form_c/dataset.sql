-- India Form C (FRRO): the foreign guests who arrived at one property on one business date
-- (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: one row per arrival on @run_date (status 'in_house' or 'checked_out') of a guest
-- who is not an Indian national (dw.guests.is_foreign), by arrival time then room. Each row
-- is one Form C subject, every field a column:
--   name (family_name, given_names), gender, date_of_birth, nationality;
--   passport: number, place, date of issue, expiry;
--   visa: number, type, place, date of issue, expiry (NULL for visa-exempt nationals);
--   arrived_from_*; arrival_in_india_date (entry into India);
--   arrived_at_hotel (local civil time, Asia/Kolkata); intended_stay_days and
--   intended_departure_date (from the booking); next_destination_*;
--   address_in_india (the hotel's address from dw.properties); permanent_address;
--   purpose_of_visit.
-- Accompanying persons are counted in adults/children, not listed (the generator models
-- one registered guest per booking).

WITH
arriving AS (
  SELECT
    r.reservation_id, r.confirmation_number, r.guest_id, r.room_id, r.arrival_date, r.departure_date,
    r.checked_in_at, r.country_entry_date, r.purpose_of_visit, r.arrived_from_city, r.arrived_from_country,
    r.next_destination_city, r.next_destination_country, r.adults, r.children
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
    AND r.arrival_date = @run_date
    AND r.status IN ('in_house', 'checked_out')
),

foreigner AS (
  SELECT
    g.guest_id, g.family_name, g.given_names, g.gender, g.date_of_birth, g.nationality, g.home_address,
    g.document_type, g.document_number, g.document_issue_place, g.document_issue_date,
    g.document_expiry_date, g.visa_number, g.visa_type, g.visa_issue_place, g.visa_issue_date,
    g.visa_expiry_date
  FROM dw.guests AS g
  WHERE g.tenant_id = @tenant_id
    AND g.property_id = @property_id
    AND g.is_foreign
),

hotel AS (
  SELECT
    CONCAT(
      COALESCE(p.name, ''), ', ', COALESCE(p.address_line, ''), ', ', COALESCE(p.city, ''),
      IF(p.postal_code IS NULL, '', CONCAT(' ', p.postal_code))
    ) AS address
  FROM dw.properties AS p
  WHERE p.tenant_id = @tenant_id
    AND p.property_id = @property_id
),

room AS (
  SELECT rm.room_id, rm.room_number
  FROM dw.rooms AS rm
  WHERE rm.tenant_id = @tenant_id
    AND rm.property_id = @property_id
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  f.family_name,
  f.given_names,
  f.gender,
  f.date_of_birth,
  f.nationality,
  f.document_number AS passport_number,
  f.document_issue_place AS passport_place_of_issue,
  f.document_issue_date AS passport_issue_date,
  f.document_expiry_date AS passport_expiry_date,
  f.visa_number,
  f.visa_type,
  f.visa_issue_place AS visa_place_of_issue,
  f.visa_issue_date,
  f.visa_expiry_date,
  a.arrived_from_city,
  a.arrived_from_country,
  a.country_entry_date AS arrival_in_india_date,
  a.checked_in_at AS arrived_at_hotel,
  DATE_DIFF(a.departure_date, a.arrival_date, DAY) AS intended_stay_days,
  a.departure_date AS intended_departure_date,
  a.next_destination_city,
  a.next_destination_country,
  h.address AS address_in_india,
  f.home_address AS permanent_address,
  a.purpose_of_visit,
  rm.room_number,
  a.confirmation_number,
  a.adults,
  a.children,
  a.reservation_id,
  f.guest_id
FROM arriving AS a
JOIN foreigner AS f
  ON f.guest_id = a.guest_id
LEFT JOIN hotel AS h
  ON TRUE
LEFT JOIN room AS rm
  ON rm.room_id = a.room_id
ORDER BY a.checked_in_at, rm.room_number, a.confirmation_number
