"""ReportRun: one rendering of a pinned template version for one property and business date."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from reporting.domain.errors import IllegalStateTransition, ValidationFailed
from reporting.domain.events import DomainEvent
from reporting.domain.template import canonical_json


class RunState(StrEnum):
    REQUESTED = "requested"
    RENDERING = "rendering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class RunOrigin(StrEnum):
    USER = "user"
    SCHEDULE = "schedule"
    BACKFILL = "backfill"


# SPEC §3: requested → rendering → succeeded | failed; cancelled from requested or
# rendering; superseded from succeeded (re-render).
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.REQUESTED: frozenset({RunState.RENDERING, RunState.CANCELLED}),
    RunState.RENDERING: frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}),
    RunState.SUCCEEDED: frozenset({RunState.SUPERSEDED}),
    RunState.FAILED: frozenset(),
    RunState.CANCELLED: frozenset(),
    RunState.SUPERSEDED: frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt) | {RunState.SUCCEEDED}

# Due-time policy (SPEC §3, assumption): scheduled runs 30 min after their
# scheduled time, ad-hoc runs 15 min after the request. Backfills are not on an
# operator's clock; a day keeps them out of the way of the SLO.
DUE_AFTER = {
    RunOrigin.SCHEDULE: timedelta(minutes=30),
    RunOrigin.USER: timedelta(minutes=15),
    RunOrigin.BACKFILL: timedelta(hours=24),
}


def idempotency_key(origin: RunOrigin, *, user_key: str | None = None, schedule_id: str | None = None,
                    scheduled_at: datetime | None = None, property_id: str | None = None,
                    template_version_id: str | None = None, run_date: date | None = None) -> str:
    """The namespaced key of SPEC §6; unique per tenant."""
    if origin is RunOrigin.USER:
        if not user_key or len(user_key) > 200 or not user_key.isprintable():
            raise ValidationFailed("Idempotency-Key must be 1-200 printable characters")
        return f"user:{user_key}"
    if origin is RunOrigin.SCHEDULE:
        if not schedule_id or scheduled_at is None or scheduled_at.tzinfo is None:
            raise ValidationFailed("a scheduled run needs its schedule and an aware scheduled time")
        # One instant, one key: normalise the offset so a tick in another zone cannot duplicate a run.
        return f"schedule:{schedule_id}:{scheduled_at.astimezone(timezone.utc).isoformat()}"
    if not (property_id and template_version_id and run_date):
        raise ValidationFailed("a backfill run needs property, template version and run date")
    return f"backfill:{property_id}:{template_version_id}:{run_date.isoformat()}"


def request_fingerprint(*, property_id: str, template_ref: str, run_date: date, params: dict[str, Any], locale: str,
                        formats: list[str]) -> bytes:
    """The canonical JSON that request_hash hashes (the backfill's set-based form hashes it in SQL)."""
    return canonical_json({
        "property_id": property_id, "template": template_ref, "run_date": run_date.isoformat(),
        "params": params, "locale": locale, "formats": sorted(formats),
    })


def request_hash(*, property_id: str, template_ref: str, run_date: date, params: dict[str, Any], locale: str,
                 formats: list[str]) -> str:
    """Fingerprint of what was asked for: the same key with a different request is a conflict."""
    return hashlib.sha256(request_fingerprint(property_id=property_id, template_ref=template_ref, run_date=run_date,
                                              params=params, locale=locale, formats=formats)).hexdigest()


@dataclass
class ReportRun:
    run_id: str
    tenant_id: str
    property_id: str
    template_version_id: str
    snapshot_hash: str
    params: dict[str, Any]
    locale: str
    formats: list[str]
    run_date: date
    origin: RunOrigin
    idempotency_key: str
    request_hash: str
    requested_by: str
    correlation_id: str
    requested_at: datetime
    due_by: datetime
    state: RunState = RunState.REQUESTED
    attempts: int = 0
    error_code: str | None = None
    error_message: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def request(cls, *, run_id: str, tenant_id: str, property_id: str, template_version_id: str, snapshot_hash: str,
                params: dict[str, Any], locale: str, formats: list[str], run_date: date, origin: RunOrigin,
                idempotency_key: str, request_hash: str, requested_by: str, correlation_id: str, now: datetime,
                supersedes: str | None = None, due_after: timedelta | None = None) -> "ReportRun":
        run = cls(run_id=run_id, tenant_id=tenant_id, property_id=property_id,
                  template_version_id=template_version_id, snapshot_hash=snapshot_hash, params=params, locale=locale,
                  formats=formats, run_date=run_date, origin=origin, idempotency_key=idempotency_key,
                  request_hash=request_hash, requested_by=requested_by, correlation_id=correlation_id,
                  requested_at=now, due_by=now + (DUE_AFTER[origin] if due_after is None else due_after), supersedes=supersedes)
        run._emit("report_run.requested.v1", {
            "run_id": run_id, "property_id": property_id, "template_version_id": template_version_id,
            "snapshot_hash": snapshot_hash, "run_date": run_date.isoformat(), "origin": str(origin),
            "locale": locale, "formats": list(formats), "due_by": run.due_by.isoformat(),
        })
        return run

    def _emit(self, subject: str, data: dict[str, Any]) -> None:
        self.events.append(DomainEvent(subject, self.run_id, data, correlation_id=self.correlation_id))

    def _move(self, wanted: RunState) -> None:
        if wanted not in TRANSITIONS[self.state]:
            raise IllegalStateTransition("report run", self.state, wanted)
        self.state = wanted

    def start_rendering(self, now: datetime) -> None:
        self._move(RunState.RENDERING)
        self.started_at = now
        self.attempts += 1

    def retry_rendering(self, now: datetime) -> None:
        """A redelivered request for a run left in `rendering` (a crash mid-render) renders again."""
        if self.state is not RunState.RENDERING:
            raise IllegalStateTransition("report run", self.state, RunState.RENDERING)
        self.started_at = now
        self.attempts += 1

    def succeed(self, now: datetime, artifacts: list[dict[str, Any]]) -> None:
        self._move(RunState.SUCCEEDED)
        self.finished_at = now
        self._emit("report_run.completed.v1", {
            "run_id": self.run_id, "property_id": self.property_id, "template_version_id": self.template_version_id,
            "run_date": self.run_date.isoformat(), "origin": str(self.origin),
            "on_time": now <= self.due_by, "artifacts": artifacts,
        })

    def fail(self, now: datetime, code: str, message: str) -> None:
        self._move(RunState.FAILED)
        self.finished_at = now
        self.error_code = code
        self.error_message = message[:500]
        self._emit("report_run.failed.v1", {
            "run_id": self.run_id, "property_id": self.property_id, "template_version_id": self.template_version_id,
            "run_date": self.run_date.isoformat(), "origin": str(self.origin), "error_code": code,
        })

    def cancel(self, now: datetime, reason: str) -> None:
        self._move(RunState.CANCELLED)
        self.finished_at = now
        self._emit("report_run.cancelled.v1", {
            "run_id": self.run_id, "property_id": self.property_id, "reason": reason[:200],
        })

    def supersede(self, now: datetime, by_run_id: str) -> None:
        self._move(RunState.SUPERSEDED)
        self.superseded_by = by_run_id
