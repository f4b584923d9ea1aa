"""Reading what the unit filed, as an operator, an auditor and the simulator need it: the QR's tags by ZATCA's
names checked against the document, a day's stretch of the chain verified, the files an auditor asks for."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from reporting.adapters.regulatory.zatca.chain import ChainHead, ChainProblem, ChainReport, verify_chain
from reporting.adapters.regulatory.zatca.invoice import RIYADH
from reporting.adapters.regulatory.zatca.qr import MalformedQr, QrTag, decode_qr, qr_png
from reporting.adapters.regulatory.zatca.signing import InvalidInvoiceSignature, read_signature
from reporting.adapters.regulatory.zatca.store import StoredDocument, ZatcaStore
from reporting.adapters.regulatory.zatca.ubl import XPATH_NS, document_fields, invoice_hash, parse

# ZATCA's published list of the QR fields of a simplified tax invoice (E-Invoicing Detailed Technical
# Guideline, QR code; Security Features Implementation Standards §4), tags 1-9 in ZATCA's words.
ZATCA_QR_FIELDS: dict[int, str] = {
    1: "Seller's name",
    2: "VAT registration number of the seller",
    3: "Time stamp of the invoice (date and time)",
    4: "Invoice total (with VAT)",
    5: "VAT total",
    6: "Hash of XML invoice",
    7: "ECDSA signature",
    8: "ECDSA public key",
    9: "ECDSA signature of the cryptographic stamp's public key by ZATCA's technical CA",
}
BINARY_TAGS = frozenset({int(QrTag.PUBLIC_KEY), int(QrTag.CERTIFICATE_SIGNATURE)})


@dataclass(frozen=True)
class QrField:
    """One tag of a document's QR: its value (binary ones in base64) and whether the document agrees."""

    tag: int
    name: str
    value: str
    matches: bool


def _text(root: Any, path: str) -> str | None:
    found = root.xpath(path, namespaces=XPATH_NS)
    return (found[0].text or "").strip() if found else None


def expected_qr_values(xml: bytes) -> dict[int, bytes]:
    """What each QR tag must hold, by what the document says (raises InvalidInvoiceSignature if it has no stamp)."""
    root = parse(xml)
    parts = read_signature(root)
    party = "/inv:Invoice/cac:AccountingSupplierParty/cac:Party"
    text = {
        1: _text(root, f"{party}/cac:PartyLegalEntity/cbc:RegistrationName"),
        2: _text(root, f"{party}/cac:PartyTaxScheme/cbc:CompanyID"),
        3: f"{_text(root, '/inv:Invoice/cbc:IssueDate')}T{_text(root, '/inv:Invoice/cbc:IssueTime')}",
        4: _text(root, "/inv:Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        5: _text(root, "/inv:Invoice/cac:TaxTotal[1]/cbc:TaxAmount"),
        6: invoice_hash(root),
        7: parts.signature_value,
    }
    values = {tag: (value or "").encode("utf-8") for tag, value in text.items()}
    values[8] = parts.certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    values[9] = parts.certificate.signature
    return values


def qr_fields(xml: bytes) -> list[QrField]:
    """The document's QR tags 1-9 by ZATCA's names, each checked against the document (a missing tag: empty, no)."""
    fields = decode_qr(document_fields(xml).qr)
    try:
        expected = expected_qr_values(xml)
    except InvalidInvoiceSignature:
        expected = {}
    out = []
    for tag, name in ZATCA_QR_FIELDS.items():
        raw = fields.get(tag)
        if raw is None:
            shown = ""
        elif tag in BINARY_TAGS:
            shown = base64.b64encode(raw).decode("ascii")
        else:
            shown = raw.decode("utf-8", errors="replace")
        out.append(QrField(tag, name, shown, raw is not None and expected.get(tag) == raw))
    return out


def qr_problems(xml: bytes) -> list[str]:
    """What is wrong with a document's QR (empty: every tag 1-9 is there and agrees with the document)."""
    try:
        fields = qr_fields(xml)
    except MalformedQr as error:
        return [f"QR code is not TLV base64: {error}"]
    return [f"QR tag {f.tag} ({f.name}) does not match the document" for f in fields if not f.matches]


def write_document_files(xml: bytes, qr: str, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """`<stem>.xml` (the signed bytes, as reported) and `<stem>-qr.png` in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    xml_path, png_path = out_dir / f"{stem}.xml", out_dir / f"{stem}-qr.png"
    xml_path.write_bytes(xml)
    png_path.write_bytes(qr_png(qr))
    return xml_path, png_path


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a civil day in Riyadh (ZATCA's IssueDate is Riyadh time)."""
    start = datetime.combine(day, time(0), tzinfo=RIYADH)
    return start, start + timedelta(days=1)


def day_stretch(store: ZatcaStore, tenant_id: str, property_id: str,
                day: date) -> tuple[list[StoredDocument], ChainHead | None]:
    """The contiguous stretch of the chain that holds every document issued on `day`, and the link before it.

    Documents are chained in the order the unit signs them, which is not always their issue order
    (a correction issued today sits between today's invoices), so the stretch may also hold a few
    documents of other days: they are part of what must link up."""
    issued = store.issued_between(tenant_id, property_id, *day_bounds(day))
    if not issued:
        return [], None
    first, last = min(d.icv for d in issued), max(d.icv for d in issued)
    stretch = store.chain(tenant_id, property_id, from_icv=first, to_icv=last)
    before = store.chain(tenant_id, property_id, from_icv=first - 1, to_icv=first - 1) if first > 1 else []
    # The previous link as the document itself says (its hash recomputed), not as a column claims.
    previous = ChainHead(before[0].icv, invoice_hash(before[0].xml)) if before else None
    return stretch, previous


def verify_documents(documents: list[StoredDocument], previous: ChainHead | None,
                     public_key: Any = None) -> ChainReport:
    """verify_chain over stored documents (signatures, hashes, counters, PIHs), each row's columns against its XML."""
    report = verify_chain([d.xml for d in documents], public_key=public_key, previous=previous)
    extra: list[ChainProblem] = []
    if documents and previous is None and documents[0].icv != 1:
        extra.append(ChainProblem(documents[0].invoice_number, documents[0].invoice_uuid, documents[0].icv,
                                  "missing_previous", f"ICV {documents[0].icv - 1} is not in the store"))
    for d in documents:
        fields = document_fields(d.xml)
        if (d.icv, d.previous_hash, d.invoice_uuid, d.qr) != (fields.icv, fields.previous_hash, fields.uuid,
                                                               fields.qr) or d.invoice_hash != invoice_hash(d.xml):
            extra.append(ChainProblem(d.invoice_number, d.invoice_uuid, d.icv, "stored_mismatch",
                                      f"invoice {d.invoice_number} (ICV {d.icv}): the stored columns are not "
                                      "what its XML says"))
    return ChainReport(report.checked, (*report.problems, *extra), report.head) if extra else report
