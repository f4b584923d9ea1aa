"""End-to-end tests reuse the integration fixtures (hotels, services over the session's Postgres)."""
from tests.integration.conftest import bus_for, clock, make_hotel, make_services, services, warehouse

__all__ = ["bus_for", "clock", "make_hotel", "make_services", "services", "warehouse"]
