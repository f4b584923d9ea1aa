-- Revenue by market segment and channel for one property and one business date, with
-- month to date (BigQuery dialect).
--
-- Parameters (always bound, never string-built):
--   @tenant_id STRING, @property_id STRING, @run_date DATE (the business date).
--
-- Output: for each segment, one row per channel (row_kind 'detail', ordered by channel) then
-- the segment's subtotal (row_kind 'subtotal', channel NULL); segments in name order; the
-- grand total last (row_kind 'total', segment and channel NULL). A segment/channel appears
-- when it has any activity in the month up to @run_date. The *_mtd columns cover the first
-- of @run_date's month through @run_date; the others @run_date alone. With no activity at all
-- the result is empty or (engines differ on ROLLUP over no rows) only a zero total row.
--
-- USALI rules applied (as in the daily occupancy report):
--   rooms_sold     = room nights of paying guests; complimentary and house-use nights are not
--                    rooms sold and their revenue is ignored. Only stays that happened
--                    ('checked_out', 'in_house') count.
--   rooms_revenue  = room revenue of rooms sold, net of taxes (dw.room_nights).
--   adr            = rooms_revenue / rooms_sold (NULL when nothing was sold).
--   fnb_revenue    = food and beverage charges, net of tax, by posting date (dw.folio_lines),
--                    corrections included (negative lines reduce the day they are posted on).
--   other_revenue  = other charges plus no-show and late-cancellation fees, net of tax.
--   total_revenue  = rooms + F&B + other.
--   rooms_revenue_share = this row's rooms revenue / the day's total rooms revenue.

WITH
booking AS (
  SELECT r.reservation_id, r.segment, r.channel, r.status, r.is_complimentary, r.is_house_use
  FROM dw.reservations AS r
  WHERE r.tenant_id = @tenant_id
    AND r.property_id = @property_id
),

rooms AS (
  SELECT
    b.segment,
    b.channel,
    n.stay_date AS business_date,
    COUNTIF(NOT b.is_complimentary AND NOT b.is_house_use) AS rooms_sold,
    SUM(IF(NOT b.is_complimentary AND NOT b.is_house_use, n.room_revenue, 0)) AS rooms_revenue
  FROM dw.room_nights AS n
  JOIN booking AS b
    ON b.reservation_id = n.reservation_id
  WHERE n.tenant_id = @tenant_id
    AND n.property_id = @property_id
    AND n.stay_date BETWEEN DATE_TRUNC(@run_date, MONTH) AND @run_date
    AND b.status IN ('checked_out', 'in_house')
  GROUP BY b.segment, b.channel, n.stay_date
),

incidentals AS (
  SELECT
    b.segment,
    b.channel,
    l.business_date,
    SUM(IF(l.line_type = 'fnb', l.amount, 0)) AS fnb_revenue,
    SUM(IF(l.line_type IN ('other', 'fee'), l.amount, 0)) AS other_revenue
  FROM dw.folio_lines AS l
  JOIN booking AS b
    ON b.reservation_id = l.reservation_id
  WHERE l.tenant_id = @tenant_id
    AND l.property_id = @property_id
    AND l.business_date BETWEEN DATE_TRUNC(@run_date, MONTH) AND @run_date
    AND l.line_type IN ('fnb', 'other', 'fee')
  GROUP BY b.segment, b.channel, l.business_date
),

facts AS (
  SELECT
    segment, channel, business_date, rooms_sold, CAST(rooms_revenue AS NUMERIC) AS rooms_revenue,
    CAST(0 AS NUMERIC) AS fnb_revenue, CAST(0 AS NUMERIC) AS other_revenue
  FROM rooms
  UNION ALL
  SELECT
    segment, channel, business_date, 0 AS rooms_sold, CAST(0 AS NUMERIC) AS rooms_revenue,
    CAST(fnb_revenue AS NUMERIC) AS fnb_revenue, CAST(other_revenue AS NUMERIC) AS other_revenue
  FROM incidentals
),

rolled AS (
  SELECT
    f.segment,
    f.channel,
    GROUPING(f.segment) AS segment_grouped,
    GROUPING(f.channel) AS channel_grouped,
    SUM(IF(f.business_date = @run_date, f.rooms_sold, 0)) AS rooms_sold,
    SUM(IF(f.business_date = @run_date, f.rooms_revenue, 0)) AS rooms_revenue,
    SUM(IF(f.business_date = @run_date, f.fnb_revenue, 0)) AS fnb_revenue,
    SUM(IF(f.business_date = @run_date, f.other_revenue, 0)) AS other_revenue,
    SUM(f.rooms_sold) AS rooms_sold_mtd,
    SUM(f.rooms_revenue) AS rooms_revenue_mtd,
    SUM(f.rooms_revenue + f.fnb_revenue + f.other_revenue) AS total_revenue_mtd
  FROM facts AS f
  GROUP BY ROLLUP (f.segment, f.channel)
),

day_total AS (
  SELECT r.rooms_revenue AS rooms_revenue
  FROM rolled AS r
  WHERE r.segment_grouped = 1
)

SELECT
  CAST(@run_date AS DATE) AS business_date,
  r.segment,
  r.channel,
  CASE
    WHEN r.segment_grouped = 1 THEN 'total'
    WHEN r.channel_grouped = 1 THEN 'subtotal'
    ELSE 'detail'
  END AS row_kind,
  COALESCE(r.rooms_sold, 0) AS rooms_sold,
  CAST(COALESCE(r.rooms_revenue, 0) AS NUMERIC) AS rooms_revenue,
  CAST(SAFE_DIVIDE(r.rooms_revenue, r.rooms_sold) AS NUMERIC) AS adr,
  CAST(COALESCE(r.fnb_revenue, 0) AS NUMERIC) AS fnb_revenue,
  CAST(COALESCE(r.other_revenue, 0) AS NUMERIC) AS other_revenue,
  CAST(COALESCE(r.rooms_revenue + r.fnb_revenue + r.other_revenue, 0) AS NUMERIC) AS total_revenue,
  -- A FLOAT64 ratio of FLOAT64s: NUMERIC / NUMERIC would round to 9 decimals first on BigQuery only.
  SAFE_DIVIDE(CAST(r.rooms_revenue AS FLOAT64), CAST(t.rooms_revenue AS FLOAT64)) AS rooms_revenue_share,
  COALESCE(r.rooms_sold_mtd, 0) AS rooms_sold_mtd,
  CAST(COALESCE(r.rooms_revenue_mtd, 0) AS NUMERIC) AS rooms_revenue_mtd,
  CAST(COALESCE(r.total_revenue_mtd, 0) AS NUMERIC) AS total_revenue_mtd
FROM rolled AS r
CROSS JOIN day_total AS t
ORDER BY r.segment_grouped, r.segment, r.channel_grouped, r.channel
