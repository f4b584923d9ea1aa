"""Template and TemplateVersion: a version has its own id and is immutable once published."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Iterable

from reporting.domain.errors import AuthzDenied, IllegalStateTransition, TemplateVersionArchived, ValidationFailed
from reporting.domain.events import DomainEvent

FORMATS = ("pdf", "csv", "html")
RETENTION_CLASSES = ("operational", "regulatory-af-police", "regulatory-ksa-vat", "regulatory-in-formc")


class TemplateCategory(StrEnum):
    OPERATIONAL = "operational"
    REGULATORY = "regulatory"


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def snapshot_hash(layout: str, dataset_sql: str, params_schema: dict[str, Any], catalog_hash: str) -> str:
    """sha256 of the canonical JSON of what determines a report's output (SPEC §3)."""
    return hashlib.sha256(canonical_json({
        "layout": layout, "dataset_sql": dataset_sql, "params_schema": params_schema, "catalog_hash": catalog_hash,
    })).hexdigest()


@dataclass
class Template:
    template_id: str
    tenant_id: str | None  # None: platform-shared, seeded by migration, visible to every tenant
    key: str
    category: TemplateCategory
    name: str
    description: str = ""
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @property
    def platform_shared(self) -> bool:
        return self.tenant_id is None

    def check_tenant_may_change(self) -> None:
        """Platform templates are read by every tenant and written by none (they come from migrations)."""
        if self.platform_shared:
            raise AuthzDenied("platform templates cannot be changed by a tenant", template_id=self.template_id)

    def archive(self, versions: Iterable[TemplateVersion], now: datetime, archived_by: str) -> list[TemplateVersion]:
        """Plan §7: archive these versions of this template; return those that changed.

        Idempotent: versions already archived are left alone, and when none changed
        no event is recorded. Otherwise ONE template.archived.v1 names every version
        archived by this call. `archived_by` is an actor id, never a person's name;
        the event carries no free text (the operator's reason stays in the audit log).
        """
        self.check_tenant_may_change()
        versions = list(versions)
        strangers = [v.template_version_id for v in versions if v.template_id != self.template_id]
        if strangers:
            raise ValueError(f"versions {strangers} do not belong to template {self.template_id}")
        changed = [v for v in versions if v.archive(now)]
        if changed:
            self.events.append(DomainEvent("template.archived.v1", self.template_id, {
                "template_id": self.template_id,
                "template_version_ids": [v.template_version_id for v in changed],
                "archived_by": archived_by,
            }))
        return changed


@dataclass
class TemplateVersion:
    template_version_id: str
    template_id: str
    tenant_id: str | None
    version: int
    status: VersionStatus
    layout: str
    dataset_sql: str
    params_schema: dict[str, Any]
    formats: list[str]
    locales: list[str]
    retention_class: str
    catalog_hash: str
    regulatory_adapter: str | None = None
    snapshot_hash: str = ""
    template_key: str = ""
    published_at: datetime | None = None
    archived_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not set(self.formats) <= set(FORMATS) or not self.formats:
            raise ValidationFailed("unknown output format", formats=self.formats)
        if self.retention_class not in RETENTION_CLASSES:
            raise ValidationFailed("unknown retention class", retention_class=self.retention_class)
        computed = snapshot_hash(self.layout, self.dataset_sql, self.params_schema, self.catalog_hash)
        if self.snapshot_hash and self.snapshot_hash != computed:
            # A stored version whose content no longer matches its hash has been tampered with.
            raise ValueError(f"template version {self.template_version_id}: snapshot hash mismatch")
        self.snapshot_hash = computed

    def check_usable_for_new_run(self) -> None:
        """Plan §7: an archived version is refused for new runs and schedules (kept as history)."""
        if self.status is VersionStatus.ARCHIVED:
            raise TemplateVersionArchived(self.template_version_id)
        if self.status is not VersionStatus.PUBLISHED:
            raise ValidationFailed("template version is not published", template_version_id=self.template_version_id)

    def archive(self, now: datetime) -> bool:
        """published -> archived (kept as history); True if it changed, False if it already was archived."""
        if self.status is VersionStatus.ARCHIVED:
            return False
        if self.status is not VersionStatus.PUBLISHED:
            raise IllegalStateTransition("template version", self.status, VersionStatus.ARCHIVED)
        self.status = VersionStatus.ARCHIVED
        self.archived_at = now
        return True

    def summary(self) -> TemplateVersionSummary:
        return TemplateVersionSummary(
            template_version_id=self.template_version_id, template_id=self.template_id, version=self.version,
            status=self.status, formats=list(self.formats), locales=list(self.locales),
            retention_class=self.retention_class, snapshot_hash=self.snapshot_hash,
            params_schema=self.params_schema, regulatory_adapter=self.regulatory_adapter,
            published_at=self.published_at, archived_at=self.archived_at)

    def publish(self, now: datetime) -> None:
        if self.status is not VersionStatus.DRAFT:
            raise IllegalStateTransition("template version", self.status, VersionStatus.PUBLISHED)
        self.status = VersionStatus.PUBLISHED
        self.published_at = now
        self.events.append(DomainEvent("template.published.v1", self.template_version_id, {
            "template_id": self.template_id, "template_version_id": self.template_version_id,
            "template_key": self.template_key, "version": self.version, "snapshot_hash": self.snapshot_hash,
        }))


@dataclass(frozen=True)
class TemplateVersionSummary:
    """What listings show of a version: its facts and status, not its layout or dataset SQL."""

    template_version_id: str
    template_id: str
    version: int
    status: VersionStatus
    formats: list[str]
    locales: list[str]
    retention_class: str
    snapshot_hash: str
    params_schema: dict[str, Any]
    regulatory_adapter: str | None = None
    published_at: datetime | None = None
    archived_at: datetime | None = None
