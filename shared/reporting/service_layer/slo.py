"""Per-tenant SLO (SPEC §3, issue 3 item 9): the share of runs succeeded by their due time over a window.

What counts (decisions):
- a run counts when its `due_by` falls in the window (UTC dates, both ends included)
  and is already in the past: a run not yet due cannot have missed;
- on time = succeeded by `due_by` (a run since superseded by a re-render was
  delivered, so it counts with its original finish);
- late = everything else that was due: a late success, a failure, a run still
  requested/rendering past its due time, and a run cancelled *after* its due
  time (cancelling cannot launder a miss);
- excluded: runs cancelled by an operator before they were due (nobody wanted
  them any more), and backfills (origin=backfill: bulk history, on nobody's clock;
  hundreds of them would dilute the ratio and hide real misses).
Nothing due → ratio null and `met` true. The figure is one SQL aggregate under RLS,
and the tenant-wide figure is also logged as one INFO line for a log-based metric.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from reporting.domain.errors import ValidationFailed
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_readable_tenant

log = get_logger(__name__)
DEFAULT_WINDOW_DAYS = 14  # plan phase 2: "per-tenant SLO target met for 2 weeks"
MAX_WINDOW_DAYS = 90
LATE_LIST_LIMIT = 100
METRIC = "reporting_slo"


@dataclass(frozen=True)
class SloWindow:
    """UTC business days, both ends included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=timezone.utc)

    @classmethod
    def choose(cls, first: date | None, last: date | None, today: date) -> "SloWindow":
        """The asked window, defaulting to the last DEFAULT_WINDOW_DAYS days up to today; at most 90 days."""
        last = last or (today if first is None else min(today, first + timedelta(days=DEFAULT_WINDOW_DAYS - 1)))
        first = first or last - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
        if first > last:
            raise ValidationFailed("query parameter is invalid", status=400,
                                   errors=[{"path": "?from", "rule": "from is on or before to"}])
        if (last - first).days + 1 > MAX_WINDOW_DAYS:
            raise ValidationFailed("query parameter is invalid", status=400,
                                   errors=[{"path": "?from", "rule": f"window of at most {MAX_WINDOW_DAYS} days"}])
        return cls(first, last)


@dataclass(frozen=True)
class LateRun:
    run_id: str
    property_id: str
    template_version_id: str
    origin: str
    state: str
    due_by: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class SloFigures:
    runs_due: int
    succeeded_on_time: int
    late: tuple[LateRun, ...]  # newest due first, at most the asked number


class SloStore(ABC):
    """The aggregate, bound to one unit of work (RLS keeps it to the tenant)."""

    @abstractmethod
    def figures(self, *, start: datetime, end: datetime, now: datetime, property_ids: list[str] | None,
                late_limit: int) -> SloFigures: ...


@dataclass(frozen=True)
class ServiceLevel:
    """The wiring: the configured target and how to reach the store from a unit of work."""

    target: float
    store: Callable[[Any], SloStore]


@dataclass(frozen=True)
class SloReport:
    tenant_id: str
    window: SloWindow
    as_of: datetime
    target: float
    runs_due: int
    succeeded_on_time: int
    late: tuple[LateRun, ...]
    property_ids: tuple[str, ...] | None  # None: the whole tenant

    @property
    def ratio(self) -> float | None:
        return self.succeeded_on_time / self.runs_due if self.runs_due else None

    @property
    def met(self) -> bool:
        ratio = self.ratio
        return ratio is None or ratio >= self.target


def tenant_slo(tenant_id: str, window: SloWindow, deps: Dependencies, service_level: ServiceLevel, *,
               property_ids: list[str] | None = None, late_limit: int = LATE_LIST_LIMIT) -> SloReport:
    """The tenant's SLO over the window (optionally only some hotels: a hotel-limited caller's view)."""
    now = deps.clock.now()
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        figures = service_level.store(uow).figures(start=window.start, end=window.end, now=now,
                                                   property_ids=property_ids, late_limit=late_limit)
    report = SloReport(tenant_id=tenant_id, window=window, as_of=now, target=service_level.target,
                       runs_due=figures.runs_due, succeeded_on_time=figures.succeeded_on_time, late=figures.late,
                       property_ids=tuple(property_ids) if property_ids is not None else None)
    if property_ids is None:  # the metric is the tenant-wide figure only
        log.info("tenant slo", extra={
            "metric": METRIC, "tenant_id": tenant_id, "ratio": report.ratio,
            "window": f"{window.first.isoformat()}/{window.last.isoformat()}", "runs_due": report.runs_due,
            "succeeded_on_time": report.succeeded_on_time, "target": report.target, "met": report.met})
    return report
