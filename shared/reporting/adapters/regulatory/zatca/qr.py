"""The invoice's QR code: TLV fields 1-9, base64; an image for people (segno).

Sources: ZATCA "Security Features Implementation Standards" §4 (QR code specifications) and the
E-Invoicing Detailed Technical Guideline's TLV construction: each field is tag (1 byte), length
(1 byte, the length of the value's bytes), value (UTF-8 bytes of the text); the QR carries base64
of the concatenation (the XML's KSA-14 allows at most 1000 characters).

| tag | field | value bytes (as ZATCA's SDK writes them, checked against its signed sample) |
|---|---|---|
| 1 | seller's name | UTF-8 text |
| 2 | seller's VAT registration number | UTF-8 text |
| 3 | time stamp (issue date and time) | `YYYY-MM-DDTHH:MM:SS`, the XML's IssueDate and IssueTime |
| 4 | invoice total with VAT | decimal text, two places |
| 5 | VAT total | decimal text, two places |
| 6 | hash of the XML invoice | the base64 text of the invoice hash |
| 7 | ECDSA signature | the base64 text of the DER signature (the XML's SignatureValue) |
| 8 | ECDSA public key | DER SubjectPublicKeyInfo bytes of the signing key |
| 9 | the ZATCA CA's signature on the stamp certificate (simplified documents) | DER signature bytes of the certificate |

Where the prose and the SDK differ (the prose speaks of a 64-byte public key "BLOB" and of IEEE
P1363 signatures), we follow the SDK, since its validator is what judges the QR: tag 8 is 88 bytes
of SPKI and tag 9 the certificate's DER signature in ZATCA's own sample.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from enum import IntEnum

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from reporting.adapters.regulatory.zatca.invoice import SimplifiedInvoice

MAX_VALUE_BYTES = 255  # the length is one byte
MAX_QR_CHARS = 1000  # KSA-14's character limit


class QrTag(IntEnum):
    """The fields of the QR code, by tag."""

    SELLER_NAME = 1
    VAT_NUMBER = 2
    TIMESTAMP = 3
    TOTAL_WITH_VAT = 4
    VAT_TOTAL = 5
    INVOICE_HASH = 6
    SIGNATURE = 7
    PUBLIC_KEY = 8
    CERTIFICATE_SIGNATURE = 9


TEXT_TAGS = frozenset(range(1, 8))


class MalformedQr(ValueError):
    """The QR payload is not a well-formed TLV sequence."""


def encode_tlv(fields: Iterable[tuple[int, bytes | str]]) -> bytes:
    """Tag, one-byte length, value; text values as UTF-8."""
    out = bytearray()
    for tag, value in fields:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if not 1 <= tag <= 255:
            raise ValueError(f"tag {tag} does not fit one byte")
        if len(data) > MAX_VALUE_BYTES:
            raise ValueError(f"QR tag {tag} is {len(data)} bytes; one-byte lengths allow {MAX_VALUE_BYTES}")
        out += bytes((tag, len(data))) + data
    return bytes(out)


def decode_tlv(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) pairs of a TLV byte string, in order."""
    fields: list[tuple[int, bytes]] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise MalformedQr("truncated tag/length")
        tag, length = data[position], data[position + 1]
        end = position + 2 + length
        if end > len(data):
            raise MalformedQr(f"tag {tag} claims {length} bytes past the end")
        fields.append((tag, data[position + 2 : end]))
        position = end
    return fields


def qr_fields(
    invoice: SimplifiedInvoice, *, invoice_hash: str, signature: str, certificate: x509.Certificate
) -> list[tuple[int, bytes | str]]:
    """The nine fields of a simplified invoice's QR, in tag order."""
    public_key = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    timestamp = f"{invoice.issue_date.isoformat()}T{invoice.issue_time.isoformat(timespec='seconds')}"
    return [
        (QrTag.SELLER_NAME, invoice.seller.name),
        (QrTag.VAT_NUMBER, invoice.seller.vat_number),
        (QrTag.TIMESTAMP, timestamp),
        (QrTag.TOTAL_WITH_VAT, f"{invoice.total_with_vat:.2f}"),
        (QrTag.VAT_TOTAL, f"{invoice.vat_total:.2f}"),
        (QrTag.INVOICE_HASH, invoice_hash),
        (QrTag.SIGNATURE, signature),
        (QrTag.PUBLIC_KEY, public_key),
        (QrTag.CERTIFICATE_SIGNATURE, certificate.signature),
    ]


def qr_base64(fields: Sequence[tuple[int, bytes | str]]) -> str:
    """base64 of the TLV encoding, refused past KSA-14's limit."""
    encoded = base64.b64encode(encode_tlv(fields)).decode("ascii")
    if len(encoded) > MAX_QR_CHARS:
        raise ValueError(f"QR code is {len(encoded)} characters; KSA-14 allows {MAX_QR_CHARS}")
    return encoded


def decode_qr(qr: str) -> dict[int, bytes]:
    """Tag -> value bytes of a base64 QR payload; a repeated tag is malformed."""
    try:
        data = base64.b64decode(qr, validate=True)
    except ValueError:
        raise MalformedQr("not base64") from None
    fields: dict[int, bytes] = {}
    for tag, value in decode_tlv(data):
        if tag in fields:
            raise MalformedQr(f"tag {tag} appears twice")
        fields[tag] = value
    return fields


def qr_summary(qr: str) -> dict[str, str]:
    """The QR's fields by name, readable: text tags as text, key and CA signature as base64."""
    summary: dict[str, str] = {}
    for tag, value in decode_qr(qr).items():
        name = QrTag(tag).name.lower() if 1 <= tag <= 9 else f"tag_{tag}"
        summary[name] = value.decode("utf-8") if tag in TEXT_TAGS else base64.b64encode(value).decode("ascii")
    return summary


def qr_png(qr: str, *, scale: int = 4) -> bytes:
    """A PNG of the QR symbol for a printed or on-screen invoice."""
    import segno  # lazily: only receipts and the demo draw QR codes

    buffer = io.BytesIO()
    segno.make_qr(qr, error="m").save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


def qr_svg(qr: str, *, scale: int = 4) -> bytes:
    """An SVG of the QR symbol."""
    import segno

    buffer = io.BytesIO()
    segno.make_qr(qr, error="m").save(buffer, kind="svg", scale=scale)
    return buffer.getvalue()
