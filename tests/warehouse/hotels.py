"""The warehouse contract's synthetic hotels and business dates (shared by the fixtures and the tests)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from reporting.devenv.synthetic_hotels import DEMO_HOTELS, HotelSpec, RoomTypeSpec

LOCATION = "asia-south1"
START = date(2025, 2, 1)
END = date(2025, 2, 21)
# Ids that would break any query built by pasting strings: bound as parameters they are just data.
QUOTED_HOTEL = HotelSpec(
    tenant_id="o'hara\" tenant -- '; DROP TABLE dw.rooms; --",
    property_id="prop' OR '1'='1",
    name="Quote Inn",
    city="Kabul",
    country="AF",
    currency="AFN",
    timezone="Asia/Kabul",
    room_count=12,
    room_types=(RoomTypeSpec("STD", "Standard", Decimal("4000.00"), 1),),
    seed=4404,
)
HOTELS: tuple[HotelSpec, ...] = (*DEMO_HOTELS, QUOTED_HOTEL)
