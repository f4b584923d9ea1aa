"""Keep the local mirror of tenants and properties (tenant-service and property-service own them)."""
from __future__ import annotations

from reporting.domain.errors import AuthzDenied
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.service_layer.dependencies import Dependencies


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
