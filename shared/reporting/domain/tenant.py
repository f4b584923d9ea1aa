"""Tenant (local mirror of tenant-service) and Property (a hotel)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reporting.domain.errors import AuthzDenied, ResidencyMismatch, TenantLocked

LOCALES = ("en", "ps", "fa-AF", "ar", "hi")
REPORTING_FLAG = "reporting_v1"  # tenant-service's `feature.reporting_v1`


class Residency(StrEnum):
    AF = "AF"
    IN = "IN"
    KSA = "KSA"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    LOCKED_READONLY = "locked_readonly"
    IMPORTING = "importing"
    MOVED = "moved"


@dataclass
class Tenant:
    tenant_id: str
    name: str
    residency: Residency
    stored_region: str
    default_locale: str = "en"
    features: dict[str, Any] = field(default_factory=dict)
    status: TenantStatus = TenantStatus.ACTIVE
    moved_to_residency: Residency | None = None

    @property
    def reporting_enabled(self) -> bool:
        return bool(self.features.get(REPORTING_FLAG, False))

    def check_served_by(self, deployment_residency: Residency) -> None:
        """Refuse a tenant homed elsewhere; `importing` is the one exception (a move into this residency)."""
        if self.status is TenantStatus.MOVED:
            raise ResidencyMismatch("tenant has moved to another residency",
                                    moved_to=str(self.moved_to_residency))
        if self.residency is not deployment_residency and self.status is not TenantStatus.IMPORTING:
            raise ResidencyMismatch("tenant is homed in another residency", tenant_residency=str(self.residency),
                                    deployment_residency=str(deployment_residency))

    def check_may_write(self, deployment_residency: Residency) -> None:
        """The request-entry gate for writes: flag first (plan §1.2), then residency, then the lock."""
        if not self.reporting_enabled:
            raise AuthzDenied("reporting is not enabled for this tenant")
        self.check_served_by(deployment_residency)
        if self.status in (TenantStatus.LOCKED_READONLY, TenantStatus.IMPORTING):
            # Source side: locked for the export. Target side: still being imported; the source is authoritative.
            raise TenantLocked("tenant is read-only while its residency move is in progress")


@dataclass
class Property:
    property_id: str
    tenant_id: str
    name: str
    timezone: str
    currency: str
    country: str
    locale: str
    room_count: int
    settings: dict[str, Any] = field(default_factory=dict)
    regulatory_ids: dict[str, Any] = field(default_factory=dict)
    adapters: list[str] = field(default_factory=list)

    @property
    def deduct_out_of_order(self) -> bool:
        """USALI lets a hotel count out-of-order rooms as available or not; we default to deducting them."""
        return bool(self.settings.get("deduct_out_of_order", True))
