"""Keep the local mirror of tenants and properties (tenant-service and property-service own them)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from reporting.domain.errors import AuthzDenied
from reporting.logs import get_logger
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.ports import TenantDirectory, TenantRecord

log = get_logger(__name__)


def sync_tenant(tenant: Tenant, deps: Dependencies) -> None:
    """Upsert the tenant mirror row (what tenant-service says about the tenant, flag included)."""
    with deps.uow(tenant.tenant_id) as uow:
        uow.tenants.upsert(tenant)
        uow.commit()


def sync_property(prop: Property, deps: Dependencies) -> None:
    with deps.uow(prop.tenant_id) as uow:
        uow.properties.upsert(prop)
        uow.commit()


def require_writable_tenant(uow, tenant_id: str, residency: Residency) -> Tenant:
    """The request-entry gate for every write: mirrored, flag on, served here, not locked."""
    tenant = uow.tenants.get(tenant_id)
    if tenant is None:  # not mirrored: tenant-service never enabled reporting for it
        raise AuthzDenied("reporting is not enabled for this tenant")
    tenant.check_may_write(residency)
    return tenant


def require_readable_tenant(uow, tenant_id: str, residency: Residency) -> Tenant:
    """The request-entry gate for reads: mirrored, flag on, served here (a locked tenant may read)."""
    tenant = uow.tenants.get(tenant_id)
    if tenant is None or not tenant.reporting_enabled:
        raise AuthzDenied("reporting is not enabled for this tenant")
    tenant.check_served_by(residency)
    return tenant


class TenantFreshness:
    """Keeps a tenant's mirror row (its flag above all) at most `ttl` old, from tenant-service.

    Called at request entry, before the flag gate reads the mirror. In the cloud the
    directory is tenant-service over HTTP; locally there is none and the mirror alone
    decides. An outage keeps the mirror as it is (logged) and retries after a short
    backoff: the gate never opens for a tenant the mirror does not already allow.
    """

    def __init__(self, directory: TenantDirectory | None, *, ttl: timedelta, retry_after: timedelta) -> None:
        self._directory = directory
        self._ttl = ttl
        self._retry_after = retry_after
        self._next_check: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def ensure(self, tenant_id: str, deps: Dependencies) -> None:
        if self._directory is None:
            return
        now = deps.clock.now()
        with self._lock:
            if self._next_check.get(tenant_id, now) > now:
                return
        try:
            record = self._directory.fetch(tenant_id)
        except Exception as exc:
            log.warning("tenant-service unavailable; the mirror decides until it answers",
                        extra={"tenant_id": tenant_id, "error_type": type(exc).__name__})
            with self._lock:
                self._next_check[tenant_id] = now + self._retry_after
            return
        with deps.uow(tenant_id) as uow:
            if record is not None:
                uow.tenants.refresh(record)
            elif uow.tenants.get(tenant_id) is not None:
                # tenant-service no longer knows it: reporting is off for it (the row stays as history).
                current = uow.tenants.get(tenant_id)
                uow.tenants.refresh(TenantRecord(tenant_id, current.name, str(current.residency),
                                                 current.stored_region, current.default_locale, features={}))
            uow.commit()
        with self._lock:
            self._next_check[tenant_id] = now + self._ttl
