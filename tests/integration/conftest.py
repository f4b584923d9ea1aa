"""Services wired to the session's real Postgres (as reporting_app), a real DuckDB warehouse and local stores."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

from reporting.adapters.postgres.connection import local_connection_factory
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.bootstrap import Services
from reporting.config import Settings
from reporting.service_layer.outbox_relay import OutboxRelay
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, HotelSpec, generate, load_into
from reporting.domain.tenant import Property, Residency, Tenant, TenantStatus
from reporting.service_layer.tenants import sync_property, sync_tenant
from tests.fakes import MutableClock

RESIDENCY_COUNTRY = {Residency.AF: 0, Residency.IN: 1, Residency.KSA: 2}


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture(scope="session")
def warehouse() -> DuckDBWarehouse:
    """One in-memory warehouse per session; hotels get fresh tenant ids, so tests never see each other's rows."""
    return DuckDBWarehouse(None)


@pytest.fixture
def make_services(migrated_for, warehouse, clock, tmp_path: Path) -> Iterator[Callable[..., Services]]:
    built: list[Services] = []

    def build(residency: Residency = Residency.AF, env: dict[str, str] | None = None) -> Services:
        migrated = migrated_for(residency.value)
        settings = Settings.from_env({
            "REPORTING_RESIDENCY": residency.value, "REPORTING_DATABASE_URL": migrated.app.url(),
            "REPORTING_ARTIFACT_DIR": str(tmp_path / "artifacts" / residency.value),
            "REPORTING_DEAD_LETTER_DIR": str(tmp_path / "dead-letters" / residency.value),
            "REPORTING_OUTBOX_LEASE_SECONDS": "1",  # failed deliveries come back quickly in tests
            **(env or {}),
        })
        services = Services(settings, clock=clock, conn_factory=local_connection_factory(migrated.app),
                            warehouse=warehouse)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


@pytest.fixture
def services(make_services) -> Services:
    return make_services(Residency.AF)


@dataclasses.dataclass(frozen=True)
class Hotel:
    tenant_id: str
    property_id: str
    spec: HotelSpec
    yesterday: date


@pytest.fixture
def make_hotel(warehouse, clock) -> Callable[..., Hotel]:
    """A new tenant with one hotel: mirrored in Postgres, 14 days of history in the warehouse."""

    def make(services: Services, *, reporting_v1: bool = True, status: TenantStatus = TenantStatus.ACTIVE,
             residency: Residency | None = None) -> Hotel:
        residency = residency or services.settings.residency
        base = DEMO_HOTELS[RESIDENCY_COUNTRY[residency]]
        spec = dataclasses.replace(base, tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
        from zoneinfo import ZoneInfo

        yesterday = clock.now().astimezone(ZoneInfo(spec.timezone)).date() - timedelta(days=1)
        load_into(warehouse, generate(spec, yesterday - timedelta(days=13), yesterday))
        sync_tenant(Tenant(tenant_id=spec.tenant_id, name=f"{spec.name} group", residency=residency,
                           stored_region=services.settings.region, features={"reporting_v1": reporting_v1},
                           status=status), services.deps)
        sync_property(Property(property_id=spec.property_id, tenant_id=spec.tenant_id, name=spec.name,
                               timezone=spec.timezone, currency=spec.currency, country=spec.country, locale="en",
                               room_count=spec.room_count,
                               settings={"deduct_out_of_order": spec.deduct_out_of_order}), services.deps)
        return Hotel(spec.tenant_id, spec.property_id, spec, yesterday)

    return make


@pytest.fixture
def bus_for() -> Callable[[Services], OutboxRelay]:
    """The local bus of a Services: its outbox relay delivering in-process to the consumers."""
    def build(services: Services) -> OutboxRelay:
        return services.relay

    return build
