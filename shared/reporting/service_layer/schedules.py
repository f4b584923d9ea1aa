"""Use cases on schedules (create, update / re-pin, get, list, delete) and the scheduler tick.

Decisions (SPEC §3, §4, §6; say so in the issue note when changing them):

- **run_date** of a scheduled run is the business date the occurrence reports on:
  the local date of the scheduled instant, in the schedule's timezone, minus one day
  ("yesterday" as seen at the occurrence). A 06:00 Asia/Kabul daily schedule firing
  on 25 Nov reports on 24 Nov — the night audit's day. It depends only on the
  occurrence, never on when the tick ran, so a caught-up occurrence reports on the
  same day it would have on time, and a retried tick computes the same run.
  Per-subject regulatory templates (ZATCA invoices, Form C arrivals; PER_SUBJECT_ADAPTERS) are
  the exception: their run reports on the local date of the occurrence, the day so far, so an
  hourly schedule files each invoice or arrival within the hour and leaves ~23 of its 24 hours
  for retries (SPEC §8). Later runs of the same day repeat earlier subjects, which open nothing
  twice (a submission per subject).
- **Paused schedules**: a tenant that may not work (flag off, locked_readonly during a
  residency move, importing, moved) is paused. due_schedules() does not return its
  schedules, and the tick, which checks the tenant again in its own transaction,
  skips them without advancing them. When the tenant may work again, the next tick
  catches up every occurrence within the bound below: nothing is lost (SPEC §4).
- **Catch-up bound**: a tick requests every missed occurrence up to now, but none older
  than CATCH_UP (7 days; those are counted as dropped and logged as a WARNING: a week
  late, an operator backfills deliberately), and at most MAX_OCCURRENCES_PER_TICK per
  schedule (the rest stay due and the next tick continues: deferred, never dropped).
- **Archived versions** are refused when a schedule is created or re-pinned, and for
  any later update of a schedule still pinned to one (plan §7: it keeps firing until
  the operator updates it), except switching it off. The tick never checks it.
- **Due time**: a scheduled run is due 30 minutes after its scheduled instant (SPEC §3),
  not after the tick that requested it: a caught-up run counts as late in the SLO.
"""
from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator

from reporting.domain.cutoffs import PER_SUBJECT_ADAPTERS
from reporting.domain.errors import (AuthzDenied, ConcurrentUpdate, NotFound, ResidencyMismatch, TenantLocked,
                                     ValidationFailed)
from reporting.domain.report_run import DUE_AFTER, ReportRun, RunOrigin, idempotency_key, request_hash
from reporting.domain.schedule import Firing, Schedule, ScheduleAdvance
from reporting.domain.template import TemplateVersion
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.report_runs import resolve_template_version
from reporting.service_layer.tenants import require_readable_tenant, require_writable_tenant

log = get_logger(__name__)

CATCH_UP = timedelta(days=7)
MAX_OCCURRENCES_PER_TICK = 500  # per schedule
RUNS_PER_TRANSACTION = 500  # with the cap above, < 1000 events per commit (claim_outbox_events' limit)
SCHEDULES_PER_TRANSACTION = 500
DEFAULT_TICK_LIMIT = 20_000
SCHEDULER = "scheduler"  # requested_by of scheduled runs


# ---- commands ----

@dataclass(frozen=True)
class CreateSchedule:
    """Name a version id, or a template key (its latest published version is pinned now)."""

    tenant_id: str
    property_id: str
    created_by: str
    cron: str
    timezone: str | None = None  # default: the property's timezone
    template_version_id: str | None = None
    template_key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    formats: tuple[str, ...] | None = None  # default: the version's formats
    locale: str | None = None  # default: the property's locale
    enabled: bool = True


@dataclass(frozen=True)
class UpdateSchedule:
    """None leaves a field as it is; `template_version_id` re-pins."""

    tenant_id: str
    schedule_id: str
    updated_by: str
    template_version_id: str | None = None
    cron: str | None = None
    timezone: str | None = None
    params: dict[str, Any] | None = None
    formats: tuple[str, ...] | None = None
    locale: str | None = None
    enabled: bool | None = None
    visible_property_ids: frozenset[str] | None = None  # a hotel-limited user: others answer 404


# ---- the API's use cases ----

def _check_fits(version: TemplateVersion, params: dict[str, Any], formats: list[str], locale: str) -> None:
    """What request_report_run checks per run, checked once when the schedule is written."""
    if locale not in version.locales:
        raise ValidationFailed("locale not offered by this template version", locale=locale, offered=version.locales)
    if not set(formats) <= set(version.formats):
        raise ValidationFailed("format not offered by this template version", offered=version.formats)
    errors = sorted(Draft202012Validator(version.params_schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        raise ValidationFailed("schedule parameters do not match the template's parameter schema",
                               errors=[{"path": "/".join(map(str, e.absolute_path)), "rule": e.validator}
                                       for e in errors[:20]])


def _visible(schedule: Schedule | None, visible_property_ids: frozenset[str] | None) -> Schedule:
    if schedule is None or (visible_property_ids is not None
                            and schedule.property_id.lower() not in visible_property_ids):
        raise NotFound("schedule not found")
    return schedule


def _pin(uow: Any, tenant_id: str, template_version_id: str | None, template_key: str | None) -> TemplateVersion:
    if bool(template_version_id) == bool(template_key):  # schedules take no template id
        raise ValidationFailed("name exactly one of template key or template version id")
    version, _ = resolve_template_version(uow, tenant_id, template_key=template_key,
                                          template_version_id=template_version_id)
    version.check_usable_for_new_run()
    return version


def create_schedule(cmd: CreateSchedule, deps: Dependencies) -> Schedule:
    """Validate against the pinned version and store the schedule with its first occurrence after now."""
    now = deps.clock.now()
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        prop = uow.properties.get(cmd.property_id)
        if prop is None:
            raise NotFound("property not found")
        version = _pin(uow, cmd.tenant_id, cmd.template_version_id, cmd.template_key)
        formats = list(cmd.formats or version.formats)
        locale = cmd.locale or prop.locale
        schedule = Schedule.create(
            schedule_id=str(uuid.uuid4()), tenant_id=cmd.tenant_id, property_id=prop.property_id,
            template_version_id=version.template_version_id, cron=cmd.cron,
            timezone_name=cmd.timezone or prop.timezone, params=cmd.params, formats=formats, locale=locale,
            enabled=cmd.enabled, created_by=cmd.created_by, now=now)
        _check_fits(version, schedule.params, schedule.formats, schedule.locale)
        uow.schedules.add(schedule)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.created_by, action="schedule.create",
                         target_type="schedule", target_id=schedule.schedule_id,
                         details={"template_version_id": version.template_version_id, "cron": schedule.cron,
                                  "timezone": schedule.timezone, "property_id": schedule.property_id})
        uow.commit()
        return schedule


def update_schedule(cmd: UpdateSchedule, deps: Dependencies) -> Schedule:
    """Re-pin and/or change timing, parameters, outputs or the switch; archived pins are refused (plan §7)."""
    now = deps.clock.now()
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        schedule = _visible(uow.schedules.get(cmd.schedule_id, for_update=True), cmd.visible_property_ids)
        if cmd.template_version_id:
            version = _pin(uow, cmd.tenant_id, cmd.template_version_id, None)
        else:
            version = uow.templates.get_version(schedule.template_version_id)
            assert version is not None  # a foreign key, and RLS shows the tenant its own and platform versions
            switching_off_only = cmd.enabled is False and all(
                x is None for x in (cmd.cron, cmd.timezone, cmd.params, cmd.formats, cmd.locale))
            if not switching_off_only:
                version.check_usable_for_new_run()
        before = {"template_version_id": schedule.template_version_id, "cron": schedule.cron,
                  "timezone": schedule.timezone, "enabled": schedule.enabled}
        schedule.update(now, template_version_id=cmd.template_version_id, cron=cmd.cron,
                        timezone_name=cmd.timezone, params=cmd.params,
                        formats=list(cmd.formats) if cmd.formats is not None else None, locale=cmd.locale,
                        enabled=cmd.enabled)
        _check_fits(version, schedule.params, schedule.formats, schedule.locale)
        uow.schedules.save(schedule)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.updated_by, action="schedule.update",
                         target_type="schedule", target_id=schedule.schedule_id,
                         details={"before": before, "changed": sorted(
                             k for k, v in asdict(cmd).items()
                             if v is not None and k not in ("tenant_id", "schedule_id", "updated_by",
                                                            "visible_property_ids"))})
        uow.commit()
        return schedule


def delete_schedule(tenant_id: str, schedule_id: str, deleted_by: str, deps: Dependencies, *,
                    visible_property_ids: frozenset[str] | None = None) -> None:
    """Soft delete: it never fires again; the row stays behind the runs it requested."""
    with deps.uow(tenant_id) as uow:
        require_writable_tenant(uow, tenant_id, deps.residency)
        schedule = _visible(uow.schedules.get(schedule_id, for_update=True), visible_property_ids)
        schedule.delete(deps.clock.now())
        uow.schedules.save(schedule)
        uow.audit.append(tenant_id=tenant_id, actor=deleted_by, action="schedule.delete", target_type="schedule",
                         target_id=schedule_id, details={})
        uow.commit()


def get_schedule(tenant_id: str, schedule_id: str, deps: Dependencies, *,
                 visible_property_ids: frozenset[str] | None = None) -> Schedule:
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        return _visible(uow.schedules.get(schedule_id), visible_property_ids)


def list_schedules(tenant_id: str, deps: Dependencies, *, limit: int, property_ids: list[str] | None = None,
                   after: tuple[datetime, str] | None = None) -> list[Schedule]:
    """Live schedules, oldest first; `property_ids` None means every hotel of the tenant."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        return uow.schedules.list(limit=limit, property_ids=property_ids, after=after)


# ---- the scheduler tick ----

@dataclass
class TickReport:
    """What one tick did. `due`: schedules due_schedules() returned; `requested` / `duplicates`: runs created /
    already there (an overlapping or retried tick); `skipped`: schedules left untouched (tenant paused, held
    or fired by another tick); `errors`: schedules left due after a failure (the next tick retries);
    `dropped`: occurrences older than the catch-up bound; `deferred`: schedules still due after this tick
    (more missed occurrences than one tick requests)."""

    due: int = 0
    requested: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0
    dropped: int = 0
    deferred: int = 0
    advanced: int = 0
    tenants: int = 0
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Batch:
    """One transaction's outcome, merged into the report only once it committed."""

    requested: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0
    dropped: int = 0
    deferred: int = 0
    advanced: int = 0
    leftover: list[str] = field(default_factory=list)  # locked but not fired here: the run budget ran out


class _Paused(Exception):
    """The tenant may not work right now (flag off, locked, served elsewhere)."""


def tick(now: datetime, deps: Dependencies, *, limit: int = DEFAULT_TICK_LIMIT) -> TickReport:
    """Request every due occurrence of every due schedule, idempotently, and advance the schedules."""
    started = time.perf_counter()
    report = TickReport()
    with deps.uow(None) as uow:
        due = uow.schedules.due(now, limit)
        uow.commit()  # keeps the definer function's audit row
    report.due = len(due)
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for item in due:  # oldest first, so the tenant with the oldest due schedule goes first
        by_tenant[item.tenant_id].append(item.schedule_id)
    report.tenants = len(by_tenant)
    for tenant_id, schedule_ids in by_tenant.items():
        _tick_tenant(tenant_id, schedule_ids, now, deps, report)
    report.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if report.due >= limit:  # the oldest went first; the rest are the next tick's (a minute later)
        log.warning("more schedules due than one tick takes", extra={"limit": limit})
    log.info("scheduler tick", extra={"tick": report.as_dict(), "now": now.isoformat()})
    return report


def _tick_tenant(tenant_id: str, schedule_ids: list[str], now: datetime, deps: Dependencies,
                 report: TickReport) -> None:
    pending = list(schedule_ids)
    while pending:
        batch, pending = pending[:SCHEDULES_PER_TRANSACTION], pending[SCHEDULES_PER_TRANSACTION:]
        try:
            outcome = _fire_batch(tenant_id, batch, now, deps)
        except _Paused:
            report.skipped += len(batch) + len(pending)
            return
        except Exception as error:  # this batch rolled back and stays due; the other tenants go on
            log.exception("scheduler tick batch failed", extra={"tenant_id": tenant_id, "schedules": len(batch),
                                                                "error_type": type(error).__name__})
            report.errors += len(batch)
            continue
        for name in ("requested", "duplicates", "skipped", "errors", "dropped", "deferred", "advanced"):
            setattr(report, name, getattr(report, name) + getattr(outcome, name))
        pending = outcome.leftover + pending


def _fire_batch(tenant_id: str, schedule_ids: list[str], now: datetime, deps: Dependencies) -> _Batch:
    """One tenant-scoped transaction: lock, request every owed run in one statement, advance, commit."""
    outcome = _Batch()
    with deps.uow(tenant_id) as uow:
        tenant = uow.tenants.get(tenant_id)
        try:
            if tenant is None:
                raise AuthzDenied("tenant not mirrored")
            tenant.check_may_write(deps.residency)
        except (AuthzDenied, ResidencyMismatch, TenantLocked):
            raise _Paused() from None
        locked = uow.schedules.lock_due(schedule_ids, now)
        outcome.skipped = len(schedule_ids) - len(locked)  # held by another tick, or fired / changed since
        runs: list[ReportRun] = []
        moves: list[ScheduleAdvance] = []
        for schedule in locked:
            if len(runs) >= RUNS_PER_TRANSACTION:
                outcome.leftover.append(schedule.schedule_id)
                continue
            try:
                owed = schedule.recurrence.catch_up(schedule.next_fire_at, now, max_age=CATCH_UP,
                                                    max_count=MAX_OCCURRENCES_PER_TICK)
                new_runs = [_scheduled_run(schedule, at, now) for at in owed.occurrences]
            except Exception as error:  # e.g. a zone gone from tzdata: this schedule stays due, the rest fire
                log.exception("schedule cannot be fired", extra={"tenant_id": tenant_id,
                                                                 "schedule_id": schedule.schedule_id,
                                                                 "error_type": type(error).__name__})
                outcome.errors += 1
                continue
            if owed.dropped:
                log.warning("occurrences older than the catch-up bound were not requested", extra={
                    "tenant_id": tenant_id, "schedule_id": schedule.schedule_id, "dropped": owed.dropped,
                    "missed_since": schedule.next_fire_at.isoformat(), "catch_up_days": CATCH_UP.days})
            outcome.dropped += owed.dropped
            outcome.deferred += int(owed.next_fire_at <= now)
            runs.extend(new_runs)
            moves.append(ScheduleAdvance(schedule.schedule_id, schedule.next_fire_at, owed.next_fire_at,
                                         owed.occurrences[-1] if owed.occurrences else None))
        inserted = uow.schedules.add_runs(runs)
        advanced = uow.schedules.advance(moves)
        if len(advanced) != len(moves):  # cannot happen while we hold the row locks; never half-advance
            raise ConcurrentUpdate("schedule changed during the tick", schedules=len(moves) - len(advanced))
        uow.commit()
    outcome.requested = len(inserted)
    outcome.duplicates = len(runs) - len(inserted)
    outcome.advanced = len(advanced)
    return outcome


def _scheduled_run(schedule: Firing, scheduled_at: datetime, now: datetime) -> ReportRun:
    """The run of one occurrence: the same key, business date and request hash however often it is built."""
    run_date = schedule.recurrence.business_date(
        scheduled_at, day_so_far=schedule.regulatory_adapter in PER_SUBJECT_ADAPTERS)
    due_by = scheduled_at + DUE_AFTER[RunOrigin.SCHEDULE]
    # ReportRun.request counts due time from `now`; a zero delta would read as "use the default".
    due_after = due_by - now  # due 30 min after the scheduled time, not after the tick that caught it up
    return ReportRun.request(
        run_id=str(uuid.uuid4()), tenant_id=schedule.tenant_id, property_id=schedule.property_id,
        template_version_id=schedule.template_version_id, snapshot_hash=schedule.snapshot_hash,
        params=dict(schedule.params), locale=schedule.locale, formats=list(schedule.formats), run_date=run_date, origin=RunOrigin.SCHEDULE,
        idempotency_key=idempotency_key(RunOrigin.SCHEDULE, schedule_id=schedule.schedule_id,
                                        scheduled_at=scheduled_at),
        request_hash=request_hash(property_id=schedule.property_id,
                                  template_ref=f"version:{schedule.template_version_id}", run_date=run_date,
                                  params=schedule.params, locale=schedule.locale, formats=schedule.formats),
        requested_by=SCHEDULER, correlation_id=str(uuid.uuid4()), now=now, due_after=due_after)
