"""The synthetic hotel generator: deterministic, honest room assignment, realistic shape."""

from __future__ import annotations

import re
import statistics
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from reporting.devenv.synthetic_hotels import (
    DEMO_HOTELS,
    RoomTypeSpec,
    SyntheticHotelData,
    generate,
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
