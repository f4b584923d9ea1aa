"""Regulatory submissions (issue 6, SPEC §3 and §8): open them from succeeded regulatory runs, file them before
their cutoff, and watch them.

- **Opening** (the submit function, on report_run.completed.v1): a succeeded run of a
  regulatory template, not backfilled, for a property that has the template's adapter
  switched on, yields one submission per subject — the business date (AF police), each
  invoice (ZATCA), each foreign guest's arrival (Form C) — read from the run's own CSV
  artifact, which is exactly what was rendered. The subject is the key: a redelivered
  event or an overlapping hourly run opens nothing twice. A re-render (a run that
  supersedes another) opens a correction of each subject's latest settled submission.
- **Filing**: one attempt at a time per submission (row lock, SKIP LOCKED), the state
  recorded before the call and the result after it, so a crash in between leaves a
  `submitting` row the watchdog takes back after ATTEMPT_TIMEOUT. Transient failures
  are retried with jittered exponential backoff never planned past the cutoff;
  permanent rejections are not retried (they alert). Whether a property's adapter is
  the fake or the live one is a property setting (`settings.regulatory_live`): the
  cut-over is a setting, not a deploy.
- **Watching** (a job every few minutes): files what is due, escalates what is close
  to its cutoff and not accepted (one WARNING line per pass), and marks what passed
  its cutoff `missed_cutoff` — the event once, one ERROR line for the log-based alert.
"""
from __future__ import annotations

import csv
import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from reporting.domain.artifact import artifact_name
from reporting.domain.cutoffs import AUTHORITY_TIMEZONE, business_date_cutoff, per_subject_cutoff, plan_retry
from reporting.domain.errors import NotFound
from reporting.domain.report_run import RunOrigin, RunState
from reporting.domain.submission import CORRECTABLE, Adapter, Submission, SubjectKind, SubmissionState
from reporting.events.envelope import Envelope
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.regulatory import FilingRequest, FilingResult, Outcome, RegulatoryAdapter

log = get_logger(__name__)

ATTEMPT_TIMEOUT = timedelta(minutes=10)  # a `submitting` row older than this lost its attempt (a crash)
ESCALATE_BEFORE = timedelta(hours=2)
WATCH_LIMIT = 5000

# Which column of the regulatory dataset names each subject, and when the subject happened.
SUBJECT_COLUMNS: dict[Adapter, tuple[str, str | None]] = {
    Adapter.KSA_ZATCA: ("invoice_number", "issued_at"),
    Adapter.IN_FORM_C: ("reservation_id", "arrived_at_hotel"),
}

AdapterFor = Callable[[Submission, bool], RegulatoryAdapter]  # (submission, live?) → the adapter that files it


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    ref: str
    cutoff_at: datetime


@dataclass
class SubmitReport:
    opened: int = 0
    corrections: int = 0
    duplicates: int = 0
    skipped: str | None = None
    attempts: list[str] = field(default_factory=list)


@dataclass
class WatchReport:
    watched: int = 0
    attempted: int = 0
    accepted: int = 0
    retried: int = 0
    rejected: int = 0
    missed: int = 0
    escalated: int = 0
    errors: int = 0


def _rows(deps: Dependencies, tenant_id: str, run_id: str) -> list[dict[str, str]]:
    data = deps.artifact_store().read(artifact_name(tenant_id, run_id, "csv"))
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _local_time(value: str, adapter: Adapter) -> datetime:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(AUTHORITY_TIMEZONE[adapter]))


def subjects_of(adapter: Adapter, run_date: Any, rows: Iterable[dict[str, str]]) -> list[Subject]:
    """The subjects a regulatory run's rows yield, each with its legal cutoff."""
    if adapter is Adapter.AF_POLICE:
        return [Subject(SubjectKind.BUSINESS_DATE, run_date.isoformat(), business_date_cutoff(adapter, run_date))]
    key, at = SUBJECT_COLUMNS[adapter]
    kind = SubjectKind.INVOICE if adapter is Adapter.KSA_ZATCA else SubjectKind.GUEST_STAY
    subjects: dict[str, Subject] = {}
    for row in rows:
        ref = (row.get(key) or "").strip()
        if ref and ref not in subjects:
            subjects[ref] = Subject(kind, ref, per_subject_cutoff(_local_time(row[at], adapter)))
    return list(subjects.values())


def _rows_for(submission: Submission, rows: list[dict[str, str]]) -> tuple[dict[str, str], ...]:
    if submission.adapter is Adapter.AF_POLICE or submission.subject_kind is SubjectKind.BUSINESS_DATE:
        return tuple(rows)
    key, _ = SUBJECT_COLUMNS[submission.adapter]
    return tuple(r for r in rows if r.get(key) == submission.subject_ref)


def _latest(uow: Any, original: Submission) -> Submission:
    latest = original
    while (nxt := uow.submissions.for_subject(latest.property_id, latest.adapter, latest.subject_kind,
                                               latest.subject_ref, corrects=latest.submission_id)) is not None:
        latest = nxt
    return latest


def open_submissions(envelope: Envelope, deps: Dependencies, adapter_for: AdapterFor, *,
                     rng: random.Random | None = None) -> SubmitReport:
    """report_run.completed.v1 → the run's submissions, then a first attempt at each new one."""
    tenant_id, run_id = envelope.tenant_id, envelope.data["run_id"]
    report = SubmitReport()
    with deps.uow(tenant_id, causation_id=envelope.event_id, correlation_id=envelope.correlation_id) as uow:
        run = uow.runs.get(run_id)
        if run is None:
            raise NotFound("run not found", run_id=run_id)
        version = uow.templates.get_version(run.template_version_id)
        prop = uow.properties.get(run.property_id)
    if version is None or prop is None:
        raise NotFound("the run's template version or property is gone", run_id=run_id)
    if not version.regulatory_adapter:
        report.skipped = "operational template"
    elif run.origin is RunOrigin.BACKFILL:
        report.skipped = "backfilled runs never submit"
    elif run.state not in (RunState.SUCCEEDED, RunState.SUPERSEDED):
        report.skipped = f"run is {run.state}"
    elif version.regulatory_adapter not in prop.adapters:
        report.skipped = "the adapter is not switched on for this property"
    if report.skipped:
        log.info("no submissions for run", extra={"run_id": run_id, "reason": report.skipped})
        return report
    adapter = Adapter(version.regulatory_adapter)
    subjects = subjects_of(adapter, run.run_date, _rows(deps, tenant_id, run_id))
    new: list[str] = []
    now = deps.clock.now()
    with deps.uow(tenant_id, causation_id=envelope.event_id, correlation_id=envelope.correlation_id) as uow:
        for subject in subjects:
            existing = uow.submissions.for_subject(run.property_id, adapter, subject.kind, subject.ref)
            if existing is None:
                submission = Submission.create(
                    submission_id=str(uuid.uuid4()), tenant_id=tenant_id, property_id=run.property_id,
                    run_id=run_id, adapter=adapter, subject_kind=subject.kind, subject_ref=subject.ref,
                    cutoff_at=subject.cutoff_at, now=now)
                if uow.submissions.add(submission):
                    new.append(submission.submission_id)
                    report.opened += 1
                else:
                    report.duplicates += 1
                continue
            latest = _latest(uow, existing)
            if run.supersedes and latest.run_id != run_id and latest.state in CORRECTABLE:
                # The operator re-rendered after the data changed: file the new payload as a correction.
                correction = latest.correction(submission_id=str(uuid.uuid4()), run_id=run_id,
                                               cutoff_at=max(subject.cutoff_at, now + timedelta(hours=24)), now=now)
                if uow.submissions.add(correction):
                    new.append(correction.submission_id)
                    report.corrections += 1
            else:
                report.duplicates += 1
        uow.commit()
    log.info("submissions opened", extra={"run_id": run_id, "tenant_id": tenant_id, "adapter": str(adapter),
                                          "opened": report.opened, "corrections": report.corrections,
                                          "duplicates": report.duplicates})
    for submission_id in new:
        report.attempts.append(attempt(tenant_id, submission_id, deps, adapter_for, rng=rng))
    return report


def attempt(tenant_id: str, submission_id: str, deps: Dependencies, adapter_for: AdapterFor, *,
            rng: random.Random | None = None) -> str:
    """One filing attempt if the submission is due; returns what happened."""
    now = deps.clock.now()
    with deps.uow(tenant_id) as uow:
        submission = uow.submissions.get(submission_id, for_update=True, skip_locked=True)
        if submission is None:
            return "busy"  # another attempt or the watchdog holds it
        loaded = SubmissionState(submission.state)
        outcome = _claim(submission, now)
        if outcome is not None:
            if submission.state is not loaded:
                uow.submissions.save(submission, expected_state=loaded)
            uow.commit()
            if outcome == "missed":
                _log_missed(submission, now)
            return outcome
        submission.begin_attempt(now)
        uow.submissions.save(submission, expected_state=loaded)
        prop = uow.properties.get(submission.property_id)
        corrects = uow.submissions.get(submission.corrects) if submission.corrects else None
        uow.commit()
    live = bool(prop and submission.adapter.value in (prop.settings.get("regulatory_live") or []))
    try:
        request = FilingRequest(
            submission_id=submission.submission_id, tenant_id=tenant_id, property_id=submission.property_id,
            adapter=str(submission.adapter), subject_kind=str(submission.subject_kind),
            subject_ref=submission.subject_ref, cutoff_at=submission.cutoff_at, attempt=submission.attempts,
            rows=_rows_for(submission, _rows(deps, tenant_id, submission.run_id)),
            property_ids=dict(prop.regulatory_ids) if prop else {},
            corrects_reference=corrects.authority_reference if corrects else None)
        result = adapter_for(submission, live).file(request)
    except NotFound:  # the run's payload is gone: retrying cannot bring it back; an operator must re-render
        result = FilingResult.rejected("PAYLOAD_UNAVAILABLE", "the run's regulatory payload (its CSV) is missing")
    except Exception as error:  # an adapter bug or an unexpected transport error: retry, never lose it
        log.exception("regulatory adapter raised", extra={"submission_id": submission_id,
                                                          "error_type": type(error).__name__})
        result = FilingResult.transient("ADAPTER_ERROR", type(error).__name__)
    done = deps.clock.now()
    with deps.uow(tenant_id) as uow:
        current = uow.submissions.get(submission_id, for_update=True)
        if current is None or current.state is not SubmissionState.SUBMITTING or current.attempts != submission.attempts:
            uow.commit()
            return "superseded"  # the watchdog took it back meanwhile; its own attempt decides
        if result.outcome is Outcome.ACCEPTED:
            current.accept(done, result.reference or "accepted")
        elif result.outcome is Outcome.REJECTED:
            current.reject(done, result.code or "REJECTED", result.message, permanent=True)
        else:
            retry_at = plan_retry(done, current.attempts, current.cutoff_at, rng=rng)
            current.reject(done, result.code or "TRANSIENT", result.message, permanent=False, retry_at=retry_at)
        uow.submissions.save(current, expected_state=SubmissionState.SUBMITTING)
        uow.commit()
    extra = {"submission_id": submission_id, "tenant_id": tenant_id, "adapter": str(submission.adapter),
             "attempt": submission.attempts, "outcome": str(result.outcome), "code": result.code,
             "cutoff_at": submission.cutoff_at.isoformat()}
    if result.outcome is Outcome.REJECTED:  # permanent: somebody must correct the payload before the cutoff
        log.error("regulatory submission rejected", extra={**extra, "alert": "submission_rejected"})
    else:
        log.info("regulatory submission attempted", extra=extra)
    return str(result.outcome)


def _claim(submission: Submission, now: datetime) -> str | None:
    """None when an attempt should start now; else why not (and the state change it made, if any)."""
    state = submission.state
    if state in (SubmissionState.ACCEPTED, SubmissionState.MISSED_CUTOFF):
        return "final"
    if now >= submission.cutoff_at:
        submission.miss_cutoff(now)
        return "missed"
    if state is SubmissionState.REJECTED:
        return "rejected"  # only a correction files it again
    if state is SubmissionState.RETRYING and (submission.next_attempt_at is None or submission.next_attempt_at > now):
        return "not-due"
    if state is SubmissionState.SUBMITTING:
        if submission.last_attempt_at and now - submission.last_attempt_at < ATTEMPT_TIMEOUT:
            return "in-flight"
        # The attempt was lost (a crash between the call and its record): count it as a transient failure.
        submission.reject(now, "ATTEMPT_LOST", "no answer was recorded for the previous attempt", permanent=False,
                          retry_at=now)
    return None


def _log_missed(submission: Submission, now: datetime) -> None:
    log.error("regulatory submission missed its cutoff", extra={
        "alert": "submission_cutoff_missed", "tenant_id": submission.tenant_id, "adapter": str(submission.adapter),
        "submission_id": submission.submission_id, "property_id": submission.property_id,
        "subject_kind": str(submission.subject_kind), "cutoff_at": submission.cutoff_at.isoformat(),
        "detected_at": now.isoformat(), "attempts": submission.attempts})


def watch_submissions(now: datetime, deps: Dependencies, adapter_for: AdapterFor, *,
                      escalate_before: timedelta = ESCALATE_BEFORE, rng: random.Random | None = None,
                      report: WatchReport | None = None) -> WatchReport:
    """One watchdog pass over every open submission that is due, at risk, or past its cutoff."""
    report = report or WatchReport()
    with deps.uow(None) as uow:
        due = uow.submissions.to_watch(now, escalate_before, WATCH_LIMIT)
        uow.commit()  # keeps the definer function's audit row
    report.watched += len(due)
    for submission_id, tenant_id, cutoff_at, state in due:
        try:
            outcome = attempt(tenant_id, submission_id, deps, adapter_for, rng=rng)
        except Exception as error:
            log.exception("submission watchdog could not handle a submission", extra={
                "submission_id": submission_id, "tenant_id": tenant_id, "error_type": type(error).__name__})
            report.errors += 1
            continue
        if outcome == "missed":
            report.missed += 1
            continue
        if outcome in ("accepted", "rejected", "transient"):
            report.attempted += 1
            report.accepted += outcome == "accepted"
            report.rejected += outcome == "rejected"
            report.retried += outcome == "transient"
        if outcome != "accepted" and cutoff_at - now <= escalate_before and state != "accepted":
            report.escalated += 1
            log.warning("regulatory submission at risk of missing its cutoff", extra={
                "alert": "submission_at_risk", "submission_id": submission_id, "tenant_id": tenant_id,
                "cutoff_at": cutoff_at.isoformat(), "minutes_left": int((cutoff_at - now).total_seconds() // 60),
                "state": outcome if outcome in ("rejected", "transient") else state})
    return report


def confirm_submission(tenant_id: str, submission_id: str, authority_reference: str, confirmed_by: str,
                       deps: Dependencies, *, visible_property_ids: Any = None) -> Submission:
    """An operator confirms a filing made by hand on the authority's portal (Form C): the acceptance.

    Idempotent for the same reference. Refused once the cutoff has passed (the miss stands; a late
    filing is a correction) and for adapters that file by machine."""
    from reporting.domain.errors import Conflict
    from reporting.service_layer.tenants import require_writable_tenant

    now = deps.clock.now()
    with deps.uow(tenant_id) as uow:
        require_writable_tenant(uow, tenant_id, deps.residency)
        submission = uow.submissions.get(submission_id, for_update=True)
        if submission is None or (visible_property_ids is not None
                                  and submission.property_id not in visible_property_ids):
            raise NotFound("submission not found")
        if submission.adapter is not Adapter.IN_FORM_C:
            raise Conflict("only a Form C submission is confirmed by an operator; this adapter files by itself",
                           adapter=str(submission.adapter))
        if submission.state is SubmissionState.ACCEPTED:
            if submission.authority_reference == authority_reference:
                return submission
            raise Conflict("the submission was already confirmed with another reference")
        if now >= submission.cutoff_at or submission.state is SubmissionState.MISSED_CUTOFF:
            raise Conflict("the cutoff has passed: the miss stands; file the late Form C as a correction",
                           cutoff_at=submission.cutoff_at.isoformat())
        loaded = SubmissionState(submission.state)
        if submission.state is not SubmissionState.SUBMITTING:
            submission.begin_attempt(now)
        submission.accept(now, authority_reference)
        uow.submissions.save(submission, expected_state=loaded)
        uow.audit.append(tenant_id=tenant_id, actor=confirmed_by, action="submission.confirm",
                         target_type="submission", target_id=submission_id,
                         details={"authority_reference": authority_reference})
        uow.commit()
    log.info("regulatory submission confirmed by an operator", extra={
        "submission_id": submission_id, "tenant_id": tenant_id, "adapter": str(submission.adapter)})
    return submission
