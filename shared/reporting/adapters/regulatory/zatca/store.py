"""The e-invoicing unit's memory: the per-property chain of signed documents and what ZATCA answered (port).

The service is each property's e-invoicing unit (SPEC §8): it, not the hotel's PMS, assigns
the invoice counter (ICV) and the previous invoice hash (PIH). A store keeps, per property:

- a chain head (the last ICV and its invoice hash), locked while the next link is assigned,
  so concurrent filings take consecutive counters and never share a PIH (no gap, no fork);
- every signed document exactly as it was first built, so a retry re-reports the same bytes
  and never takes a new counter; and ZATCA's verdict on it, once there is one.

One document per (submission, role): a submission files its invoice (or the PMS's credit
note); a correction files a credit note cancelling what stands at ZATCA and, when the
corrected data still has an invoice, the replacement invoice (adapter.py explains why).

Rejected documents stay in the chain: ZATCA's rule is that every document an EGS unit
generates takes the next counter and the hash of the one before it "irrespective of type
and status (accepted / rejected / accepted with warning)" (ZATCA's e-invoicing team on the
developer community, "Question about PIH", zatca1.discourse.group/t/question-about-pih/2647,
and "Understanding of PIH and ICV", /t/understanding-of-pih-and-icv/8376, where the fixed
document is a new one with the next ICV). The store therefore never removes or renumbers a
link; a fix is a new document.

Only the seller's data and the line descriptions are in a simplified invoice (no buyer), so
the stored XML holds no guest data; validation messages are stored scrubbed (client.scrub).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from reporting.adapters.regulatory.zatca.chain import ChainHead, ChainLink
from reporting.adapters.regulatory.zatca.signed_invoice import SignedInvoice


class DocumentRole(StrEnum):
    """Why a submission issued a document."""

    INVOICE = "invoice"  # the subject itself: an invoice (388) or the PMS's credit note (381)
    CREDIT_NOTE = "credit_note"  # a correction: cancels the document that stands at ZATCA
    REPLACEMENT = "replacement"  # a correction: the corrected invoice, issued anew


class Verdict(StrEnum):
    """ZATCA's final answer on a document (a transient failure is not one)."""

    REPORTED = "reported"
    REPORTED_WITH_WARNINGS = "reported_with_warnings"
    REJECTED = "rejected"


@dataclass(frozen=True)
class DocumentDraft:
    """What the store records about a document besides the signed bytes (known before signing)."""

    tenant_id: str
    property_id: str
    submission_id: str
    role: DocumentRole
    subject_ref: str
    type_code: str  # 388 invoice, 381 credit note
    issued_at: datetime
    billing_reference: str | None = None  # a credit note: the number of the invoice it corrects


@dataclass(frozen=True)
class StoredDocument:
    """One link of a property's chain: the signed document and ZATCA's verdict, if any yet."""

    document_id: str
    tenant_id: str
    property_id: str
    submission_id: str
    role: DocumentRole
    subject_ref: str
    icv: int
    previous_hash: str
    invoice_hash: str
    invoice_uuid: str
    invoice_number: str
    type_code: str
    issued_at: datetime
    xml: bytes
    qr: str
    billing_reference: str | None = None
    verdict: Verdict | None = None
    http_status: int | None = None
    messages: tuple[Mapping[str, str], ...] = ()  # scrubbed: level, code, category, message
    report_attempts: int = 0
    created_at: datetime | None = None
    reported_at: datetime | None = None

    @property
    def head(self) -> ChainHead:
        """This document as the previous link of the next one."""
        return ChainHead(self.icv, self.invoice_hash)

    @property
    def issue_date(self) -> date:
        """The issue date in Riyadh civil time (the document's IssueDate)."""
        from reporting.adapters.regulatory.zatca.invoice import RIYADH

        return self.issued_at.astimezone(RIYADH).date()


@dataclass(frozen=True)
class Outcome:
    """A verdict to record on a stored document."""

    verdict: Verdict
    http_status: int
    messages: tuple[Mapping[str, str], ...] = field(default_factory=tuple)


Signer = Callable[[ChainLink], SignedInvoice]


class ChainConflict(RuntimeError):
    """The store refused a link that would gap or fork the chain (a bug, never data: the head lock prevents it)."""


class ZatcaStore(ABC):
    """Per-property chains of signed documents; every call is scoped to one tenant."""

    @abstractmethod
    def append(self, draft: DocumentDraft, sign: Signer, *, now: datetime) -> StoredDocument:
        """The document of (draft.submission_id, draft.role): the stored one if it exists, else `sign`
        called with the next link of the property's chain and stored, atomically with the new head.

        The head stays locked while `sign` runs, so concurrent appends of one property take
        consecutive counters; if `sign` raises, nothing is stored and no counter is used."""

    @abstractmethod
    def find(self, tenant_id: str, submission_id: str, role: DocumentRole) -> StoredDocument | None:
        """The document a submission issued in this role, if any."""

    @abstractmethod
    def by_uuid(self, tenant_id: str, property_id: str, invoice_uuid: str) -> StoredDocument | None:
        """The property's document with this UUID, if any."""

    @abstractmethod
    def for_submission(self, tenant_id: str, submission_id: str) -> list[StoredDocument]:
        """The documents a submission issued, in chain order."""

    @abstractmethod
    def for_subject(self, tenant_id: str, property_id: str, subject_ref: str) -> list[StoredDocument]:
        """Every document filed for a subject (by any submission), in chain order."""

    @abstractmethod
    def chain(self, tenant_id: str, property_id: str, *, from_icv: int = 1,
              to_icv: int | None = None) -> list[StoredDocument]:
        """The property's documents with from_icv <= ICV <= to_icv, in chain order."""

    @abstractmethod
    def issued_between(self, tenant_id: str, property_id: str, start: datetime,
                       end: datetime) -> list[StoredDocument]:
        """The property's documents issued in [start, end), in chain order."""

    @abstractmethod
    def head(self, tenant_id: str, property_id: str) -> ChainHead | None:
        """The property's last link (None: the unit has issued nothing)."""

    @abstractmethod
    def record_report(self, tenant_id: str, document_id: str, outcome: Outcome | None, *,
                      now: datetime) -> StoredDocument:
        """Count one reporting call of a document and keep ZATCA's verdict, if the call got one (None: a
        transient failure). The first verdict stands (the same bytes get the same verdict); the stored
        document is returned as it now is."""


def messages_of(*groups: tuple[str, Sequence[Any]]) -> tuple[dict[str, str], ...]:
    """Stored form of the client's ValidationMessage groups: (level, messages) → dicts."""
    return tuple({"level": level, "code": m.code, "category": m.category, "message": m.message}
                 for level, items in groups for m in items)
