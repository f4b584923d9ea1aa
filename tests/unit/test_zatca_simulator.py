"""The local ZATCA reporting simulator's verdicts: it really checks hash, signature, QR, totals and chain."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone
from typing import Iterator

import pytest
from lxml import etree

from reporting.adapters.regulatory.zatca import (
    GENESIS_PIH,
    Address,
    Rejected,
    Reported,
    ReportedWithWarnings,
    ReportingConfig,
    Seller,
    SignedInvoice,
    Transient,
    build_signed_invoice,
    generate_test_credentials,
    load_credentials,
    report,
    simplified_invoice,
)
from reporting.adapters.regulatory.zatca.qr import QrTag, decode_qr, encode_tlv
from reporting.adapters.regulatory.zatca.simulator import ZatcaSimulator
from reporting.adapters.regulatory.zatca.ubl import XPATH_NS

KEY, CERT = generate_test_credentials()
CREDENTIALS = load_credentials(KEY, CERT)
SELLER = Seller(name="فندق المربع | Al Murabba Suites", vat_number="300000000033033", other_id="1010003303",
                address=Address(street="Demo Street", building_number="2012", district="Al Murabba", city="Riyadh",
                                postal_zone="12613"))


def document(icv: int, previous_hash: str, *, number: str | None = None, credentials=CREDENTIALS,
             payment: str = "10", **kwargs) -> SignedInvoice:
    invoice = simplified_invoice(uuid=str(uuid.uuid4()), invoice_number=number or f"SINV-{icv:06d}",
                                 issued_at=datetime(2025, 3, 10, 6, 32, tzinfo=timezone.utc), seller=SELLER,
                                 lines=[{"name": "Room charge", "quantity": 1, "unit_price": "575.64"}], **kwargs)
    object.__setattr__(invoice, "payment_means_code", payment)  # past the model's own check: the simulator's turn
    return build_signed_invoice(invoice, icv=icv, previous_hash=previous_hash, credentials=credentials)


def body(signed: SignedInvoice, **overrides: str) -> bytes:
    return json.dumps({"invoiceHash": signed.invoice_hash, "uuid": signed.uuid,
                       "invoice": base64.b64encode(signed.xml).decode(), **overrides}).encode()


@pytest.fixture
def simulator() -> Iterator[ZatcaSimulator]:
    with ZatcaSimulator() as running:
        yield running


@pytest.fixture
def auth(simulator):
    csid = simulator.onboard(CERT)
    return "Basic " + base64.b64encode(f"{csid.binary_security_token}:{csid.secret}".encode()).decode()


def judge(simulator, auth, payload: bytes) -> tuple[int, dict]:
    return simulator.judge(auth, "V2", payload)


def codes(answer: dict) -> list[str]:
    return [m["code"] for m in answer["validationResults"]["errorMessages"]]


def test_a_valid_document_is_reported_and_the_same_one_again_is_a_duplicate(simulator, auth):
    first = document(1, GENESIS_PIH)
    status, answer = judge(simulator, auth, body(first))
    assert status == 200 and answer["reportingStatus"] == "REPORTED"
    assert answer["validationResults"]["status"] == "PASS" and not codes(answer)
    assert judge(simulator, auth, body(first))[0] == 409


def test_bad_credentials_and_a_wrong_version_or_body_are_refused(simulator, auth):
    signed = document(1, GENESIS_PIH)
    assert simulator.judge("Basic " + base64.b64encode(b"nobody:nothing").decode(), "V2", body(signed))[0] == 401
    assert simulator.judge(auth[:-4] + "AAA=", "V2", body(signed))[0] == 401
    status, answer = simulator.judge(auth, "V1", body(signed))
    assert status == 400 and codes(answer) == ["invalid-version"]
    assert codes(judge(simulator, auth, b'{"uuid": "x"}')[1]) == ["invalid-request"]


def test_a_hash_or_uuid_that_is_not_the_documents_is_rejected(simulator, auth):
    signed = document(1, GENESIS_PIH)
    other = document(1, GENESIS_PIH)
    status, answer = judge(simulator, auth, body(signed, invoiceHash=other.invoice_hash))
    assert status == 400 and codes(answer) == ["invalid-invoice-hash"]
    status, answer = judge(simulator, auth, body(signed, uuid=other.uuid))
    assert status == 400 and codes(answer) == ["invalid-uuid"]


def test_a_document_changed_after_signing_fails_its_signature(simulator, auth):
    signed = document(1, GENESIS_PIH)
    tampered = signed.xml.replace(b"<cbc:PriceAmount currencyID=\"SAR\">575.64<",
                                  b"<cbc:PriceAmount currencyID=\"SAR\">575.65<")
    assert tampered != signed.xml
    forged = SignedInvoice(tampered, invoice_hash=signed.invoice_hash, qr_base64=signed.qr_base64, uuid=signed.uuid,
                           invoice_number=signed.invoice_number, icv=1, previous_hash=GENESIS_PIH)
    from reporting.adapters.regulatory.zatca.ubl import invoice_hash

    status, answer = judge(simulator, auth, body(forged, invoiceHash=invoice_hash(tampered)))
    assert status == 400 and "signature-invoice_digest" in codes(answer)


def test_a_document_signed_with_another_key_than_the_csids_is_rejected(simulator, auth):
    key, cert = generate_test_credentials()
    stranger = document(1, GENESIS_PIH, credentials=load_credentials(key, cert))
    status, answer = judge(simulator, auth, body(stranger))
    assert status == 400 and "certificate-not-csid" in codes(answer)


def with_qr(signed: SignedInvoice, qr: str) -> SignedInvoice:
    root = etree.fromstring(signed.xml)
    (slot,) = root.xpath("cac:AdditionalDocumentReference[cbc:ID='QR']/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
                         namespaces=XPATH_NS)
    slot.text = qr  # the QR is outside the hash and the signature: only its own check can catch this
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"
    return SignedInvoice(xml, signed.invoice_hash, qr, signed.uuid, signed.invoice_number, signed.icv,
                         signed.previous_hash)


@pytest.mark.parametrize("tag", list(QrTag), ids=lambda t: t.name.lower())
def test_each_qr_tag_is_checked_against_the_document(simulator, auth, tag):
    signed = document(1, GENESIS_PIH)
    fields = decode_qr(signed.qr_base64)
    fields[int(tag)] = b"9999.99" if tag is not QrTag.TOTAL_WITH_VAT else b"1.00"
    bad = with_qr(signed, base64.b64encode(encode_tlv(sorted(fields.items()))).decode())
    status, answer = judge(simulator, auth, body(bad))
    assert status == 400
    messages = answer["validationResults"]["errorMessages"]
    assert [m["code"] for m in messages] == ["QRCODE_INVALID"] and f"QR tag {int(tag)} " in messages[0]["message"]
    missing = {k: v for k, v in decode_qr(signed.qr_base64).items() if k != int(tag)}
    status, _ = judge(simulator, auth, body(with_qr(signed, base64.b64encode(encode_tlv(sorted(missing.items())))
                                                    .decode())))
    assert status == 400


def test_payment_means_outside_zatcas_subset_are_rejected_and_a_proper_credit_note_is_reported(simulator, auth):
    online = document(1, GENESIS_PIH, payment="68")  # UNTDID 4461 "online payment service": not in ZATCA's subset
    status, answer = judge(simulator, auth, body(online))
    assert status == 400 and codes(answer) == ["BR-KSA-16"]
    note = document(2, online.invoice_hash, original_invoice_number="SINV-000001", reason="Posting error")
    assert judge(simulator, auth, body(note))[0] == 200


def test_the_chain_is_checked_in_any_arrival_order_and_a_fork_is_rejected(simulator, auth):
    first = document(1, GENESIS_PIH)
    second = document(2, first.invoice_hash)
    third = document(3, second.invoice_hash)
    assert judge(simulator, auth, body(third))[0] == 200  # its predecessor is not known yet: nothing to hold against it
    assert judge(simulator, auth, body(first))[0] == 200
    assert judge(simulator, auth, body(second))[0] == 200  # fits between both neighbours
    fork = document(2, first.invoice_hash, number="SINV-FORK")
    status, answer = judge(simulator, auth, body(fork))
    assert status == 400 and "invalid-icv" in codes(answer)
    stray = document(4, first.invoice_hash)  # ICV 4 must carry ICV 3's hash
    status, answer = judge(simulator, auth, body(stray))
    assert status == 400 and set(codes(answer)) == {"invalid-previous-invoice-hash"}
    assert judge(simulator, auth, body(document(1, second.invoice_hash, number="X")))[0] == 400  # not genesis
    assert [icv for icv, _, _ in simulator.chain_of(simulator.onboard(CERT))] == [1, 2, 3]


def test_a_rejected_document_stays_in_the_chain_the_next_one_links_to_it(simulator, auth):
    simulator.reject("SINV-000001")
    rejected = document(1, GENESIS_PIH)
    status, answer = judge(simulator, auth, body(rejected))
    assert status == 400 and codes(answer) == ["BR-KSA-SIMULATED"]
    assert judge(simulator, auth, body(document(2, rejected.invoice_hash)))[0] == 200
    skipping = document(2, GENESIS_PIH, number="SINV-000099")  # a unit that dropped the rejected link: a fork
    assert judge(simulator, auth, body(skipping))[0] == 400


def test_scripted_warnings_outages_dropped_and_lost_answers_through_the_real_client(simulator):
    csid = simulator.onboard(CERT)
    config = ReportingConfig(simulator.base_url, csid.binary_security_token, csid.secret, timeout_seconds=5)
    first = document(1, GENESIS_PIH)
    simulator.fail_next(1, status=503)
    assert report(config, first) == Transient("server error", 503)
    simulator.drop_next(1)
    dropped = report(config, first)
    assert isinstance(dropped, Transient) and dropped.reason.startswith("connection failed")
    simulator.lose_answers(1)
    assert report(config, first) == Transient("server error", 504)  # ZATCA has it; we never heard
    assert report(config, first) == Reported(409, duplicate=True)
    simulator.warn("SINV-000002", code="BR-KSA-98")
    warned = report(config, document(2, first.invoice_hash))
    assert isinstance(warned, ReportedWithWarnings) and [w.code for w in warned.warnings] == ["BR-KSA-98"]
    with simulator.outage():
        assert isinstance(report(config, document(3, GENESIS_PIH)), Transient)
    simulator.reject("*")
    refused = report(config, document(3, warned_hash(simulator, csid)))
    assert isinstance(refused, Rejected) and refused.errors[0].code == "BR-KSA-SIMULATED"
    assert [r.status for r in simulator.received] == [504, 409, 202, 400]


def warned_hash(simulator, csid) -> str:
    return simulator.chain_of(csid)[-1][2]


def test_the_json_script_sets_the_same_behaviour():
    simulator = ZatcaSimulator()
    simulator.apply_script({"fail_first": 2, "status": 429, "reject": ["A"], "warn": ["B"], "lose_answers": 1})
    assert simulator._fail == [429, 429] and simulator._lose == 1
    assert set(simulator._reject) == {"A"} and set(simulator._warn) == {"B"}
