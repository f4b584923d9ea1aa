"""ZATCA reporting call against a local HTTP server that checks the request the way ZATCA would."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

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
    Transient,
    build_signed_invoice,
    generate_test_credentials,
    report,
    simplified_invoice,
)

TOKEN = "VFVsSlJERmpRMEUwVTJkQmQwbENRV2RKVkVWUlFVRk9lbmQ2ZEc="
SECRET = "s3cret/Yz+Wq=="
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
}
SELLER_NAME = "فندق الواحة | Al Waha Hotel"


def recompute_hash(xml: bytes) -> str:
    """What ZATCA does with the submitted XML, written here without the library."""
    root = etree.fromstring(xml)
    for element in root.xpath(
        "ext:UBLExtensions | cac:Signature | cac:AdditionalDocumentReference[cbc:ID='QR']", namespaces=NS
    ):
        parent, previous = element.getparent(), element.getprevious()
        if element.tail:
            if previous is None:
                parent.text = (parent.text or "") + element.tail
            else:
                previous.tail = (previous.tail or "") + element.tail
        parent.remove(element)
    return base64.b64encode(hashlib.sha256(etree.tostring(root, method="c14n")).digest()).decode()


def error(code: str, message: str, kind: str = "ERROR") -> dict[str, str]:
    return {"type": kind, "code": code, "category": "KSA", "message": message, "status": kind}


class FakeZatca:
    """The reporting endpoint: validates each request, then answers as scripted."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: tuple[int, dict[str, Any]] = (200, {"reportingStatus": "REPORTED"})
        self.hold = threading.Event()
        self.holding = False

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if path != "/e-invoicing/simulation/invoices/reporting/single":
            return 404, {}
        expected_auth = "Basic " + base64.b64encode(f"{TOKEN}:{SECRET}".encode()).decode()
        if headers.get("Authorization") != expected_auth:
            return 401, {}
        payload = json.loads(body)
        self.requests.append({"headers": dict(headers), "payload": payload})
        problems = []
        if headers.get("Accept-Version") != "V2" or headers.get("Content-Type") != "application/json":
            problems.append(error("headers", "Accept-Version V2 and JSON expected"))
        if set(payload) != {"invoiceHash", "uuid", "invoice"}:
            problems.append(error("body", "invoiceHash, uuid and invoice expected"))
        else:
            xml = base64.b64decode(payload["invoice"])
            if payload["invoiceHash"] != recompute_hash(xml):
                problems.append(error("invalid-invoice-hash", "The invoice hash API body does not match the hash"))
            (uuid_in_xml,) = etree.fromstring(xml).xpath("cbc:UUID/text()", namespaces=NS)
            if payload["uuid"] != uuid_in_xml:
                problems.append(error("invalid-uuid", "uuid does not match the invoice"))
        if problems:
            return 400, {"validationResults": {"errorMessages": problems}, "reportingStatus": "NOT_REPORTED"}
        if self.holding:
            self.hold.wait(10)
        return self.answer


@pytest.fixture
def zatca() -> Iterator[tuple[FakeZatca, str]]:
    fake = FakeZatca()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, payload = fake.handle(self.path, self.headers, body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}/e-invoicing/simulation"
    fake.hold.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def signed():
    key, cert = generate_test_credentials()
    invoice = simplified_invoice(
        uuid="6f4d20e0-6bfe-4a80-9389-7dabe6620f12",
        invoice_number="INV-00042",
        issued_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
        seller=Seller(
            name=SELLER_NAME,
            vat_number="310122393500003",
            address=Address(
                street="King Fahd Road", building_number="2322", district="Al Olaya", city="Riyadh", postal_zone="12211"
            ),
            other_id="1010010000",
        ),
        lines=[{"name": "Room night", "quantity": 1, "unit_price": "500"}],
    )
    return build_signed_invoice(invoice, icv=1, previous_hash=GENESIS_PIH, key_pem=key, cert_pem=cert)


def config(base_url: str, **overrides: Any) -> ReportingConfig:
    return ReportingConfig(base_url=base_url, binary_security_token=TOKEN, secret=SECRET, **overrides)


def test_reported_invoice_was_sent_as_zatca_expects(zatca, signed):
    fake, base_url = zatca
    result = report(config(base_url), signed)
    assert result == Reported(http_status=200)
    (request,) = fake.requests
    assert request["headers"]["Accept-Version"] == "V2"
    assert "Clearance-Status" not in request["headers"]
    payload = request["payload"]
    assert payload["uuid"] == "6f4d20e0-6bfe-4a80-9389-7dabe6620f12"
    assert payload["invoiceHash"] == signed.invoice_hash
    assert base64.b64decode(payload["invoice"]) == signed.xml


def test_reported_with_warnings_keeps_codes_and_scrubs_values(zatca, signed):
    fake, base_url = zatca
    fake.answer = (
        202,
        {
            "validationResults": {
                "warningMessages": [
                    error("BR-KSA-98", "Seller 'فندق الواحة' with VAT 310122393500003 should ...", "WARNING"),
                    error("BR-KSA-F-06", "x" * 500, "WARNING"),
                ]
            },
            "reportingStatus": "REPORTED",
        },
    )
    result = report(config(base_url), signed)
    assert isinstance(result, ReportedWithWarnings)
    assert [w.code for w in result.warnings] == ["BR-KSA-98", "BR-KSA-F-06"]
    first = result.warnings[0].message
    assert "310122393500003" not in first and "فندق" not in first
    assert first.startswith("Seller '…' with VAT … should")
    assert len(result.warnings[1].message) == 200


def test_rejected_invoice_carries_error_codes_and_truncated_messages(zatca, signed):
    fake, base_url = zatca
    fake.answer = (
        400,
        {
            "validationResults": {
                "errorMessages": [error("BR-KSA-37", "The seller address building number must contain 4 digits.")],
                "warningMessages": [error("BR-KSA-08", "Seller identification", "WARNING")],
            },
            "reportingStatus": "NOT_REPORTED",
        },
    )
    result = report(config(base_url), signed)
    assert isinstance(result, Rejected)
    assert [(e.code, e.message) for e in result.errors] == [
        ("BR-KSA-37", "The seller address building number must contain 4 digits.")
    ]
    assert [w.code for w in result.warnings] == ["BR-KSA-08"]


def test_a_hash_that_does_not_match_the_xml_is_rejected_by_the_server(zatca, signed):
    _fake, base_url = zatca
    lying = type(signed)(**{**signed.__dict__, "invoice_hash": GENESIS_PIH[:44]})
    result = report(config(base_url), lying)
    assert isinstance(result, Rejected)
    assert [e.code for e in result.errors] == ["invalid-invoice-hash"]


def test_already_reported_409_counts_as_reported(zatca, signed):
    fake, base_url = zatca
    fake.answer = (
        409,
        {
            "validationResults": {
                "errorMessages": [
                    {"type": "ERROR", "code": "Invoice-Errors", "category": "Duplicate-Invoice",
                     "message": "Invoice was already Reported successfully earlier.", "status": "ERROR"}
                ]
            },
            "reportingStatus": "NOT_REPORTED",
        },
    )
    assert report(config(base_url), signed) == Reported(http_status=409, duplicate=True)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_transient(zatca, signed, status):
    fake, base_url = zatca
    fake.answer = (status, {})
    result = report(config(base_url), signed)
    assert isinstance(result, Transient) and result.http_status == status


def test_a_refused_csid_is_transient(zatca, signed):
    _fake, base_url = zatca
    bad = ReportingConfig(base_url=base_url, binary_security_token=TOKEN, secret="wrong")
    result = report(bad, signed)
    assert isinstance(result, Transient) and result.http_status == 401


def test_a_slow_server_times_out_as_transient(zatca, signed):
    fake, base_url = zatca
    fake.holding = True
    result = report(config(base_url, timeout_seconds=0.3), signed)
    assert result == Transient("timeout")
    assert len(fake.requests) == 1


def test_an_unreachable_endpoint_is_transient(signed):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = report(config(f"http://127.0.0.1:{port}", timeout_seconds=2), signed)
    assert isinstance(result, Transient) and result.reason.startswith("connection failed")


def test_the_log_line_carries_no_secret_and_no_invoice_content(zatca, signed, caplog):
    _fake, base_url = zatca
    with caplog.at_level(logging.INFO, logger="reporting.adapters.regulatory.zatca.client"):
        report(config(base_url), signed)
    (record,) = [r for r in caplog.records if r.name == "reporting.adapters.regulatory.zatca.client"]
    line = json.dumps({**record.__dict__, "msg": record.getMessage()}, default=str, ensure_ascii=False)
    assert record.outcome == "Reported" and record.invoice_uuid == signed.uuid
    for secret in (SECRET, TOKEN, SELLER_NAME, "310122393500003", signed.qr_base64[:40]):
        assert secret not in line


def test_config_keeps_the_csid_out_of_its_repr():
    shown = repr(config("https://example.invalid/e-invoicing/simulation"))
    assert SECRET not in shown and TOKEN not in shown
    assert config("https://h/x/").url == "https://h/x/invoices/reporting/single"
    with pytest.raises(ValueError):
        ReportingConfig(base_url="ftp://h", binary_security_token=TOKEN, secret=SECRET)
