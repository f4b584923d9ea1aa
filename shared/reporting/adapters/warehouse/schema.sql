-- Local (DuckDB) mirror of the tenant BigQuery warehouse dataset `dw`.
--
-- In BigQuery these are tables of the dataset `dw`; here `dw` is a schema so the
-- curated dataset SQL (`dw.<table>`) runs unchanged after sqlglot transpiling.
-- Type mapping (DuckDB here -> BigQuery there):
--   VARCHAR -> STRING, BIGINT -> INT64, BOOLEAN -> BOOL, DATE -> DATE,
--   DECIMAL(38, 9) -> NUMERIC (BigQuery NUMERIC is exactly 38 digits, scale 9),
--   TIMESTAMPTZ -> TIMESTAMP.
-- BigQuery does not enforce keys (PRIMARY KEY ... NOT ENFORCED at most); DuckDB
-- enforces them, which catches generator bugs locally. Dataset SQL must still
-- not rely on uniqueness it cannot get in BigQuery.
-- Every table carries tenant_id and property_id: the warehouse is per tenant,
-- but datasets always filter on both so a shared warehouse stays isolated too.
-- Naming: one noun per table, plural, facts at their grain (`room_nights`,
-- `room_status_daily`); later `folios`, `folio_lines`, `payments`, `invoices`
-- follow the same pattern.
-- Guest data here is synthetic in every non-production environment.

CREATE SCHEMA IF NOT EXISTS dw;

-- Physical room inventory (one row per sellable room).
CREATE TABLE IF NOT EXISTS dw.rooms (
    tenant_id    VARCHAR NOT NULL,  -- STRING
    property_id  VARCHAR NOT NULL,  -- STRING
    room_id      VARCHAR NOT NULL,  -- STRING
    room_number  VARCHAR NOT NULL,  -- STRING ("101"; not numeric: "G-01", "12A" exist)
    room_type    VARCHAR NOT NULL,  -- STRING (property's room type code)
    floor        BIGINT,            -- INT64
    PRIMARY KEY (tenant_id, property_id, room_id)
);

-- Rooms not in normal service on a business date; absent row = in service.
-- 'out_of_order': unusable (repairs), deducted from rooms available when the
-- property's setting says so; 'out_of_service': minor issue, still available.
CREATE TABLE IF NOT EXISTS dw.room_status_daily (
    tenant_id      VARCHAR NOT NULL,  -- STRING
    property_id    VARCHAR NOT NULL,  -- STRING
    business_date  DATE    NOT NULL,  -- DATE
    room_id        VARCHAR NOT NULL,  -- STRING
    status         VARCHAR NOT NULL,  -- STRING: 'out_of_order' | 'out_of_service'
    PRIMARY KEY (tenant_id, property_id, business_date, room_id),
    CHECK (status IN ('out_of_order', 'out_of_service'))
);

-- Guest profiles (synthetic names outside production).
CREATE TABLE IF NOT EXISTS dw.guests (
    tenant_id     VARCHAR NOT NULL,  -- STRING
    property_id   VARCHAR NOT NULL,  -- STRING
    guest_id      VARCHAR NOT NULL,  -- STRING
    display_name  VARCHAR,           -- STRING
    nationality   VARCHAR,           -- STRING, ISO 3166-1 alpha-2
    is_foreign    BOOLEAN,           -- BOOL, relative to the property's country
    PRIMARY KEY (tenant_id, property_id, guest_id)
);

-- One row per booking. Departure is the check-out date (last night = departure - 1).
CREATE TABLE IF NOT EXISTS dw.reservations (
    tenant_id         VARCHAR NOT NULL,  -- STRING
    property_id       VARCHAR NOT NULL,  -- STRING
    reservation_id    VARCHAR NOT NULL,  -- STRING
    guest_id          VARCHAR NOT NULL,  -- STRING
    arrival_date      DATE    NOT NULL,  -- DATE
    departure_date    DATE    NOT NULL,  -- DATE
    status            VARCHAR NOT NULL,  -- STRING: checked_out | in_house | reserved | cancelled | no_show
    segment           VARCHAR,           -- STRING: transient | corporate | group | government | ota
    channel           VARCHAR,           -- STRING: direct | ota | walk_in | corporate
    rate_plan         VARCHAR,           -- STRING
    is_complimentary  BOOLEAN NOT NULL,  -- BOOL
    is_house_use      BOOLEAN NOT NULL,  -- BOOL
    adults            BIGINT  NOT NULL,  -- INT64
    children          BIGINT  NOT NULL,  -- INT64
    group_code        VARCHAR,           -- STRING, NULL unless part of a group block
    PRIMARY KEY (tenant_id, property_id, reservation_id),
    CHECK (status IN ('checked_out', 'in_house', 'reserved', 'cancelled', 'no_show')),
    CHECK (departure_date > arrival_date)
);

-- Posted room nights (night audit): one row per reservation per night stayed.
-- Cancelled / no-show / future nights have no rows. Revenue is net of taxes.
CREATE TABLE IF NOT EXISTS dw.room_nights (
    tenant_id       VARCHAR        NOT NULL,  -- STRING
    property_id     VARCHAR        NOT NULL,  -- STRING
    reservation_id  VARCHAR        NOT NULL,  -- STRING
    room_id         VARCHAR        NOT NULL,  -- STRING
    stay_date       DATE           NOT NULL,  -- DATE (the business date of the night)
    room_revenue    DECIMAL(38, 9) NOT NULL,  -- NUMERIC, net of VAT/GST; 0 for comp/house use
    currency        VARCHAR        NOT NULL,  -- STRING, ISO 4217
    PRIMARY KEY (tenant_id, property_id, reservation_id, stay_date)
);
