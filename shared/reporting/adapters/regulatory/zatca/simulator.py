"""A local ZATCA reporting simulator: a product fake (like FakeRegulatoryAdapter) that ships in the library.

A small stdlib HTTP server answering `POST <base>/invoices/reporting/single` the way ZATCA's
reporting API does (client.py has the contract), after really checking what ZATCA checks on a
simplified document, so the live adapter can be driven end to end on one machine (tests, the
demo, an operator rehearsing an outage):

- authentication: HTTP Basic with an onboarded unit's CSID (binarySecurityToken) and secret → else 401;
  `Accept-Version: V2` and the JSON body `{invoiceHash, uuid, invoice}` → else 400;
- the invoice hash recomputed from the XML (invalid-invoice-hash), the body's UUID against the XML's;
- a simplified reporting document (ProfileID reporting:1.0, subtype 02…), the payment means in ZATCA's
  subset (BR-KSA-16), a credit note's billing reference and reason (BR-KSA-56, BR-KSA-17), the totals
  adding up (BR-CO-10, BR-CO-15, VAT at 15% of the taxable amount);
- the signature end to end (signing.verify_signed_invoice), made with the CSID's own certificate;
- the QR's tags 1-9 against the document: seller name, VAT number, time stamp, total with VAT, VAT
  total, invoice hash, signature value, the certificate's public key and its CA signature;
- the unit's chain: ICV +1 and PIH = the previous document's hash, checked against every neighbour it has
  seen, whatever order the documents arrive in (ZATCA sets no submission order); a counter seen with
  another hash, or a PIH used twice, is a fork. A rejected document is part of the chain too (store.py).

Answers: 200 reported, 202 reported with warnings, 400 rejected (validationResults with infoMessages,
warningMessages, errorMessages, as ZATCA writes them), 409 for a document already reported (ZATCA's
duplicate check), 401 for bad credentials. The error codes are ours where we do not know ZATCA's.

Scriptable, from Python or a JSON script (`--script`): `fail_next(n, status)` (503, 500, 429 …),
`drop_next(n)` (the connection closes without an answer), `lose_answers(n)` (ZATCA records the document
but the answer never arrives: a retry gets 409), `down()` / `up()`, `reject(number)` / `warn(number)`
(scripted verdicts on top of the real checks), `delay(seconds)`.

    python -m reporting.adapters.regulatory.zatca.simulator --cert unit-cert.pem --port 8443
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import secrets
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reporting.adapters.regulatory.zatca.chain import GENESIS_PIH
from reporting.adapters.regulatory.zatca.client import REPORTING_PATH
from reporting.adapters.regulatory.zatca.inspect import qr_problems
from reporting.adapters.regulatory.zatca.signing import InvalidInvoiceSignature, read_signature, verify_signed_invoice
from reporting.adapters.regulatory.zatca.ubl import (
    PROFILE_ID,
    XPATH_NS,
    MalformedInvoiceXml,
    document_fields,
    invoice_hash,
    parse,
)

PAYMENT_MEANS_SUBSET = frozenset({"10", "30", "42", "48", "1"})  # BR-KSA-16, as ZATCA's SDK schematron has it
DEFAULT_BASE_PATH = "/e-invoicing/simulation"
_PASS_INFO = {"type": "INFO", "code": "XSD_ZATCA_VALID", "category": "XSD validation",
              "message": "Complied with UBL 2.1 standards in line with ZATCA specifications", "status": "PASS"}


@dataclass(frozen=True)
class Csid:
    """What ZATCA's CSID API hands an onboarded unit."""

    binary_security_token: str
    secret: str


@dataclass(frozen=True)
class Received:
    """One reporting request as the simulator judged it."""

    token: str
    uuid: str
    invoice_number: str
    icv: int | None
    status: int
    xml: bytes
    codes: tuple[str, ...] = ()


@dataclass
class _Link:
    icv: int
    previous_hash: str
    invoice_hash: str
    uuid: str


@dataclass
class _Unit:
    certificate: x509.Certificate
    secret: str
    links: dict[int, _Link] = field(default_factory=dict)  # by ICV
    by_pih: dict[str, int] = field(default_factory=dict)
    reported: dict[str, str] = field(default_factory=dict)  # uuid → invoice hash, reported ones


def _message(code: str, message: str, *, kind: str = "ERROR", category: str = "KSA") -> dict[str, str]:
    return {"type": kind, "code": code, "category": category, "message": message, "status": kind}


def _text(root: Any, path: str) -> str | None:
    found = root.xpath(path, namespaces=XPATH_NS)
    if not found:
        return None
    node = found[0]
    return (node if isinstance(node, str) else (node.text or "")).strip()


def _amount(root: Any, path: str) -> Decimal | None:
    value = _text(root, path)
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None


class ZatcaSimulator:
    """ZATCA's reporting API on localhost, checking documents for real; start() / stop() or `with`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, base_path: str = DEFAULT_BASE_PATH) -> None:
        self._host, self._port, self._base_path = host, port, base_path.rstrip("/")
        self._units: dict[str, _Unit] = {}
        self._lock = threading.Lock()
        self._fail: list[int] = []  # statuses of the next requests to fail, in order
        self._drop = 0
        self._lose = 0
        self._down = False
        self._delay = 0.0
        self._reject: dict[str, tuple[str, str]] = {}
        self._warn: dict[str, tuple[str, str]] = {}
        self.received: list[Received] = []  # every request judged (scripted failures never get that far)
        self.posts: list[bytes] = []  # every body POSTed to the reporting path, whatever happened to it
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> "ZatcaSimulator":
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                simulator._handle(self)

            def log_message(self, *args: Any) -> None:  # the simulator's own log is `received`
                pass

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="zatca-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "ZatcaSimulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What REPORTING_ZATCA_ENDPOINT would be set to."""
        assert self._server is not None, "start the simulator first"
        return f"http://{self._host}:{self._server.server_address[1]}{self._base_path}"

    # ---- onboarding and scripting ----

    def onboard(self, cert_pem: bytes | str) -> Csid:
        """Register a unit's certificate, as ZATCA's CSID API does: its binarySecurityToken and secret."""
        certificate = x509.load_pem_x509_certificate(cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
        der = certificate.public_bytes(serialization.Encoding.DER)
        token = base64.b64encode(base64.b64encode(der)).decode("ascii")
        with self._lock:
            unit = self._units.get(token)
            if unit is None:
                unit = self._units[token] = _Unit(certificate, secrets.token_urlsafe(24))
        return Csid(token, unit.secret)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next `count` requests get `status` before anything is checked."""
        with self._lock:
            self._fail.extend([status] * count)

    def drop_next(self, count: int = 1) -> None:
        """The next `count` requests see their connection closed without an answer."""
        with self._lock:
            self._drop += count

    def lose_answers(self, count: int = 1) -> None:
        """The next `count` documents are judged and recorded, but answered with 504 (the answer is lost)."""
        with self._lock:
            self._lose += count

    def down(self) -> None:
        """Every request gets 503 until up()."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.down()
        try:
            yield
        finally:
            self.up()

    def delay(self, seconds: float) -> None:
        """Answer every request after `seconds`."""
        with self._lock:
            self._delay = seconds

    def reject(self, invoice_number: str = "*", code: str = "BR-KSA-SIMULATED",
               message: str = "rejected by the simulator's script") -> None:
        """Reject documents with this number (or all: '*') on top of the real checks."""
        with self._lock:
            self._reject[invoice_number] = (code, message)

    def warn(self, invoice_number: str = "*", code: str = "BR-KSA-SIMULATED",
             message: str = "warning from the simulator's script") -> None:
        """Report documents with this number (or all) with a warning (202)."""
        with self._lock:
            self._warn[invoice_number] = (code, message)

    def apply_script(self, script: dict[str, Any]) -> None:
        """The JSON form: {"fail_first": n, "status": 503, "drop_first": n, "lose_answers": n, "down": bool,
        "reject": [numbers], "warn": [numbers], "delay_seconds": s}."""
        self.fail_next(int(script.get("fail_first", 0)), int(script.get("status", 503)))
        self.drop_next(int(script.get("drop_first", 0)))
        self.lose_answers(int(script.get("lose_answers", 0)))
        if script.get("down"):
            self.down()
        for number in script.get("reject", []):
            self.reject(number)
        for number in script.get("warn", []):
            self.warn(number)
        self.delay(float(script.get("delay_seconds", 0)))

    # ---- what a test inspects ----

    def chain_of(self, csid: Csid | str) -> list[tuple[int, str, str]]:
        """(ICV, PIH, invoice hash) of every document the unit sent, by ICV."""
        token = csid.binary_security_token if isinstance(csid, Csid) else csid
        with self._lock:
            unit = self._units[token]
            return [(link.icv, link.previous_hash, link.invoice_hash) for _, link in sorted(unit.links.items())]

    def reported_uuids(self, csid: Csid | str) -> set[str]:
        token = csid.binary_security_token if isinstance(csid, Csid) else csid
        with self._lock:
            return set(self._units[token].reported)

    # ---- HTTP ----

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if 0 < length <= 5 << 20 else b""
        with self._lock:
            if request.path == self._base_path + REPORTING_PATH:
                self.posts.append(body)
            drop = self._drop > 0
            self._drop -= drop
            failing = self._fail.pop(0) if self._fail else (503 if self._down else None)
            delay = self._delay
        if delay:
            threading.Event().wait(delay)
        if drop:
            request.close_connection = True
            request.connection.close()
            return
        if request.path != self._base_path + REPORTING_PATH:
            self._answer(request, 404, {"message": "not found"})
        elif failing is not None:
            self._answer(request, failing, {"message": "service unavailable (scripted)"})
        else:
            status, payload = self.judge(request.headers.get("Authorization", ""),
                                         request.headers.get("Accept-Version", ""), body)
            self._answer(request, status, payload)

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ---- the verdict ----

    def _unit_for(self, authorization: str) -> tuple[str, _Unit] | None:
        if not authorization.startswith("Basic "):
            return None
        try:
            token, _, secret = base64.b64decode(authorization[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        unit = self._units.get(token)
        if unit is None or not secrets.compare_digest(unit.secret, secret):
            return None
        return token, unit

    def judge(self, authorization: str, accept_version: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer for one reporting request (HTTP-free, for tests)."""
        with self._lock:
            found = self._unit_for(authorization)
            if found is None:
                return 401, {"message": "invalid CSID or secret"}
            token, unit = found
            return self._judge(token, unit, accept_version, body)

    def _judge(self, token: str, unit: _Unit, accept_version: str, body: bytes) -> tuple[int, dict[str, Any]]:
        def rejected(errors: list[dict[str, str]], *, xml: bytes = b"", number: str = "", doc_uuid: str = "",
                     icv: int | None = None) -> tuple[int, dict[str, Any]]:
            self.received.append(Received(token, doc_uuid, number, icv, 400, xml, tuple(e["code"] for e in errors)))
            return 400, {"validationResults": {"infoMessages": [], "warningMessages": [], "errorMessages": errors,
                                               "status": "ERROR"}, "reportingStatus": "NOT_REPORTED"}

        if accept_version != "V2":
            return rejected([_message("invalid-version", "Accept-Version must be V2", category="REQUEST")])
        try:
            payload = json.loads(body.decode("utf-8"))
            if not isinstance(payload, dict) or set(payload) != {"invoiceHash", "uuid", "invoice"}:
                raise ValueError
            xml = base64.b64decode(payload["invoice"], validate=True)
            root = parse(xml)
            fields = document_fields(root)
        except (ValueError, UnicodeDecodeError, binascii.Error, MalformedInvoiceXml):
            return rejected([_message("invalid-request", "the body is not {invoiceHash, uuid, invoice} with a "
                                      "base64 UBL invoice", category="REQUEST")])
        number, doc_uuid = fields.invoice_number, fields.uuid
        computed = invoice_hash(root)
        if doc_uuid in unit.reported and unit.reported[doc_uuid] == computed:
            self.received.append(Received(token, doc_uuid, number, fields.icv, 409, xml))
            return 409, {"message": "Invoice was already reported successfully earlier"}
        errors: list[dict[str, str]] = []
        warnings: list[dict[str, str]] = []
        if payload["invoiceHash"] != computed:
            errors.append(_message("invalid-invoice-hash", "The invoice hash API body does not match the (calculated) "
                                   "Hash of the XML", category="INVOICE_HASHING_ERRORS"))
        if payload["uuid"] != doc_uuid:
            errors.append(_message("invalid-uuid", "The UUID in the body is not the invoice's"))
        errors += self._document_rules(root)
        errors += self._signature_and_qr(unit, root, xml)
        chain_errors = self._chain(unit, fields.icv, fields.previous_hash, computed, doc_uuid)
        errors += chain_errors
        if not chain_errors:  # a link that does not fork the chain is part of it, whatever the verdict
            unit.links[fields.icv] = _Link(fields.icv, fields.previous_hash, computed, doc_uuid)
            unit.by_pih[fields.previous_hash] = fields.icv
        for scripted, out in ((self._reject, errors), (self._warn, warnings)):
            rule = scripted.get(number) or scripted.get("*")
            if rule:
                out.append(_message(rule[0], rule[1], kind="ERROR" if out is errors else "WARNING"))
        if errors:
            return rejected(errors, xml=xml, number=number, doc_uuid=doc_uuid, icv=fields.icv)
        unit.reported[doc_uuid] = computed
        lost = self._lose > 0
        self._lose -= lost
        status = 504 if lost else 202 if warnings else 200
        self.received.append(Received(token, doc_uuid, number, fields.icv, status, xml,
                                      tuple(w["code"] for w in warnings)))
        if lost:
            return 504, {"message": "gateway timeout (scripted: the document was reported, the answer lost)"}
        return status, {"validationResults": {"infoMessages": [_PASS_INFO], "warningMessages": warnings,
                                              "errorMessages": [], "status": "WARNING" if warnings else "PASS"},
                        "reportingStatus": "REPORTED"}

    @staticmethod
    def _document_rules(root: Any) -> list[dict[str, str]]:
        errors = []
        if _text(root, "/inv:Invoice/cbc:ProfileID") != PROFILE_ID:
            errors.append(_message("BR-KSA-EN16931-01", f"ProfileID must be {PROFILE_ID}"))
        subtype = _text(root, "/inv:Invoice/cbc:InvoiceTypeCode/@name") or ""
        type_code = _text(root, "/inv:Invoice/cbc:InvoiceTypeCode")
        if not subtype.startswith("02") or len(subtype) != 7:
            errors.append(_message("BR-KSA-06", "only simplified documents (subtype 02…) are reported; "
                                   "standard ones are cleared"))
        if type_code not in ("388", "381", "383"):
            errors.append(_message("BR-KSA-05", "InvoiceTypeCode must be 388, 381 or 383"))
        if _text(root, "/inv:Invoice/cac:PaymentMeans/cbc:PaymentMeansCode") not in PAYMENT_MEANS_SUBSET:
            errors.append(_message("BR-KSA-16", "Payment means code must be one of ZATCA's UNTDID 4461 subset"))
        if type_code in ("381", "383"):
            if not _text(root, "/inv:Invoice/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"):
                errors.append(_message("BR-KSA-56", "a credit or debit note references the original invoice"))
            if not _text(root, "/inv:Invoice/cac:PaymentMeans/cbc:InstructionNote"):
                errors.append(_message("BR-KSA-17", "a credit or debit note states its reason (KSA-10)"))
        totals = "/inv:Invoice/cac:LegalMonetaryTotal/cbc:"
        net, inclusive, payable = (_amount(root, totals + name) for name in
                                   ("LineExtensionAmount", "TaxInclusiveAmount", "PayableAmount"))
        vat = _amount(root, "/inv:Invoice/cac:TaxTotal[1]/cbc:TaxAmount")
        lines = [Decimal(t) for t in root.xpath("/inv:Invoice/cac:InvoiceLine/cbc:LineExtensionAmount/text()",
                                                namespaces=XPATH_NS)]
        taxable = sum((Decimal(t) for t in root.xpath(
            "/inv:Invoice/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount/text()", namespaces=XPATH_NS)), Decimal(0))
        if None in (net, inclusive, payable, vat) or not lines:
            errors.append(_message("BR-CO-MISSING", "the document's totals or lines are missing"))
            return errors
        assert net is not None and vat is not None and inclusive is not None
        if sum(lines, Decimal(0)) != net:
            errors.append(_message("BR-CO-10", "LineExtensionAmount is not the sum of the lines"))
        if inclusive != net + vat or payable != inclusive:
            errors.append(_message("BR-CO-15", "TaxInclusiveAmount is not net plus VAT, or PayableAmount differs"))
        if (taxable * Decimal("0.15")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) != vat:
            errors.append(_message("BR-KSA-EN16931-11", "the VAT is not 15% of the taxable amount"))
        return errors

    @staticmethod
    def _signature_and_qr(unit: _Unit, root: Any, xml: bytes) -> list[dict[str, str]]:
        errors = []
        try:
            verify_signed_invoice(xml)
            parts = read_signature(root)
        except InvalidInvoiceSignature as error:
            return [_message(f"signature-{error.reason}", str(error), category="SIGNATURE_ERRORS")]
        if parts.certificate != unit.certificate:
            errors.append(_message("certificate-not-csid", "the document is not signed with the unit's CSID "
                                   "certificate", category="SIGNATURE_ERRORS"))
        for problem in qr_problems(xml):
            errors.append(_message("QRCODE_INVALID", problem, category="QR_CODE"))
        return errors

    @staticmethod
    def _chain(unit: _Unit, icv: int, pih: str, computed: str, doc_uuid: str) -> list[dict[str, str]]:
        errors = []
        seen = unit.links.get(icv)
        if seen is not None and (seen.invoice_hash != computed or seen.uuid != doc_uuid):
            errors.append(_message("invalid-icv", f"ICV {icv} was already used by another document (a fork)"))
        before, after = unit.links.get(icv - 1), unit.links.get(icv + 1)
        if icv == 1 and pih != GENESIS_PIH:
            errors.append(_message("invalid-previous-invoice-hash", "the first document carries the genesis PIH"))
        if before is not None and before.invoice_hash != pih:
            errors.append(_message("invalid-previous-invoice-hash",
                                   f"PIH of ICV {icv} is not the hash of ICV {icv - 1}"))
        if after is not None and after.previous_hash != computed:
            errors.append(_message("invalid-previous-invoice-hash", f"ICV {icv + 1} does not chain to ICV {icv}"))
        other = unit.by_pih.get(pih)
        if other is not None and other != icv:
            errors.append(_message("invalid-previous-invoice-hash", f"PIH already used by ICV {other} (a fork)"))
        return errors


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground for one unit's certificate."""
    parser = argparse.ArgumentParser(prog="python -m reporting.adapters.regulatory.zatca.simulator")
    parser.add_argument("--cert", required=True, help="the unit's certificate (PEM) to onboard")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--script", default="{}", help="JSON: fail_first, status, drop_first, lose_answers, down, "
                                                       "reject, warn, delay_seconds")
    args = parser.parse_args(argv)
    simulator = ZatcaSimulator(port=args.port)
    simulator.apply_script(json.loads(args.script))
    with open(args.cert, "rb") as handle:
        csid = simulator.onboard(handle.read())
    with simulator:
        print(f"ZATCA simulator at {simulator.base_url}")
        print(f"  binarySecurityToken {csid.binary_security_token}")
        print(f"  secret              {csid.secret}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
