"""Artifact: one stored output file of a run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# SPEC §7 (assumption, configurable): how long each class is kept and locked.
RETENTION_DAYS = {
    "operational": 400,
    "regulatory-af-police": 5 * 365 + 1,
    "regulatory-ksa-vat": 6 * 365 + 1,
    "regulatory-in-formc": 3 * 365 + 1,
}


def locked_until(retention_class: str, stored_at: datetime, overrides: dict[str, int] | None = None) -> datetime:
    days = (overrides or {}).get(retention_class, RETENTION_DAYS[retention_class])
    return stored_at + timedelta(days=days)


def artifact_name(tenant_id: str, run_id: str, fmt: str) -> str:
    """Deterministic per run and format, so a retried render can never store a second object."""
    return f"tenants/{tenant_id}/runs/{run_id}/report.{fmt}"


@dataclass(frozen=True)
class StoredObject:
    uri: str
    generation: int
    sha256: str
    size_bytes: int
    retention_class: str
    locked_until: datetime | None


@dataclass(frozen=True)
class Artifact:
    artifact_id: str
    tenant_id: str
    run_id: str
    format: str
    object_uri: str
    generation: int
    sha256: str
    size_bytes: int
    retention_class: str
    locked_until: datetime | None
    region: str
    encryption: str = "none"
    original_region: str | None = None
