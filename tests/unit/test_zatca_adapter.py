"""ZatcaReportingAdapter with the in-memory store and the local simulator: filing, retries, rejections, corrections."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from reporting.adapters.regulatory.zatca import generate_test_credentials, report, verify_chain
from reporting.adapters.regulatory.zatca.adapter import CORRECTION_REASON, ZatcaReportingAdapter
from reporting.adapters.regulatory.zatca.credentials import PropertyCredentials, secret_names
from reporting.adapters.regulatory.zatca.mapping import invoice_from_xml
from reporting.adapters.regulatory.zatca.simulator import ZatcaSimulator
from reporting.adapters.regulatory.zatca.store import DocumentRole, Verdict
from reporting.service_layer.regulatory import FilingRequest, Outcome
from tests.unit.test_zatca_mapping import credit_row, lines_json, row
from tests.zatca_fakes import InMemoryZatcaStore

NOW = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
TENANT, PROPERTY = str(uuid.uuid4()), str(uuid.uuid4())
KEY, CERT = generate_test_credentials(organization="Al Murabba Suites", vat_number="300000000033033")


class Crash(BaseException):
    """The process dies mid-call (not an Exception: nothing in the adapter may swallow it)."""


@pytest.fixture
def simulator() -> Iterator[ZatcaSimulator]:
    with ZatcaSimulator() as running:
        yield running


@pytest.fixture
def unit(simulator, tmp_path: Path):
    csid = simulator.onboard(CERT)
    (tmp_path / "key.pem").write_bytes(KEY)
    (tmp_path / "csid").write_text(csid.binary_security_token)
    (tmp_path / "secret").write_text(csid.secret)
    return {"zatca": {"private_key": f"file:{tmp_path}/key.pem", "csid": f"file:{tmp_path}/csid",
                      "api_secret": f"file:{tmp_path}/secret"}}, csid


@pytest.fixture
def store() -> InMemoryZatcaStore:
    return InMemoryZatcaStore()


def adapter(store, simulator, settings, reporter=report) -> ZatcaReportingAdapter:
    credentials = PropertyCredentials(lambda tenant, prop: settings, base_url=simulator.base_url, timeout_seconds=5)
    return ZatcaReportingAdapter(store, credentials, now=lambda: NOW, reporter=reporter)


def filing(data: dict, *, attempt: int = 1, submission_id: str | None = None,
           corrects: str | None = None) -> FilingRequest:
    return FilingRequest(submission_id=submission_id or str(uuid.uuid4()), tenant_id=TENANT, property_id=PROPERTY,
                         adapter="ksa_zatca", subject_kind="invoice", subject_ref=data["invoice_number"],
                         cutoff_at=NOW + timedelta(hours=20), attempt=attempt, rows=(data,),
                         corrects_reference=corrects)


def changed(data: dict) -> dict:
    """The same invoice after the operator fixed a charge: 89.50 became 99.50."""
    return {**data, "lines_json": lines_json("99.500000000", "56.000000000", "575.640000000", "575.640000000"),
            "net_amount": "1306.78", "vat_amount": "196.02", "total_amount": "1502.80"}


def test_an_invoice_is_signed_as_the_next_link_reported_and_its_uuid_is_the_reference(store, simulator, unit):
    settings, csid = unit
    request = filing(row())
    result = adapter(store, simulator, settings).file(request)
    assert result.outcome is Outcome.ACCEPTED and result.reference == row()["invoice_uuid"]
    (doc,) = store.for_submission(TENANT, request.submission_id)
    assert (doc.icv, doc.role, doc.type_code, doc.verdict, doc.http_status) == (
        1, DocumentRole.INVOICE, "388", Verdict.REPORTED, 200)
    assert simulator.received[-1].xml == doc.xml and simulator.chain_of(csid) == [(1, doc.previous_hash,
                                                                                   doc.invoice_hash)]


def test_a_transient_failure_then_a_retry_reports_the_same_bytes_under_the_same_counter(store, simulator, unit):
    settings, csid = unit
    filer = adapter(store, simulator, settings)
    request = filing(row())
    simulator.fail_next(1, status=503)
    first = filer.file(request)
    assert (first.outcome, first.code) == (Outcome.TRANSIENT, "ZATCA_HTTP_503")
    simulator.drop_next(1)
    assert filer.file(replace(request, attempt=2)).code == "ZATCA_UNAVAILABLE"
    assert filer.file(replace(request, attempt=3)).outcome is Outcome.ACCEPTED
    (doc,) = store.chain(TENANT, PROPERTY)
    assert doc.icv == 1 and doc.report_attempts == 3 and doc.verdict is Verdict.REPORTED
    assert [r.xml for r in simulator.received] == [doc.xml]  # the outage and the drop never reached the check
    assert filer.file(replace(request, attempt=4)).reference == doc.invoice_uuid  # settled: no call made
    assert len(simulator.received) == 1


def test_a_crash_after_the_link_is_stored_converges_on_the_retry(store, simulator, unit):
    settings, _ = unit

    def dies(config, signed):
        raise Crash

    request = filing(row())
    with pytest.raises(Crash):
        adapter(store, simulator, settings, reporter=dies).file(request)
    (stored,) = store.chain(TENANT, PROPERTY)
    assert stored.verdict is None
    assert adapter(store, simulator, settings).file(replace(request, attempt=2)).outcome is Outcome.ACCEPTED
    (doc,) = store.chain(TENANT, PROPERTY)
    assert (doc.document_id, doc.icv, doc.xml) == (stored.document_id, 1, stored.xml)
    assert [r.xml for r in simulator.received] == [stored.xml]


def test_a_lost_answer_is_settled_by_zatcas_duplicate_check(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    request = filing(row())
    simulator.lose_answers(1)
    assert filer.file(request).outcome is Outcome.TRANSIENT
    assert filer.file(replace(request, attempt=2)).outcome is Outcome.ACCEPTED
    assert [r.status for r in simulator.received] == [504, 409]
    assert [d.icv for d in store.chain(TENANT, PROPERTY)] == [1]


def test_a_rejected_invoice_stays_in_the_chain_and_the_next_links_to_it(store, simulator, unit):
    settings, csid = unit
    filer = adapter(store, simulator, settings)
    simulator.reject(row()["invoice_number"], code="BR-KSA-37", message="Seller 'Al Murabba' VAT 300000000033033 …")
    rejected = filer.file(filing(row()))
    assert (rejected.outcome, rejected.code) == (Outcome.REJECTED, "ZATCA_BR-KSA-37")
    assert "300000000033033" not in rejected.message and "Al Murabba" not in rejected.message  # scrubbed
    nxt = row(invoice_number="SINV-2025-001197", invoice_uuid=str(uuid.uuid4()))
    assert filer.file(filing(nxt)).outcome is Outcome.ACCEPTED
    first, second = store.chain(TENANT, PROPERTY)
    assert first.verdict is Verdict.REJECTED and first.messages[0]["code"] == "BR-KSA-37"
    assert (second.icv, second.previous_hash) == (2, first.invoice_hash)
    assert verify_chain([first.xml, second.xml]).ok and [link[0] for link in simulator.chain_of(csid)] == [1, 2]


def test_a_row_that_cannot_make_a_document_is_rejected_without_taking_a_counter(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    result = filer.file(filing(row(vat_amount="194.53", total_amount="1491.31")))
    assert (result.outcome, result.code) == (Outcome.REJECTED, "ZATCA_PAYLOAD_INVALID")
    assert filer.file(filing(row(), submission_id=None)).outcome is Outcome.ACCEPTED
    assert [d.icv for d in store.chain(TENANT, PROPERTY)] == [1] and len(simulator.received) == 1
    two_rows = replace(filing(row()), rows=(row(), row()))
    assert filer.file(two_rows).code == "ZATCA_PAYLOAD_INVALID"


def test_missing_credentials_are_transient_and_take_no_counter(store, simulator, unit, tmp_path):
    settings, _ = unit
    (tmp_path / "secret").unlink()
    result = adapter(store, simulator, settings).file(filing(row()))
    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "ZATCA_CREDENTIALS_UNAVAILABLE")
    assert "s3" not in result.message and store.chain(TENANT, PROPERTY) == []
    nothing = adapter(store, simulator, {}).file(filing(row()))
    assert nothing.code == "ZATCA_CREDENTIALS_NOT_CONFIGURED"
    assert secret_names("p1", {}, "projects/x/secrets/zatca-{property_id}-{secret}/versions/latest")[
        "api_secret"] == "projects/x/secrets/zatca-p1-api-secret/versions/latest"


def test_a_correction_of_a_reported_invoice_is_a_credit_note_then_the_replacement(store, simulator, unit):
    settings, csid = unit
    filer = adapter(store, simulator, settings)
    original = filer.file(filing(row()))
    correction = filing(changed(row()), corrects=original.reference)
    result = filer.file(correction)
    assert result.outcome is Outcome.ACCEPTED
    invoice, note, replacement = store.chain(TENANT, PROPERTY)
    assert (note.role, note.type_code, note.billing_reference, note.invoice_number) == (
        DocumentRole.CREDIT_NOTE, "381", "SINV-2025-001196", "SINV-2025-001196-C1")
    cancelled = invoice_from_xml(note.xml)
    assert cancelled.reason == CORRECTION_REASON and cancelled.total_with_vat == invoice_from_xml(
        invoice.xml).total_with_vat  # cancelled in full
    assert cancelled.billing_reference.issue_date.isoformat() == "2025-03-10"
    assert (replacement.role, replacement.type_code, replacement.invoice_number) == (
        DocumentRole.REPLACEMENT, "388", "SINV-2025-001196-R1")
    assert str(invoice_from_xml(replacement.xml).total_with_vat) == "1502.80"
    assert result.reference == replacement.invoice_uuid != invoice.invoice_uuid
    assert verify_chain([d.xml for d in (invoice, note, replacement)]).ok
    assert {r.status for r in simulator.received} == {200} and len(simulator.chain_of(csid)) == 3
    # a retried correction re-issues nothing
    assert filer.file(replace(correction, attempt=2)).reference == replacement.invoice_uuid
    assert len(store.chain(TENANT, PROPERTY)) == 3


def test_a_correction_that_changes_nothing_issues_nothing(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    original = filer.file(filing(row()))
    again = filer.file(filing(row(), corrects=original.reference))  # a re-render for a layout fix
    assert (again.outcome, again.reference) == (Outcome.ACCEPTED, original.reference)
    assert len(store.chain(TENANT, PROPERTY)) == 1 and len(simulator.received) == 1


def test_a_correction_whose_credit_note_is_rejected_issues_no_replacement(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    original = filer.file(filing(row()))
    simulator.reject("SINV-2025-001196-C1")
    result = filer.file(filing(changed(row()), corrects=original.reference))
    assert result.outcome is Outcome.REJECTED
    assert [d.role for d in store.chain(TENANT, PROPERTY)] == [DocumentRole.INVOICE, DocumentRole.CREDIT_NOTE]


def test_a_correction_of_a_rejected_invoice_is_a_new_document_with_the_same_number(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    simulator.reject(row()["invoice_number"])
    assert filer.file(filing(row())).outcome is Outcome.REJECTED
    simulator._reject.clear()
    fixed = filer.file(filing(changed(row()), corrects=None))  # a rejected submission has no authority reference
    assert fixed.outcome is Outcome.ACCEPTED
    rejected, reissued = store.chain(TENANT, PROPERTY)
    assert reissued.role is DocumentRole.INVOICE and reissued.type_code == "388"
    assert reissued.invoice_number == rejected.invoice_number and reissued.invoice_uuid != rejected.invoice_uuid
    assert (reissued.icv, reissued.previous_hash) == (2, rejected.invoice_hash)


def test_correcting_a_credit_note_needs_a_debit_note_which_is_refused(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    note = filer.file(filing(credit_row()))
    assert note.outcome is Outcome.ACCEPTED
    unchanged = filer.file(filing(credit_row(), corrects=note.reference))  # a re-render of the whole day
    assert (unchanged.outcome, unchanged.reference) == (Outcome.ACCEPTED, note.reference)
    fixed = credit_row(credit_reason="Posting error")
    result = filer.file(filing(fixed, corrects=note.reference))
    assert (result.outcome, result.code) == (Outcome.REJECTED, "ZATCA_DEBIT_NOTE_REQUIRED")
    assert len(store.chain(TENANT, PROPERTY)) == 1


def test_a_correction_after_a_cancel_only_correction_issues_the_invoice_again(store, simulator, unit):
    settings, _ = unit
    filer = adapter(store, simulator, settings)
    original = filer.file(filing(row()))
    zero = {**row(), "lines_json": lines_json("0.000000000"), "net_amount": "0", "vat_amount": "0",
            "total_amount": "0"}
    cancelled = filer.file(filing(zero, corrects=original.reference))
    assert [d.role for d in store.chain(TENANT, PROPERTY)] == [DocumentRole.INVOICE, DocumentRole.CREDIT_NOTE]
    back = filer.file(filing(row(), corrects=cancelled.reference))
    assert back.outcome is Outcome.ACCEPTED
    roles = [(d.role, d.invoice_number) for d in store.chain(TENANT, PROPERTY)]
    # nothing stood (no second credit note), and the number was spent at ZATCA: a replacement
    assert roles[2:] == [(DocumentRole.REPLACEMENT, "SINV-2025-001196-R1")] and back.reference == store.chain(
        TENANT, PROPERTY)[2].invoice_uuid
    to_zero_again = filer.file(filing(zero, corrects=back.reference))
    last = store.chain(TENANT, PROPERTY)[-1]
    assert (last.role, last.invoice_number, last.billing_reference) == (
        DocumentRole.CREDIT_NOTE, "SINV-2025-001196-C2", "SINV-2025-001196-R1")
    assert to_zero_again.reference == last.invoice_uuid and len(store.chain(TENANT, PROPERTY)) == 4
