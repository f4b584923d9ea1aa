"""Deterministic synthetic hotel data for the local `dw` warehouse (demo and tests).

Two passes over one seed: the first makes rooms, stays and posted nights (what the daily
occupancy report reads); the second, from its own RNG so the first never changes, adds the
property, booking details, guests' identity documents, housekeeping, folios with taxes,
payments per cashier and shift, and KSA simplified invoices with their credit notes.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # Only for annotations: generating data must not need DuckDB.
    from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse

__all__ = [
    "DEMO_HOTELS",
    "HotelSpec",
    "RoomTypeSpec",
    "SyntheticHotelData",
    "generate",
    "gst_rate",
    "ksa_vat",
    "load_demo_hotels",
    "load_into",
    "shift_of",
]

Country = Literal["AF", "IN", "SA"]
Currency = Literal["AFN", "INR", "SAR"]
Row = dict[str, Any]

_CURRENCY_OF: dict[str, str] = {"AF": "AFN", "IN": "INR", "SA": "SAR"}
# Ids are uuid5 under a fixed namespace so they are stable across runs and Python versions.
_ID_NAMESPACE = uuid.UUID("7a1d0c56-3f4e-4b9a-8c2d-5e6f7a8b9c0d")
_CENT = Decimal("0.01")

# Occupancy shift by weekday (Mon=0 .. Sun=6). Kabul and Riyadh trade on a Sun–Thu
# business week (Friday is the weekend); Jaipur is a leisure market that peaks Fri/Sat.
_WEEKDAY_SHIFT: dict[str, tuple[float, ...]] = {
    "AF": (0.07, 0.07, 0.04, -0.05, -0.12, 0.03, 0.06),
    "IN": (-0.06, -0.08, -0.05, 0.00, 0.08, 0.12, -0.02),
    "SA": (0.08, 0.08, 0.05, -0.02, -0.10, -0.06, 0.06),
}
# Draw weights per booking decision; a group draw books a block of 3-10 rooms, so
# its weight is small to land groups at roughly 10-20% of room nights.
_SEGMENT_WEIGHTS: dict[str, dict[str, float]] = {
    "AF": {"transient": 0.32, "corporate": 0.27, "group": 0.025, "government": 0.23, "ota": 0.155},
    "IN": {"transient": 0.32, "corporate": 0.16, "group": 0.035, "government": 0.06, "ota": 0.425},
    "SA": {"transient": 0.27, "corporate": 0.32, "group": 0.025, "government": 0.16, "ota": 0.225},
}
# Share of guests who are not nationals of the property's country, and where they come from.
_FOREIGN_SHARE: dict[str, float] = {"AF": 0.24, "IN": 0.30, "SA": 0.36}
_FOREIGN_NATIONALITIES: dict[str, tuple[str, ...]] = {
    "AF": ("PK", "IR", "IN", "TR", "AE", "UZ", "TJ", "CN", "US", "GB", "DE", "QA"),
    "IN": ("US", "GB", "DE", "FR", "AE", "AU", "JP", "NP", "BD", "LK", "SG", "IT"),
    "SA": ("EG", "PK", "IN", "AE", "KW", "BH", "JO", "US", "GB", "ID", "MY", "TR"),
}
_RATE_FACTOR: dict[str, Decimal] = {
    "transient": Decimal("1.00"),
    "corporate": Decimal("0.85"),
    "group": Decimal("0.78"),
    "government": Decimal("0.80"),
    "ota": Decimal("0.92"),
}
_RATE_PLAN: dict[str, str] = {
    "transient": "BAR",
    "corporate": "CORP",
    "group": "GRP",
    "government": "GOV",
    "ota": "OTA",
}
_LOS_WEIGHTS = (0.30, 0.25, 0.18, 0.10, 0.07, 0.05, 0.05)  # 1..7 nights
_COMPLIMENTARY_SHARE = 0.015
_HOUSE_USE_SHARE = 0.010
_CANCEL_SHARE = 0.08
_NO_SHOW_SHARE = 0.03
_REPEAT_GUEST_SHARE = 0.12
_FUTURE_DAYS = 14  # 'reserved' bookings arriving after the last business date

# -- guests' identities and journeys (all obviously fake, but shaped like the real thing) --------

# A nationality's main city: where its passports and visas are issued and its guests travel from.
_MAIN_CITY: dict[str, str] = {
    "AF": "Kabul", "AE": "Dubai", "AU": "Sydney", "BD": "Dhaka", "BH": "Manama", "CN": "Beijing",
    "DE": "Berlin", "EG": "Cairo", "FR": "Paris", "GB": "London", "ID": "Jakarta", "IN": "New Delhi",
    "IR": "Tehran", "IT": "Rome", "JO": "Amman", "JP": "Tokyo", "KW": "Kuwait City", "LK": "Colombo",
    "MY": "Kuala Lumpur", "NP": "Kathmandu", "PK": "Islamabad", "QA": "Doha", "SA": "Riyadh",
    "SG": "Singapore", "TJ": "Dushanbe", "TR": "Istanbul", "US": "New York", "UZ": "Tashkent",
}
# Other cities of the property's country (never the property's own city).
_DOMESTIC_CITIES: dict[str, tuple[str, ...]] = {
    "AF": ("Mazar-i-Sharif", "Herat", "Kandahar", "Jalalabad", "Bamyan", "Kunduz"),
    "IN": ("New Delhi", "Mumbai", "Bengaluru", "Kolkata", "Chennai", "Ahmedabad", "Udaipur"),
    "SA": ("Jeddah", "Dammam", "Makkah", "Madinah", "Abha", "Tabuk"),
}
_HUBS = ("AE", "TR", "QA")  # foreign guests often connect through Dubai, Istanbul or Doha
_VISA_TYPES: dict[str, tuple[str, ...]] = {
    "AF": ("Tourist", "Business", "Work", "Official"),
    "IN": ("e-Tourist", "e-Business", "Business", "Employment", "Conference"),
    "SA": ("Tourist e-Visa", "Business Visit", "Work", "Family Visit"),
}
# Nationalities that enter without a visa (Nepal in India; GCC citizens in Saudi Arabia).
_VISA_EXEMPT: dict[str, frozenset[str]] = {
    "AF": frozenset(),
    "IN": frozenset({"NP"}),
    "SA": frozenset({"AE", "BH", "KW", "OM", "QA"}),
}
_PURPOSE_WEIGHTS: dict[str, dict[str, float]] = {
    "transient": {"tourism": 0.5, "visiting_family": 0.2, "business": 0.2, "medical": 0.1},
    "ota": {"tourism": 0.6, "visiting_family": 0.15, "business": 0.2, "medical": 0.05},
    "corporate": {"business": 0.85, "conference": 0.15},
    "government": {"official": 0.9, "conference": 0.1},
    "group": {"tourism": 0.65, "conference": 0.35},
}
# Days between booking and arrival, per channel (walk-ins book on the day).
_BOOKING_LEAD: dict[str, tuple[int, int]] = {
    "walk_in": (0, 0), "ota": (0, 30), "direct": (0, 45), "corporate": (1, 30),
}
_CANCELLATION_REASONS = ("guest_request", "travel_plans_changed", "booked_elsewhere", "duplicate_booking",
                         "payment_failed")
_CHECK_IN_HOURS = {8: 1, 9: 1, 10: 2, 11: 3, 12: 5, 13: 8, 14: 12, 15: 12, 16: 10, 17: 9, 18: 8, 19: 7, 20: 6,
                   21: 5, 22: 3, 23: 2}
_CHECK_OUT_HOURS = {6: 2, 7: 5, 8: 9, 9: 12, 10: 14, 11: 14, 12: 10, 13: 4, 14: 2, 15: 1}

# -- folios, payments, taxes -----------------------------------------------------------------------

_NIGHT_AUDIT = time(23, 50)  # room charges and no-show fees post at night audit (night shift)
_FNB_SHARE = 0.45  # chance of a food & beverage charge per night stayed
_OTHER_SHARE = 0.15  # laundry, transport, ...
_FNB_CHARGES = (("REST", "Restaurant"), ("RMSV", "Room service"), ("MINI", "Minibar"))
_OTHER_CHARGES = (("LAUN", "Laundry"), ("TRAN", "Airport transfer"))
_DEPOSIT_SHARE: dict[str, float] = {
    "transient": 0.55, "ota": 0.30, "group": 0.15, "corporate": 0.10, "government": 0.05,
}
_ADJUSTMENT_SHARE = 0.05  # closed folios with a charge reversed after check-out (refund; KSA credit note)
_NO_SHOW_CHARGED_SHARE = 0.5  # guaranteed no-shows are charged one night
_LATE_CANCEL_CHARGED_SHARE = 0.7  # cancellations within a day of arrival are charged one night
_DESK_METHODS = ("cash", "card", "mobile_wallet")
_DESK_METHOD_WEIGHTS: dict[str, tuple[float, ...]] = {
    "AF": (0.70, 0.12, 0.18),  # a cash economy; mobile money (M-Paisa / HesabPay) growing
    "IN": (0.20, 0.40, 0.40),  # UPI wallets as common as cards
    "SA": (0.10, 0.68, 0.22),  # cards and mada; STC Pay / Apple Pay
}
_BANK_TRANSFER_SHARE = 0.6  # corporate, government and group accounts mostly settle by transfer
_DEPOSIT_UNIT: dict[str, Decimal] = {"AF": Decimal(500), "IN": Decimal(500), "SA": Decimal(50)}
_TAX_HINT: dict[str, Decimal] = {"AF": Decimal(0), "IN": Decimal("0.18"), "SA": Decimal("0.15")}
_KSA_VAT = Decimal("0.15")
_CASHIERS = ("CSH-01", "CSH-02", "CSH-03", "CSH-04", "CSH-05", "CSH-06")
# Three teams of two rotate over the shifts day by day; the night shift is one cashier.
_CASHIER_TEAMS = (_CASHIERS[0:2], _CASHIERS[2:4], _CASHIERS[4:6])


@dataclass(frozen=True, slots=True)
class RoomTypeSpec:
    """A room type: code, label, nightly base rate (net of tax) and share of inventory."""

    code: str
    name: str
    base_rate: Decimal
    weight: int


@dataclass(frozen=True, slots=True)
class HotelSpec:
    """Everything that defines one synthetic hotel; same spec and dates give the same data."""

    tenant_id: str
    property_id: str
    name: str
    city: str
    country: Country
    currency: Currency
    timezone: str
    room_count: int
    room_types: tuple[RoomTypeSpec, ...]
    seed: int
    deduct_out_of_order: bool = True  # the Property setting the demo seeds alongside
    base_occupancy: float = 0.72
    rooms_per_floor: int = 20
    # The address (Form C's "address in India", the KSA seller's national address); made up when empty.
    building_number: str = ""
    street: str = ""
    district: str = ""
    postal_code: str = ""

    def __post_init__(self) -> None:
        """Refuse specs that cannot describe a real hotel."""
        if _CURRENCY_OF.get(self.country) != self.currency:
            raise ValueError(f"{self.name}: currency {self.currency} does not match country {self.country}")
        if self.room_count < 1 or self.rooms_per_floor < 1:
            raise ValueError(f"{self.name}: room_count and rooms_per_floor must be positive")
        if not self.room_types or any(t.weight <= 0 or t.base_rate <= 0 for t in self.room_types):
            raise ValueError(f"{self.name}: room types need positive weights and base rates")
        if len({t.code for t in self.room_types}) != len(self.room_types):
            raise ValueError(f"{self.name}: duplicate room type codes")
        if len(self.room_types) > self.room_count:
            raise ValueError(f"{self.name}: more room types than rooms")


@dataclass(frozen=True, slots=True)
class SyntheticHotelData:
    """Generated rows per `dw` table (plain dicts keyed by column)."""

    spec: HotelSpec
    start: date
    end: date
    rooms: list[Row] = field(default_factory=list)
    room_status_daily: list[Row] = field(default_factory=list)
    guests: list[Row] = field(default_factory=list)
    reservations: list[Row] = field(default_factory=list)
    room_nights: list[Row] = field(default_factory=list)
    properties: list[Row] = field(default_factory=list)
    room_housekeeping_daily: list[Row] = field(default_factory=list)
    folios: list[Row] = field(default_factory=list)
    folio_lines: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    invoices: list[Row] = field(default_factory=list)

    def tables(self) -> dict[str, list[Row]]:
        """Rows per dw table, in load order."""
        return {
            "properties": self.properties,
            "rooms": self.rooms,
            "room_status_daily": self.room_status_daily,
            "room_housekeeping_daily": self.room_housekeeping_daily,
            "guests": self.guests,
            "reservations": self.reservations,
            "room_nights": self.room_nights,
            "folios": self.folios,
            "folio_lines": self.folio_lines,
            "payments": self.payments,
            "invoices": self.invoices,
        }


def _days(start: date, end: date) -> list[date]:
    """Inclusive list of dates."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _stable_id(spec: HotelSpec, kind: str, n: int) -> str:
    """A uuid5 id unique per tenant, property, kind and sequence number."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{spec.tenant_id}/{spec.property_id}/{kind}/{n}"))


def _money(amount: Decimal) -> Decimal:
    """Round half up to the cent (halala, paisa, pul): how tax and totals are rounded here."""
    return amount.quantize(_CENT, ROUND_HALF_UP)


def shift_of(moment: datetime) -> str:
    """The cashier shift a local time falls in: morning 06-14, evening 14-22, night 22-06."""
    if 6 <= moment.hour < 14:
        return "morning"
    return "evening" if 14 <= moment.hour < 22 else "night"


# GST 2.0 (56th GST Council, in force 22 September 2025): a room of ₹7,500 a night or less moved
# from 12% (with input tax credit) to 5% (without); above ₹7,500 it stays 18%; ₹1,000 or less is exempt.
GST_2_0_FROM = date(2025, 9, 22)


def gst_rate(line_type: str, amount: Decimal, on: date) -> Decimal:
    """India GST on a charge posted on `on`: rooms (and fees on them) by the nightly tariff slab, F&B 5%, other 18%."""
    if line_type in ("room", "fee"):
        tariff = abs(amount)
        if tariff <= 1000:
            return Decimal(0)
        if tariff > 7500:
            return Decimal("0.18")
        return Decimal("0.05") if on >= GST_2_0_FROM else Decimal("0.12")
    return Decimal("0.05") if line_type == "fnb" else Decimal("0.18")


def ksa_vat(net: Decimal) -> Decimal:
    """KSA VAT on an invoice's net: 15% rounded half up to the halala (sign follows the net)."""
    return _money(net * _KSA_VAT)


def _split_rooms(spec: HotelSpec) -> list[int]:
    """Rooms per type by largest remainder, each type getting at least one room."""
    total_weight = sum(t.weight for t in spec.room_types)
    spare = spec.room_count - len(spec.room_types)
    exact = [spare * t.weight / total_weight for t in spec.room_types]
    counts = [1 + int(x) for x in exact]
    # Ties go to the earlier type so the split never depends on sort stability quirks.
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - int(exact[i])), i))
    for i in order[: spec.room_count - sum(counts)]:
        counts[i] += 1
    return counts


class _Generator:
    """One generation run: holds the RNG and the bookkeeping that prevents double booking."""

    def __init__(self, spec: HotelSpec, start: date, end: date) -> None:
        """Prepare an empty run over business dates start..end."""
        self.spec = spec
        self.start = start
        self.end = end
        self.rng = random.Random(spec.seed)  # never the global RNG: output must depend on the seed only
        self.data = SyntheticHotelData(spec=spec, start=start, end=end)
        self.room_ids_by_type: dict[str, list[str]] = {}
        self.room_type_of: dict[str, str] = {}
        self.blocked: set[tuple[str, date]] = set()  # OOO/OOS room-days: never sold
        self.occupied: set[tuple[str, date]] = set()  # room-nights already assigned
        self.occupied_count: dict[date, int] = defaultdict(int)
        self.arrivals: dict[date, int] = defaultdict(int)  # stays actually booked per arrival date
        self.guest_ids: list[str] = []
        self.reservation_seq = 0
        self.group_seq = 0
        self.stay_room: dict[str, tuple[str, Decimal]] = {}  # reservation id -> (room id, nightly rate)

    def _scope(self) -> Row:
        """The tenant and property columns every row carries."""
        return {"tenant_id": self.spec.tenant_id, "property_id": self.spec.property_id}

    def run(self) -> SyntheticHotelData:
        """Generate all tables."""
        self._rooms()
        days = _days(self.start, self.end)
        self._room_statuses(days)
        for day in days:
            self._fill_day(day)
            self._unfulfilled_bookings(day)
        for i in range(1, _FUTURE_DAYS + 1):
            self._future_bookings(self.end + timedelta(days=i), i)
        # Everything added after the first version draws from its own RNG, so the rooms, stays and
        # nights above are exactly what they were (other engineers' goldens depend on them).
        _Details(self).run()
        return self.data

    # -- inventory ----------------------------------------------------------------------

    def _rooms(self) -> None:
        """Rooms numbered floor by floor, cheaper types on lower floors."""
        idx = 0
        for room_type, count in zip(self.spec.room_types, _split_rooms(self.spec), strict=True):
            ids = self.room_ids_by_type.setdefault(room_type.code, [])
            for _ in range(count):
                floor = 1 + idx // self.spec.rooms_per_floor
                room_id = _stable_id(self.spec, "room", idx)
                self.data.rooms.append(
                    {
                        **self._scope(),
                        "room_id": room_id,
                        "room_number": f"{floor}{idx % self.spec.rooms_per_floor + 1:02d}",
                        "room_type": room_type.code,
                        "floor": floor,
                    }
                )
                ids.append(room_id)
                self.room_type_of[room_id] = room_type.code
                idx += 1

    def _room_statuses(self, days: list[date]) -> None:
        """A few rooms out of order (repairs) or out of service on some days."""
        statuses: dict[tuple[str, date], str] = {}
        room_ids = [r["room_id"] for r in self.data.rooms]
        expected_new = self.spec.room_count / 100  # ~1 new episode per 100 rooms per day
        trials = max(1, round(expected_new * 3))
        for day in days:
            for _ in range(trials):
                if self.rng.random() >= expected_new / trials:
                    continue
                room_id = self.rng.choice(room_ids)
                status = "out_of_order" if self.rng.random() < 0.8 else "out_of_service"
                for offset in range(self.rng.randint(1, 5)):
                    d = day + timedelta(days=offset)
                    if d > self.end:
                        break
                    # One status per room-day; out of order is the stronger one when episodes overlap.
                    if statuses.get((room_id, d)) != "out_of_order":
                        statuses[(room_id, d)] = status
        for (room_id, d), status in sorted(statuses.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            self.data.room_status_daily.append(
                {**self._scope(), "business_date": d, "room_id": room_id, "status": status}
            )
            self.blocked.add((room_id, d))

    # -- demand -------------------------------------------------------------------------

    def _target_occupied(self, day: date) -> int:
        """Rooms to have occupied on `day`: base level, weekday pattern, daily noise."""
        shift = _WEEKDAY_SHIFT[self.spec.country][day.weekday()]
        target = self.spec.base_occupancy + shift + self.rng.gauss(0.0, 0.04)
        target = min(0.95, max(0.45, target))
        sellable = sum(1 for r in self.data.rooms if (r["room_id"], day) not in self.blocked)
        return round(target * sellable)

    def _fill_day(self, day: date) -> None:
        """Create arrivals on `day` until the day's occupancy target is met or rooms run out."""
        needed = self._target_occupied(day) - self.occupied_count[day]
        segments = list(_SEGMENT_WEIGHTS[self.spec.country])
        weights = list(_SEGMENT_WEIGHTS[self.spec.country].values())
        while needed > 0:
            segment = self.rng.choices(segments, weights)[0]
            if segment == "group" and needed >= 3:
                self.group_seq += 1
                group_code = f"G{day:%y%m%d}-{self.group_seq:03d}"
                nights = self.rng.randint(2, 4)
                size = min(needed, self.rng.randint(3, 10))
                placed = sum(self._book(day, nights, "group", group_code) for _ in range(size))
            else:
                segment = "transient" if segment == "group" else segment
                placed = int(self._book(day, self._length_of_stay(), segment, None))
            if placed == 0:
                break  # nothing free tonight: the house is as full as honest assignment allows
            needed -= placed

    def _length_of_stay(self) -> int:
        """1..7 nights, short stays most common."""
        return self.rng.choices(range(1, 8), _LOS_WEIGHTS)[0]

    def _free_room(self, arrival: date, nights: int) -> tuple[str, int] | None:
        """A room free and in service for the stay (shortening it if needed), or None."""
        codes = [t.code for t in self.spec.room_types]
        inventory = [len(self.room_ids_by_type[c]) for c in codes]
        preferred = self.rng.choices(codes, inventory)[0]
        # Preferred type first, then the others in spec order (an upgrade or a downgrade).
        for code in [preferred, *[c for c in codes if c != preferred]]:
            for length in range(nights, 0, -1):
                stay = [arrival + timedelta(days=i) for i in range(length)]
                free = [
                    rid
                    for rid in self.room_ids_by_type[code]
                    if all((rid, d) not in self.occupied and (rid, d) not in self.blocked for d in stay)
                ]
                if free:
                    return self.rng.choice(free), length
        return None

    def _guest(self) -> str:
        """A returning guest sometimes, else a new clearly-fake guest profile."""
        if self.guest_ids and self.rng.random() < _REPEAT_GUEST_SHARE:
            return self.rng.choice(self.guest_ids)
        n = len(self.guest_ids) + 1
        country = self.spec.country
        foreign = self.rng.random() < _FOREIGN_SHARE[country]
        nationality = self.rng.choice(_FOREIGN_NATIONALITIES[country]) if foreign else country
        guest_id = _stable_id(self.spec, "guest", n)
        self.data.guests.append(
            {
                **self._scope(),
                "guest_id": guest_id,
                "display_name": f"Demo Guest {n:05d}",
                "nationality": nationality,
                "is_foreign": foreign,
            }
        )
        self.guest_ids.append(guest_id)
        return guest_id

    def _reservation(
        self,
        arrival: date,
        nights: int,
        segment: str,
        status: str,
        group_code: str | None,
        *,
        complimentary: bool = False,
        house_use: bool = False,
    ) -> Row:
        """Append one reservation row and return it."""
        self.reservation_seq += 1
        if segment == "ota":
            channel = "ota"
        elif segment == "corporate":
            channel = self.rng.choices(["corporate", "direct"], [0.7, 0.3])[0]
        elif segment == "government":
            channel = self.rng.choices(["direct", "corporate"], [0.6, 0.4])[0]
        elif segment == "group":
            channel = "direct"
        else:
            channel = self.rng.choices(["direct", "walk_in"], [0.6, 0.4])[0]
        rate_plan = "HOUSE" if house_use else "COMP" if complimentary else _RATE_PLAN[segment]
        row: Row = {
            **self._scope(),
            "reservation_id": _stable_id(self.spec, "reservation", self.reservation_seq),
            "guest_id": self._guest(),
            "arrival_date": arrival,
            "departure_date": arrival + timedelta(days=nights),
            "status": status,
            "segment": segment,
            "channel": channel,
            "rate_plan": rate_plan,
            "is_complimentary": complimentary,
            "is_house_use": house_use,
            "adults": self.rng.choices([1, 2, 3], [0.45, 0.45, 0.10])[0],
            "children": self.rng.choices([0, 1, 2], [0.80, 0.13, 0.07])[0],
            "group_code": group_code,
        }
        self.data.reservations.append(row)
        return row

    def _book(self, arrival: date, nights: int, segment: str, group_code: str | None) -> bool:
        """Book a stay into an honestly free room and post its nights up to the last business date."""
        found = self._free_room(arrival, nights)
        if found is None:
            return False
        room_id, nights = found
        draw = self.rng.random()
        # Groups are paid blocks; only individual stays are comped or used by the house.
        complimentary = group_code is None and draw < _COMPLIMENTARY_SHARE
        house_use = group_code is None and _COMPLIMENTARY_SHARE <= draw < _COMPLIMENTARY_SHARE + _HOUSE_USE_SHARE
        departure = arrival + timedelta(days=nights)
        self.arrivals[arrival] += 1
        # Night audit has run through self.end: a guest still here that night is in house.
        status = "checked_out" if departure <= self.end else "in_house"
        res = self._reservation(
            arrival, nights, segment, status, group_code, complimentary=complimentary, house_use=house_use
        )
        room_type = next(t for t in self.spec.room_types if t.code == self.room_type_of[room_id])
        rate = Decimal("0.00")
        if not (complimentary or house_use):
            noise = Decimal(str(round(self.rng.uniform(0.95, 1.05), 3)))
            rate = (room_type.base_rate * _RATE_FACTOR[segment] * noise).quantize(_CENT, ROUND_HALF_UP)
        # Recorded without drawing: the details pass completes the row from its own RNG.
        self.stay_room[res["reservation_id"]] = (room_id, rate)
        for i in range(nights):
            night = arrival + timedelta(days=i)
            self.occupied.add((room_id, night))
            self.occupied_count[night] += 1
            if night > self.end:
                continue  # future nights are not posted yet
            self.data.room_nights.append(
                {
                    **self._scope(),
                    "reservation_id": res["reservation_id"],
                    "room_id": room_id,
                    "stay_date": night,
                    "room_revenue": rate,
                    "currency": self.spec.currency,
                }
            )
        return True

    def _unfulfilled_bookings(self, day: date) -> None:
        """Cancellations and no-shows arriving on `day`: reservations without room nights."""
        arrivals = self.arrivals[day]
        segments = list(_SEGMENT_WEIGHTS[self.spec.country])
        weights = list(_SEGMENT_WEIGHTS[self.spec.country].values())
        for status, share in (("cancelled", _CANCEL_SHARE), ("no_show", _NO_SHOW_SHARE)):
            for _ in range(arrivals):
                if self.rng.random() < share:
                    segment = self.rng.choices(segments, weights)[0]
                    segment = "transient" if segment == "group" else segment
                    self._reservation(day, self._length_of_stay(), segment, status, None)

    def _future_bookings(self, day: date, days_ahead: int) -> None:
        """Bookings on the books for after the last business date (no nights posted)."""
        pace = max(0.0, 0.45 - 0.025 * days_ahead)  # fewer bookings the further out
        segments = list(_SEGMENT_WEIGHTS[self.spec.country])
        weights = list(_SEGMENT_WEIGHTS[self.spec.country].values())
        for _ in range(round(self.spec.room_count * pace * self.rng.uniform(0.7, 1.1))):
            segment = self.rng.choices(segments, weights)[0]
            segment = "transient" if segment == "group" else segment
            status = "cancelled" if self.rng.random() < _CANCEL_SHARE else "reserved"
            self._reservation(day, self._length_of_stay(), segment, status, None)


class _Details:
    """Second pass: the property, booking details, identities, housekeeping and the ledger.

    It draws from its own RNG, so adding detail never changes the stays the first pass made.
    """

    def __init__(self, gen: _Generator) -> None:
        """Share the first pass's rows and bookkeeping."""
        self.gen = gen
        self.spec = gen.spec
        self.data = gen.data
        self.start = gen.start
        self.end = gen.end
        self.rng = random.Random(gen.spec.seed * 7919 + 17)

    def run(self) -> None:
        """Fill in every table the first pass does not."""
        self._property()
        self._reservations()
        self._guests()
        self._housekeeping()
        _Ledger(self).run()

    def _property(self) -> None:
        """The hotel's own row: address for Form C, seller data for KSA invoices."""
        spec = self.spec
        building = spec.building_number or f"{1000 + spec.seed % 9000}"
        street = spec.street or "Demo Street"
        district = spec.district or "Demo District"
        self.data.properties.append(
            {
                **self.gen._scope(),
                "name": spec.name,
                "legal_name": f"{spec.name} Demo Hospitality Co.",
                "address_line": f"{building} {street}, {district}",
                "building_number": building,
                "street": street,
                "district": district,
                "city": spec.city,
                "postal_code": spec.postal_code or f"{10000 + spec.seed % 90000}",
                "country": spec.country,
                "currency": spec.currency,
                "timezone": spec.timezone,
                # ZATCA's shapes: VAT number 15 digits, first and last '3'; a Riyadh CRN starts 1010.
                "vat_number": f"3{spec.seed % 10**13:013d}3" if spec.country == "SA" else None,
                "commercial_registration": f"1010{spec.seed % 10**6:06d}" if spec.country == "SA" else None,
            }
        )

    def _clock(self, hour_weights: Mapping[int, int]) -> time:
        """A local time of day drawn from an hourly profile."""
        hour = self.rng.choices(list(hour_weights), list(hour_weights.values()))[0]
        return time(hour, self.rng.randint(0, 59))

    def _rate(self, room_type: str, segment: str) -> Decimal:
        """The nightly rate a booking that never stayed was made at."""
        base = next(t.base_rate for t in self.spec.room_types if t.code == room_type)
        noise = Decimal(str(round(self.rng.uniform(0.95, 1.05), 3)))
        return _money(base * _RATE_FACTOR[segment] * noise)

    def _reservations(self) -> None:
        """Confirmation numbers, rooms, rates, booking and cancellation dates, check-in/out times, journeys."""
        gen, rng = self.gen, self.rng
        codes = [t.code for t in self.spec.room_types]
        inventory = [len(gen.room_ids_by_type[c]) for c in codes]
        guests = {g["guest_id"]: g for g in self.data.guests}
        prefix = "".join(ch for ch in self.spec.city.upper() if ch.isalpha())[:3]
        for seq, res in enumerate(self.data.reservations, start=1):
            arrival, departure, status = res["arrival_date"], res["departure_date"], res["status"]
            if res["channel"] == "walk_in" and status not in ("checked_out", "in_house"):
                # The first pass draws channels before it knows a booking will never arrive; a guest
                # who cancels, does not show or books ahead did not walk in.
                res["channel"] = "direct"
            stay = gen.stay_room.get(res["reservation_id"])
            if stay is not None:
                room_id, rate = stay
                room_type = gen.room_type_of[room_id]
            else:
                room_id = None
                room_type = rng.choices(codes, inventory)[0]
                rate = self._rate(room_type, res["segment"])
            lo, hi = (20, 90) if res["segment"] == "group" else _BOOKING_LEAD[res["channel"]]
            # Whatever is on the books was booked by the last business date.
            booked_on = min(arrival - timedelta(days=rng.randint(lo, hi)), self.end)
            cancelled_on = reason = None
            if status == "cancelled":
                lead = rng.randint(0, 1) if rng.random() < 0.25 else rng.randint(2, 30)
                cancelled_on = max(booked_on, min(arrival - timedelta(days=lead), arrival, self.end))
                reason = rng.choice(_CANCELLATION_REASONS)
            stayed = status in ("checked_out", "in_house")
            purposes = _PURPOSE_WEIGHTS[res["segment"]]
            res.update(
                {
                    "confirmation_number": f"{prefix}-{seq:06d}",
                    "room_type": room_type,
                    "room_id": room_id,
                    "nightly_rate": rate,
                    "currency": self.spec.currency,
                    "booked_on": booked_on,
                    "cancelled_on": cancelled_on,
                    "cancellation_reason": reason,
                    "penalty_amount": Decimal("0.00"),  # the ledger sets it when it charges one
                    "checked_in_at": datetime.combine(arrival, self._clock(_CHECK_IN_HOURS)) if stayed else None,
                    "checked_out_at": (
                        datetime.combine(departure, self._clock(_CHECK_OUT_HOURS))
                        if status == "checked_out" else None
                    ),
                    "purpose_of_visit": rng.choices(list(purposes), list(purposes.values()))[0],
                    **self._journey(guests[res["guest_id"]], arrival),
                }
            )

    def _journey(self, guest: Row, arrival: date) -> Row:
        """Where the guest came from and goes next; when a foreigner entered the country."""
        rng, country = self.rng, self.spec.country
        domestic = _DOMESTIC_CITIES[country]
        nationality = guest["nationality"]
        if not guest["is_foreign"]:
            origin, onward, entry = (rng.choice(domestic), country), (rng.choice(domestic), country), None
        else:
            draw = rng.random()
            if draw < 0.55:
                origin = (_MAIN_CITY[nationality], nationality)
            elif draw < 0.8:
                hub = rng.choice([h for h in _HUBS if h not in (nationality, country)])
                origin = (_MAIN_CITY[hub], hub)
            else:
                origin = (rng.choice(domestic), country)  # already travelling in the country
            days_in_country = rng.randint(2, 12) if origin[1] == country else rng.choices([0, 1, 2], [7, 2, 1])[0]
            entry = arrival - timedelta(days=days_in_country)
            onward = (rng.choice(domestic), country) if rng.random() < 0.35 else (_MAIN_CITY[nationality], nationality)
        return {
            "arrived_from_city": origin[0],
            "arrived_from_country": origin[1],
            "next_destination_city": onward[0],
            "next_destination_country": onward[1],
            "country_entry_date": entry,
        }

    def _guests(self) -> None:
        """Identity documents: passports and visas for foreigners, national ids for nationals."""
        rng, country = self.rng, self.spec.country
        first_arrival: dict[str, date] = {}
        for res in self.data.reservations:
            gid = res["guest_id"]
            first_arrival[gid] = min(first_arrival.get(gid, res["arrival_date"]), res["arrival_date"])
        for guest in self.data.guests:
            first = first_arrival[guest["guest_id"]]
            nationality, foreign = guest["nationality"], guest["is_foreign"]
            home_city = _MAIN_CITY[nationality] if foreign else rng.choice(_DOMESTIC_CITIES[country])
            identity: Row = {
                "family_name": "Demo",
                "given_names": guest["display_name"].removeprefix("Demo "),
                "gender": rng.choices(["M", "F"], [0.6, 0.4])[0],
                "date_of_birth": first - timedelta(days=rng.randint(18 * 366, 75 * 365)),
                "home_address": f"{rng.randint(1, 250)} Sample Street, {home_city}",
                "home_city": home_city,
                "home_country": nationality,
                "visa_number": None,
                "visa_type": None,
                "visa_issue_place": None,
                "visa_issue_date": None,
                "visa_expiry_date": None,
            }
            if foreign:
                # Valid well past every stay of a 90-day window; issued ten years before expiry.
                expiry = first + timedelta(days=rng.randint(400, 3300))
                identity.update(
                    {
                        "document_type": "passport",
                        "document_number": f"ZZ{rng.randint(0, 9_999_999):07d}",  # 'ZZ': no real series
                        "document_issuing_country": nationality,
                        "document_issue_place": _MAIN_CITY[nationality],
                        "document_issue_date": expiry - timedelta(days=3652),
                        "document_expiry_date": expiry,
                    }
                )
                if nationality not in _VISA_EXEMPT[country]:
                    visa_type = rng.choice(_VISA_TYPES[country])
                    issued = first - timedelta(days=rng.randint(14, 90))  # before any entry the guest makes
                    identity.update(
                        {
                            "visa_number": f"VZ{rng.randint(0, 9_999_999):07d}",
                            "visa_type": visa_type,
                            "visa_issue_place": "Online" if "e-" in visa_type else _MAIN_CITY[nationality],
                            "visa_issue_date": issued,
                            "visa_expiry_date": issued + timedelta(days=365),
                        }
                    )
            else:
                issued = first - timedelta(days=rng.randint(200, 3000))
                identity.update(
                    {
                        "document_type": "national_id",
                        # Shaped like each country's id; the leading zeros mark them as fake.
                        "document_number": {
                            "AF": f"0000-{rng.randint(0, 9999):04d}-{rng.randint(0, 99999):05d}",
                            "IN": f"0000 {rng.randint(0, 9999):04d} {rng.randint(0, 9999):04d}",
                            "SA": f"1000{rng.randint(0, 999_999):06d}",
                        }[country],
                        "document_issuing_country": country,
                        "document_issue_place": home_city,
                        "document_issue_date": issued,
                        "document_expiry_date": issued + timedelta(days=3652),
                    }
                )
            guest.update(identity)

    def _housekeeping(self) -> None:
        """Every room on every business date: occupied or vacant, clean, dirty or inspected, in service or not."""
        rng = self.rng
        occupied = {(n["room_id"], n["stay_date"]) for n in self.data.room_nights}
        arrivals = {(r["room_id"], r["arrival_date"]) for r in self.data.reservations if r["room_id"]}
        departures = {
            (r["room_id"], r["departure_date"]) for r in self.data.reservations if r["status"] == "checked_out"
        }
        service = {(s["room_id"], s["business_date"]): s["status"] for s in self.data.room_status_daily}
        for day in _days(self.start, self.end):
            for room in self.data.rooms:
                key = (room["room_id"], day)
                status = service.get(key, "in_service")
                if status == "out_of_order":
                    hk = "dirty"  # under repair
                elif key in occupied:
                    # A room readied for today's arrival stays clean; stayovers are serviced unless they decline.
                    hk = "clean" if key in arrivals else rng.choices(["clean", "dirty"], [0.8, 0.2])[0]
                elif key in departures:
                    hk = rng.choices(["dirty", "clean", "inspected"], [0.3, 0.3, 0.4])[0]
                else:
                    hk = rng.choices(["inspected", "clean", "dirty"], [0.65, 0.3, 0.05])[0]
                self.data.room_housekeeping_daily.append(
                    {
                        **self.gen._scope(),
                        "business_date": day,
                        "room_id": room["room_id"],
                        "occupancy_status": "occupied" if key in occupied else "vacant",
                        "housekeeping_status": hk,
                        "service_status": status,
                    }
                )


class _Ledger:
    """Folios, their lines, payments and KSA invoices: consistent with the stays and with each other.

    Stays: room charges at night audit, F&B and other charges during the stay, taxes per
    country, a deposit at check-in for some, settlement or refund at check-out so the folio
    balances, and now and then a charge reversed after check-out (refunded; a credit note in KSA).
    Charged no-shows and late cancellations get a folio of their own, paid by card.
    """

    def __init__(self, details: _Details) -> None:
        """Prepare an empty ledger over the details pass's rows."""
        self.d = details
        self.spec = details.spec
        self.data = details.data
        self.rng = details.rng
        self.country = details.spec.country
        self.seq: dict[str, int] = defaultdict(int)
        self.lines_of: dict[str, list[Row]] = defaultdict(list)
        self.paid_of: dict[str, Decimal] = defaultdict(Decimal)
        self.price_base = min(t.base_rate for t in details.spec.room_types)

    def run(self) -> None:
        """Post every stay and charged cancellation, then number the invoices in issue order."""
        nights: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        for n in self.data.room_nights:
            nights[n["reservation_id"]].append((n["stay_date"], n["room_revenue"]))
        for res in self.data.reservations:
            if res["status"] in ("checked_out", "in_house"):
                self._stay(res, sorted(nights[res["reservation_id"]]))
            elif res["status"] in ("no_show", "cancelled"):
                self._penalty(res)
        self._number_invoices()

    # -- postings -------------------------------------------------------------------------

    def _id(self, kind: str) -> str:
        """The next stable id of a kind."""
        self.seq[kind] += 1
        return _stable_id(self.spec, kind, self.seq[kind])

    def _folio(self, res: Row, kind: str, opened_on: date, closed_on: date | None) -> Row:
        """Open a folio for a reservation."""
        row = {
            **self.d.gen._scope(),
            "folio_id": self._id("folio"),
            "reservation_id": res["reservation_id"],
            "guest_id": res["guest_id"],
            "kind": kind,
            "status": "open" if closed_on is None else "closed",
            "opened_on": opened_on,
            "closed_on": closed_on,
            "currency": self.spec.currency,
        }
        self.data.folios.append(row)
        return row

    def _line(self, folio: Row, when: datetime, line_type: str, code: str, description: str, amount: Decimal,
              *, tax_rate: Decimal | None = None, taxed_line_id: str | None = None,
              invoice_id: str | None = None) -> Row:
        """Post one folio line."""
        row = {
            **self.d.gen._scope(),
            "line_id": self._id("folio_line"),
            "folio_id": folio["folio_id"],
            "reservation_id": folio["reservation_id"],
            "business_date": _business_date(when),
            "posted_at": when,
            "line_type": line_type,
            "code": code,
            "description": description,
            "amount": amount,
            "currency": self.spec.currency,
            "tax_rate": tax_rate,
            "taxed_line_id": taxed_line_id,
            "invoice_id": invoice_id,
        }
        self.data.folio_lines.append(row)
        self.lines_of[folio["folio_id"]].append(row)
        return row

    def _charge(self, folio: Row, when: datetime, line_type: str, code: str, description: str,
                amount: Decimal) -> list[Row]:
        """A charge and, in India, its CGST and SGST lines (KSA VAT comes with the invoice)."""
        lines = [self._line(folio, when, line_type, code, description, amount)]
        rate = gst_rate(line_type, amount, lines[0]["business_date"]) if self.country == "IN" else Decimal(0)
        if rate:
            half = rate / 2  # intra-state supply: half central, half state tax
            for tax in ("CGST", "SGST"):
                lines.append(
                    self._line(folio, when, "tax", tax, f"{tax} {(half * 100).normalize():f}%", _money(amount * half),
                               tax_rate=half, taxed_line_id=lines[0]["line_id"])
                )
        return lines

    def _pay(self, folio: Row, when: datetime, method: str, kind: str, amount: Decimal,
             invoice_id: str | None = None) -> Row:
        """Record money taken (positive) or refunded (negative) by the cashier on duty."""
        row = {
            **self.d.gen._scope(),
            "payment_id": self._id("payment"),
            "folio_id": folio["folio_id"],
            "reservation_id": folio["reservation_id"],
            "business_date": _business_date(when),
            "paid_at": when,
            "shift": shift_of(when),
            "cashier_id": self._cashier(when),
            "method": method,
            "kind": kind,
            "amount": amount,
            "currency": self.spec.currency,
            "invoice_id": invoice_id,
        }
        self.data.payments.append(row)
        self.paid_of[folio["folio_id"]] += amount
        return row

    def _cashier(self, when: datetime) -> str:
        """Who is on duty: teams rotate over the shifts day by day, one cashier at night."""
        shift = shift_of(when)
        day = (_business_date(when) - self.d.start).days
        team = _CASHIER_TEAMS[(day + ("morning", "evening", "night").index(shift)) % len(_CASHIER_TEAMS)]
        return team[0] if shift == "night" else self.rng.choice(team)

    def _invoice(self, folio: Row, res: Row, when: datetime, covered: list[Row], document_type: str,
                 original_invoice_id: str | None = None, reason: str | None = None) -> Row:
        """A KSA simplified invoice (or credit note) over some charge lines, with its VAT line."""
        invoice_id = self._id("invoice")
        net = sum((line["amount"] for line in covered), Decimal(0))
        vat = ksa_vat(net)
        for line in covered:
            line["invoice_id"] = invoice_id
        self._line(folio, when, "tax", "VAT", "VAT 15%", vat, tax_rate=_KSA_VAT, invoice_id=invoice_id)
        row = {
            **self.d.gen._scope(),
            "invoice_id": invoice_id,
            "invoice_number": "",  # numbered in issue order once all are known
            "icv": 0,
            "document_type": document_type,
            "invoice_type_code": "388" if document_type == "invoice" else "381",
            "invoice_subtype": "0200000",
            "folio_id": folio["folio_id"],
            "reservation_id": res["reservation_id"],
            "guest_id": res["guest_id"],
            "issue_date": when.date(),
            "issued_at": when,
            "original_invoice_id": original_invoice_id,
            "credit_reason": reason,
            "currency": self.spec.currency,
            "net_amount": net,
            "vat_rate": _KSA_VAT,
            "vat_amount": vat,
            "total_amount": net + vat,
            "payment_method": None,  # set once the money has moved
        }
        self.data.invoices.append(row)
        return row

    def _balance(self, folio: Row) -> Decimal:
        """Charges and taxes posted minus money received."""
        return sum((line["amount"] for line in self.lines_of[folio["folio_id"]]), Decimal(0)) - self.paid_of[
            folio["folio_id"]
        ]

    # -- methods of payment -------------------------------------------------------------------

    def _desk_method(self) -> str:
        """How a guest pays at the desk, by country."""
        return self.rng.choices(_DESK_METHODS, _DESK_METHOD_WEIGHTS[self.country])[0]

    def _settle_method(self, res: Row) -> str:
        """Accounts (corporate, government, groups) mostly pay by bank transfer."""
        if res["segment"] in ("corporate", "government", "group") and self.rng.random() < _BANK_TRANSFER_SHARE:
            return "bank_transfer"
        return self._desk_method()

    # -- stays --------------------------------------------------------------------------------

    def _price(self, low: float, high: float) -> Decimal:
        """A menu-like price scaled to the hotel's cheapest room (whole AFN/INR, half riyals)."""
        raw = self.price_base * Decimal(str(round(self.rng.uniform(low, high), 4)))
        step = Decimal("0.5") if self.spec.currency == "SAR" else Decimal(1)
        return _money((raw / step).quantize(Decimal(1), ROUND_HALF_UP) * step)

    def _during_stay(self, day: date, checked_in: datetime) -> datetime | None:
        """A time for an incidental charge on a day of the stay (after check-in on the first day)."""
        earliest = max(datetime.combine(day, time(7, 0)), checked_in + timedelta(minutes=15))
        latest = datetime.combine(day, time(22, 59))
        if earliest > latest:
            return None
        return earliest + timedelta(minutes=self.rng.randint(0, int((latest - earliest).total_seconds()) // 60))

    def _stay(self, res: Row, nights: list[tuple[date, Decimal]]) -> None:
        """Post a stay's folio from check-in to check-out (or to the last business date if still in house)."""
        rng = self.rng
        checked_in, checked_out = res["checked_in_at"], res["checked_out_at"]
        folio = self._folio(res, "stay", res["arrival_date"], res["departure_date"] if checked_out else None)
        deposit_method = None
        rate = res["nightly_rate"]
        if rate > 0 and rng.random() < _DEPOSIT_SHARE[res["segment"]]:
            booked_nights = (res["departure_date"] - res["arrival_date"]).days
            estimate = rate * booked_nights * (1 + _TAX_HINT[self.country])
            unit = _DEPOSIT_UNIT[self.country]
            deposit_method = self._desk_method()
            self._pay(folio, checked_in, deposit_method, "deposit",
                      (estimate / unit).to_integral_value(ROUND_CEILING) * unit)
        incidentals: list[Row] = []
        for day, revenue in nights:
            if not res["is_house_use"]:  # the house's own use of a room runs no bill
                for share, line_type, menu, scale in (
                    (_FNB_SHARE, "fnb", _FNB_CHARGES, (0.05, 0.45)),
                    (_OTHER_SHARE, "other", _OTHER_CHARGES, (0.02, 0.15)),
                ):
                    if rng.random() >= share:
                        continue
                    when = self._during_stay(day, checked_in)
                    if when is not None:
                        code, description = rng.choice(menu)
                        incidentals.append(self._charge(folio, when, line_type, code, description,
                                                        self._price(*scale))[0])
            if revenue > 0:
                self._charge(folio, datetime.combine(day, _NIGHT_AUDIT), "room", "ROOM", "Room charge", revenue)
        if checked_out is None:
            return
        settle_method = self._check_out(res, folio, checked_out, deposit_method)
        if incidentals and rng.random() < _ADJUSTMENT_SHARE:
            method = settle_method or deposit_method
            assert method is not None  # a folio with charges was paid somehow
            self._reverse(res, folio, rng.choice(incidentals), checked_out, method)

    def _check_out(self, res: Row, folio: Row, when: datetime, deposit_method: str | None) -> str | None:
        """Invoice (KSA) and settle the balance: pay what is owed or refund what the deposit exceeded."""
        invoice = None
        if self.country == "SA":
            uninvoiced = [
                line for line in self.lines_of[folio["folio_id"]]
                if line["line_type"] != "tax" and line["invoice_id"] is None
            ]
            if uninvoiced:
                invoice = self._invoice(folio, res, when, uninvoiced, "invoice")
        balance = self._balance(folio)
        settle_method = None
        if balance > 0:
            settle_method = self._settle_method(res)
            self._pay(folio, when, settle_method, "settlement", balance)
        elif balance < 0:
            assert deposit_method is not None  # only a deposit can overpay
            self._pay(folio, when, deposit_method, "refund", balance)  # back to the tender it came from
        if invoice is not None:
            invoice["payment_method"] = settle_method or deposit_method
        return settle_method

    def _reverse(self, res: Row, folio: Row, charge: Row, checked_out: datetime, method: str) -> None:
        """Reverse an incidental charge after check-out and refund it (with a credit note in KSA)."""
        rng = self.rng
        offset = rng.choices([0, 1, 2], [5, 3, 2])[0]
        day = checked_out.date() + timedelta(days=offset)
        if offset == 0:
            when = checked_out + timedelta(minutes=rng.randint(30, 240))
        else:
            when = datetime.combine(day, time(rng.randint(9, 20), rng.randint(0, 59)))
        if when.date() != day or day > self.d.end:
            return  # would fall after the last business date: not happened yet
        lines = self._charge(folio, when, charge["line_type"], "ADJ", f"Correction: {charge['description']}",
                             -charge["amount"])
        refund = sum((line["amount"] for line in lines), Decimal(0))
        credit_note_id = None
        if self.country == "SA":
            reason = rng.choice(("Charge disputed by guest", "Service not provided", "Posting error"))
            note = self._invoice(folio, res, when, [lines[0]], "credit_note", charge["invoice_id"], reason)
            note["payment_method"] = method
            credit_note_id, refund = note["invoice_id"], note["total_amount"]
        self._pay(folio, when, method, "refund", refund, invoice_id=credit_note_id)

    # -- no-shows and late cancellations --------------------------------------------------------------

    def _penalty(self, res: Row) -> None:
        """Charge one night for some guaranteed no-shows and late cancellations inside the window."""
        rng = self.rng
        rate = res["nightly_rate"]
        if res["status"] == "no_show":
            if res["channel"] == "walk_in" or rng.random() >= _NO_SHOW_CHARGED_SHARE:
                return
            when = datetime.combine(res["arrival_date"], _NIGHT_AUDIT)
            code, description = "NOSHOW", "No-show charge"
        else:
            if (res["arrival_date"] - res["cancelled_on"]).days > 1 or rng.random() >= _LATE_CANCEL_CHARGED_SHARE:
                return
            when = datetime.combine(res["cancelled_on"], time(rng.randint(8, 21), rng.randint(0, 59)))
            code, description = "LATECXL", "Late cancellation charge"
        if not (self.d.start <= when.date() <= self.d.end) or rate <= 0:
            return
        folio = self._folio(res, "penalty", when.date(), when.date())
        lines = self._charge(folio, when, "fee", code, description, rate)
        if self.country == "SA":
            self._invoice(folio, res, when, [lines[0]], "invoice")["payment_method"] = "card"
        self._pay(folio, when, "card", "settlement", self._balance(folio))  # charged to the guarantee card
        res["penalty_amount"] = rate

    def _number_invoices(self) -> None:
        """ICV 1, 2, ... and invoice numbers in issue order, shared by invoices and credit notes."""
        ordered = [row for _, row in sorted(enumerate(self.data.invoices), key=lambda p: (p[1]["issued_at"], p[0]))]
        for icv, row in enumerate(ordered, start=1):
            series = "SINV" if row["document_type"] == "invoice" else "SCRN"
            row["icv"] = icv
            row["invoice_number"] = f"{series}-{row['issue_date']:%Y}-{icv:06d}"
        self.data.invoices[:] = ordered


def _business_date(when: datetime) -> date:
    """The business date a local time belongs to: the night shift's small hours count to the day before."""
    return when.date() - timedelta(days=1) if when.hour < 6 else when.date()


def generate(spec: HotelSpec, start: date, end: date) -> SyntheticHotelData:
    """Generate one hotel's rows for business dates start..end (inclusive); seeded and deterministic."""
    if end < start:
        raise ValueError("end must not be before start")
    return _Generator(spec, start, end).run()


def load_into(warehouse: DuckDBWarehouse, data: SyntheticHotelData, *, replace: bool = True) -> dict[str, int]:
    """Load generated rows into the warehouse (replacing that property's rows by default)."""
    if replace:
        # Deleting first makes re-seeding a demo hotel idempotent instead of a key violation.
        warehouse.delete_property(data.spec.tenant_id, data.spec.property_id, data.tables().keys())
    return warehouse.load_tables(data.tables())


def load_demo_hotels(
    warehouse: DuckDBWarehouse,
    start: date,
    end: date,
    hotels: Sequence[HotelSpec] | None = None,
) -> Mapping[str, dict[str, int]]:
    """Generate and load the demo hotels; returns row counts per property id."""
    return {spec.property_id: load_into(warehouse, generate(spec, start, end)) for spec in hotels or DEMO_HOTELS}


# Fixed ids so local runs, fixtures and the seeded Property rows agree across machines.
DEMO_HOTELS: tuple[HotelSpec, ...] = (
    HotelSpec(
        tenant_id="6f1c2a3e-8b4d-4e2f-9a61-3c7d5e0b9f12",
        property_id="0b7e4d21-5c3a-4f68-8e19-2d4a6c8f1e35",
        name="Bagh-e-Bala Hotel",
        city="Kabul",
        country="AF",
        currency="AFN",
        timezone="Asia/Kabul",
        room_count=64,
        room_types=(
            RoomTypeSpec("STD", "Standard", Decimal("5500.00"), 6),
            RoomTypeSpec("DLX", "Deluxe", Decimal("7500.00"), 3),
            RoomTypeSpec("STE", "Suite", Decimal("12500.00"), 1),
        ),
        seed=1101,
        building_number="12",
        street="Demo Road",
        district="Shar-e-Naw",
        postal_code="1001",
    ),
    HotelSpec(
        tenant_id="a3d95f60-1e27-4b8c-b5f4-7e0c2d9a4b61",
        property_id="c84e1b2f-9d36-4a57-a0e8-5b3f7c1d2e94",
        name="Amber Fort Residency",
        city="Jaipur",
        country="IN",
        currency="INR",
        timezone="Asia/Kolkata",
        room_count=96,
        room_types=(
            RoomTypeSpec("STD", "Standard", Decimal("4800.00"), 5),
            RoomTypeSpec("DLX", "Deluxe", Decimal("6500.00"), 4),
            RoomTypeSpec("HST", "Heritage Suite", Decimal("12500.00"), 1),
        ),
        seed=2202,
        building_number="12",
        street="Demo Marg",
        district="C-Scheme",
        postal_code="302001",
    ),
    HotelSpec(
        tenant_id="e2b7c9d4-6a15-4f83-9c2e-1d8b5a7f3c06",
        property_id="58f3a0c6-2b9e-4d71-8f4a-9e6c3b2d7a18",
        name="Al Murabba Suites",
        city="Riyadh",
        country="SA",
        currency="SAR",
        timezone="Asia/Riyadh",
        room_count=120,
        room_types=(
            RoomTypeSpec("STD", "Standard", Decimal("520.00"), 5),
            RoomTypeSpec("EXE", "Executive", Decimal("720.00"), 3),
            RoomTypeSpec("STE", "Suite", Decimal("1350.00"), 2),
        ),
        seed=3303,
        deduct_out_of_order=False,  # one demo property exercises the other USALI setting
        building_number="2012",  # a Saudi national address: 4-digit building number, 5-digit postal code
        street="Demo Street",
        district="Al Murabba",
        postal_code="12613",
    ),
)
