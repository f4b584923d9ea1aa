"""The ten catalog datasets on DuckDB, each checked against figures recomputed in Python from the generated rows."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse, compile_dataset
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, HotelSpec, SyntheticHotelData, generate, load_into

START = date(2025, 2, 1)
END = date(2025, 3, 10)  # the last night audit
RUN_DATES = (START, date(2025, 2, 17), date(2025, 3, 1), END)
FUTURE = END + timedelta(days=2)  # booked, not yet arrived or departed
STAYED = ("checked_out", "in_house")
KABUL, JAIPUR, RIYADH = DEMO_HOTELS
# Another tenant reusing Kabul's property id: every dataset must filter on the tenant as well.
KABUL_TWIN = replace(KABUL, tenant_id="55555555-5555-4555-8555-555555555555", name="Twin Tenant Inn", seed=99)
OPERATIONAL = ("arrivals", "departures", "in_house_guests", "housekeeping_status", "revenue_by_segment",
               "cashier_shift", "no_shows_cancellations")
REGULATORY = ("af_police_guest_register", "ksa_vat_invoices", "in_form_c")
KEYS = OPERATIONAL + REGULATORY

# The output columns are a contract: the CSV header, and the regulatory adapters build payloads from them.
COLUMNS = {
    "arrivals": [
        "business_date", "confirmation_number", "status", "room_number", "room_type", "guest_name", "nationality",
        "is_foreign", "adults", "children", "arrival_date", "departure_date", "nights", "segment", "channel",
        "rate_plan", "nightly_rate", "group_code", "is_complimentary", "is_house_use", "checked_in_at",
        "reservation_id",
    ],
    "departures": [
        "business_date", "confirmation_number", "status", "room_number", "room_type", "guest_name", "nationality",
        "arrival_date", "departure_date", "nights", "adults", "children", "segment", "checked_out_at",
        "folio_total", "payments_total", "balance", "reservation_id",
    ],
    "in_house_guests": [
        "business_date", "floor", "room_number", "room_type", "confirmation_number", "guest_name", "nationality",
        "is_foreign", "arrival_date", "departure_date", "night_number", "nights", "adults", "children", "segment",
        "channel", "rate_plan", "group_code", "is_complimentary", "is_house_use", "room_rate", "balance",
        "reservation_id",
    ],
    "housekeeping_status": [
        "business_date", "floor", "room_number", "room_type", "occupancy_status", "housekeeping_status",
        "service_status", "movement", "guests", "due_out_tomorrow", "room_id",
    ],
    "revenue_by_segment": [
        "business_date", "segment", "channel", "row_kind", "rooms_sold", "rooms_revenue", "adr", "fnb_revenue",
        "other_revenue", "total_revenue", "rooms_revenue_share", "rooms_sold_mtd", "rooms_revenue_mtd",
        "total_revenue_mtd",
    ],
    "cashier_shift": [
        "business_date", "row_kind", "shift", "cashier_id", "method", "transactions", "refunds", "received",
        "refunded", "net",
    ],
    "no_shows_cancellations": [
        "business_date", "is_total", "kind", "confirmation_number", "guest_name", "nationality", "segment",
        "channel", "rate_plan", "room_type", "booked_on", "arrival_date", "departure_date", "nights",
        "cancelled_on", "lead_time_days", "cancellation_reason", "nightly_rate", "booked_room_revenue",
        "penalty_charged", "lost_room_revenue", "reservation_id",
    ],
    "af_police_guest_register": [
        "business_date", "line_number", "movement", "movement_at", "room_number", "confirmation_number",
        "family_name", "given_names", "gender", "date_of_birth", "nationality", "is_foreign", "document_type",
        "document_number", "document_issuing_country", "document_issue_date", "document_expiry_date",
        "visa_number", "visa_type", "visa_issue_date", "visa_expiry_date", "home_address", "arrived_from_city",
        "arrived_from_country", "next_destination_city", "next_destination_country", "purpose_of_visit",
        "arrival_date", "departure_date", "nights", "adults", "children", "reservation_id", "guest_id",
    ],
    "ksa_vat_invoices": [
        "business_date", "icv", "invoice_number", "invoice_uuid", "document_type", "invoice_type_code",
        "invoice_subtype", "issue_date", "issued_at", "original_invoice_number", "original_issue_date",
        "credit_reason", "payment_method", "confirmation_number", "seller_name", "seller_vat_number",
        "seller_commercial_registration", "seller_street", "seller_building_number", "seller_district",
        "seller_city", "seller_postal_code", "currency", "net_amount", "vat_rate", "vat_amount", "total_amount",
        "lines_json",
    ],
    "in_form_c": [
        "business_date", "family_name", "given_names", "gender", "date_of_birth", "nationality", "passport_number",
        "passport_place_of_issue", "passport_issue_date", "passport_expiry_date", "visa_number", "visa_type",
        "visa_place_of_issue", "visa_issue_date", "visa_expiry_date", "arrived_from_city", "arrived_from_country",
        "arrival_in_india_date", "arrived_at_hotel", "intended_stay_days", "intended_departure_date",
        "next_destination_city", "next_destination_country", "address_in_india", "permanent_address",
        "purpose_of_visit", "room_number", "confirmation_number", "adults", "children", "reservation_id",
        "guest_id",
    ],
}


def _sql(key: str) -> str:
    return resources.files("reporting.catalog").joinpath(f"{key}/dataset.sql").read_text("utf-8")


DATASETS = {key: _sql(key) for key in (*KEYS, "daily_occupancy")}


@pytest.fixture(scope="module")
def hotels() -> dict[str, SyntheticHotelData]:
    """Generated rows for the three demo hotels and a second tenant sharing Kabul's property id."""
    return {spec.name: generate(spec, START, END) for spec in (*DEMO_HOTELS, KABUL_TWIN)}


@pytest.fixture(scope="module")
def warehouse(hotels: dict[str, SyntheticHotelData]) -> Iterator[DuckDBWarehouse]:
    """One in-memory warehouse holding every hotel side by side."""
    wh = DuckDBWarehouse()
    for data in hotels.values():
        load_into(wh, data)
    yield wh
    wh.close()


def run(wh: DuckDBWarehouse, key: str, spec: HotelSpec, run_date: date) -> list[dict[str, Any]]:
    """One dataset for one hotel and business date, with exactly the parameters a render passes."""
    params = {"tenant_id": spec.tenant_id, "property_id": spec.property_id, "run_date": run_date,
              "deduct_out_of_order": spec.deduct_out_of_order}
    rows = wh.query(DATASETS[key], params, max_bytes_billed=10**9)
    if key in COLUMNS:
        assert [list(r) for r in rows] == [COLUMNS[key]] * len(rows)
    return rows


def by_id(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def halala(amount: Decimal) -> Decimal:
    """15% rounded half up to the halala, sign kept: recomputed here, not imported."""
    sign = -1 if amount < 0 else 1
    return sign * (abs(amount) * Decimal("0.15")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def room_order(rows: list[dict[str, Any]], rooms: dict[str | None, dict[str, Any]]) -> list[tuple]:
    """(floor, room number) with unassigned last: the order the lists promise."""
    return [(rooms[r]["floor"], rooms[r]["room_number"]) if r else (10**6, "") for r in rows]


# -- the SQL files themselves ----------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_dataset_is_one_bigquery_query_binding_exactly_tenant_property_and_date(key: str) -> None:
    """Parses as BigQuery, round-trips, transpiles, and takes @tenant_id, @property_id, @run_date only."""
    tree = sqlglot.parse_one(DATASETS[key], read="bigquery")
    sqlglot.parse_one(tree.sql(dialect="bigquery"), read="bigquery")
    assert {p.name for p in tree.find_all(exp.Parameter)} == {"tenant_id", "property_id", "run_date"}
    assert compile_dataset(DATASETS[key]).parameters == {"tenant_id", "property_id", "run_date"}
    body = DATASETS[key].split("WITH", 1)[1]
    for token in ("$", "::", "COUNT_IF", "BOOL_OR", "DECIMAL(", "STRFTIME", "LISTAGG"):
        assert token not in body, token


@pytest.mark.parametrize("key", KEYS)
def test_every_warehouse_table_read_is_scoped_by_tenant_and_property(key: str) -> None:
    """Each `FROM dw.x AS a` sits in a SELECT whose WHERE binds a.tenant_id and a.property_id to the parameters."""
    tree = sqlglot.parse_one(DATASETS[key], read="bigquery")
    tables = [t for t in tree.find_all(exp.Table) if t.db == "dw"]
    assert tables
    for table in tables:
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select else None
        assert where is not None, f"{key}: dw.{table.name} read without a WHERE"
        bound = {
            (eq.left.table, eq.left.name, eq.right.name)
            for eq in where.find_all(exp.EQ)
            if isinstance(eq.left, exp.Column) and isinstance(eq.right, exp.Parameter)
        }
        alias = table.alias_or_name
        assert {(alias, "tenant_id", "tenant_id"), (alias, "property_id", "property_id")} <= bound, (
            f"{key}: dw.{table.name} AS {alias} is not scoped by tenant and property"
        )


@pytest.mark.parametrize("key", KEYS)
def test_dataset_on_an_empty_warehouse_returns_no_rows_or_only_zero_totals(key: str) -> None:
    """No data is not an error: lists are empty, aggregates at most a zero total row."""
    with DuckDBWarehouse() as wh:
        rows = run(wh, key, KABUL, START)
    if key in ("housekeeping_status", "arrivals", "departures", "in_house_guests", "af_police_guest_register",
               "ksa_vat_invoices", "in_form_c"):
        assert rows == []
    else:
        assert len(rows) <= 1 and all(r.get("is_total") or r.get("row_kind") == "total" for r in rows)
        sums = ("net", "received", "rooms_sold", "rooms_revenue", "total_revenue_mtd", "lost_room_revenue", "nights")
        assert all(r[c] == 0 for r in rows for c in sums if c in r)  # zero, not NULL


@pytest.mark.parametrize("key", KEYS)
def test_injection_shaped_tenant_is_just_a_string_that_matches_nothing(warehouse: DuckDBWarehouse, key: str) -> None:
    """Values are bound, never spliced into the SQL."""
    spec = replace(KABUL, tenant_id="x' OR '1'='1")
    rows = run(warehouse, key, spec, START)
    assert all(r.get("is_total") or r.get("row_kind") == "total" for r in rows)


# -- arrivals, departures, in house ------------------------------------------------------------


@pytest.mark.parametrize("run_date", (*RUN_DATES, FUTURE), ids=str)
@pytest.mark.parametrize("spec", [*DEMO_HOTELS, KABUL_TWIN], ids=lambda s: s.name)
def test_arrivals_are_exactly_the_uncancelled_reservations_due_that_day(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """Every reservation arriving on the date, not cancelled; with its guest, room, stay and check-in."""
    data = hotels[spec.name]
    rows = run(warehouse, "arrivals", spec, run_date)
    expected = {r["reservation_id"]: r for r in data.reservations
                if r["arrival_date"] == run_date and r["status"] != "cancelled"}
    assert set(by_id(rows, "reservation_id")) == set(expected)
    guests = {g["guest_id"]: g for g in data.guests}
    rooms = {r["room_id"]: r for r in data.rooms}
    for row in rows:
        res = expected[row["reservation_id"]]
        guest = guests[res["guest_id"]]
        assert (row["status"], row["guest_name"], row["nationality"]) == (res["status"], guest["display_name"],
                                                                          guest["nationality"])
        assert row["room_number"] == (rooms[res["room_id"]]["room_number"] if res["room_id"] else None)
        assert row["nights"] == (res["departure_date"] - res["arrival_date"]).days
        assert row["nightly_rate"] == res["nightly_rate"] and row["checked_in_at"] == res["checked_in_at"]
        assert row["business_date"] == run_date
    assert room_order([expected[r["reservation_id"]]["room_id"] for r in rows], {**rooms, None: None}) == sorted(
        room_order([expected[r["reservation_id"]]["room_id"] for r in rows], {**rooms, None: None}))
    if run_date == FUTURE:
        assert rows and {r["status"] for r in rows} == {"reserved"}
    else:
        assert rows and {r["status"] for r in rows} <= {"checked_out", "in_house", "no_show"}


def test_arrivals_sample_covers_no_shows(warehouse: DuckDBWarehouse) -> None:
    """The comparison above is not vacuous: some sampled day has a no-show among its arrivals."""
    statuses = Counter(r["status"] for spec in DEMO_HOTELS for d in RUN_DATES
                       for r in run(warehouse, "arrivals", spec, d))
    assert statuses["no_show"] > 0 and statuses["checked_out"] > 0


@pytest.mark.parametrize("run_date", (*RUN_DATES, FUTURE), ids=str)
@pytest.mark.parametrize("spec", DEMO_HOTELS, ids=lambda s: s.name)
def test_departures_balance_folios_as_at_the_business_date(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """Stays departing that day; folio total, payments and balance summed up to that date; settled means 0."""
    data = hotels[spec.name]
    rows = run(warehouse, "departures", spec, run_date)
    expected = {r["reservation_id"]: r for r in data.reservations
                if r["departure_date"] == run_date and r["status"] in STAYED}
    assert set(by_id(rows, "reservation_id")) == set(expected)
    assert rows or run_date == START  # nobody can leave on the window's first day
    posted, paid = Counter(), Counter()
    for line in data.folio_lines:
        if line["business_date"] <= run_date:
            posted[line["reservation_id"]] += line["amount"]
    for p in data.payments:
        if p["business_date"] <= run_date:
            paid[p["reservation_id"]] += p["amount"]
    for row in rows:
        rid = row["reservation_id"]
        assert row["folio_total"] == posted[rid] and row["payments_total"] == paid[rid]
        assert row["balance"] == posted[rid] - paid[rid]
        assert row["checked_out_at"] == expected[rid]["checked_out_at"]
        if row["status"] == "checked_out":
            assert row["balance"] == 0
    if run_date == FUTURE:
        assert {r["status"] for r in rows} == {"in_house"} and any(r["balance"] for r in rows)


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", [*DEMO_HOTELS, KABUL_TWIN], ids=lambda s: s.name)
def test_in_house_lists_every_occupied_room_and_agrees_with_daily_occupancy(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """One row per room night of that date; as many as the occupancy report's rooms occupied."""
    data = hotels[spec.name]
    rows = run(warehouse, "in_house_guests", spec, run_date)
    nights = {n["reservation_id"]: n for n in data.room_nights if n["stay_date"] == run_date}
    assert set(by_id(rows, "reservation_id")) == set(nights)
    occupancy_total = run(warehouse, "daily_occupancy", spec, run_date)[-1]
    assert len(rows) == occupancy_total["rooms_occupied"]
    assert sum(r["room_rate"] for r in rows if not (r["is_complimentary"] or r["is_house_use"])) == (
        occupancy_total["rooms_revenue"])
    reservations = {r["reservation_id"]: r for r in data.reservations}
    rooms = {r["room_id"]: r for r in data.rooms}
    posted = Counter()
    for line in data.folio_lines:
        if line["business_date"] <= run_date:
            posted[line["reservation_id"]] += line["amount"]
    for p in data.payments:
        if p["business_date"] <= run_date:
            posted[p["reservation_id"]] -= p["amount"]
    for row in rows:
        night, res = nights[row["reservation_id"]], reservations[row["reservation_id"]]
        assert row["room_number"] == rooms[night["room_id"]]["room_number"]
        assert row["room_rate"] == night["room_revenue"]
        assert row["night_number"] == (run_date - res["arrival_date"]).days + 1 <= row["nights"]
        assert row["balance"] == posted[row["reservation_id"]]
    assert [(r["floor"], r["room_number"]) for r in rows] == sorted((r["floor"], r["room_number"]) for r in rows)


# -- housekeeping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", DEMO_HOTELS, ids=lambda s: s.name)
def test_housekeeping_shows_every_room_with_its_status_and_guest_movement(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """Each room once, housekeeping's statuses for the date, and movement recomputed from the stays."""
    data = hotels[spec.name]
    rows = run(warehouse, "housekeeping_status", spec, run_date)
    assert len(rows) == spec.room_count == len({r["room_id"] for r in rows})
    hk = {h["room_id"]: h for h in data.room_housekeeping_daily if h["business_date"] == run_date}
    stays: dict[str, list[dict]] = defaultdict(list)
    for r in data.reservations:
        if r["status"] in STAYED:
            stays[r["room_id"]].append(r)
    for row in rows:
        room = row["room_id"]
        assert (row["occupancy_status"], row["housekeeping_status"], row["service_status"]) == (
            hk[room]["occupancy_status"], hk[room]["housekeeping_status"], hk[room]["service_status"])
        tonight = [s for s in stays[room] if s["arrival_date"] <= run_date < s["departure_date"]]
        arrived = any(s["arrival_date"] == run_date for s in stays[room])
        departed = any(s["departure_date"] == run_date and s["status"] == "checked_out" for s in stays[room])
        movement = ("turnover" if arrived and departed else "arrival" if arrived else "stayover" if tonight
                    else "departure" if departed else None)
        assert row["movement"] == movement
        assert row["guests"] == sum(s["adults"] + s["children"] for s in tonight)
        assert row["due_out_tomorrow"] == any(s["departure_date"] == run_date + timedelta(days=1) for s in tonight)
        assert (row["occupancy_status"] == "occupied") == bool(tonight)
    assert [(r["floor"], r["room_number"]) for r in rows] == sorted((r["floor"], r["room_number"]) for r in rows)
    if run_date != START:  # on the window's first day every guest is an arrival
        assert {r["movement"] for r in rows} >= {"stayover", "departure", None}


# -- revenue by segment and channel ----------------------------------------------------------------------


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", DEMO_HOTELS, ids=lambda s: s.name)
def test_revenue_by_segment_and_channel_matches_the_books_day_and_month_to_date(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """USALI rooms sold and revenue from the nights, F&B and other from the folio lines; subtotals and total add up."""
    data = hotels[spec.name]
    rows = run(warehouse, "revenue_by_segment", spec, run_date)
    month_start = run_date.replace(day=1)
    reservations = {r["reservation_id"]: r for r in data.reservations}
    figures: dict[tuple, Counter] = defaultdict(Counter)
    for n in data.room_nights:
        res = reservations[n["reservation_id"]]
        if month_start <= n["stay_date"] <= run_date and res["status"] in STAYED:
            paying = not (res["is_complimentary"] or res["is_house_use"])
            f = figures[(res["segment"], res["channel"])]
            f["rooms_sold_mtd"] += paying
            f["rooms_revenue_mtd"] += n["room_revenue"] if paying else 0
            if n["stay_date"] == run_date:
                f["rooms_sold"] += paying
                f["rooms_revenue"] += n["room_revenue"] if paying else 0
    for line in data.folio_lines:
        if month_start <= line["business_date"] <= run_date and line["line_type"] in ("fnb", "other", "fee"):
            res = reservations[line["reservation_id"]]
            f = figures[(res["segment"], res["channel"])]
            kind = "fnb_revenue" if line["line_type"] == "fnb" else "other_revenue"
            f[kind + "_mtd"] += line["amount"]
            if line["business_date"] == run_date:
                f[kind] += line["amount"]
    expected: dict[tuple, Counter] = defaultdict(Counter)
    for (segment, channel), f in figures.items():
        for key in ((segment, channel), (segment, None), (None, None)):
            expected[key].update(f)
    details = [r for r in rows if r["row_kind"] == "detail"]
    assert {(r["segment"], r["channel"]) for r in details} == set(figures)
    assert [r["row_kind"] for r in rows].count("total") == 1 and rows[-1]["row_kind"] == "total"
    day_rooms_revenue = expected[(None, None)]["rooms_revenue"]
    for row in rows:
        e = expected[(row["segment"], row["channel"])]
        assert row["rooms_sold"] == e["rooms_sold"] and row["rooms_revenue"] == e["rooms_revenue"]
        assert row["fnb_revenue"] == e["fnb_revenue"] and row["other_revenue"] == e["other_revenue"]
        assert row["total_revenue"] == e["rooms_revenue"] + e["fnb_revenue"] + e["other_revenue"]
        assert row["rooms_sold_mtd"] == e["rooms_sold_mtd"] and row["rooms_revenue_mtd"] == e["rooms_revenue_mtd"]
        assert row["total_revenue_mtd"] == e["rooms_revenue_mtd"] + e["fnb_revenue_mtd"] + e["other_revenue_mtd"]
        if e["rooms_sold"]:
            assert abs(row["adr"] - e["rooms_revenue"] / e["rooms_sold"]) < Decimal("0.000001")
        else:
            assert row["adr"] is None
        if day_rooms_revenue:
            assert row["rooms_revenue_share"] == pytest.approx(float(e["rooms_revenue"] / day_rooms_revenue))
    # Same USALI figures as the occupancy report for that night.
    occupancy_total = run(warehouse, "daily_occupancy", spec, run_date)[-1]
    assert (rows[-1]["rooms_sold"], rows[-1]["rooms_revenue"]) == (occupancy_total["rooms_sold"],
                                                                   occupancy_total["rooms_revenue"])
    for previous, row in zip(rows, rows[1:]):  # each segment's channels, then its subtotal
        if row["row_kind"] == "subtotal":
            assert previous["segment"] == row["segment"] and previous["row_kind"] == "detail"


# -- cashier and shift -----------------------------------------------------------------------------------


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", DEMO_HOTELS, ids=lambda s: s.name)
def test_cashier_totals_equal_the_payment_sums_per_shift_cashier_and_method(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """Every detail, cashier, shift, method and day total equals the sums of that day's payments."""
    data = hotels[spec.name]
    rows = run(warehouse, "cashier_shift", spec, run_date)
    day = [p for p in data.payments if p["business_date"] == run_date]
    assert day

    def sums(payments: list[dict]) -> tuple:
        return (len(payments), sum(p["amount"] < 0 for p in payments),
                sum(p["amount"] for p in payments if p["amount"] > 0),
                sum(p["amount"] for p in payments if p["amount"] < 0), sum(p["amount"] for p in payments))

    groupers = {
        "detail": lambda p: (p["shift"], p["cashier_id"], p["method"]),
        "cashier_total": lambda p: (p["shift"], p["cashier_id"], None),
        "shift_total": lambda p: (p["shift"], None, None),
        "method_total": lambda p: (None, None, p["method"]),
        "total": lambda p: (None, None, None),
    }
    for kind, grouper in groupers.items():
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for p in day:
            groups[grouper(p)].append(p)
        got = {(r["shift"], r["cashier_id"], r["method"]): r for r in rows if r["row_kind"] == kind}
        assert set(got) == set(groups), kind
        for key, payments in groups.items():
            r = got[key]
            assert (r["transactions"], r["refunds"], r["received"], r["refunded"], r["net"]) == sums(payments)
    assert rows[-1]["row_kind"] == "total" and rows[-1]["net"] == sum(p["amount"] for p in day)
    shift_rank = {"morning": 0, "evening": 1, "night": 2}
    shifts = [shift_rank[r["shift"]] for r in rows if r["shift"] is not None]
    assert shifts == sorted(shifts)


def test_cashier_sample_has_refunds_and_every_method(warehouse: DuckDBWarehouse) -> None:
    """Not vacuous: the sampled days include refunds and all four methods."""
    rows = [r for spec in DEMO_HOTELS for d in RUN_DATES for r in run(warehouse, "cashier_shift", spec, d)]
    assert sum(r["refunds"] for r in rows if r["row_kind"] == "detail") > 0
    assert {r["method"] for r in rows if r["row_kind"] == "detail"} == {"cash", "card", "bank_transfer",
                                                                         "mobile_wallet"}


# -- no-shows and cancellations ----------------------------------------------------------------------------


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", DEMO_HOTELS, ids=lambda s: s.name)
def test_no_shows_and_cancellations_with_lead_time_and_revenue_lost(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], spec: HotelSpec, run_date: date
) -> None:
    """The day's no-shows and the cancellations made that day; lost = nights x rate - penalty; a total last."""
    data = hotels[spec.name]
    rows = run(warehouse, "no_shows_cancellations", spec, run_date)
    expected = {r["reservation_id"]: r for r in data.reservations
                if (r["status"] == "no_show" and r["arrival_date"] == run_date)
                or (r["status"] == "cancelled" and r["cancelled_on"] == run_date)}
    details, total = rows[:-1], rows[-1]
    assert total["is_total"] and not any(r["is_total"] for r in details)
    assert set(by_id(details, "reservation_id")) == set(expected)
    for row in details:
        res = expected[row["reservation_id"]]
        nights = (res["departure_date"] - res["arrival_date"]).days
        assert row["kind"] == ("no_show" if res["status"] == "no_show" else "cancellation")
        assert row["booked_room_revenue"] == nights * res["nightly_rate"]
        assert row["penalty_charged"] == res["penalty_amount"]
        assert row["lost_room_revenue"] == nights * res["nightly_rate"] - res["penalty_amount"]
        assert row["lead_time_days"] == (
            (res["arrival_date"] - res["cancelled_on"]).days if res["status"] == "cancelled" else None)
    assert [r["kind"] for r in details] == sorted((r["kind"] for r in details), reverse=True)  # no-shows first
    assert total["nights"] == sum(r["nights"] for r in details)
    for column in ("booked_room_revenue", "penalty_charged", "lost_room_revenue"):
        assert total[column] == sum(r[column] for r in details)


def test_no_shows_sample_has_penalties_and_both_kinds(warehouse: DuckDBWarehouse) -> None:
    """Not vacuous: penalties were charged and both kinds appear on the sampled days."""
    rows = [r for spec in DEMO_HOTELS for d in (*RUN_DATES, date(2025, 2, 20), date(2025, 3, 5))
            for r in run(warehouse, "no_shows_cancellations", spec, d) if not r["is_total"]]
    assert {r["kind"] for r in rows} == {"no_show", "cancellation"}
    assert any(r["penalty_charged"] > 0 for r in rows)


# -- regulatory -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
def test_af_police_register_lists_every_check_in_and_check_out_with_identity(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], run_date: date
) -> None:
    """Check-ins (nationals and foreigners) then check-outs, numbered 1..n, identity as on the guest profile."""
    data = hotels[KABUL.name]
    rows = run(warehouse, "af_police_guest_register", KABUL, run_date)
    check_ins = {r["reservation_id"] for r in data.reservations
                 if r["arrival_date"] == run_date and r["status"] in STAYED}
    check_outs = {r["reservation_id"] for r in data.reservations
                  if r["departure_date"] == run_date and r["status"] == "checked_out"}
    assert {r["reservation_id"] for r in rows if r["movement"] == "check_in"} == check_ins
    assert {r["reservation_id"] for r in rows if r["movement"] == "check_out"} == check_outs
    assert [r["line_number"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["movement"] for r in rows] == sorted((r["movement"] for r in rows))  # check_in < check_out
    guests = {g["guest_id"]: g for g in data.guests}
    reservations = {r["reservation_id"]: r for r in data.reservations}
    identity = ("family_name", "given_names", "gender", "date_of_birth", "nationality", "is_foreign",
                "document_type", "document_number", "document_issuing_country", "document_issue_date",
                "document_expiry_date", "visa_number", "visa_type", "visa_issue_date", "visa_expiry_date",
                "home_address")
    for row in rows:
        guest, res = guests[row["guest_id"]], reservations[row["reservation_id"]]
        assert res["guest_id"] == row["guest_id"]
        assert {c: row[c] for c in identity} == {c: guest[c] for c in identity}
        assert row["movement_at"] == (res["checked_in_at"] if row["movement"] == "check_in" else res["checked_out_at"])
        for column in ("arrived_from_city", "next_destination_country", "purpose_of_visit", "adults"):
            assert row[column] == res[column]
    if run_date != START:
        assert check_outs
    assert check_ins


def test_af_police_register_sample_has_nationals_and_foreigners(warehouse: DuckDBWarehouse) -> None:
    """Not vacuous: Afghan nationals with national ids and foreigners with passports and visas both appear."""
    rows = [r for d in RUN_DATES for r in run(warehouse, "af_police_guest_register", KABUL, d)]
    assert {(r["is_foreign"], r["document_type"]) for r in rows} == {(False, "national_id"), (True, "passport")}
    assert any(r["visa_number"] for r in rows)


@pytest.mark.parametrize("run_date", [START + timedelta(days=i) for i in range(0, (END - START).days + 1, 3)],
                         ids=str)
def test_ksa_vat_invoices_are_the_days_invoices_with_vat_15_percent_of_net(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], run_date: date
) -> None:
    """Every invoice and credit note issued that day, by counter; VAT = 15% of net to the halala, row by row."""
    data = hotels[RIYADH.name]
    rows = run(warehouse, "ksa_vat_invoices", RIYADH, run_date)
    issued = {i["invoice_id"]: i for i in data.invoices if i["issue_date"] == run_date}
    assert set(by_id(rows, "invoice_uuid")) == set(issued) and rows
    assert [r["icv"] for r in rows] == sorted(r["icv"] for r in rows)
    numbers = {i["invoice_id"]: i["invoice_number"] for i in data.invoices}
    issue_dates = {i["invoice_id"]: i["issue_date"] for i in data.invoices}
    hotel = data.properties[0]
    vat_number = hotel["vat_number"]
    lines_of: dict[str, list[dict]] = defaultdict(list)
    for line in data.folio_lines:
        if line["invoice_id"] and line["line_type"] != "tax":
            lines_of[line["invoice_id"]].append(line)
    for row in rows:
        inv = issued[row["invoice_uuid"]]
        # The lines a UBL builder needs, adding up to the net.
        lines = json.loads(row["lines_json"], parse_float=Decimal)
        assert sorted((line["name"], line["unit_price"]) for line in lines) == sorted(
            (line["description"], line["amount"]) for line in lines_of[inv["invoice_id"]])
        assert sum(line["quantity"] * line["unit_price"] for line in lines) == row["net_amount"]
        assert (row["seller_building_number"], row["seller_postal_code"], row["seller_district"],
                row["seller_commercial_registration"]) == (hotel["building_number"], hotel["postal_code"],
                                                           hotel["district"], hotel["commercial_registration"])
        assert re.fullmatch(r"\d{4}", row["seller_building_number"]) and re.fullmatch(r"\d{5}",
                                                                                      row["seller_postal_code"])
        assert row["payment_method"] == inv["payment_method"] in ("cash", "card", "bank_transfer", "mobile_wallet")
        assert row["original_issue_date"] == (issue_dates[inv["original_invoice_id"]]
                                              if inv["original_invoice_id"] else None)
        assert row["vat_amount"] == halala(row["net_amount"]) == halala(inv["net_amount"])
        assert row["total_amount"] == row["net_amount"] + row["vat_amount"]
        assert (row["net_amount"], row["icv"], row["invoice_number"]) == (inv["net_amount"], inv["icv"],
                                                                          inv["invoice_number"])
        assert row["original_invoice_number"] == (numbers[inv["original_invoice_id"]]
                                                  if inv["original_invoice_id"] else None)
        assert row["seller_vat_number"] == vat_number and len(vat_number) == 15
        assert row["currency"] == "SAR" and row["vat_rate"] == Decimal("0.15")
    assert sum(r["vat_amount"] for r in rows) == sum(halala(i["net_amount"]) for i in issued.values())
    # The day's VAT is what the folios carried as VAT lines that day.
    vat_lines = sum(line["amount"] for line in data.folio_lines
                    if line["code"] == "VAT" and line["business_date"] == run_date)
    assert sum(r["vat_amount"] for r in rows) == vat_lines


def test_ksa_vat_invoices_sample_has_credit_notes_and_none_outside_ksa(warehouse: DuckDBWarehouse) -> None:
    """Credit notes appear (negative, pointing at their invoice); AF and IN properties have no invoices."""
    rows = [r for d in range((END - START).days + 1)
            for r in run(warehouse, "ksa_vat_invoices", RIYADH, START + timedelta(days=d))]
    notes = [r for r in rows if r["document_type"] == "credit_note"]
    assert notes and all(r["net_amount"] < 0 and r["original_invoice_number"] and r["invoice_type_code"] == "381"
                         for r in notes)
    assert not run(warehouse, "ksa_vat_invoices", KABUL, END) and not run(warehouse, "ksa_vat_invoices", JAIPUR, END)


@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
def test_form_c_lists_exactly_the_foreign_guests_arriving_that_day(
    warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData], run_date: date
) -> None:
    """One row per foreign guest who arrived; passport, visa, arrival in India and at the hotel, onward journey."""
    data = hotels[JAIPUR.name]
    rows = run(warehouse, "in_form_c", JAIPUR, run_date)
    guests = {g["guest_id"]: g for g in data.guests}
    expected = {r["reservation_id"]: r for r in data.reservations
                if r["arrival_date"] == run_date and r["status"] in STAYED and guests[r["guest_id"]]["is_foreign"]}
    assert set(by_id(rows, "reservation_id")) == set(expected) and rows
    for row in rows:
        res, guest = expected[row["reservation_id"]], guests[row["guest_id"]]
        assert row["nationality"] != "IN" and guest["document_type"] == "passport"
        assert (row["passport_number"], row["passport_place_of_issue"], row["passport_issue_date"],
                row["passport_expiry_date"]) == (guest["document_number"], guest["document_issue_place"],
                                                 guest["document_issue_date"], guest["document_expiry_date"])
        assert (row["visa_number"], row["visa_type"], row["visa_place_of_issue"], row["visa_issue_date"],
                row["visa_expiry_date"]) == (guest["visa_number"], guest["visa_type"], guest["visa_issue_place"],
                                             guest["visa_issue_date"], guest["visa_expiry_date"])
        assert (row["family_name"], row["given_names"], row["gender"], row["date_of_birth"]) == (
            guest["family_name"], guest["given_names"], guest["gender"], guest["date_of_birth"])
        assert row["arrival_in_india_date"] == res["country_entry_date"] <= run_date
        assert row["arrived_at_hotel"] == res["checked_in_at"] and row["arrived_at_hotel"].date() == run_date
        assert row["intended_stay_days"] == (res["departure_date"] - res["arrival_date"]).days
        assert (row["next_destination_city"], row["arrived_from_country"], row["purpose_of_visit"]) == (
            res["next_destination_city"], res["arrived_from_country"], res["purpose_of_visit"])
        assert row["address_in_india"] == "Amber Fort Residency, 12 Demo Marg, C-Scheme, Jaipur 302001"
        assert row["permanent_address"] == guest["home_address"]
    assert [r["arrived_at_hotel"] for r in rows] == sorted(r["arrived_at_hotel"] for r in rows)


def test_form_c_is_empty_for_a_day_of_only_national_arrivals() -> None:
    """A property whose arrivals are all Indian nationals has nothing to report."""
    data = generate(JAIPUR, START, START)
    for guest in data.guests:
        guest.update(is_foreign=False, nationality="IN")
    with DuckDBWarehouse() as wh:
        load_into(wh, data)
        assert any(r["arrival_date"] == START for r in data.reservations)
        assert run(wh, "in_form_c", JAIPUR, START) == []
