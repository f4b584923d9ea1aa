"""Submission: the SPEC §3 state machine, its events (checked against the catalog), subjects and corrections."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from reporting.domain.errors import Conflict, IllegalStateTransition, ValidationFailed
from reporting.domain.events import DomainEvent
from reporting.domain.submission import (FINAL, OPEN, TRANSITIONS, Adapter, SubjectKind, Submission,
                                         SubmissionState)
from reporting.events.catalog import schema_for, validate_or_throw
from reporting.events.envelope import split_event_type

S = SubmissionState
NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
CUTOFF = datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc)  # 10:00 Asia/Kabul the next day
TENANT = "11111111-1111-4111-8111-111111111111"
PROPERTY = "22222222-2222-4222-8222-222222222222"
RUN = "33333333-3333-4333-8333-333333333333"

# SPEC §3, written out independently of the code's TRANSITIONS table: pending → submitting → accepted |
# rejected, retrying in between, missed_cutoff from anything not accepted (a permanent rejection nobody
# corrected in time is a miss too; the cutoff_missed event's last_state allows it).
ALLOWED = {
    (S.PENDING, S.SUBMITTING),
    (S.SUBMITTING, S.ACCEPTED),
    (S.SUBMITTING, S.REJECTED),
    (S.SUBMITTING, S.RETRYING),
    (S.RETRYING, S.SUBMITTING),
    (S.PENDING, S.MISSED_CUTOFF),
    (S.SUBMITTING, S.MISSED_CUTOFF),
    (S.RETRYING, S.MISSED_CUTOFF),
    (S.REJECTED, S.MISSED_CUTOFF),
}


def new_submission(adapter: Adapter = Adapter.AF_POLICE, kind: SubjectKind = SubjectKind.BUSINESS_DATE,
                   ref: str = "2026-11-23", **overrides: Any) -> Submission:
    fields: dict[str, Any] = dict(submission_id=str(uuid.uuid4()), tenant_id=TENANT, property_id=PROPERTY,
                                  run_id=RUN, adapter=adapter, subject_kind=kind, subject_ref=ref, cutoff_at=CUTOFF,
                                  now=NOW)
    fields.update(overrides)
    return Submission.create(**fields)


def transition(s: Submission, wanted: SubmissionState) -> None:
    """Drive the submission towards `wanted` through its public API (nothing goes back to PENDING)."""
    later = NOW + timedelta(minutes=5)
    actions: dict[SubmissionState, Callable[[], None]] = {
        S.SUBMITTING: lambda: s.begin_attempt(later),
        S.ACCEPTED: lambda: s.accept(later, "KBL-PD3-2026-004512"),
        S.REJECTED: lambda: s.reject(later, "BR-KSA-37", "bad issue time", permanent=True),
        S.RETRYING: lambda: s.reject(later, "503", "unavailable", permanent=False,
                                     retry_at=later + timedelta(minutes=10)),
        S.MISSED_CUTOFF: lambda: s.miss_cutoff(CUTOFF),
        S.PENDING: lambda: s._move(S.PENDING, later),
    }
    actions[wanted]()


def envelope_for(event: DomainEvent) -> dict[str, Any]:
    """The envelope the unit of work would write to the outbox for this event."""
    subject, version = split_event_type(event.subject)
    return {
        "event_id": str(uuid.uuid4()), "subject": subject, "version": version, "occurred_at": NOW.isoformat(),
        "tenant_id": TENANT, "residency": "AF", "correlation_id": str(uuid.uuid4()),
        "causation_id": event.causation_id, "aggregate_id": event.aggregate_id, "data": event.data,
    }


def assert_matches_catalog(event: DomainEvent) -> None:
    validate_or_throw(envelope_for(event))
    declared = schema_for(event.subject)["properties"]["data"]["properties"]
    extra = set(event.data) - set(declared)
    assert not extra, f"{event.subject} carries fields its schema does not declare: {sorted(extra)}"


# --- state machine -----------------------------------------------------------


def test_code_transition_table_is_exactly_spec_section_3() -> None:
    assert {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets} == ALLOWED


def test_accepted_and_missed_cutoff_are_final_and_everything_else_is_watched() -> None:
    assert FINAL == {S.ACCEPTED, S.MISSED_CUTOFF}
    assert OPEN == {S.PENDING, S.SUBMITTING, S.RETRYING, S.REJECTED}


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_transition_moves_the_submission(current: SubmissionState, wanted: SubmissionState) -> None:
    s = new_submission()
    s.state = current
    s.attempts = 0 if current is S.PENDING else 1
    transition(s, wanted)
    assert s.state is wanted


@pytest.mark.parametrize(("current", "wanted"),
                         [pair for pair in itertools.product(S, S) if pair not in ALLOWED])
def test_transition_not_in_spec_raises_a_typed_conflict_and_leaves_the_submission_untouched(
        current: SubmissionState, wanted: SubmissionState) -> None:
    s = new_submission()
    s.state = current
    before = (s.attempts, s.updated_at, s.last_error_code, s.authority_reference, s.next_attempt_at)
    with pytest.raises(IllegalStateTransition) as err:
        transition(s, wanted)
    assert s.state is current
    assert (s.attempts, s.updated_at, s.last_error_code, s.authority_reference, s.next_attempt_at) == before
    assert s.events == [], "an illegal transition must not emit an event"
    assert isinstance(err.value, Conflict) and err.value.http_status == 409
    assert err.value.details == {"current": current, "wanted": wanted}


def test_accepted_submission_is_never_missed_or_submitted_again() -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    s.accept(NOW + timedelta(seconds=3), "KBL-PD3-2026-004512")
    for action in (lambda: s.miss_cutoff(CUTOFF + timedelta(hours=1)), lambda: s.begin_attempt(NOW)):
        with pytest.raises(IllegalStateTransition):
            action()
    assert s.state is S.ACCEPTED and s.attempts == 1 and len(s.events) == 1


def test_a_missed_cutoff_is_recorded_once() -> None:
    s = new_submission()
    s.miss_cutoff(CUTOFF + timedelta(seconds=30))
    with pytest.raises(IllegalStateTransition):
        s.miss_cutoff(CUTOFF + timedelta(minutes=1))
    assert [e.subject for e in s.events] == ["regulatory_submission.cutoff_missed.v1"]


# --- attempts, retries, the cutoff -------------------------------------------


def test_retry_path_counts_attempts_and_plans_the_next_one() -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    retry_at = NOW + timedelta(minutes=2)
    s.reject(NOW + timedelta(seconds=5), "503", "Service temporarily unavailable", permanent=False,
             retry_at=retry_at)
    assert (s.state, s.next_attempt_at, s.last_error_code) == (S.RETRYING, retry_at, "503")
    assert s.last_error_at == NOW + timedelta(seconds=5)
    s.begin_attempt(retry_at)
    assert (s.state, s.attempts, s.last_attempt_at, s.next_attempt_at) == (S.SUBMITTING, 2, retry_at, None)
    s.accept(retry_at + timedelta(seconds=1), "ref-2")
    assert (s.state, s.accepted_at, s.authority_reference) == (S.ACCEPTED, retry_at + timedelta(seconds=1), "ref-2")
    assert s.is_final


@pytest.mark.parametrize("retry_at", [CUTOFF, CUTOFF + timedelta(hours=1), NOW - timedelta(seconds=1)])
def test_a_retry_is_never_planned_past_the_cutoff_or_in_the_past(retry_at: datetime) -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    with pytest.raises(ValidationFailed):
        s.reject(NOW, "503", permanent=False, retry_at=retry_at)
    assert s.state is S.SUBMITTING and s.events == []


def test_a_transient_failure_with_no_window_left_waits_for_the_watchdog() -> None:
    s = new_submission()
    s.begin_attempt(CUTOFF - timedelta(seconds=5))
    s.reject(CUTOFF - timedelta(seconds=1), "timeout", permanent=False)
    assert s.state is S.RETRYING and s.next_attempt_at is None
    s.miss_cutoff(CUTOFF)
    assert s.events[-1].data["last_state"] == "retrying"


def test_a_permanent_rejection_is_not_retried() -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    with pytest.raises(ValidationFailed):
        s.reject(NOW, "BR-KSA-37", permanent=True, retry_at=NOW + timedelta(minutes=1))
    s.reject(NOW, "BR-KSA-37", permanent=True)
    assert s.state is S.REJECTED and s.next_attempt_at is None
    with pytest.raises(IllegalStateTransition):
        s.begin_attempt(NOW)


def test_the_cutoff_cannot_be_missed_before_it_passes() -> None:
    s = new_submission()
    with pytest.raises(ValidationFailed):
        s.miss_cutoff(CUTOFF - timedelta(microseconds=1))
    assert s.state is S.PENDING and s.events == []


@pytest.mark.parametrize("code", ["", "has space", "x" * 101, "Ahmad Khan"])
def test_error_codes_are_codes_not_free_text(code: str) -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    with pytest.raises(ValidationFailed):
        s.reject(NOW, code, permanent=True)
    assert s.last_error_code is None


@pytest.mark.parametrize("reference", ["", "r" * 201])
def test_an_acceptance_needs_an_authority_reference(reference: str) -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    with pytest.raises(ValidationFailed):
        s.accept(NOW, reference)
    assert s.state is S.SUBMITTING


def test_times_must_be_aware() -> None:
    with pytest.raises(ValidationFailed):
        new_submission(cutoff_at=CUTOFF.replace(tzinfo=None))
    s = new_submission()
    with pytest.raises(ValidationFailed):
        s.begin_attempt(NOW.replace(tzinfo=None))


# --- subjects ----------------------------------------------------------------


@pytest.mark.parametrize("adapter, kind, ref", [
    (Adapter.AF_POLICE, SubjectKind.BUSINESS_DATE, "2026-11-23"),
    (Adapter.KSA_ZATCA, SubjectKind.INVOICE, "INV-2026-000481"),
    (Adapter.IN_FORM_C, SubjectKind.GUEST_STAY, "9d1f3b5e-7a0c-4dcf-9b4e-6acd0e2a4cdf"),
    (Adapter.FAKE, SubjectKind.INVOICE, "INV-1"),
    (Adapter.FAKE, SubjectKind.BUSINESS_DATE, "2026-11-23"),
])
def test_each_adapter_takes_its_own_subject_kind(adapter: Adapter, kind: SubjectKind, ref: str) -> None:
    s = new_submission(adapter, kind, ref)
    assert (s.state, s.attempts, s.events) == (S.PENDING, 0, [])


@pytest.mark.parametrize("adapter, kind, ref", [
    (Adapter.AF_POLICE, SubjectKind.INVOICE, "INV-1"),
    (Adapter.KSA_ZATCA, SubjectKind.GUEST_STAY, "stay-1"),
    (Adapter.IN_FORM_C, SubjectKind.BUSINESS_DATE, "2026-11-23"),
    (Adapter.AF_POLICE, SubjectKind.BUSINESS_DATE, "23/11/2026"),
    (Adapter.AF_POLICE, SubjectKind.BUSINESS_DATE, "2026-02-30"),
    (Adapter.FAKE, SubjectKind.BUSINESS_DATE, "20261123"),
    (Adapter.FAKE, SubjectKind.BUSINESS_DATE, "2026-W48-1"),  # an ISO week date is not a business date here
    (Adapter.IN_FORM_C, SubjectKind.GUEST_STAY, "Ahmad Khan"),  # a name has a space: never a subject
    (Adapter.KSA_ZATCA, SubjectKind.INVOICE, ""),
    (Adapter.KSA_ZATCA, SubjectKind.INVOICE, "I" * 129),
])
def test_subjects_that_do_not_fit_are_refused(adapter: Adapter, kind: SubjectKind, ref: str) -> None:
    with pytest.raises(ValidationFailed):
        new_submission(adapter, kind, ref)


def test_adapter_names_are_the_events_names() -> None:
    data = schema_for("regulatory_submission.accepted.v1")["properties"]["data"]["properties"]
    assert data["adapter"]["enum"] == [str(a) for a in Adapter]
    assert data["subject_kind"]["enum"] == [str(k) for k in SubjectKind]
    missed = schema_for("regulatory_submission.cutoff_missed.v1")["properties"]["data"]["properties"]
    assert set(missed["last_state"]["enum"]) == set(OPEN)


# --- corrections -------------------------------------------------------------


@pytest.mark.parametrize("settled", [S.ACCEPTED, S.REJECTED, S.MISSED_CUTOFF])
def test_a_settled_submission_can_be_corrected_by_a_linked_new_one(settled: SubmissionState) -> None:
    original = new_submission()
    original.state = settled
    later = NOW + timedelta(days=1)
    fix = original.correction(submission_id=str(uuid.uuid4()), run_id=str(uuid.uuid4()),
                              cutoff_at=later + timedelta(hours=24), now=later)
    assert fix.corrects == original.submission_id and fix.is_correction and not original.is_correction
    assert (fix.state, fix.attempts, fix.subject_ref, fix.adapter) == (S.PENDING, 0, "2026-11-23", Adapter.AF_POLICE)


def test_a_zatca_correction_may_name_its_credit_note() -> None:
    invoice = new_submission(Adapter.KSA_ZATCA, SubjectKind.INVOICE, "INV-2026-000481")
    invoice.state = S.ACCEPTED
    credit_note = invoice.correction(submission_id=str(uuid.uuid4()), run_id=RUN, cutoff_at=CUTOFF, now=NOW,
                                     subject_ref="CN-2026-000001")
    assert (credit_note.subject_kind, credit_note.subject_ref) == (SubjectKind.INVOICE, "CN-2026-000001")
    assert credit_note.corrects == invoice.submission_id


@pytest.mark.parametrize("in_flight", [S.PENDING, S.SUBMITTING, S.RETRYING])
def test_a_submission_in_flight_cannot_be_corrected(in_flight: SubmissionState) -> None:
    original = new_submission()
    original.state = in_flight
    with pytest.raises(Conflict):
        original.correction(submission_id=str(uuid.uuid4()), run_id=RUN, cutoff_at=CUTOFF, now=NOW)


def test_a_submission_cannot_correct_itself() -> None:
    same = str(uuid.uuid4())
    with pytest.raises(ValidationFailed):
        new_submission(submission_id=same, corrects=same)


# --- events ------------------------------------------------------------------


def test_accept_records_one_accepted_event_valid_against_its_schema() -> None:
    s = new_submission()
    s.begin_attempt(NOW)
    s.accept(NOW + timedelta(seconds=4), "KBL-PD3-2026-004512")
    [event] = s.events
    assert event.subject == "regulatory_submission.accepted.v1" and event.aggregate_id == s.submission_id
    assert event.data["attempts"] == 1 and event.data["authority_reference"] == "KBL-PD3-2026-004512"
    assert event.data["cutoff_at"] == CUTOFF.isoformat()
    assert_matches_catalog(event)


@pytest.mark.parametrize("permanent", [True, False])
def test_reject_records_a_rejected_event_valid_against_its_schema(permanent: bool) -> None:
    s = new_submission(Adapter.KSA_ZATCA, SubjectKind.INVOICE, "INV-2026-000481")
    s.begin_attempt(NOW)
    s.reject(NOW, "BR-KSA-37", "m" * 2000, permanent=permanent,
             retry_at=None if permanent else NOW + timedelta(minutes=1))
    [event] = s.events
    assert event.subject == "regulatory_submission.rejected.v1" and event.data["permanent"] is permanent
    assert len(event.data["rejection_message"]) == 500  # the schema's maxLength
    assert_matches_catalog(event)


@pytest.mark.parametrize("last", [S.PENDING, S.SUBMITTING, S.RETRYING, S.REJECTED])
def test_a_miss_records_a_cutoff_missed_event_with_where_it_stood(last: SubmissionState) -> None:
    s = new_submission(Adapter.IN_FORM_C, SubjectKind.GUEST_STAY, "9d1f3b5e-7a0c-4dcf-9b4e-6acd0e2a4cdf")
    if last is not S.PENDING:
        transition(s, S.SUBMITTING)
    if last in (S.RETRYING, S.REJECTED):
        transition(s, last)
    s.events.clear()
    s.miss_cutoff(CUTOFF + timedelta(seconds=58))
    [event] = s.events
    assert event.subject == "regulatory_submission.cutoff_missed.v1"
    assert event.data["last_state"] == str(last)
    assert event.data["detected_at"] == (CUTOFF + timedelta(seconds=58)).isoformat()
    assert s.state is S.MISSED_CUTOFF and s.next_attempt_at is None
    assert_matches_catalog(event)


def test_events_carry_no_guest_data_only_ids_codes_and_references() -> None:
    s = new_submission(Adapter.IN_FORM_C, SubjectKind.GUEST_STAY, "stay-4711")
    s.begin_attempt(NOW)
    s.reject(NOW, "FRRO-12", "", permanent=False, retry_at=NOW + timedelta(minutes=1))
    assert set(s.events[0].data) == {"submission_id", "property_id", "run_id", "adapter", "subject_kind",
                                     "subject_ref", "cutoff_at", "attempts", "rejection_code", "rejection_message",
                                     "permanent"}
