"""Deterministic synthetic hotel data for the local `dw` warehouse (demo and tests)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # Only for annotations: generating data must not need DuckDB.
    from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse

__all__ = [
    "DEMO_HOTELS",
    "HotelSpec",
    "RoomTypeSpec",
    "SyntheticHotelData",
    "generate",
    "load_demo_hotels",
    "load_into",
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

    def tables(self) -> dict[str, list[Row]]:
        """Rows per dw table, in load order."""
        return {
            "rooms": self.rooms,
            "room_status_daily": self.room_status_daily,
            "guests": self.guests,
            "reservations": self.reservations,
            "room_nights": self.room_nights,
        }


def _days(start: date, end: date) -> list[date]:
    """Inclusive list of dates."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _stable_id(spec: HotelSpec, kind: str, n: int) -> str:
    """A uuid5 id unique per tenant, property, kind and sequence number."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{spec.tenant_id}/{spec.property_id}/{kind}/{n}"))


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
    ),
)
