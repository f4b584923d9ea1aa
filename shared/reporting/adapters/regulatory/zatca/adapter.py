"""ZatcaReportingAdapter: files one KSA VAT subject (an invoice or a credit note) as the property's e-invoicing unit.

One filing, in order (SPEC §8):

1. map the run's row to the library's SimplifiedInvoice (mapping.py: 388 invoice or 381 credit note
   with its BillingReference and reason, subtype 0200000, UNTDID 4461 payment means, totals checked);
2. take the next link of the property's chain and sign the document with the property's key and CSID
   certificate, storing it with the link in one transaction (store.py: the head row is locked while the
   link is assigned, so concurrent filings get consecutive counters, never a gap or a fork);
3. report the stored bytes (client.py) and keep ZATCA's verdict with the document.

A retry of the same submission finds its stored document and reports the same bytes again: never a
new counter. A crash between storing the link and reporting it converges the same way (the watchdog
takes the lost attempt back and the next attempt re-reports). A document that already has ZATCA's
verdict is not sent again; that verdict answers.

Corrections (a resubmission after the data changed, FilingRequest.corrects_reference). ZATCA does not
let an issued document change: a correction is made with new documents. What stands at ZATCA for the
subject is worked out from the unit's own chain (the subject's reported documents, a cancelling credit
note undoing the one before it), not from the reference alone, so a correction of a rejected or missed
submission, or of one a fake adapter "filed", does the right thing too:

- nothing of the subject ever reached ZATCA's books (never filed, or rejected): the corrected row is filed
  as the subject's invoice — under the row's UUID when the chain does not hold it yet, else under a new
  UUID and the same number (a rejected document is not a reported one; ZATCA's community answer, store.py,
  fixes it with a new document);
- it was reported and a credit note of ours cancelled it since (an earlier correction to zero): the
  corrected invoice is issued as a replacement (`<subject>-R<n>`: that number is spent), or nothing if the
  data still has no invoice;
- an invoice stands and the corrected data says the same thing (a re-render for another reason): nothing
  is issued, the standing document is the answer;
- an invoice stands and the data changed: a credit note (381, BillingReference to the standing invoice,
  reason KSA-10) cancels it in full, then — if the corrected data still has an invoice (388, total above
  zero) — the replacement invoice is issued as a new document (number `<subject>-R<n>`, a new UUID). Full
  cancel-and-reissue rather than a difference note: a difference can be an increase, which needs a debit
  note (383), which the library does not issue; and every figure on the reissued invoice is then the
  corrected one. The replacement is only issued once the credit note is reported (a rejected credit note
  leaves the original standing; reissuing then would count the sale twice);
- a credit note stands (the PMS's own) and the data changed: correcting it needs a debit note (383), which
  the library does not issue: rejected, for an operator (ZATCA_DEBIT_NOTE_REQUIRED).

The submission's authority reference is the UUID of the last document it reported (what ZATCA knows it by).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from reporting.adapters.regulatory.zatca.chain import ChainLink
from reporting.adapters.regulatory.zatca.client import (
    Rejected,
    Reported,
    ReportedWithWarnings,
    ReportingResult,
    Transient,
    report,
    scrub,
)
from reporting.adapters.regulatory.zatca.credentials import CredentialsUnavailable, UnitCredentials
from reporting.adapters.regulatory.zatca.invoice import DocumentKind, InvalidInvoice, SimplifiedInvoice
from reporting.adapters.regulatory.zatca.mapping import (
    Identity,
    credit_note_for,
    from_row,
    invoice_from_xml,
    same_substance,
)
from reporting.adapters.regulatory.zatca.signed_invoice import SignedInvoice, build_signed_invoice
from reporting.adapters.regulatory.zatca.store import (
    DocumentDraft,
    DocumentRole,
    Outcome,
    StoredDocument,
    Verdict,
    ZatcaStore,
    messages_of,
)
from reporting.logs import get_logger
from reporting.service_layer.regulatory import FilingRequest, FilingResult, RegulatoryAdapter
from reporting.service_layer.regulatory import Outcome as FilingOutcome

log = get_logger(__name__)

# Document UUIDs of a correction's new documents: derived from the submission and the role, so a
# retry that has to rebuild a document (it never does: the store keeps it) would give the same UUID.
DOCUMENT_NAMESPACE = uuid.UUID("6a1d0f0e-5b1c-4c55-9a55-7a7ca0e1e0a1")
CORRECTION_REASON = "Invoice data corrected after issue: cancelled in full and reissued"
_CODE = re.compile(r"[^A-Za-z0-9._:-]")
REPORTED = frozenset({Verdict.REPORTED, Verdict.REPORTED_WITH_WARNINGS})

Reporter = Callable[[Any, SignedInvoice], ReportingResult]
CredentialsFor = Callable[[str, str], UnitCredentials]


class _Refused(Exception):
    """The subject cannot be filed as it is (permanent)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Pending(Exception):
    """A decision needs an answer ZATCA did not give yet (transient)."""

    def __init__(self, result: FilingResult) -> None:
        super().__init__(result.code)
        self.result = result


@dataclass(frozen=True)
class _Step:
    role: DocumentRole
    build: Callable[[], SimplifiedInvoice] | None = None  # the document to issue, built only if not stored yet
    reuse: StoredDocument | None = None  # nothing to issue: this standing document already says it


def signed_view(doc: StoredDocument) -> SignedInvoice:
    """A stored document in the shape the reporting call takes (the stored bytes, untouched)."""
    return SignedInvoice(xml=doc.xml, invoice_hash=doc.invoice_hash, qr_base64=doc.qr, uuid=doc.invoice_uuid,
                         invoice_number=doc.invoice_number, icv=doc.icv, previous_hash=doc.previous_hash)


def _outcome(result: ReportingResult) -> Outcome | None:
    if isinstance(result, Reported):
        return Outcome(Verdict.REPORTED, result.http_status)
    if isinstance(result, ReportedWithWarnings):
        return Outcome(Verdict.REPORTED_WITH_WARNINGS, result.http_status, messages_of(("warning", result.warnings)))
    if isinstance(result, Rejected):
        return Outcome(Verdict.REJECTED, result.http_status,
                       messages_of(("error", result.errors), ("warning", result.warnings)))
    return None


def _rejection(doc: StoredDocument) -> FilingResult:
    errors = [m for m in doc.messages if m.get("level") == "error"] or [{"code": "rejected", "message": ""}]
    code = _CODE.sub("", str(errors[0].get("code") or ""))[:60] or "rejected"
    text = "; ".join(f"{m.get('code')}: {m.get('message')}" for m in errors)
    return FilingResult.rejected(f"ZATCA_{code}", scrub(f"ZATCA rejected {doc.invoice_number}: {text}", 500))


def standing_document(history: list[StoredDocument]) -> StoredDocument | None:
    """What stands at ZATCA for a subject after these documents (chain order): the last reported invoice,
    unless a reported credit note of ours cancelled it since."""
    standing = None
    for doc in history:
        if doc.verdict not in REPORTED:
            continue
        standing = None if doc.role is DocumentRole.CREDIT_NOTE else doc
    return standing


class ZatcaReportingAdapter(RegulatoryAdapter):
    """The live KSA VAT adapter: a property's e-invoicing unit reporting simplified documents to ZATCA."""

    name = "ksa_zatca"

    def __init__(self, store: ZatcaStore, credentials: CredentialsFor, *, now: Callable[[], datetime],
                 reporter: Reporter = report) -> None:
        self._store = store
        self._credentials = credentials
        self._now = now
        self._report = reporter

    def file(self, request: FilingRequest) -> FilingResult:
        if len(request.rows) != 1:
            return FilingResult.rejected("ZATCA_PAYLOAD_INVALID",
                                         f"expected one dataset row for the subject, got {len(request.rows)}")
        try:
            unit = self._credentials(request.tenant_id, request.property_id)
        except CredentialsUnavailable as error:
            log.error("zatca unit credentials unavailable", extra={
                "submission_id": request.submission_id, "property_id": request.property_id, "code": error.code})
            return FilingResult.transient(error.code, str(error))
        try:
            steps = self._plan(request, request.rows[0], unit)
        except _Refused as refused:
            return FilingResult.rejected(refused.code, scrub(str(refused), 500))
        except _Pending as pending:
            return pending.result
        except InvalidInvoice as invalid:  # the row cannot make a valid document: an operator corrects the data
            return FilingResult.rejected("ZATCA_PAYLOAD_INVALID", scrub(str(invalid), 500))
        reference: str | None = None
        for step in steps:
            try:
                doc = self._document(request, step, unit)
            except InvalidInvoice as invalid:
                return FilingResult.rejected("ZATCA_PAYLOAD_INVALID", scrub(str(invalid), 500))
            result = self._settle(doc, unit)
            if result is not None:
                return result
            reference = doc.invoice_uuid
        assert reference is not None
        return FilingResult.accepted(reference)

    # ---- what to issue ----

    def _plan(self, request: FilingRequest, row: Mapping[str, Any], unit: UnitCredentials) -> list[_Step]:
        tenant, prop, sid = request.tenant_id, request.property_id, request.submission_id
        history = [d for d in self._store.for_subject(tenant, prop, request.subject_ref) if d.submission_id != sid]
        for doc in history:
            if doc.verdict is None:
                # An earlier submission's document whose verdict we never got: it may stand at ZATCA.
                # Ask with its own bytes first (409 = ZATCA has it), then decide.
                result = self._settle(doc, unit)
                if result is not None and result.outcome is FilingOutcome.TRANSIENT:
                    raise _Pending(result)
        history = [d for d in self._store.for_subject(tenant, prop, request.subject_ref) if d.submission_id != sid]
        standing = standing_document(history)
        corrected = from_row(row)  # validates the row (and its totals) before any counter is taken
        subject = request.subject_ref
        credits = sum(d.role is DocumentRole.CREDIT_NOTE for d in history)
        replacements = sum(d.role is DocumentRole.REPLACEMENT for d in history)
        reissue = corrected.kind is DocumentKind.INVOICE and corrected.total_with_vat > 0
        if standing is None and any(d.verdict in REPORTED for d in history):
            # Reported once and cancelled since by a credit note of ours: the number is spent at ZATCA.
            if not reissue:
                cancelling = [d for d in history if d.verdict in REPORTED][-1]
                return [_Step(cancelling.role, reuse=cancelling)]
            identity = Identity(f"{subject}-R{replacements + 1}", self._derived_uuid(sid, DocumentRole.REPLACEMENT))
            return [_Step(DocumentRole.REPLACEMENT, lambda: from_row(row, identity=identity, issued=self._now()))]
        if standing is None:
            # Nothing of this subject ever reached ZATCA's books: the row is filed as it is, under a new UUID
            # only when a rejected document already carries the row's.
            taken = self._store.by_uuid(tenant, prop, corrected.uuid)
            if taken is not None and taken.submission_id != sid:
                identity = Identity(corrected.invoice_number, self._derived_uuid(sid, DocumentRole.INVOICE))
                return [_Step(DocumentRole.INVOICE, lambda: from_row(row, identity=identity))]
            return [_Step(DocumentRole.INVOICE, lambda: from_row(row))]
        original = invoice_from_xml(standing.xml)
        if same_substance(original, corrected):
            return [_Step(standing.role, reuse=standing)]
        if original.kind is DocumentKind.CREDIT_NOTE:
            raise _Refused("ZATCA_DEBIT_NOTE_REQUIRED",
                           f"{standing.invoice_number} is a credit note: correcting it needs a debit note (383), "
                           "which this unit does not issue; correct it by hand on the Fatoora portal")
        credit_identity = Identity(f"{subject}-C{credits + 1}", self._derived_uuid(sid, DocumentRole.CREDIT_NOTE))
        steps = [_Step(DocumentRole.CREDIT_NOTE, lambda: credit_note_for(
            original, identity=credit_identity, issued=self._now(), reason=CORRECTION_REASON))]
        if reissue:
            identity = Identity(f"{subject}-R{replacements + 1}", self._derived_uuid(sid, DocumentRole.REPLACEMENT))
            steps.append(_Step(DocumentRole.REPLACEMENT, lambda: from_row(row, identity=identity, issued=self._now())))
        return steps

    @staticmethod
    def _derived_uuid(submission_id: str, role: DocumentRole) -> str:
        return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{submission_id}/{role}"))

    # ---- one document: stored, else signed as the next link ----

    def _document(self, request: FilingRequest, step: _Step, unit: UnitCredentials) -> StoredDocument:
        if step.reuse is not None:
            return step.reuse
        stored = self._store.find(request.tenant_id, request.submission_id, step.role)
        if stored is not None:
            return stored
        assert step.build is not None
        invoice = step.build()  # built (and validated) before the head is locked
        draft = DocumentDraft(
            tenant_id=request.tenant_id, property_id=request.property_id, submission_id=request.submission_id,
            role=step.role, subject_ref=request.subject_ref, type_code=invoice.kind.value,
            issued_at=invoice.issued_at,
            billing_reference=invoice.billing_reference.invoice_number if invoice.billing_reference else None)
        signing_time = self._now()

        def sign(link: ChainLink) -> SignedInvoice:
            return build_signed_invoice(invoice, icv=link.icv, previous_hash=link.previous_hash,
                                        credentials=unit.signing, signing_time=signing_time)

        doc = self._store.append(draft, sign, now=self._now())
        log.info("zatca document chained", extra={
            "submission_id": request.submission_id, "property_id": request.property_id, "role": str(step.role),
            "icv": doc.icv, "type_code": doc.type_code, "invoice_uuid": doc.invoice_uuid})
        return doc

    def _settle(self, doc: StoredDocument, unit: UnitCredentials) -> FilingResult | None:
        """None when the document is reported (now or before); else the filing's result."""
        if doc.verdict is None:
            result = self._report(unit.reporting, signed_view(doc))
            doc = self._store.record_report(doc.tenant_id, doc.document_id, _outcome(result), now=self._now())
            if doc.verdict is None:
                assert isinstance(result, Transient)
                code = "ZATCA_UNAVAILABLE" if result.http_status is None else f"ZATCA_HTTP_{result.http_status}"
                return FilingResult.transient(code, scrub(result.reason, 500))
        if doc.verdict is Verdict.REJECTED:
            return _rejection(doc)
        return None


__all__ = ["CORRECTION_REASON", "DOCUMENT_NAMESPACE", "ZatcaReportingAdapter", "signed_view", "standing_document"]
