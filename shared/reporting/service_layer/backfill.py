"""Report backfill (issue 7, plan §5): request the runs of past business dates, in bulk, exactly once.

Decisions:

- **What**: tenants (given, or every active flag-on tenant served here), each tenant's
  properties, templates (given keys, or every published template the tenant sees;
  its own template wins over a platform one with the same key), and business dates
  (`--days N` ending yesterday in each property's timezone, or `--from`/`--to`). The
  latest published version of each template is pinned when the plan is made.
- **90-day cap** (plan §5, warehouse cost): a date more than `backfill_days` before the
  property's today refuses the whole plan, before anything is written, with the
  earliest allowed date. Dates after the property's yesterday are refused too (that
  day is not closed yet).
- **Exactly once**: the key `backfill:<property>:<template_version>:<run_date>`; a date
  that already has a run of that property and version in flight or succeeded (any
  origin: the scheduled run of that night counts) is skipped. Re-running the job or
  retrying a task requests nothing twice.
- **Same rules as a single request**, set-based: the domain builds the key, the request
  fingerprint and the event for a placeholder date; SQL puts in each date and id
  (adapters/postgres/backfill_repository.py). Backfilled runs are never refused by
  the fairness limits and never create regulatory submissions (their origin says
  backfill; the submit side checks it). Templates whose parameters have no defaults
  ({} does not validate) are skipped with a reason, as are tenants that may not write.
- **Sharding**: an item (tenant, property, template) belongs to shard
  crc32(item) mod count, so shards never overlap and together cover the plan
  whatever order or timing they run in.
- **Publishing**: the events are in the outbox; the sweeper (or the local bus) delivers them.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from reporting.domain.errors import AuthzDenied, BackfillTooOld, ResidencyMismatch, TenantLocked, ValidationFailed
from reporting.domain.shard import Shard
from reporting.domain.report_run import ReportRun, RunOrigin, idempotency_key, request_fingerprint
from reporting.domain.template import TemplateVersion
from reporting.events.envelope import Envelope
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_writable_tenant

log = get_logger(__name__)

BACKFILL_ACTOR = "backfill"
RUNS_PER_STATEMENT = 5000  # one statement (and transaction) requests at most this many runs
_PLACEHOLDER_DATE = date(2000, 1, 1)
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class PropertyRef:
    property_id: str
    timezone: str
    locale: str


@dataclass(frozen=True)
class BatchItem:
    """One property and pinned template version over a run of dates, with the domain's templates."""

    property_id: str
    template_version_id: str
    snapshot_hash: str
    locale: str
    formats: list[str]
    first_date: date
    last_date: date
    key_prefix: str
    hash_prefix: str
    hash_suffix: str
    envelope: dict[str, Any]

    def as_row(self) -> dict[str, Any]:
        return {**self.__dict__, "first_date": self.first_date.isoformat(), "last_date": self.last_date.isoformat()}


@dataclass(frozen=True)
class BatchOutcome:
    candidates: int  # dates without a run in flight or succeeded
    requested: int  # runs inserted (and their events written)


@dataclass(frozen=True)
class BackfillRequest:
    tenant_ids: tuple[str, ...] = ()  # empty: every active, flag-on tenant served here
    template_keys: tuple[str, ...] = ()  # empty: every published template each tenant sees
    start: date | None = None
    end: date | None = None
    days: int | None = None
    shard: Shard = Shard()
    requested_by: str = BACKFILL_ACTOR


@dataclass(frozen=True)
class PlannedItem:
    tenant_id: str
    template_key: str
    dataset_sql: str
    item: BatchItem

    @property
    def dates(self) -> int:
        return (self.item.last_date - self.item.first_date).days + 1


@dataclass
class BackfillPlan:
    items: list[PlannedItem] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # what was left out, and why
    correlation_id: str = ""
    now: datetime | None = None
    due_by: datetime | None = None

    @property
    def total(self) -> int:
        """Candidate runs: every (item, date) of this shard, before skipping those already present."""
        return sum(i.dates for i in self.items)


@dataclass
class BackfillReport:
    total: int = 0
    candidates: int = 0
    requested: int = 0
    already_present: int = 0
    tenants: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


Progress = Callable[[int, int], None]  # (done, total)


def _dates_for(req: BackfillRequest, timezone: str, now: datetime, cap_days: int, property_id: str) -> tuple[date, date]:
    today = now.astimezone(ZoneInfo(timezone)).date()
    latest, earliest = today - timedelta(days=1), today - timedelta(days=cap_days)
    if req.days is not None:
        if not 1 <= req.days <= cap_days:
            raise BackfillTooOld(f"backfills reach back at most {cap_days} days (plan §5); asked for {req.days}",
                                 days=req.days, max_days=cap_days)
        return latest - timedelta(days=req.days - 1), latest
    if req.start is None:
        raise ValidationFailed("name the dates: a number of days, or a first (and optionally a last) date")
    end = req.end or latest
    if req.start > end:
        raise ValidationFailed("the first date is after the last", first=req.start.isoformat(), last=end.isoformat())
    if end > latest:
        raise ValidationFailed("a business date that has not ended yet cannot be backfilled",
                               last=end.isoformat(), latest_allowed=latest.isoformat(), property_id=property_id)
    if req.start < earliest:
        raise BackfillTooOld(
            f"backfills reach back at most {cap_days} days (plan §5): {req.start.isoformat()} is "
            f"{(today - req.start).days} days back for property {property_id}; the earliest allowed is "
            f"{earliest.isoformat()}", first=req.start.isoformat(), earliest_allowed=earliest.isoformat(),
            property_id=property_id)
    return req.start, end


def _locale_for(version: TemplateVersion, preferred: str) -> str:
    for candidate in (preferred, "en"):
        if candidate in version.locales:
            return candidate
    return version.locales[0]


def _batch_item(tenant_id: str, residency: str, property_id: str, version: TemplateVersion, locale: str,
                first: date, last: date, plan: BackfillPlan, requested_by: str) -> BatchItem:
    """The domain's key, fingerprint and event for a placeholder date, split where SQL puts each real date."""
    assert plan.now is not None
    formats = list(version.formats)
    key = idempotency_key(RunOrigin.BACKFILL, property_id=property_id,
                          template_version_id=version.template_version_id, run_date=_PLACEHOLDER_DATE)
    placeholder = _PLACEHOLDER_DATE.isoformat()
    assert key.endswith(placeholder)
    fingerprint = request_fingerprint(property_id=property_id, template_ref=f"version:{version.template_version_id}",
                                      run_date=_PLACEHOLDER_DATE, params={}, locale=locale, formats=formats).decode()
    before, after = fingerprint.split(f'"run_date":"{placeholder}"')  # exactly one occurrence, or this raises
    run = ReportRun.request(
        run_id=_PLACEHOLDER_ID, tenant_id=tenant_id, property_id=property_id,
        template_version_id=version.template_version_id, snapshot_hash=version.snapshot_hash, params={},
        locale=locale, formats=formats, run_date=_PLACEHOLDER_DATE, origin=RunOrigin.BACKFILL, idempotency_key=key,
        request_hash="", requested_by=requested_by, correlation_id=plan.correlation_id, now=plan.now)
    plan.due_by = run.due_by
    envelope = Envelope.for_event(run.events[0], event_id=_PLACEHOLDER_ID, occurred_at=plan.now.isoformat(),
                                  tenant_id=tenant_id, residency=residency, correlation_id=plan.correlation_id,
                                  causation_id=None).to_dict()
    return BatchItem(property_id=property_id, template_version_id=version.template_version_id,
                     snapshot_hash=version.snapshot_hash, locale=locale, formats=formats, first_date=first,
                     last_date=last, key_prefix=key[: -len(placeholder)], hash_prefix=before + '"run_date":"',
                     hash_suffix='"' + after, envelope=envelope)


def plan_backfill(req: BackfillRequest, deps: Dependencies) -> BackfillPlan:
    """Everything this shard would request; raises (BackfillTooOld, ValidationFailed) before any write."""
    plan = BackfillPlan(correlation_id=str(uuid.uuid4()), now=deps.clock.now())
    tenant_ids = list(req.tenant_ids)
    if not tenant_ids:
        with deps.uow(None) as uow:
            tenant_ids = uow.backfill.tenants()
            uow.commit()  # keeps the definer function's audit row
    keys = sorted(set(req.template_keys)) or None
    for tenant_id in tenant_ids:
        with deps.uow(tenant_id) as uow:
            try:
                require_writable_tenant(uow, tenant_id, deps.residency)
            except (AuthzDenied, ResidencyMismatch, TenantLocked) as refused:
                plan.skipped.append({"tenant_id": tenant_id, "reason": refused.code})
                continue
            properties = uow.backfill.properties()
            versions = uow.templates.latest_published_per_key(keys)
        for missing in sorted(set(keys or ()) - {v.template_key for v in versions}):
            plan.skipped.append({"tenant_id": tenant_id, "template_key": missing, "reason": "no published version"})
        for prop in properties:
            first, last = _dates_for(req, prop.timezone, plan.now, deps.backfill_days, prop.property_id)
            for version in versions:
                if not req.shard.owns(tenant_id, prop.property_id, version.template_key):
                    continue
                if not Draft202012Validator(version.params_schema).is_valid({}):
                    plan.skipped.append({"tenant_id": tenant_id, "template_key": version.template_key,
                                         "reason": "the template needs parameters; a backfill runs without"})
                    continue
                item = _batch_item(tenant_id, str(deps.residency), prop.property_id, version,
                                   _locale_for(version, prop.locale), first, last, plan, req.requested_by)
                plan.items.append(PlannedItem(tenant_id, version.template_key, version.dataset_sql, item))
    return plan


def count_already_present(plan: BackfillPlan, deps: Dependencies) -> int:
    """For the dry run: candidate dates that already have a run in flight or succeeded."""
    present = 0
    for tenant_id, items in _by_tenant(plan).items():
        with deps.uow(tenant_id) as uow:
            present += uow.backfill.count_present([i.item for i in items])
    return present


def _by_tenant(plan: BackfillPlan) -> dict[str, list[PlannedItem]]:
    grouped: dict[str, list[PlannedItem]] = {}
    for item in plan.items:
        grouped.setdefault(item.tenant_id, []).append(item)
    return grouped


def _chunks(items: list[PlannedItem]) -> list[list[PlannedItem]]:
    chunks: list[list[PlannedItem]] = [[]]
    size = 0
    for item in items:
        if chunks[-1] and size + item.dates > RUNS_PER_STATEMENT:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item.dates
    return [c for c in chunks if c]


def run_backfill(plan: BackfillPlan, deps: Dependencies, progress: Progress | None = None) -> BackfillReport:
    """Request the plan's runs, one tenant-scoped transaction per chunk; a failed tenant does not stop the rest."""
    report = BackfillReport(total=plan.total)
    done = 0
    for tenant_id, items in _by_tenant(plan).items():
        report.tenants += 1
        for chunk in _chunks(items):
            size = sum(i.dates for i in chunk)
            try:
                with deps.uow(tenant_id, correlation_id=plan.correlation_id) as uow:
                    require_writable_tenant(uow, tenant_id, deps.residency)  # it may have been locked since
                    outcome = uow.backfill.request_batch(
                        tenant_id, [i.item for i in chunk], requested_by=BACKFILL_ACTOR,
                        correlation_id=plan.correlation_id, now=plan.now, due_by=plan.due_by)
                    uow.commit()
            except Exception as error:  # this chunk rolled back: a re-run requests it; other tenants go on
                log.exception("backfill chunk failed", extra={"tenant_id": tenant_id, "runs": size,
                                                              "error_type": type(error).__name__})
                report.errors.append({"tenant_id": tenant_id, "error": type(error).__name__})
            else:
                report.candidates += outcome.candidates
                report.requested += outcome.requested
                report.already_present += size - outcome.candidates
            done += size
            if progress is not None:
                progress(done, report.total)
    log.info("backfill finished", extra={"backfill": {k: v for k, v in report.__dict__.items() if k != "errors"},
                                         "errors": len(report.errors), "correlation_id": plan.correlation_id})
    return report


def estimate_bytes(plan: BackfillPlan, deps: Dependencies) -> int | None:
    """The warehouse's dry-run estimate for the whole plan (one estimate per template and property, times its
    dates); None where the warehouse cannot estimate (the local DuckDB one)."""
    warehouse = deps.warehouse()
    estimate = getattr(warehouse, "estimate_bytes", None)
    if estimate is None:
        return None
    total = 0
    for planned in plan.items:
        item = planned.item
        params = {"tenant_id": planned.tenant_id, "property_id": item.property_id, "run_date": item.last_date,
                  "deduct_out_of_order": True}
        one = estimate(planned.dataset_sql, params)
        if one is None:
            return None
        total += int(one) * planned.dates
    return total
