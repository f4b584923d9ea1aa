"""Commands: frozen requests to the use cases."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reporting.domain.report_run import RunOrigin


@dataclass(frozen=True)
class RequestReportRun:
    """Ask for a run. Name a template (key or id: its latest published version is pinned now) or a version id."""

    tenant_id: str
    property_id: str
    requested_by: str
    origin: RunOrigin = RunOrigin.USER
    template_key: str | None = None
    template_id: str | None = None
    template_version_id: str | None = None
    run_date: date | None = None  # default: yesterday in the property's timezone; backfills override it
    params: dict[str, Any] = field(default_factory=dict)
    locale: str | None = None  # default: the property's locale
    formats: tuple[str, ...] | None = None  # default: the version's formats
    idempotency_key: str | None = None  # origin=user: the client's Idempotency-Key
    schedule_id: str | None = None
    scheduled_at: datetime | None = None
    supersedes: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class CancelReportRun:
    tenant_id: str
    run_id: str
    cancelled_by: str
    reason: str = "cancelled by operator"


@dataclass(frozen=True)
class PublishTemplateVersion:
    """Publish a new version of a tenant-owned template (created on first publish)."""

    tenant_id: str
    template_key: str
    name: str
    layout: str
    dataset_sql: str
    params_schema: dict[str, Any]
    published_by: str
    category: str = "operational"
    formats: tuple[str, ...] = ("pdf",)
    locales: tuple[str, ...] = ("en",)
    retention_class: str = "operational"


@dataclass(frozen=True)
class RerenderReportRun:
    """Plan §5: re-render = supersede (or cancel) the old run + a new run with a new id, pinned to the
    template's latest published version (the point of a re-render is a fixed template)."""

    tenant_id: str
    run_id: str
    requested_by: str
    idempotency_key: str


@dataclass(frozen=True)
class CreateTemplate:
    """Create a tenant-owned template together with its first published version (the API's create)."""

    tenant_id: str
    template_key: str
    name: str
    layout: str
    dataset_sql: str
    params_schema: dict[str, Any]
    created_by: str
    description: str = ""
    category: str = "operational"
    formats: tuple[str, ...] = ("pdf",)
    locales: tuple[str, ...] = ("en",)
    retention_class: str = "operational"


@dataclass(frozen=True)
class AddTemplateVersion:
    """Publish the next immutable version of an existing tenant-owned template, named by its id."""

    tenant_id: str
    template_id: str
    layout: str
    dataset_sql: str
    params_schema: dict[str, Any]
    published_by: str
    formats: tuple[str, ...] = ("pdf",)
    locales: tuple[str, ...] = ("en",)
    retention_class: str = "operational"


@dataclass(frozen=True)
class ArchiveTemplate:
    """Plan §7: archive one version (`target_id` is a version id) or every published version of a
    template (`target_id` is a template id). `reason` is the operator's free text: audit log only."""

    tenant_id: str
    target_id: str
    archived_by: str
    reason: str | None = None
