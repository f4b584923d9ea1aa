"""Typed domain errors; the HTTP and event edges map them to codes (SPEC §6)."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure. `code` is the MELMASTOON error code; `permanent` means retrying cannot help."""

    code = "MELMASTOON.REPORTING.VALIDATION_FAILED"
    http_status = 422
    permanent = True

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "MELMASTOON.REPORTING.VALIDATION_FAILED"
    http_status = 422


class NotFound(DomainError):
    """Also the answer for another tenant's ids: existence is never disclosed across tenants."""

    code = "MELMASTOON.REPORTING.NOT_FOUND"
    http_status = 404


class Conflict(DomainError):
    code = "MELMASTOON.REPORTING.CONFLICT"
    http_status = 409


class IllegalStateTransition(Conflict):
    def __init__(self, aggregate: str, current: str, wanted: str) -> None:
        super().__init__(f"{aggregate} cannot go from {current} to {wanted}", current=current, wanted=wanted)


class IdempotencyKeyReused(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__("this Idempotency-Key was already used with a different request", idempotency_key=key)


class TemplateVersionArchived(Conflict):
    def __init__(self, template_version_id: str) -> None:
        super().__init__("template version is archived and refused for new runs",
                         template_version_id=template_version_id)


class AuthnRequired(DomainError):
    code = "MELMASTOON.IAM.AUTHN_REQUIRED"
    http_status = 401


class AuthzDenied(DomainError):
    code = "MELMASTOON.IAM.AUTHZ_DENIED"
    http_status = 403


class ResidencyMismatch(DomainError):
    code = "MELMASTOON.REPORTING.RESIDENCY_MISMATCH"
    http_status = 403


class TenantLocked(DomainError):
    code = "MELMASTOON.REPORTING.TENANT_LOCKED"
    http_status = 423


class BackfillTooOld(ValidationFailed):
    pass


class RenderFailed(DomainError):
    """A report could not be produced from its data and template (retrying the same inputs cannot help)."""

    code = "MELMASTOON.REPORTING.RENDER_FAILED"
    http_status = 422


class ArtifactExists(DomainError):
    """put_once refused a second write of the same object name."""

    code = "MELMASTOON.REPORTING.CONFLICT"
    http_status = 409


class ConcurrentUpdate(DomainError):
    """Someone else changed the aggregate between our read and write; a retry sees the new state."""

    code = "MELMASTOON.REPORTING.CONFLICT"
    http_status = 409
    permanent = False


class PayloadTooLarge(DomainError):
    code = "MELMASTOON.REPORTING.PAYLOAD_TOO_LARGE"
    http_status = 413


class RenderInProgress(ConcurrentUpdate):
    """Another delivery of the same run is rendering right now: retry later (it will find the result)."""


class RateLimited(DomainError):
    """A per-tenant fairness limit is reached (request rate or runs in flight); retry after the given seconds."""

    code = "MELMASTOON.REPORTING.RATE_LIMITED"
    http_status = 429
    permanent = False

    def __init__(self, message: str, *, retry_after_seconds: int, **details: Any) -> None:
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        super().__init__(message, retry_after_seconds=self.retry_after_seconds, **details)


class WarehouseBudgetExceeded(DomainError):
    """A dataset query would scan more than its bytes-billed budget; refused before it runs (SPEC §7).

    Permanent: the same query over the same data costs the same on every retry."""

    code = "MELMASTOON.REPORTING.WAREHOUSE_BUDGET_EXCEEDED"
    http_status = 422

    def __init__(self, message: str, *, estimated_bytes: int | None, max_bytes_billed: int, **details: Any) -> None:
        self.estimated_bytes = estimated_bytes
        self.max_bytes_billed = max_bytes_billed
        super().__init__(message, estimated_bytes=estimated_bytes, max_bytes_billed=max_bytes_billed, **details)


class WarehouseUnavailable(DomainError):
    """The warehouse failed in a way a retry can fix (5xx, rate limits, timeouts): the event is redelivered."""

    code = "MELMASTOON.REPORTING.WAREHOUSE_UNAVAILABLE"
    http_status = 503
    permanent = False
