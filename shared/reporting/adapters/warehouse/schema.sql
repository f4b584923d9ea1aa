-- Local (DuckDB) mirror of the tenant BigQuery warehouse dataset `dw`.
--
-- In BigQuery these are tables of the dataset `dw`; here `dw` is a schema so the
-- curated dataset SQL (`dw.<table>`) runs unchanged after sqlglot transpiling.
-- Type mapping (DuckDB here -> BigQuery there):
--   VARCHAR -> STRING, BIGINT -> INT64, BOOLEAN -> BOOL, DATE -> DATE,
--   DECIMAL(38, 9) -> NUMERIC (BigQuery NUMERIC is exactly 38 digits, scale 9),
--   TIMESTAMP -> DATETIME (civil time, no zone).
-- BigQuery does not enforce keys (PRIMARY KEY ... NOT ENFORCED at most); DuckDB
-- enforces them, which catches generator bugs locally. Dataset SQL must still
-- not rely on uniqueness it cannot get in BigQuery.
-- Every table carries tenant_id and property_id: the warehouse is per tenant,
-- but datasets always filter on both so a shared warehouse stays isolated too.
-- Naming: one noun per table, plural, facts at their grain (`room_nights`,
-- `room_status_daily`, `room_housekeeping_daily`, `folio_lines`, `payments`).
-- Times of day are civil times at the property (BigQuery DATETIME, no zone;
-- the zone is dw.properties.timezone): reports and regulators want the local
-- clock, and a DATETIME needs no zone conversion that would differ between
-- BigQuery and DuckDB. Money is in the property's currency, NUMERIC.
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

-- Guest profiles with the identity data police registers and Form C need
-- (synthetic names and documents outside production). Visa columns are NULL for
-- nationals and for visa-exempt foreigners.
CREATE TABLE IF NOT EXISTS dw.guests (
    tenant_id                 VARCHAR NOT NULL,  -- STRING
    property_id               VARCHAR NOT NULL,  -- STRING
    guest_id                  VARCHAR NOT NULL,  -- STRING
    display_name              VARCHAR,           -- STRING
    nationality               VARCHAR,           -- STRING, ISO 3166-1 alpha-2
    is_foreign                BOOLEAN,           -- BOOL, relative to the property's country
    family_name               VARCHAR,           -- STRING
    given_names               VARCHAR,           -- STRING
    gender                    VARCHAR,           -- STRING: F | M | X
    date_of_birth             DATE,              -- DATE
    home_address              VARCHAR,           -- STRING, permanent address
    home_city                 VARCHAR,           -- STRING
    home_country              VARCHAR,           -- STRING, ISO 3166-1 alpha-2
    document_type             VARCHAR,           -- STRING: passport | national_id
    document_number           VARCHAR,           -- STRING
    document_issuing_country  VARCHAR,           -- STRING, ISO 3166-1 alpha-2
    document_issue_place      VARCHAR,           -- STRING
    document_issue_date       DATE,              -- DATE
    document_expiry_date      DATE,              -- DATE
    visa_number               VARCHAR,           -- STRING
    visa_type                 VARCHAR,           -- STRING
    visa_issue_place          VARCHAR,           -- STRING
    visa_issue_date           DATE,              -- DATE
    visa_expiry_date          DATE,              -- DATE
    PRIMARY KEY (tenant_id, property_id, guest_id),
    CHECK (gender IN ('F', 'M', 'X')),
    CHECK (document_type IN ('passport', 'national_id'))
);

-- One row per booking. Departure is the check-out date (last night = departure - 1).
CREATE TABLE IF NOT EXISTS dw.reservations (
    tenant_id                 VARCHAR NOT NULL, -- STRING
    property_id               VARCHAR NOT NULL, -- STRING
    reservation_id            VARCHAR NOT NULL, -- STRING
    guest_id                  VARCHAR NOT NULL, -- STRING
    arrival_date              DATE    NOT NULL, -- DATE
    departure_date            DATE    NOT NULL, -- DATE
    status                    VARCHAR NOT NULL, -- STRING: checked_out | in_house | reserved | cancelled | no_show
    segment                   VARCHAR,          -- STRING: transient | corporate | group | government | ota
    channel                   VARCHAR,          -- STRING: direct | ota | walk_in | corporate
    rate_plan                 VARCHAR,          -- STRING
    is_complimentary          BOOLEAN NOT NULL, -- BOOL
    is_house_use              BOOLEAN NOT NULL, -- BOOL
    adults                    BIGINT  NOT NULL, -- INT64
    children                  BIGINT  NOT NULL, -- INT64
    group_code                VARCHAR,          -- STRING, NULL unless part of a group block
    confirmation_number       VARCHAR,          -- STRING, what the front desk and the guest quote
    room_type                 VARCHAR,          -- STRING, booked room type (the assigned room's type once in a room)
    room_id                   VARCHAR,          -- STRING, assigned room; NULL unless the guest stayed
    nightly_rate              DECIMAL(38, 9),   -- NUMERIC, booked rate per night net of tax; 0 for comp/house use
    currency                  VARCHAR,          -- STRING, ISO 4217
    booked_on                 DATE,             -- DATE the booking was made
    cancelled_on              DATE,             -- DATE, NULL unless cancelled
    cancellation_reason       VARCHAR,          -- STRING, NULL unless cancelled
    penalty_amount            DECIMAL(38, 9),   -- NUMERIC, no-show / late-cancellation fee charged, net of tax
    checked_in_at             TIMESTAMP,        -- DATETIME (local), NULL unless the guest arrived
    checked_out_at            TIMESTAMP,        -- DATETIME (local), NULL unless checked out
    purpose_of_visit          VARCHAR,          -- STRING: tourism | business | conference | official | visiting_family | medical
    arrived_from_city         VARCHAR,          -- STRING
    arrived_from_country      VARCHAR,          -- STRING, ISO 3166-1 alpha-2
    next_destination_city     VARCHAR,          -- STRING
    next_destination_country  VARCHAR,          -- STRING, ISO 3166-1 alpha-2
    country_entry_date        DATE,             -- DATE a foreign guest entered the country; NULL for nationals
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

-- The property as the warehouse knows it (address for Form C, seller data for invoices).
CREATE TABLE IF NOT EXISTS dw.properties (
    tenant_id                VARCHAR NOT NULL, -- STRING
    property_id              VARCHAR NOT NULL, -- STRING
    name                     VARCHAR NOT NULL, -- STRING
    legal_name               VARCHAR,          -- STRING, the seller on tax invoices
    address_line             VARCHAR,          -- STRING, "<building> <street>, <district>"
    building_number          VARCHAR,          -- STRING (KSA national address: 4 digits)
    street                   VARCHAR,          -- STRING
    district                 VARCHAR,          -- STRING
    city                     VARCHAR,          -- STRING
    postal_code              VARCHAR,          -- STRING (KSA: 5 digits)
    country                  VARCHAR NOT NULL, -- STRING, ISO 3166-1 alpha-2
    currency                 VARCHAR NOT NULL, -- STRING, ISO 4217
    timezone                 VARCHAR NOT NULL, -- STRING, IANA
    vat_number               VARCHAR,          -- STRING, KSA VAT registration number (15 digits); NULL elsewhere
    commercial_registration  VARCHAR,          -- STRING, KSA CRN (the seller's other identifier); NULL elsewhere
    PRIMARY KEY (tenant_id, property_id)
);

-- Housekeeping's view of every room on every business date (end of the day, before night audit).
-- occupancy_status: a guest sleeps in the room that night; service_status mirrors room_status_daily.
CREATE TABLE IF NOT EXISTS dw.room_housekeeping_daily (
    tenant_id            VARCHAR NOT NULL,  -- STRING
    property_id          VARCHAR NOT NULL,  -- STRING
    business_date        DATE    NOT NULL,  -- DATE
    room_id              VARCHAR NOT NULL,  -- STRING
    occupancy_status     VARCHAR NOT NULL,  -- STRING: occupied | vacant
    housekeeping_status  VARCHAR NOT NULL,  -- STRING: clean | dirty | inspected
    service_status       VARCHAR NOT NULL,  -- STRING: in_service | out_of_order | out_of_service
    PRIMARY KEY (tenant_id, property_id, business_date, room_id),
    CHECK (occupancy_status IN ('occupied', 'vacant')),
    CHECK (housekeeping_status IN ('clean', 'dirty', 'inspected')),
    CHECK (service_status IN ('in_service', 'out_of_order', 'out_of_service'))
);

-- Guest accounts: one per stay, plus one per charged no-show / late cancellation.
CREATE TABLE IF NOT EXISTS dw.folios (
    tenant_id       VARCHAR NOT NULL,  -- STRING
    property_id     VARCHAR NOT NULL,  -- STRING
    folio_id        VARCHAR NOT NULL,  -- STRING
    reservation_id  VARCHAR NOT NULL,  -- STRING
    guest_id        VARCHAR NOT NULL,  -- STRING
    kind            VARCHAR NOT NULL,  -- STRING: stay | penalty
    status          VARCHAR NOT NULL,  -- STRING: open | closed
    opened_on       DATE    NOT NULL,  -- DATE
    closed_on       DATE,              -- DATE (check-out), NULL while open
    currency        VARCHAR NOT NULL,  -- STRING, ISO 4217
    PRIMARY KEY (tenant_id, property_id, folio_id),
    CHECK (kind IN ('stay', 'penalty')),
    CHECK (status IN ('open', 'closed'))
);

-- Folio postings. Charges (room, fnb, other, fee) are net of tax; every tax is its own
-- line (line_type 'tax'). IN: CGST and SGST lines per taxed charge (taxed_line_id).
-- KSA: one VAT line per invoice or credit note (15% of its net, to the halala); the
-- charge lines an invoice covers carry its invoice_id. AF: no tax lines. Corrections
-- are negative lines ('ADJ'), never edits.
CREATE TABLE IF NOT EXISTS dw.folio_lines (
    tenant_id       VARCHAR        NOT NULL,  -- STRING
    property_id     VARCHAR        NOT NULL,  -- STRING
    line_id         VARCHAR        NOT NULL,  -- STRING
    folio_id        VARCHAR        NOT NULL,  -- STRING
    reservation_id  VARCHAR        NOT NULL,  -- STRING
    business_date   DATE           NOT NULL,  -- DATE
    posted_at       TIMESTAMP      NOT NULL,  -- DATETIME (local)
    line_type       VARCHAR        NOT NULL,  -- STRING: room | fnb | other | fee | tax
    code            VARCHAR        NOT NULL,  -- STRING: ROOM, REST, RMSV, MINI, LAUN, TRAN, NOSHOW, LATECXL, ADJ, CGST, SGST, VAT
    description     VARCHAR,                  -- STRING
    amount          DECIMAL(38, 9) NOT NULL,  -- NUMERIC, signed
    currency        VARCHAR        NOT NULL,  -- STRING, ISO 4217
    tax_rate        DECIMAL(38, 9),           -- NUMERIC fraction, tax lines only
    taxed_line_id   VARCHAR,                  -- STRING, the charge a per-line tax is on
    invoice_id      VARCHAR,                  -- STRING, KSA: the invoice / credit note covering the line
    PRIMARY KEY (tenant_id, property_id, line_id),
    CHECK (line_type IN ('room', 'fnb', 'other', 'fee', 'tax'))
);

-- Money received (positive) and refunded (negative) at the desk, per cashier and shift.
-- Shifts by local time: morning 06:00-14:00, evening 14:00-22:00, night 22:00-06:00
-- (a night shift belongs to the business date it starts on).
CREATE TABLE IF NOT EXISTS dw.payments (
    tenant_id       VARCHAR        NOT NULL,  -- STRING
    property_id     VARCHAR        NOT NULL,  -- STRING
    payment_id      VARCHAR        NOT NULL,  -- STRING
    folio_id        VARCHAR        NOT NULL,  -- STRING
    reservation_id  VARCHAR        NOT NULL,  -- STRING
    business_date   DATE           NOT NULL,  -- DATE
    paid_at         TIMESTAMP      NOT NULL,  -- DATETIME (local)
    shift           VARCHAR        NOT NULL,  -- STRING: morning | evening | night
    cashier_id      VARCHAR        NOT NULL,  -- STRING
    method          VARCHAR        NOT NULL,  -- STRING: cash | card | bank_transfer | mobile_wallet
    kind            VARCHAR        NOT NULL,  -- STRING: deposit | settlement | refund
    amount          DECIMAL(38, 9) NOT NULL,  -- NUMERIC, refunds negative
    currency        VARCHAR        NOT NULL,  -- STRING, ISO 4217
    invoice_id      VARCHAR,                  -- STRING, KSA: the credit note a refund settles
    PRIMARY KEY (tenant_id, property_id, payment_id),
    CHECK (shift IN ('morning', 'evening', 'night')),
    CHECK (method IN ('cash', 'card', 'bank_transfer', 'mobile_wallet')),
    CHECK (kind IN ('deposit', 'settlement', 'refund'))
);

-- KSA simplified tax invoices (ZATCA, subtype 0200000) and their credit notes; empty elsewhere.
-- invoice_id is the invoice's UUID; icv the property's invoice counter (1, 2, ... in issue order,
-- shared by invoices and credit notes). Credit notes carry negative amounts so sums give the
-- net position; the UBL builder emits absolute values under type code 381.
CREATE TABLE IF NOT EXISTS dw.invoices (
    tenant_id            VARCHAR        NOT NULL,  -- STRING
    property_id          VARCHAR        NOT NULL,  -- STRING
    invoice_id           VARCHAR        NOT NULL,  -- STRING (UUID)
    invoice_number       VARCHAR        NOT NULL,  -- STRING
    icv                  BIGINT         NOT NULL,  -- INT64
    document_type        VARCHAR        NOT NULL,  -- STRING: invoice | credit_note
    invoice_type_code    VARCHAR        NOT NULL,  -- STRING: 388 | 381 (UNTDID 1001)
    invoice_subtype      VARCHAR        NOT NULL,  -- STRING: 0200000 = simplified
    folio_id             VARCHAR        NOT NULL,  -- STRING
    reservation_id       VARCHAR        NOT NULL,  -- STRING
    guest_id             VARCHAR        NOT NULL,  -- STRING
    issue_date           DATE           NOT NULL,  -- DATE (local)
    issued_at            TIMESTAMP      NOT NULL,  -- DATETIME (local)
    original_invoice_id  VARCHAR,                  -- STRING, credit notes only
    credit_reason        VARCHAR,                  -- STRING, credit notes only
    currency             VARCHAR        NOT NULL,  -- STRING, SAR
    net_amount           DECIMAL(38, 9) NOT NULL,  -- NUMERIC, signed
    vat_rate             DECIMAL(38, 9) NOT NULL,  -- NUMERIC fraction (0.15)
    vat_amount           DECIMAL(38, 9) NOT NULL,  -- NUMERIC, signed, 15% of net to the halala
    total_amount         DECIMAL(38, 9) NOT NULL,  -- NUMERIC, net + VAT
    payment_method       VARCHAR,                  -- STRING: how it was paid (refunded): cash | card | bank_transfer | mobile_wallet
    PRIMARY KEY (tenant_id, property_id, invoice_id),
    UNIQUE (tenant_id, property_id, icv),
    CHECK (document_type IN ('invoice', 'credit_note'))
);
