"""The runs watchdog (issue 7 item 5): a run stuck in `rendering` is failed with a reason, and each tenant's SLO
is logged as a metric line, every few minutes (a Cloud Scheduler-triggered job).

A render that died without a trace (instance killed past the ack deadline, redeliveries
exhausted into the dead-letter topic) leaves its run in `rendering` forever: the operator
sees a spinner, the SLO counts it late only once its due time passes, and nobody is told.
After RENDER_TIMEOUT the watchdog fails it with MELMASTOON.REPORTING.RENDER_TIMEOUT, so
the operator sees why and can re-render; `report_run.failed.v1` tells the other services.
A render that does finish later finds the run failed and keeps that state (render use
case), so nothing is half-written. Scheduled runs have their own keys per occurrence: a
stuck run never holds back the next one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reporting.domain.report_run import RunState
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.slo import ServiceLevel, SloWindow, tenant_slo

log = get_logger(__name__)

RENDER_TIMEOUT_CODE = "MELMASTOON.REPORTING.RENDER_TIMEOUT"
# The render function's own timeout is 9 minutes and Pub/Sub redelivers up to 5 times
# (events/wiring.py): a render still `rendering` after 30 minutes has no live attempt left.
DEFAULT_RENDER_TIMEOUT = timedelta(minutes=30)
STUCK_PER_PASS = 1000
WATCHDOG = "watchdog"


@dataclass
class RunsWatchdogReport:
    stuck: int = 0
    failed: int = 0
    moved_on: int = 0  # finished (or cancelled) between the scan and the tenant's transaction
    errors: int = 0
    slo_tenants: int = 0
    failed_run_ids: list[str] = field(default_factory=list)


def fail_stuck_runs(now: datetime, deps: Dependencies, *, timeout: timedelta = DEFAULT_RENDER_TIMEOUT,
                    limit: int = STUCK_PER_PASS, report: RunsWatchdogReport | None = None) -> RunsWatchdogReport:
    """Fail every run in `rendering` since before now - timeout (each in its tenant's transaction)."""
    report = report or RunsWatchdogReport()
    started_before = now - timeout
    with deps.uow(None) as uow:
        stuck = uow.runs.stuck(started_before, limit)
        uow.commit()  # keeps the definer function's audit row
    report.stuck += len(stuck)
    minutes = int(timeout.total_seconds() // 60)
    for run_id, tenant_id in stuck:
        try:
            with deps.uow(tenant_id) as uow:
                run = uow.runs.get(run_id, for_update=True)
                if run is None or run.state is not RunState.RENDERING or run.started_at is None \
                        or run.started_at >= started_before:
                    report.moved_on += 1
                    continue
                run.fail(now, RENDER_TIMEOUT_CODE, f"rendering did not finish within {minutes} minutes; "
                                                   "re-render the run to try again")
                uow.runs.save(run, expected_state=RunState.RENDERING)
                uow.audit.append(tenant_id=tenant_id, actor=WATCHDOG, action="report_run.fail_stuck",
                                 target_type="report_run", target_id=run_id,
                                 details={"started_at": run.started_at.isoformat(), "timeout_minutes": minutes})
                uow.commit()
        except Exception as error:  # another tenant's run still gets its turn; this one is found next pass
            log.exception("watchdog could not fail a stuck run", extra={"run_id": run_id, "tenant_id": tenant_id,
                                                                         "error_type": type(error).__name__})
            report.errors += 1
            continue
        report.failed += 1
        report.failed_run_ids.append(run_id)
        # One line per run, read by the log-based alert on late runs (terraform monitoring.tf).
        log.warning("report run stuck in rendering was failed", extra={
            "alert": "report_run_late", "tenant_id": tenant_id, "run_id": run_id,
            "property_id": run.property_id, "origin": str(run.origin), "due_by": run.due_by.isoformat(),
            "started_at": run.started_at.isoformat(), "timeout_minutes": minutes})
    return report


def log_tenant_slos(now: datetime, deps: Dependencies, service_level: ServiceLevel,
                    report: RunsWatchdogReport | None = None) -> RunsWatchdogReport:
    """Log each active tenant's SLO over today (UTC) as a metric line, so the alert sees every tenant, every pass."""
    report = report or RunsWatchdogReport()
    with deps.uow(None) as uow:
        tenant_ids = uow.backfill.tenants()
        uow.commit()
    window = SloWindow(now.date(), now.date())
    for tenant_id in tenant_ids:
        try:
            tenant_slo(tenant_id, window, deps, service_level)  # logs the metric line itself
        except Exception as error:
            log.exception("watchdog could not compute a tenant's SLO", extra={"tenant_id": tenant_id,
                                                                               "error_type": type(error).__name__})
            report.errors += 1
            continue
        report.slo_tenants += 1
    return report
