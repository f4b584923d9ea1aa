"""Submission: one subject of a regulatory run filed with an authority before its legal cutoff (SPEC §3, §8).

States (SPEC §3): ``pending → submitting → accepted | rejected``, with ``retrying``
between attempts, and ``missed_cutoff`` when the cutoff passes without an acceptance.

- ``accepted`` and ``missed_cutoff`` are final. A late filing after a miss, or a
  resubmission after the data changed, is a new submission that ``corrects`` this
  one (an explicit operator action), never a state change of this one.
- ``rejected`` is a permanent rejection: not retried, but still watched, so a
  rejection nobody corrected before the cutoff becomes ``missed_cutoff``
  (``regulatory_submission.cutoff_missed.v1`` allows ``last_state: rejected``).
- A transient failure (the authority's "try later", a timeout) goes to ``retrying``
  with the next attempt planned strictly before the cutoff, or none when no window
  is left (the watchdog then records the miss).

Only ids, codes and references live here: the payload (guest data) stays in the
run's artifacts, and an authority's free-text message only travels, truncated, in
the rejection event the adapter already scrubbed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from reporting.domain.errors import Conflict, IllegalStateTransition, ValidationFailed
from reporting.domain.events import DomainEvent


class SubmissionState(StrEnum):
    PENDING = "pending"
    SUBMITTING = "submitting"
    RETRYING = "retrying"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSED_CUTOFF = "missed_cutoff"


class Adapter(StrEnum):
    """The regulatory adapters (the same names as in the regulatory_submission.*.v1 events)."""

    FAKE = "fake"
    AF_POLICE = "af_police"
    KSA_ZATCA = "ksa_zatca"
    IN_FORM_C = "in_form_c"


class SubjectKind(StrEnum):
    BUSINESS_DATE = "business_date"  # AF police guest register: one per property and business date
    INVOICE = "invoice"  # ZATCA: one simplified invoice (or credit note)
    GUEST_STAY = "guest_stay"  # Form C: one foreign guest's arrival


# Each live adapter's subject granularity (SPEC §8); the fake adapter stands in for any of them.
SUBJECT_KINDS: dict[Adapter, frozenset[SubjectKind]] = {
    Adapter.FAKE: frozenset(SubjectKind),
    Adapter.AF_POLICE: frozenset({SubjectKind.BUSINESS_DATE}),
    Adapter.KSA_ZATCA: frozenset({SubjectKind.INVOICE}),
    Adapter.IN_FORM_C: frozenset({SubjectKind.GUEST_STAY}),
}

TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    SubmissionState.PENDING: frozenset({SubmissionState.SUBMITTING, SubmissionState.MISSED_CUTOFF}),
    SubmissionState.SUBMITTING: frozenset({SubmissionState.ACCEPTED, SubmissionState.REJECTED,
                                           SubmissionState.RETRYING, SubmissionState.MISSED_CUTOFF}),
    SubmissionState.RETRYING: frozenset({SubmissionState.SUBMITTING, SubmissionState.MISSED_CUTOFF}),
    SubmissionState.REJECTED: frozenset({SubmissionState.MISSED_CUTOFF}),
    SubmissionState.ACCEPTED: frozenset(),
    SubmissionState.MISSED_CUTOFF: frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# What the watchdog still has to look at (the migration's partial index names the same states).
OPEN = frozenset(SubmissionState) - FINAL
# A correction replaces a submission that is settled one way or the other, never one still in flight.
CORRECTABLE = frozenset({SubmissionState.ACCEPTED, SubmissionState.REJECTED, SubmissionState.MISSED_CUTOFF})

# Business dates, invoice numbers, stay ids: no spaces, so no room for a guest's name.
SUBJECT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$")
BUSINESS_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ERROR_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
MAX_AUTHORITY_REFERENCE = 200
MAX_REJECTION_MESSAGE = 500


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationFailed(f"{name} must be an aware datetime")
    return value


def check_subject(adapter: Adapter, kind: SubjectKind, ref: str) -> None:
    """Raise ValidationFailed unless `ref` is a valid subject of this kind for this adapter."""
    if kind not in SUBJECT_KINDS[adapter]:
        raise ValidationFailed("the adapter does not submit this kind of subject", adapter=str(adapter),
                               subject_kind=str(kind))
    if not isinstance(ref, str) or not SUBJECT_REF.match(ref):
        raise ValidationFailed("subject_ref must be 1-128 characters of letters, digits and ._/:-")
    if kind is SubjectKind.BUSINESS_DATE:
        try:
            # The regex first: fromisoformat also reads 20261123 and week dates (2026-W48-1).
            if not BUSINESS_DATE.match(ref):
                raise ValueError
            date.fromisoformat(ref)
        except ValueError:
            raise ValidationFailed("a business-date subject is a YYYY-MM-DD date") from None


def _error_code(code: str) -> str:
    if not isinstance(code, str) or not ERROR_CODE.match(code):
        raise ValidationFailed("an error code is 1-100 characters of letters, digits and ._:-")
    return code


@dataclass
class Submission:
    submission_id: str
    tenant_id: str
    property_id: str
    run_id: str
    adapter: Adapter
    subject_kind: SubjectKind
    subject_ref: str
    cutoff_at: datetime
    created_at: datetime
    updated_at: datetime
    corrects: str | None = None
    state: SubmissionState = SubmissionState.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    authority_reference: str | None = None
    last_error_code: str | None = None
    last_error_at: datetime | None = None
    accepted_at: datetime | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    # ---- creation ----

    @classmethod
    def create(cls, *, submission_id: str, tenant_id: str, property_id: str, run_id: str, adapter: Adapter | str,
               subject_kind: SubjectKind | str, subject_ref: str, cutoff_at: datetime, now: datetime,
               corrects: str | None = None) -> "Submission":
        """A pending submission of one subject (no event: the first one is its outcome)."""
        adapter, kind = Adapter(adapter), SubjectKind(subject_kind)
        check_subject(adapter, kind, subject_ref)
        if corrects is not None and corrects == submission_id:
            raise ValidationFailed("a submission cannot correct itself")
        return cls(submission_id=submission_id, tenant_id=tenant_id, property_id=property_id, run_id=run_id,
                   adapter=adapter, subject_kind=kind, subject_ref=subject_ref,
                   cutoff_at=_aware("cutoff_at", cutoff_at), created_at=_aware("now", now), updated_at=now,
                   corrects=corrects)

    def correction(self, *, submission_id: str, run_id: str, cutoff_at: datetime, now: datetime,
                   subject_ref: str | None = None) -> "Submission":
        """A resubmission of this (settled) submission from a newer run, linked through `corrects`.
        `subject_ref` defaults to this one's (a ZATCA credit note has a number of its own)."""
        if self.state not in CORRECTABLE:
            raise Conflict("only an accepted, rejected or missed submission can be corrected",
                           submission_id=self.submission_id, state=str(self.state))
        return Submission.create(submission_id=submission_id, tenant_id=self.tenant_id,
                                 property_id=self.property_id, run_id=run_id, adapter=self.adapter,
                                 subject_kind=self.subject_kind, subject_ref=subject_ref or self.subject_ref,
                                 cutoff_at=cutoff_at, now=now, corrects=self.submission_id)

    # ---- reading ----

    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    @property
    def is_correction(self) -> bool:
        return self.corrects is not None

    # ---- the state machine ----

    def _move(self, wanted: SubmissionState, now: datetime) -> None:
        if wanted not in TRANSITIONS[self.state]:
            raise IllegalStateTransition("submission", self.state, wanted)
        self.state = wanted
        self.updated_at = now

    def _emit(self, subject: str, data: dict[str, Any]) -> None:
        self.events.append(DomainEvent(subject, self.submission_id, {
            "submission_id": self.submission_id, "property_id": self.property_id, "run_id": self.run_id,
            "adapter": str(self.adapter), "subject_kind": str(self.subject_kind), "subject_ref": self.subject_ref,
            "cutoff_at": self.cutoff_at.isoformat(), "attempts": self.attempts, **data}))

    def begin_attempt(self, now: datetime) -> None:
        """Start an attempt (from pending, or retrying when its time came)."""
        _aware("now", now)
        self._move(SubmissionState.SUBMITTING, now)
        self.attempts += 1
        self.last_attempt_at = now
        self.next_attempt_at = None

    def accept(self, now: datetime, authority_reference: str) -> None:
        """The authority accepted the attempt in flight and gave its receipt or reference."""
        if not isinstance(authority_reference, str) or not 1 <= len(authority_reference) <= MAX_AUTHORITY_REFERENCE:
            raise ValidationFailed("an authority reference is 1-200 characters")
        _aware("now", now)
        self._move(SubmissionState.ACCEPTED, now)
        self.authority_reference = authority_reference
        self.accepted_at = now
        self.next_attempt_at = None
        self._emit("regulatory_submission.accepted.v1", {"authority_reference": authority_reference,
                                                         "accepted_at": now.isoformat()})

    def reject(self, now: datetime, code: str, message: str = "", *, permanent: bool,
               retry_at: datetime | None = None) -> None:
        """The attempt in flight failed. Permanent: `rejected`, not retried. Otherwise `retrying`, with the
        next attempt at `retry_at` (strictly before the cutoff; None when no window is left).
        `message` goes only into the event, truncated: it is the authority's text, already scrubbed."""
        _error_code(code)
        _aware("now", now)
        if permanent and retry_at is not None:
            raise ValidationFailed("a permanent rejection is not retried")
        if retry_at is not None and not now <= _aware("retry_at", retry_at) < self.cutoff_at:
            raise ValidationFailed("a retry is planned after now and strictly before the cutoff")
        self._move(SubmissionState.REJECTED if permanent else SubmissionState.RETRYING, now)
        self.last_error_code = code
        self.last_error_at = now
        self.next_attempt_at = retry_at
        self._emit("regulatory_submission.rejected.v1", {"rejection_code": code,
                                                         "rejection_message": (message or "")[:MAX_REJECTION_MESSAGE],
                                                         "permanent": permanent})

    def miss_cutoff(self, now: datetime) -> None:
        """The cutoff passed without an acceptance: final, and its event is raised exactly once."""
        _aware("now", now)
        if now < self.cutoff_at:
            raise ValidationFailed("the cutoff has not passed yet", cutoff_at=self.cutoff_at.isoformat())
        last_state = self.state
        self._move(SubmissionState.MISSED_CUTOFF, now)
        self.next_attempt_at = None
        self._emit("regulatory_submission.cutoff_missed.v1", {"last_state": str(last_state),
                                                              "detected_at": now.isoformat()})
