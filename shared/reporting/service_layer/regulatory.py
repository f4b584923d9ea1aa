"""The regulatory adapter port (SPEC §8): one call files one subject with an authority.

Adapters answer with one of three outcomes and never raise for an authority's answer:
accepted (with the authority's reference or receipt id), rejected (permanent: the
payload is wrong; an operator must correct it) or transient (timeouts, 5xx, "try
later": retried before the cutoff). Only codes and scrubbed messages come back: the
payload's guest data never travels into results, logs or events.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class FilingRequest:
    """What an adapter needs to file one subject."""

    submission_id: str  # also the idempotency key the authority sees, where it takes one
    tenant_id: str
    property_id: str
    adapter: str
    subject_kind: str
    subject_ref: str
    cutoff_at: datetime
    attempt: int
    rows: tuple[Mapping[str, Any], ...]  # the run's payload rows for this subject (guest data: handle with care)
    property_ids: Mapping[str, Any] = field(default_factory=dict)  # regulatory identifiers of the property
    corrects_reference: str | None = None  # the authority's reference of the submission this one corrects


@dataclass(frozen=True)
class FilingResult:
    outcome: Outcome
    reference: str | None = None  # accepted: the authority's reference / receipt
    code: str | None = None  # rejected / transient: a short machine code
    message: str = ""  # scrubbed, truncated authority text

    @classmethod
    def accepted(cls, reference: str) -> "FilingResult":
        return cls(Outcome.ACCEPTED, reference=reference)

    @classmethod
    def rejected(cls, code: str, message: str = "") -> "FilingResult":
        return cls(Outcome.REJECTED, code=code, message=message[:500])

    @classmethod
    def transient(cls, code: str, message: str = "") -> "FilingResult":
        return cls(Outcome.TRANSIENT, code=code, message=message[:500])


class RegulatoryAdapter(ABC):
    """Files subjects with one authority (or pretends to: the fake)."""

    name: str

    @abstractmethod
    def file(self, request: FilingRequest) -> FilingResult: ...
