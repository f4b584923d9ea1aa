"""The ZatcaStore contract, written once and run against every store (the in-memory fake, Postgres).

A subclass provides three fixtures: `store`, `unit` (a Unit: a tenant, one of its properties and a way to
open submissions there) and `other_unit` (another tenant's Unit)."""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest

from reporting.adapters.regulatory.zatca import (
    GENESIS_PIH,
    Address,
    ChainLink,
    Seller,
    build_signed_invoice,
    generate_test_credentials,
    load_credentials,
    simplified_invoice,
    verify_chain,
)
from reporting.adapters.regulatory.zatca.store import (
    ChainConflict,
    DocumentDraft,
    DocumentRole,
    Outcome,
    Verdict,
    ZatcaStore,
)

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
SELLER = Seller(name="Contract Hotel", vat_number="399999999900003", other_id="1010010000",
                address=Address(street="King Fahd Road", building_number="2322", district="Al Olaya", city="Riyadh",
                                postal_zone="12211"))
_KEY, _CERT = generate_test_credentials()
CREDENTIALS = load_credentials(_KEY, _CERT)


@dataclass(frozen=True)
class Unit:
    tenant_id: str
    property_id: str
    new_submission: Callable[[], str]


def draft(unit: Unit, submission_id: str, *, role: DocumentRole = DocumentRole.INVOICE, subject: str = "SINV-1",
          issued_at: datetime = NOW) -> DocumentDraft:
    return DocumentDraft(tenant_id=unit.tenant_id, property_id=unit.property_id, submission_id=submission_id,
                         role=role, subject_ref=subject, type_code="388", issued_at=issued_at)


def signer(number: str = "SINV-1", *, issued_at: datetime = NOW, calls: list | None = None,
           document_uuid: str | None = None):
    def sign(link: ChainLink):
        if calls is not None:
            calls.append(link)
        invoice = simplified_invoice(uuid=document_uuid or str(uuid.uuid4()), invoice_number=number,
                                     issued_at=issued_at, seller=SELLER,
                                     lines=[{"name": "Room night", "quantity": 1, "unit_price": "500.00"}])
        return build_signed_invoice(invoice, icv=link.icv, previous_hash=link.previous_hash, credentials=CREDENTIALS,
                                    signing_time=NOW)
    return sign


class ZatcaStoreContract:
    def test_the_first_document_takes_icv_1_and_the_genesis_pih_the_next_one_links_to_it(
            self, store: ZatcaStore, unit: Unit):
        first = store.append(draft(unit, unit.new_submission()), signer("SINV-1"), now=NOW)
        second = store.append(draft(unit, unit.new_submission(), subject="SINV-2"), signer("SINV-2"), now=NOW)
        assert (first.icv, first.previous_hash) == (1, GENESIS_PIH)
        assert (second.icv, second.previous_hash) == (2, first.invoice_hash)
        assert store.head(unit.tenant_id, unit.property_id) == second.head
        assert verify_chain(store.chain(unit.tenant_id, unit.property_id)).ok

    def test_append_is_idempotent_per_submission_and_role(self, store: ZatcaStore, unit: Unit):
        submission = unit.new_submission()
        calls: list = []
        first = store.append(draft(unit, submission), signer(calls=calls), now=NOW)
        again = store.append(draft(unit, submission), signer(calls=calls), now=NOW + timedelta(minutes=5))
        assert again == first and len(calls) == 1  # never signed twice, never a second counter
        credit = store.append(draft(unit, submission, role=DocumentRole.CREDIT_NOTE), signer("SINV-1-C1"), now=NOW)
        assert credit.icv == first.icv + 1
        assert [d.role for d in store.for_submission(unit.tenant_id, submission)] == [DocumentRole.INVOICE,
                                                                                        DocumentRole.CREDIT_NOTE]
        assert store.find(unit.tenant_id, submission, DocumentRole.REPLACEMENT) is None

    def test_a_signing_failure_uses_no_counter(self, store: ZatcaStore, unit: Unit):
        def broken(link):
            raise RuntimeError("key unavailable")

        with pytest.raises(RuntimeError):
            store.append(draft(unit, unit.new_submission()), broken, now=NOW)
        doc = store.append(draft(unit, unit.new_submission()), signer(), now=NOW)
        assert doc.icv == 1 and doc.previous_hash == GENESIS_PIH

    def test_a_document_that_is_not_the_link_it_was_given_is_refused(self, store: ZatcaStore, unit: Unit):
        honest = signer()

        def off_by_one(link):
            return honest(ChainLink(link.icv + 1, link.previous_hash))

        with pytest.raises(ChainConflict):
            store.append(draft(unit, unit.new_submission()), off_by_one, now=NOW)
        assert store.head(unit.tenant_id, unit.property_id) is None

    def test_concurrent_appends_take_consecutive_counters_and_make_one_chain(self, store: ZatcaStore, unit: Unit):
        submissions = [unit.new_submission() for _ in range(12)]
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def worker(mine: list[str]) -> None:
            try:
                start.wait()
                for n, submission in enumerate(mine):
                    store.append(draft(unit, submission, subject=f"S-{submission[:8]}"), signer(f"S-{n}"), now=NOW)
                    # and a retry of the same filing racing the others: still one link
                    store.append(draft(unit, submission, subject=f"S-{submission[:8]}"), signer(f"S-{n}"), now=NOW)
            except BaseException as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(submissions[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        chain = store.chain(unit.tenant_id, unit.property_id)
        assert [d.icv for d in chain] == list(range(1, 13))
        assert {d.submission_id for d in chain} == set(submissions)
        report = verify_chain([d.xml for d in chain], public_key=CREDENTIALS.certificate.public_key())
        assert report.ok, report.problems

    def test_a_transient_report_counts_the_call_and_the_first_verdict_stands(self, store: ZatcaStore, unit: Unit):
        doc = store.append(draft(unit, unit.new_submission()), signer(), now=NOW)
        assert doc.verdict is None and doc.report_attempts == 0
        after_outage = store.record_report(unit.tenant_id, doc.document_id, None, now=NOW)
        assert after_outage.verdict is None and after_outage.report_attempts == 1
        rejected = Outcome(Verdict.REJECTED, 400, ({"level": "error", "code": "BR-KSA-37", "category": "KSA",
                                                    "message": "building number"},))
        settled = store.record_report(unit.tenant_id, doc.document_id, rejected, now=NOW + timedelta(minutes=1))
        assert (settled.verdict, settled.http_status, settled.report_attempts) == (Verdict.REJECTED, 400, 2)
        assert settled.messages[0]["code"] == "BR-KSA-37" and settled.reported_at == NOW + timedelta(minutes=1)
        again = store.record_report(unit.tenant_id, doc.document_id, Outcome(Verdict.REPORTED, 200),
                                    now=NOW + timedelta(minutes=2))
        assert (again.verdict, again.reported_at, again.report_attempts) == (Verdict.REJECTED, settled.reported_at, 3)
        assert again.xml == doc.xml and again.icv == doc.icv  # the bytes never change

    def test_lookups_by_uuid_subject_range_and_issue_time(self, store: ZatcaStore, unit: Unit):
        known = str(uuid.uuid4())
        a = store.append(draft(unit, unit.new_submission(), subject="SINV-7"), signer("SINV-7", document_uuid=known),
                         now=NOW)
        later = NOW + timedelta(days=1)
        b = store.append(draft(unit, unit.new_submission(), subject="SINV-7", role=DocumentRole.REPLACEMENT,
                               issued_at=later), signer("SINV-7-R1", issued_at=later), now=later)
        c = store.append(draft(unit, unit.new_submission(), subject="SINV-8", issued_at=later),
                         signer("SINV-8", issued_at=later), now=later)
        t, p = unit.tenant_id, unit.property_id
        assert store.by_uuid(t, p, known) == a and store.by_uuid(t, p, known.upper()) == a
        assert store.by_uuid(t, p, "FAKE-KSA_ZATCA-0011") is None and store.by_uuid(t, p, str(uuid.uuid4())) is None
        assert [d.document_id for d in store.for_subject(t, p, "SINV-7")] == [a.document_id, b.document_id]
        assert [d.icv for d in store.chain(t, p, from_icv=2)] == [2, 3]
        assert [d.icv for d in store.chain(t, p, from_icv=1, to_icv=2)] == [1, 2]
        assert [d.document_id for d in store.issued_between(t, p, later, later + timedelta(seconds=1))] == [
            b.document_id, c.document_id]
        assert store.issued_between(t, p, NOW - timedelta(days=1), NOW) == []

    def test_another_tenant_sees_nothing_and_cannot_chain_on_the_property(
            self, store: ZatcaStore, unit: Unit, other_unit: Unit):
        doc = store.append(draft(unit, unit.new_submission()), signer(), now=NOW)
        o = other_unit.tenant_id
        assert store.find(o, doc.submission_id, DocumentRole.INVOICE) is None
        assert store.by_uuid(o, unit.property_id, doc.invoice_uuid) is None
        assert store.chain(o, unit.property_id) == [] and store.head(o, unit.property_id) is None
        assert store.for_submission(o, doc.submission_id) == []
        intruder = Unit(o, unit.property_id, other_unit.new_submission)
        with pytest.raises(Exception):
            store.append(draft(intruder, other_unit.new_submission()), signer(), now=NOW)
        with pytest.raises(Exception):
            store.record_report(o, doc.document_id, Outcome(Verdict.REPORTED, 200), now=NOW)
        assert store.find(unit.tenant_id, doc.submission_id, DocumentRole.INVOICE).verdict is None
        # and its own property has a chain of its own
        own = store.append(draft(other_unit, other_unit.new_submission()), signer(), now=NOW)
        assert own.icv == 1
