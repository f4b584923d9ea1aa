"""The synthetic hotel generator: deterministic, honest room assignment, realistic shape, consistent books."""

from __future__ import annotations

import hashlib
import re
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

import duckdb
import pytest

from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.devenv.synthetic_hotels import (
    DEMO_HOTELS,
    RoomTypeSpec,
    SyntheticHotelData,
    generate,
    gst_rate,
    load_into,
)

START = date(2025, 1, 1)
END = date(2025, 2, 28)


@pytest.fixture(scope="module", params=DEMO_HOTELS, ids=lambda s: s.name)
def data(request: pytest.FixtureRequest) -> SyntheticHotelData:
    """Two months of one demo hotel."""
    return generate(request.param, START, END)


def test_same_seed_same_output_and_seed_matters() -> None:
    """Identical spec and dates give identical rows; another seed gives other rows."""
    spec = DEMO_HOTELS[0]
    first = generate(spec, START, END).tables()
    assert first == generate(spec, START, END).tables()
    other = generate(replace(spec, seed=spec.seed + 1), START, END).tables()
    assert other["rooms"] == first["rooms"]  # inventory is structural, not random
    assert other["room_nights"] != first["room_nights"]


def test_never_double_books_and_never_sells_blocked_rooms(data: SyntheticHotelData) -> None:
    """One stay per room per night, and no stay in an out-of-order/out-of-service room."""
    nights = Counter((n["room_id"], n["stay_date"]) for n in data.room_nights)
    assert max(nights.values()) == 1
    blocked = {(s["room_id"], s["business_date"]) for s in data.room_status_daily}
    assert not blocked & nights.keys()
    # One reservation stays in one room per night.
    assert len({(n["reservation_id"], n["stay_date"]) for n in data.room_nights}) == len(data.room_nights)


def test_room_nights_are_consistent_with_reservations(data: SyntheticHotelData) -> None:
    """Nights lie inside their stay, up to the last business date, only for stays that happened."""
    spec = data.spec
    reservations = {r["reservation_id"]: r for r in data.reservations}
    rooms = {r["room_id"] for r in data.rooms}
    posted = Counter(n["reservation_id"] for n in data.room_nights)
    for n in data.room_nights:
        res = reservations[n["reservation_id"]]
        assert res["arrival_date"] <= n["stay_date"] < res["departure_date"]
        assert START <= n["stay_date"] <= END
        assert n["room_id"] in rooms
        assert n["currency"] == spec.currency
        assert isinstance(n["room_revenue"], Decimal)
        if res["is_complimentary"] or res["is_house_use"]:
            assert n["room_revenue"] == 0
        else:
            assert n["room_revenue"] > 0
    for r in data.reservations:
        assert 1 <= (r["departure_date"] - r["arrival_date"]).days <= 7
        if r["status"] in ("cancelled", "no_show", "reserved"):
            assert posted[r["reservation_id"]] == 0
        elif r["status"] == "checked_out":
            assert r["departure_date"] <= END
            assert posted[r["reservation_id"]] == (r["departure_date"] - r["arrival_date"]).days
        else:
            assert r["status"] == "in_house"
            assert r["arrival_date"] <= END < r["departure_date"]
            assert posted[r["reservation_id"]] == (END - r["arrival_date"]).days + 1
        assert not (r["is_complimentary"] and r["is_house_use"])
        assert r["adults"] >= 1 and r["children"] >= 0


def test_realistic_mix(data: SyntheticHotelData) -> None:
    """Occupancy mostly 55-90%, 20-40% foreign guests, every segment/channel/status present."""
    spec = data.spec
    per_day = Counter(n["stay_date"] for n in data.room_nights)
    occupancy = [per_day[START + timedelta(days=i)] / spec.room_count for i in range((END - START).days + 1)]
    assert 0.55 <= statistics.mean(occupancy) <= 0.90
    assert sum(0.5 <= o <= 0.95 for o in occupancy) >= 0.9 * len(occupancy)

    foreign = sum(g["is_foreign"] for g in data.guests) / len(data.guests)
    assert 0.20 <= foreign <= 0.40
    for g in data.guests:
        assert re.fullmatch(r"[A-Z]{2}", g["nationality"])
        assert g["is_foreign"] == (g["nationality"] != spec.country)
        assert g["display_name"].startswith("Demo Guest ")
    assert len({g["nationality"] for g in data.guests if g["is_foreign"]}) >= 5

    res = data.reservations
    assert {r["segment"] for r in res} == {"transient", "corporate", "group", "government", "ota"}
    assert {r["channel"] for r in res} == {"direct", "ota", "walk_in", "corporate"}
    assert {r["status"] for r in res} == {"checked_out", "in_house", "reserved", "cancelled", "no_show"}
    assert any(r["is_complimentary"] for r in res) and any(r["is_house_use"] for r in res)
    assert all(r["group_code"] for r in res if r["segment"] == "group")
    assert {r["guest_id"] for r in res} <= {g["guest_id"] for g in data.guests}
    assert {s["status"] for s in data.room_status_daily} == {"out_of_order", "out_of_service"}
    # A few rooms out of order on some days, not a hotel under renovation.
    ooo_per_day = Counter(s["business_date"] for s in data.room_status_daily)
    assert max(ooo_per_day.values()) <= 0.15 * spec.room_count


def test_rooms_follow_the_spec(data: SyntheticHotelData) -> None:
    """Room count, types and unique numbers as specified; every row carries tenant and property."""
    spec = data.spec
    assert len(data.rooms) == spec.room_count
    assert {r["room_type"] for r in data.rooms} == {t.code for t in spec.room_types}
    assert len({r["room_number"] for r in data.rooms}) == spec.room_count
    for rows in data.tables().values():
        assert all((r["tenant_id"], r["property_id"]) == (spec.tenant_id, spec.property_id) for r in rows)


def test_demo_hotels() -> None:
    """Three fixed demo hotels: AF/Kabul, IN/Jaipur, SA/Riyadh with stable uuid4-shaped ids."""
    assert [(h.country, h.city, h.timezone, h.currency) for h in DEMO_HOTELS] == [
        ("AF", "Kabul", "Asia/Kabul", "AFN"),
        ("IN", "Jaipur", "Asia/Kolkata", "INR"),
        ("SA", "Riyadh", "Asia/Riyadh", "SAR"),
    ]
    ids = [i for h in DEMO_HOTELS for i in (h.tenant_id, h.property_id)]
    assert len(set(ids)) == 6
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert all(40 <= h.room_count <= 120 for h in DEMO_HOTELS)


def test_spec_validation() -> None:
    """Mismatched currency or empty room types are refused."""
    base = DEMO_HOTELS[0]
    with pytest.raises(ValueError, match="currency"):
        replace(base, currency="SAR")
    with pytest.raises(ValueError, match="room types"):
        replace(base, room_types=())
    with pytest.raises(ValueError):
        generate(base, END, START)
    tiny = replace(
        base,
        room_count=2,
        room_types=(RoomTypeSpec("STD", "Standard", Decimal("1"), 9), RoomTypeSpec("STE", "Suite", Decimal("2"), 1)),
    )
    assert Counter(r["room_type"] for r in generate(tiny, START, START).rooms) == {"STD": 1, "STE": 1}


# -- the second pass: identities, bookings, housekeeping, folios, payments, invoices --------------

CENT = Decimal("0.01")
STAYED = ("checked_out", "in_house")


def _round(amount: Decimal) -> Decimal:
    """Half up to the cent, computed here independently of the generator."""
    return amount.quantize(CENT, ROUND_HALF_UP)


def _folio_lines_by_folio(data: SyntheticHotelData) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for line in data.folio_lines:
        out[line["folio_id"]].append(line)
    return out


def _payments_by_folio(data: SyntheticHotelData) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for payment in data.payments:
        out[payment["folio_id"]].append(payment)
    return out


# The first pass's columns (all but reservations.channel, which the second pass corrects for
# bookings that never arrived) and their digest over START..END, computed with the generator as it
# was before folios, payments and invoices existed.
FIRST_PASS_COLUMNS = {
    "rooms": ("tenant_id", "property_id", "room_id", "room_number", "room_type", "floor"),
    "room_status_daily": ("tenant_id", "property_id", "business_date", "room_id", "status"),
    "guests": ("tenant_id", "property_id", "guest_id", "display_name", "nationality", "is_foreign"),
    "reservations": ("tenant_id", "property_id", "reservation_id", "guest_id", "arrival_date", "departure_date",
                     "status", "segment", "rate_plan", "is_complimentary", "is_house_use", "adults", "children",
                     "group_code"),
    "room_nights": ("tenant_id", "property_id", "reservation_id", "room_id", "stay_date", "room_revenue", "currency"),
}
FIRST_PASS_DIGESTS = {
    "Bagh-e-Bala Hotel": "2fdc3e015fa33d91379c19b8b5237c710d8f01f34e181ff122b92e5c0918e6f5",
    "Amber Fort Residency": "75307cfe2afa47a14b1a197f5cd9157a1c4fa8012cdd8861cd780c3508350dee",
    "Al Murabba Suites": "2c12ca4b7a34e3c304c18519052c8ce2a0ac248b79e9aeefd878792378f61556",
}


def test_adding_detail_left_the_original_stays_untouched(data: SyntheticHotelData) -> None:
    """Rooms, stays and nights are exactly what the first pass made before the second pass existed.

    Golden snapshots of the daily occupancy report are rendered from them: a change here changes all of those.
    """
    digest = hashlib.sha256()
    for table, columns in FIRST_PASS_COLUMNS.items():
        for row in data.tables()[table]:
            digest.update(repr([row[c] for c in columns]).encode())
    assert digest.hexdigest() == FIRST_PASS_DIGESTS[data.spec.name]


def test_every_table_loads_with_every_column_filled_in(data: SyntheticHotelData) -> None:
    """Rows carry exactly the schema's columns (none silently NULL by omission) and load into DuckDB."""
    conn = duckdb.connect()
    conn.execute(resources.files("reporting.adapters.warehouse").joinpath("schema.sql").read_text("utf-8"))
    tables = {t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'dw'").fetchall()}
    assert tables == set(data.tables())
    for table, rows in data.tables().items():
        assert rows or (table == "invoices" and data.spec.country != "SA"), f"dw.{table} is empty"
        columns = {c for (c, *_) in conn.execute(f'DESCRIBE dw."{table}"').fetchall()}
        assert all(set(row) == columns for row in rows), table
    conn.close()
    with DuckDBWarehouse() as wh:
        assert load_into(wh, data) == {table: len(rows) for table, rows in data.tables().items()}


def test_reservations_carry_rooms_rates_and_dates_that_agree_with_the_stays(data: SyntheticHotelData) -> None:
    """Room and rate as posted, booking before arrival, cancellation dates only on cancellations."""
    spec = data.spec
    nights: dict[str, list[dict]] = defaultdict(list)
    for n in data.room_nights:
        nights[n["reservation_id"]].append(n)
    room_type = {r["room_id"]: r["room_type"] for r in data.rooms}
    assert len({r["confirmation_number"] for r in data.reservations}) == len(data.reservations)
    for r in data.reservations:
        assert re.fullmatch(r"[A-Z]{3}-\d{6}", r["confirmation_number"])
        assert r["currency"] == spec.currency
        assert r["booked_on"] <= r["arrival_date"] and r["booked_on"] <= END
        if r["status"] in STAYED:
            assert {n["room_id"] for n in nights[r["reservation_id"]]} == {r["room_id"]}
            assert r["room_type"] == room_type[r["room_id"]]
            assert {n["room_revenue"] for n in nights[r["reservation_id"]]} == {r["nightly_rate"]}
            assert r["checked_in_at"].date() == r["arrival_date"]
        else:
            assert r["room_id"] is None and r["checked_in_at"] is None
            assert r["channel"] != "walk_in"  # nobody walks in and then fails to arrive
            assert r["nightly_rate"] > 0 and r["room_type"] in {t.code for t in spec.room_types}
        assert (r["checked_out_at"] is not None) == (r["status"] == "checked_out")
        if r["checked_out_at"] is not None:
            assert r["checked_out_at"].date() == r["departure_date"]
        if r["status"] == "cancelled":
            assert r["booked_on"] <= r["cancelled_on"] <= min(r["arrival_date"], END)
            assert r["cancellation_reason"]
        else:
            assert r["cancelled_on"] is None and r["cancellation_reason"] is None
        assert (r["penalty_amount"] > 0) <= (r["status"] in ("no_show", "cancelled"))
    cancelled = [r for r in data.reservations if r["status"] == "cancelled"]
    assert any((r["arrival_date"] - r["cancelled_on"]).days <= 1 for r in cancelled)  # late ones
    assert any((r["arrival_date"] - r["cancelled_on"]).days > 7 for r in cancelled)  # early ones


def test_guests_have_well_formed_obviously_fake_identity_documents(data: SyntheticHotelData) -> None:
    """Passports and visas for foreigners valid on every arrival; national ids for nationals."""
    spec = data.spec
    arrivals: dict[str, list[dict]] = defaultdict(list)
    for r in data.reservations:
        arrivals[r["guest_id"]].append(r)
    visa_exempt = {"IN": {"NP"}, "SA": {"AE", "BH", "KW", "OM", "QA"}}.get(spec.country, set())
    for g in data.guests:
        first = min(r["arrival_date"] for r in arrivals[g["guest_id"]])
        assert g["family_name"] == "Demo" and f"{g['family_name']} {g['given_names']}" == g["display_name"]
        assert g["gender"] in ("F", "M")
        assert date(first.year - 76, 1, 1) <= g["date_of_birth"] <= date(first.year - 18, first.month, first.day)
        assert g["home_country"] == g["nationality"] and g["home_address"].endswith(g["home_city"])
        assert g["document_issue_date"] < first < g["document_expiry_date"]
        if g["is_foreign"]:
            assert g["document_type"] == "passport"
            assert re.fullmatch(r"ZZ\d{7}", g["document_number"])  # no real passport series starts ZZ
            assert g["document_issuing_country"] == g["nationality"]
            if g["nationality"] in visa_exempt:
                assert g["visa_number"] is None and g["visa_type"] is None
            else:
                assert re.fullmatch(r"VZ\d{7}", g["visa_number"]) and g["visa_type"] and g["visa_issue_place"]
                for r in arrivals[g["guest_id"]]:
                    assert g["visa_issue_date"] <= r["country_entry_date"] <= r["arrival_date"] <= g["visa_expiry_date"]
        else:
            assert g["document_type"] == "national_id" and g["document_number"].startswith(("0000", "1000"))
            assert g["document_issuing_country"] == spec.country and g["visa_number"] is None
    guests = {g["guest_id"]: g for g in data.guests}
    for r in data.reservations:
        assert r["purpose_of_visit"] in ("tourism", "business", "conference", "official", "visiting_family", "medical")
        assert r["arrived_from_city"] and r["arrived_from_country"] and r["next_destination_city"]
        assert (r["country_entry_date"] is not None) == guests[r["guest_id"]]["is_foreign"]


def test_housekeeping_has_every_room_every_day_consistent_with_stays_and_repairs(data: SyntheticHotelData) -> None:
    """Occupied exactly when a guest sleeps there; out of order/service exactly as room_status_daily says."""
    days = (END - START).days + 1
    assert len(data.room_housekeeping_daily) == len(data.rooms) * days
    occupied = {(n["room_id"], n["stay_date"]) for n in data.room_nights}
    service = {(s["room_id"], s["business_date"]): s["status"] for s in data.room_status_daily}
    for h in data.room_housekeeping_daily:
        key = (h["room_id"], h["business_date"])
        assert (h["occupancy_status"] == "occupied") == (key in occupied)
        assert h["service_status"] == service.get(key, "in_service")
        if h["service_status"] == "out_of_order":
            assert h["housekeeping_status"] == "dirty"
    assert {h["housekeeping_status"] for h in data.room_housekeeping_daily} == {"clean", "dirty", "inspected"}


def test_folios_post_every_paid_night_and_balance_at_check_out(data: SyntheticHotelData) -> None:
    """Room lines equal the posted nights; at check-out, postings up to then equal payments up to then."""
    lines_of = _folio_lines_by_folio(data)
    paid_of = _payments_by_folio(data)
    reservations = {r["reservation_id"]: r for r in data.reservations}
    room_lines = Counter()
    for line in data.folio_lines:
        if line["line_type"] == "room":
            room_lines[(line["reservation_id"], line["business_date"], line["amount"])] += 1
    paying_nights = Counter(
        (n["reservation_id"], n["stay_date"], n["room_revenue"]) for n in data.room_nights if n["room_revenue"] > 0
    )
    assert room_lines == paying_nights
    stays = [f for f in data.folios if f["kind"] == "stay"]
    assert {f["reservation_id"] for f in stays} == {r["reservation_id"] for r in data.reservations
                                                    if r["status"] in STAYED}
    checked_out = 0
    for folio in data.folios:
        res = reservations[folio["reservation_id"]]
        lines, payments = lines_of[folio["folio_id"]], paid_of[folio["folio_id"]]
        assert all(line["currency"] == data.spec.currency for line in lines)
        if folio["status"] == "open":
            assert folio["kind"] == "stay" and res["status"] == "in_house" and folio["closed_on"] is None
            continue
        # Closed: it balances at the moment of check-out, and still after any later correction.
        at = (res["checked_out_at"] if folio["kind"] == "stay"
              else datetime.combine(folio["closed_on"], datetime.max.time()))
        posted = sum(line["amount"] for line in lines if line["posted_at"] <= at)
        paid = sum(p["amount"] for p in payments if p["paid_at"] <= at)
        assert posted == paid, folio["folio_id"]
        assert sum(line["amount"] for line in lines) == sum(p["amount"] for p in payments)
        checked_out += folio["kind"] == "stay"
    assert checked_out > 100
    # A charged no-show or late cancellation: one fee line of one night, and nothing else is a fee.
    fees = defaultdict(list)
    for line in data.folio_lines:
        if line["line_type"] == "fee":
            fees[line["reservation_id"]].append(line["amount"])
    charged = {r["reservation_id"]: r for r in data.reservations if r["penalty_amount"]}
    assert set(fees) == set(charged) and charged
    for rid, res in charged.items():
        assert fees[rid] == [res["penalty_amount"]] == [res["nightly_rate"]]


def test_payments_come_from_the_cashier_on_shift_with_every_method_and_some_refunds(data: SyntheticHotelData) -> None:
    """Shift follows the local time, the business date the shift's; refunds are negative."""
    shift_of_hour = {**{h: "morning" for h in range(6, 14)}, **{h: "evening" for h in range(14, 22)},
                     22: "night", 23: "night"}
    for p in data.payments:
        assert p["shift"] == shift_of_hour[p["paid_at"].hour]
        assert p["business_date"] == p["paid_at"].date() and START <= p["business_date"] <= END
        assert re.fullmatch(r"CSH-0[1-6]", p["cashier_id"])
        assert (p["amount"] < 0) == (p["kind"] == "refund")
    on_duty = defaultdict(set)
    for p in data.payments:
        on_duty[(p["business_date"], p["shift"])].add(p["cashier_id"])
    assert all(len(c) <= (1 if shift == "night" else 2) for (_, shift), c in on_duty.items())
    assert {p["method"] for p in data.payments} == {"cash", "card", "bank_transfer", "mobile_wallet"}
    assert {p["shift"] for p in data.payments} == {"morning", "evening", "night"}
    assert {p["kind"] for p in data.payments} == {"deposit", "settlement", "refund"}


def test_ksa_invoices_charge_15_percent_vat_to_the_halala_and_number_in_issue_order() -> None:
    """Every KSA invoice and credit note: VAT = 15% of net rounded half up, folio lines agree, ICV 1..n."""
    data = generate(DEMO_HOTELS[2], START, END)
    assert data.spec.country == "SA"
    lines_of_invoice: dict[str, list[dict]] = defaultdict(list)
    for line in data.folio_lines:
        if line["invoice_id"]:
            lines_of_invoice[line["invoice_id"]].append(line)
    by_id = {i["invoice_id"]: i for i in data.invoices}
    paid_of = _payments_by_folio(data)
    for inv in data.invoices:
        uuid.UUID(inv["invoice_id"])
        assert inv["currency"] == "SAR" and inv["vat_rate"] == Decimal("0.15")
        net = inv["net_amount"]
        assert inv["vat_amount"] == (1 if net > 0 else -1) * _round(abs(net) * Decimal("0.15"))
        assert inv["total_amount"] == net + inv["vat_amount"]
        charges = [line for line in lines_of_invoice[inv["invoice_id"]] if line["line_type"] != "tax"]
        [vat_line] = [line for line in lines_of_invoice[inv["invoice_id"]] if line["line_type"] == "tax"]
        assert sum(line["amount"] for line in charges) == net and vat_line["amount"] == inv["vat_amount"]
        assert inv["issue_date"] == inv["issued_at"].date()
        if inv["document_type"] == "credit_note":
            assert inv["invoice_type_code"] == "381" and net < 0 and inv["credit_reason"]
            original = by_id[inv["original_invoice_id"]]
            assert original["document_type"] == "invoice" and original["folio_id"] == inv["folio_id"]
            assert original["icv"] < inv["icv"]
            [refund] = [p for p in data.payments if p["invoice_id"] == inv["invoice_id"]]
            assert refund["amount"] == inv["total_amount"] and refund["kind"] == "refund"
        else:
            assert inv["invoice_type_code"] == "388" and net > 0 and inv["original_invoice_id"] is None
        # Paid (or refunded) the way the folio's money actually moved at that moment.
        moved = {p["method"] for p in paid_of[inv["folio_id"]] if p["paid_at"] <= inv["issued_at"]}
        assert inv["payment_method"] in moved
    icvs = [i["icv"] for i in data.invoices]
    assert icvs == list(range(1, len(icvs) + 1))
    assert [i["issued_at"] for i in data.invoices] == sorted(i["issued_at"] for i in data.invoices)
    assert len({i["invoice_number"] for i in data.invoices}) == len(icvs)
    assert {i["document_type"] for i in data.invoices} == {"invoice", "credit_note"}
    [hotel] = data.properties
    assert re.fullmatch(r"3\d{13}3", hotel["vat_number"]) and re.fullmatch(r"\d{10}", hotel["commercial_registration"])
    assert re.fullmatch(r"\d{4}", hotel["building_number"]) and re.fullmatch(r"\d{5}", hotel["postal_code"])
    # Every VAT line belongs to an invoice: nothing taxed outside one.
    assert all(line["invoice_id"] for line in data.folio_lines if line["line_type"] == "tax")
    # Every closed stay with charges was invoiced.
    invoiced = {i["folio_id"] for i in data.invoices}
    lines_of_folio = _folio_lines_by_folio(data)
    for folio in data.folios:
        charged = any(line["line_type"] != "tax" for line in lines_of_folio[folio["folio_id"]])
        assert (folio["folio_id"] in invoiced) == (folio["status"] == "closed" and charged)


def test_india_charges_gst_per_line_by_tariff_slab_and_afghanistan_none() -> None:
    """IN: CGST + SGST halves of 12% or 18% on rooms by nightly tariff (before GST 2.0), 5% F&B, 18% other; AF: none."""
    assert END < date(2025, 9, 22)  # the generated months are all before GST 2.0 (see the next test)
    data = generate(DEMO_HOTELS[1], START, END)
    assert data.spec.country == "IN" and not data.invoices
    taxes: dict[str, dict[str, dict]] = defaultdict(dict)
    for line in data.folio_lines:
        if line["line_type"] == "tax":
            taxes[line["taxed_line_id"]][line["code"]] = line
    slabs = set()
    for line in data.folio_lines:
        if line["line_type"] == "tax":
            continue
        tariff = abs(line["amount"])
        if line["line_type"] in ("room", "fee"):
            rate = Decimal(0) if tariff <= 1000 else Decimal("0.12") if tariff <= 7500 else Decimal("0.18")
            slabs.add(rate)
        else:
            rate = Decimal("0.05") if line["line_type"] == "fnb" else Decimal("0.18")
        if not rate:
            assert line["line_id"] not in taxes
            continue
        assert set(taxes[line["line_id"]]) == {"CGST", "SGST"}
        for tax in taxes[line["line_id"]].values():
            assert tax["tax_rate"] == rate / 2
            assert tax["amount"] == (1 if line["amount"] > 0 else -1) * _round(tariff * rate / 2)
            assert tax["business_date"] == line["business_date"]
    assert {Decimal("0.12"), Decimal("0.18")} <= slabs
    kabul = generate(DEMO_HOTELS[0], START, END)
    assert not kabul.invoices and not [line for line in kabul.folio_lines if line["line_type"] == "tax"]


def test_room_gst_slab_follows_the_date_of_the_charge() -> None:
    """Before GST 2.0 (22 September 2025) a mid-range room paid 12%; from that day 5%; premium rooms 18% throughout."""
    assert gst_rate("room", Decimal("4500"), date(2025, 9, 21)) == Decimal("0.12")
    assert gst_rate("room", Decimal("4500"), date(2025, 9, 22)) == Decimal("0.05")
    assert gst_rate("room", Decimal("7500.01"), date(2025, 9, 22)) == gst_rate("room", Decimal("9000"), date(2024, 1, 1))
    assert gst_rate("room", Decimal("1000"), date(2026, 1, 1)) == 0
    after = generate(DEMO_HOTELS[1], date(2025, 9, 15), date(2025, 9, 30))
    rates = {(line["business_date"] >= date(2025, 9, 22), line["tax_rate"] * 2) for line in after.folio_lines
             if line["code"] == "CGST" and line["description"] and any(
                 r["line_id"] == line["taxed_line_id"] and r["line_type"] == "room" and abs(r["amount"]) <= 7500
                 for r in after.folio_lines)}
    assert rates == {(False, Decimal("0.12")), (True, Decimal("0.05"))}


def test_ninety_days_of_three_hotels_generate_and_load_in_a_few_seconds() -> None:
    """`make demo` seeds 90 days per hotel: generating and loading all three stays quick."""
    started = time.perf_counter()
    with DuckDBWarehouse() as wh:
        for spec in DEMO_HOTELS:
            load_into(wh, generate(spec, date(2025, 1, 1), date(2025, 3, 31)))
    # About 3 s on an idle machine; the bound leaves room for a busy CI runner.
    assert time.perf_counter() - started < 20
