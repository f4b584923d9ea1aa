-- Daily occupancy / ADR / RevPAR for one property and one business date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date),
--   @deduct_out_of_order BOOL (property setting; NULL is treated as TRUE, the default).
--
-- Output: one row per room type (is_total = FALSE, ordered by room_type), then one
-- total row (is_total = TRUE, room_type NULL) last. A property with no rooms still
-- returns the total row, with zero counts and NULL ratios.
--
-- USALI rules applied:
--   rooms_available = rooms_total - rooms_out_of_order when @deduct_out_of_order,
--                     else rooms_total. Out-of-service rooms are never deducted.
--   rooms_sold      = room nights of paying guests on @run_date. Complimentary and
--                     house-use nights are NOT rooms sold and carry no revenue
--                     (any revenue posted on them is ignored). A stay flagged both
--                     counts as house use.
--   rooms_revenue   = room revenue of rooms sold, net of taxes (VAT/GST excluded).
--   occupancy       = rooms_sold / rooms_available (fraction 0..1, FLOAT64).
--   adr             = rooms_revenue / rooms_sold.
--   revpar          = rooms_revenue / rooms_available (= occupancy x ADR).
--   Every division by zero yields NULL (SAFE_DIVIDE), never an error.
-- Only actual nights count: reservations 'checked_out' or 'in_house' (posted by the
-- night audit). Cancelled, no-show and future ('reserved') stays are excluded even
-- if a room night row exists for them. Nights on rooms absent from dw.rooms cannot
-- be given a room type and are left out.
-- Money is in the property's currency (dw.room_nights.currency); the report takes
-- the currency from the Property, so it is not repeated per row.

WITH
room_inventory AS (
  SELECT r.room_id, r.room_type
  FROM dw.rooms AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
),

room_status AS (
  -- LOGICAL_OR keeps one row per room even if the warehouse holds duplicates
  -- (BigQuery does not enforce keys).
  SELECT
    s.room_id,
    LOGICAL_OR(s.status = 'out_of_order') AS is_out_of_order,
    LOGICAL_OR(s.status = 'out_of_service') AS is_out_of_service
  FROM dw.room_status_daily AS s
  WHERE s.tenant_id = @tenant_id
    AND s.property_id = @property_id
    AND s.business_date = @run_date
  GROUP BY s.room_id
),

nights_by_room AS (
  SELECT
    n.room_id,
    COUNTIF(NOT res.is_house_use AND NOT res.is_complimentary) AS sold_nights,
    COUNTIF(res.is_complimentary AND NOT res.is_house_use) AS complimentary_nights,
    COUNTIF(res.is_house_use) AS house_use_nights,
    SUM(IF(NOT res.is_house_use AND NOT res.is_complimentary, n.room_revenue, 0)) AS sold_revenue
  FROM dw.room_nights AS n
  JOIN dw.reservations AS res
    ON res.tenant_id = n.tenant_id
    AND res.property_id = n.property_id
    AND res.reservation_id = n.reservation_id
  WHERE n.tenant_id = @tenant_id
    AND n.property_id = @property_id
    AND n.stay_date = @run_date
    AND res.status IN ('checked_out', 'in_house')
  GROUP BY n.room_id
),

by_room_type AS (
  -- One input row per room, so counts of rooms and of nights cannot fan out.
  SELECT
    i.room_type,
    GROUPING(i.room_type) = 1 AS is_total,
    COUNT(*) AS rooms_total,
    COUNTIF(COALESCE(st.is_out_of_order, FALSE)) AS rooms_out_of_order,
    COUNTIF(COALESCE(st.is_out_of_service, FALSE) AND NOT COALESCE(st.is_out_of_order, FALSE))
      AS rooms_out_of_service,
    COALESCE(SUM(nr.sold_nights), 0) AS rooms_sold,
    COALESCE(SUM(nr.complimentary_nights), 0) AS complimentary_rooms,
    COALESCE(SUM(nr.house_use_nights), 0) AS house_use_rooms,
    COALESCE(SUM(nr.sold_revenue), 0) AS rooms_revenue
  FROM room_inventory AS i
  LEFT JOIN room_status AS st
    ON st.room_id = i.room_id
  LEFT JOIN nights_by_room AS nr
    ON nr.room_id = i.room_id
  GROUP BY ROLLUP (i.room_type)
),

with_available AS (
  SELECT
    b.*,
    b.rooms_total - IF(COALESCE(@deduct_out_of_order, TRUE), b.rooms_out_of_order, 0) AS rooms_available
  FROM by_room_type AS b
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  w.room_type,
  w.is_total,
  w.rooms_total,
  w.rooms_out_of_order,
  w.rooms_out_of_service,
  w.rooms_available,
  w.rooms_sold,
  w.complimentary_rooms,
  w.house_use_rooms,
  w.rooms_sold + w.complimentary_rooms + w.house_use_rooms AS rooms_occupied,
  CAST(w.rooms_revenue AS NUMERIC) AS rooms_revenue,
  CAST(SAFE_DIVIDE(w.rooms_sold, w.rooms_available) AS FLOAT64) AS occupancy,
  CAST(SAFE_DIVIDE(w.rooms_revenue, w.rooms_sold) AS NUMERIC) AS adr,
  CAST(SAFE_DIVIDE(w.rooms_revenue, w.rooms_available) AS NUMERIC) AS revpar
FROM with_available AS w
ORDER BY w.is_total, w.room_type
