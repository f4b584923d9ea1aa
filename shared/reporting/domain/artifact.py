"""Artifact: one stored output file of a run."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from reporting.domain.errors import DomainError, ValidationFailed

# SPEC §7 (assumption, configurable): how long each class is kept and locked.
RETENTION_DAYS = {
    "operational": 400,
    "regulatory-af-police": 5 * 365 + 1,
    "regulatory-ksa-vat": 6 * 365 + 1,
    "regulatory-in-formc": 3 * 365 + 1,
}
OPERATIONAL = "operational"
# Envelope-encrypted classes (plan phase 4). Regulatory artifacts stay plain (CMEK only): they are handed
# to authorities as they are and may be downloaded through short-lived signed URLs.
SEALED_CLASSES = frozenset({OPERATIONAL})


def is_regulatory(retention_class: str) -> bool:
    """Regulatory classes live in the bucket with locked retention."""
    return retention_class.startswith("regulatory-")


def retention_days(retention_class: str, overrides: Mapping[str, int] | None = None) -> int:
    """Days an object of this class is kept; an unknown class is a validation error, never a default."""
    if retention_class not in RETENTION_DAYS:
        raise ValidationFailed("unknown retention class", retention_class=retention_class)
    return int((overrides or {}).get(retention_class, RETENTION_DAYS[retention_class]))


def locked_until(retention_class: str, stored_at: datetime, overrides: Mapping[str, int] | None = None) -> datetime:
    """When an object stored now stops being locked. Fixed at write time: later defaults never move it."""
    return stored_at + timedelta(days=retention_days(retention_class, overrides))


def artifact_name(tenant_id: str, run_id: str, fmt: str) -> str:
    """Deterministic per run and format, so a retried render can never store a second object."""
    return f"tenants/{tenant_id}/runs/{run_id}/report.{fmt}"


@dataclass(frozen=True)
class StoredObject:
    uri: str
    generation: int
    sha256: str  # of the plaintext, also for sealed objects: users compare their download with it
    size_bytes: int  # of the plaintext
    retention_class: str
    locked_until: datetime | None
    encryption: str = "none"  # "none" (CMEK / local disk) or "envelope" (sealed with its own data key)
    metadata: Mapping[str, str] = field(default_factory=dict)  # extra object metadata given to put_once


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


class ArtifactIntegrityError(DomainError):
    """Stored bytes failed verification; never served. The message names no guest data, only the object."""

    code = "MELMASTOON.REPORTING.ARTIFACT_INTEGRITY_FAILED"
    http_status = 500


class ArtifactCorrupted(ArtifactIntegrityError):
    """Bytes read do not match their recorded checksum (CRC32C or sha256); a re-read may succeed."""

    permanent = False


class ArtifactUnsealFailed(ArtifactIntegrityError):
    """A sealed artifact cannot be opened: tampered ciphertext or header, another object's bytes, or a wrong key."""


class ArtifactKeyUnavailable(ArtifactIntegrityError):
    """The key that wraps data keys cannot be used right now (KMS outage, missing permission); retry later."""

    code = "MELMASTOON.REPORTING.ARTIFACT_KEY_UNAVAILABLE"
    http_status = 503
    permanent = False
