"""Use cases on report runs: request (any origin), cancel, re-render."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from reporting.domain.errors import (BackfillTooOld, IdempotencyKeyReused, IllegalStateTransition,
                                     NotFound, ValidationFailed)
from reporting.domain.report_run import ReportRun, RunOrigin, RunState, idempotency_key, request_hash
from reporting.domain.template import TemplateVersion
from reporting.service_layer.commands import CancelReportRun, RequestReportRun, RerenderReportRun
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.fairness import admit_user_run
from reporting.service_layer.tenants import require_writable_tenant
from reporting.service_layer.ports import business_yesterday


@dataclass(frozen=True)
class RequestOutcome:
    run: ReportRun
    created: bool  # False: the idempotency key already named this run


def resolve_template_version(uow, tenant_id: str, *, template_key: str | None = None, template_id: str | None = None,
                             template_version_id: str | None = None) -> tuple[TemplateVersion, str]:
    """Pin a version now (snapshot-on-run): the one named, or the template's latest published one.

    Returns it and how the caller named it (part of the request fingerprint). Another tenant's
    template or version is simply not there (RLS) and answers not found.
    """
    version, ref = resolve_template_version_later(uow, template_key=template_key, template_id=template_id,
                                                  template_version_id=template_version_id)
    return version(), ref


def resolve_template_version_later(uow, *, template_key: str | None = None, template_id: str | None = None,
                                   template_version_id: str | None = None
                                   ) -> tuple[Callable[[], TemplateVersion], str]:
    """`resolve_template_version` with the read queued: call the first item for the version (or NotFound)."""
    named = [x for x in (template_key, template_id, template_version_id) if x]
    if len(named) != 1:
        raise ValidationFailed("name exactly one of template key, template id or template version id")
    ref = (f"version:{template_version_id}" if template_version_id
           else f"template:{template_id}" if template_id else f"key:{template_key}")
    later = uow.templates.pinnable_version_later(key=template_key, template_id=template_id,
                                                 template_version_id=template_version_id)

    def version() -> TemplateVersion:
        found = later()
        if found is None:
            raise NotFound("template not found")
        return found

    return version, ref


def _validate_params(version: TemplateVersion, params: dict) -> None:
    errors = sorted(Draft202012Validator(version.params_schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        raise ValidationFailed("run parameters do not match the template's parameter schema",
                               errors=[{"path": "/".join(map(str, e.absolute_path)), "rule": e.validator}
                                       for e in errors[:20]])


def request_report_run(cmd: RequestReportRun, deps: Dependencies) -> RequestOutcome:
    """Validate, pin the template version, and create the run with its event; idempotent per key."""
    now = deps.clock.now()
    with deps.uow(cmd.tenant_id, correlation_id=cmd.correlation_id) as uow:
        # The property and template reads are queued and travel with the tenant gate's read: one
        # round trip. Their rows are only looked at once the gate has let the request in.
        prop_later = uow.properties.get_later(cmd.property_id)
        version_later, ref = resolve_template_version_later(
            uow, template_key=cmd.template_key, template_id=cmd.template_id,
            template_version_id=cmd.template_version_id)
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        prop = prop_later()
        if prop is None:
            raise NotFound("property not found")
        version = version_later()

        locale = cmd.locale or prop.locale
        formats = list(cmd.formats or version.formats)
        if locale not in version.locales:
            raise ValidationFailed("locale not offered by this template version", locale=locale,
                                   offered=version.locales)
        if not set(formats) <= set(version.formats):
            raise ValidationFailed("format not offered by this template version", offered=version.formats)
        _validate_params(version, cmd.params)

        today = now.astimezone(ZoneInfo(prop.timezone)).date()
        run_date = cmd.run_date or business_yesterday(now, prop.timezone)
        if run_date > today:
            raise ValidationFailed("run date is in the future for this property", run_date=run_date.isoformat())
        if cmd.origin is RunOrigin.BACKFILL and run_date < today - timedelta(days=deps.backfill_days):
            # Plan §5: backfills are capped to avoid warehouse cost spikes.
            raise BackfillTooOld(f"backfills reach back at most {deps.backfill_days} days",
                                 run_date=run_date.isoformat(), earliest=(today - timedelta(days=deps.backfill_days)).isoformat())

        key = idempotency_key(cmd.origin, user_key=cmd.idempotency_key, schedule_id=cmd.schedule_id,
                              scheduled_at=cmd.scheduled_at, property_id=prop.property_id,
                              template_version_id=version.template_version_id, run_date=run_date)
        fingerprint = request_hash(property_id=prop.property_id, template_ref=ref, run_date=run_date,
                                   params=cmd.params, locale=locale, formats=formats)
        # Scheduled and backfill runs are never refused (fairness.py); ad-hoc ones take the tenant's
        # admission lock before the lookup below, so the lookup sees a concurrent twin's commit.
        admit = admit_user_run(uow, cmd.tenant_id, deps) if cmd.origin is RunOrigin.USER else None
        existing = uow.runs.by_idempotency_key(key)
        if existing is None:
            # Archived versions are refused for new runs only: a retried request for an
            # existing run (above) still answers with that run.
            version.check_usable_for_new_run()
            if admit is not None:
                admit()
            run = ReportRun.request(
                run_id=str(uuid.uuid4()), tenant_id=cmd.tenant_id, property_id=prop.property_id,
                template_version_id=version.template_version_id, snapshot_hash=version.snapshot_hash,
                params=dict(cmd.params), locale=locale, formats=formats, run_date=run_date, origin=cmd.origin,
                idempotency_key=key, request_hash=fingerprint, requested_by=cmd.requested_by,
                correlation_id=cmd.correlation_id or str(uuid.uuid4()), now=now, supersedes=cmd.supersedes)
            if admit is not None:
                # Under the tenant's admission lock no twin can have taken this key since the lookup:
                # the insert travels with the outbox row and COMMIT, one round trip for the three.
                uow.runs.add_with_commit(run)
                uow.commit()
                return RequestOutcome(run, created=True)
            if uow.runs.add(run):
                uow.commit()
                return RequestOutcome(run, created=True)
            existing = uow.runs.by_idempotency_key(key)  # a concurrent request won the race
            assert existing is not None
        if existing.request_hash != fingerprint:
            raise IdempotencyKeyReused(key)
        return RequestOutcome(existing, created=False)


OPERATOR_CANCELLED = "cancelled by operator"


def cancel_report_run(cmd: CancelReportRun, deps: Dependencies) -> ReportRun:
    """Cancel a requested or rendering run; an illegal state answers with a typed conflict."""
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        run = uow.runs.get(cmd.run_id, for_update=True)
        if run is None:
            raise NotFound("run not found")
        before = run.state
        # The event says only that an operator cancelled: free text may name a guest and
        # events travel to other services. The operator's words stay in the audit log.
        run.cancel(deps.clock.now(), OPERATOR_CANCELLED)
        uow.runs.save(run, expected_state=before)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.cancelled_by, action="report_run.cancel",
                         target_type="report_run", target_id=run.run_id,
                         details={"from": str(before), "reason": cmd.reason[:500]})
        uow.commit()
        return run


def rerender_report_run(cmd: RerenderReportRun, deps: Dependencies) -> RequestOutcome:
    """Supersede a succeeded run (or cancel one in flight) and request its replacement; idempotent per key."""
    now = deps.clock.now()
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        old = uow.runs.get(cmd.run_id, for_update=True)
        if old is None:
            raise NotFound("run not found")
        key = idempotency_key(RunOrigin.USER, user_key=cmd.idempotency_key)
        # The replacement is an ad-hoc run like any other: same admission lock (so it cannot race a
        # POST /runs with the same key) and the same in-flight cap.
        admit = admit_user_run(uow, cmd.tenant_id, deps)
        existing = uow.runs.by_idempotency_key(key)
        if existing is not None:
            if existing.supersedes != old.run_id:
                raise IdempotencyKeyReused(key)
            return RequestOutcome(existing, created=False)
        if admit is not None:
            admit()
        if old.state is RunState.SUPERSEDED:
            raise IllegalStateTransition("report run", old.state, RunState.SUPERSEDED)
        old_version = uow.templates.get_version(old.template_version_id)
        assert old_version is not None
        version = uow.templates.latest_published(old_version.template_id) or old_version
        version.check_usable_for_new_run()
        new = ReportRun.request(
            run_id=str(uuid.uuid4()), tenant_id=old.tenant_id, property_id=old.property_id,
            template_version_id=version.template_version_id, snapshot_hash=version.snapshot_hash,
            params=dict(old.params), locale=old.locale, formats=list(old.formats), run_date=old.run_date,
            origin=RunOrigin.USER, idempotency_key=key,
            request_hash=request_hash(property_id=old.property_id, template_ref=f"rerender:{old.run_id}",
                                      run_date=old.run_date, params=old.params, locale=old.locale,
                                      formats=old.formats),
            requested_by=cmd.requested_by, correlation_id=old.correlation_id, now=now, supersedes=old.run_id)
        uow.runs.add(new)
        before = old.state
        if before is RunState.SUCCEEDED:
            old.supersede(now, new.run_id)
        elif before in (RunState.REQUESTED, RunState.RENDERING):
            old.cancel(now, "superseded by a re-render")
        if old.state is not before:
            uow.runs.save(old, expected_state=before)
        # Old artifacts stay, per their retention class (plan §5).
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.requested_by, action="report_run.rerender",
                         target_type="report_run", target_id=old.run_id,
                         details={"new_run_id": new.run_id, "template_version_id": version.template_version_id})
        uow.commit()
        return RequestOutcome(new, created=True)
