"""Try the e-invoicing unit by hand: make a demo day, read a QR, verify a chain.

    python -m reporting.adapters.regulatory.zatca demo --out /tmp/zatca-day --count 50
    python -m reporting.adapters.regulatory.zatca qr /tmp/zatca-day/0001-DEMO-00001.xml
    python -m reporting.adapters.regulatory.zatca verify /tmp/zatca-day/*.xml --cert /tmp/zatca-day/cert.pem

The demo signs with a self-signed test certificate (NOT ZATCA-issued) and made-up hotel data.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509

from reporting.adapters.regulatory.zatca.chain import next_link, verify_chain
from reporting.adapters.regulatory.zatca.invoice import Address, Seller, simplified_invoice
from reporting.adapters.regulatory.zatca.qr import QrTag, qr_png, qr_summary
from reporting.adapters.regulatory.zatca.signed_invoice import build_signed_invoice
from reporting.adapters.regulatory.zatca.signing import generate_test_credentials, load_credentials
from reporting.adapters.regulatory.zatca.ubl import document_fields

DEMO_SELLER = Seller(
    name="فندق العرض | Demo Hotel",
    vat_number="399999999900003",
    address=Address(
        street="King Fahd Road", building_number="2322", district="Al Olaya", city="Riyadh", postal_zone="12211"
    ),
    other_id="1010010000",
)


def demo(out: Path, count: int) -> int:
    """Write a day of signed demo invoices (the last one a credit note), the certificate and a QR PNG."""
    out.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = generate_test_credentials(organization="Demo Hotel", vat_number=DEMO_SELLER.vat_number)
    (out / "cert.pem").write_bytes(cert_pem)
    credentials = load_credentials(key_pem, cert_pem)
    start = datetime.now(timezone.utc).replace(hour=6, minute=0, second=0, microsecond=0)
    head = None
    first_number = None
    for n in range(1, count + 1):
        number = f"DEMO-{n:05d}"
        credit = n == count and count > 1
        invoice = simplified_invoice(
            uuid=str(uuid.uuid4()),
            invoice_number=number,
            issued_at=start + timedelta(minutes=13 * n),
            seller=DEMO_SELLER,
            lines=[{"name": "Room night", "quantity": 1 + n % 3, "unit_price": "420.00"}],
            original_invoice_number=first_number if credit else None,
            reason="Stay shortened" if credit else None,
        )
        link = next_link(head)
        signed = build_signed_invoice(invoice, icv=link.icv, previous_hash=link.previous_hash, credentials=credentials)
        (out / f"{n:04d}-{number}.xml").write_bytes(signed.xml)
        if n == 1:
            first_number = number
            (out / f"{n:04d}-{number}-qr.png").write_bytes(qr_png(signed.qr_base64))
        head = signed.chain_head
    print(f"{count} signed documents in {out} (test certificate, NOT ZATCA-issued); chain head ICV {head.icv}")
    return 0


def show_qr(path: Path) -> int:
    """Print the QR fields of one document, tag by tag."""
    summary = qr_summary(document_fields(path.read_bytes()).qr)
    for tag, (name, value) in zip(QrTag, summary.items()):
        print(f"{tag.value}  {name:<22} {value}")
    return 0


def verify(paths: list[Path], cert: Path | None) -> int:
    """Verify documents as one chain; exit 1 and name each broken document."""
    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key() if cert else None
    report = verify_chain([path.read_bytes() for path in paths], public_key=key)
    for problem in report.problems:
        print(f"BROKEN {problem.code}: {problem.message}")
    if report.ok:
        print(f"OK: {report.checked} documents, one chain, ICV up to {report.head.icv if report.head else '-'}")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m reporting.adapters.regulatory.zatca")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("demo", help="write a day of signed demo invoices")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--count", type=int, default=50)
    read = commands.add_parser("qr", help="print a document's QR fields")
    read.add_argument("document", type=Path)
    check = commands.add_parser("verify", help="verify documents as one chain")
    check.add_argument("documents", type=Path, nargs="+")
    check.add_argument("--cert", type=Path, help="the unit's certificate (PEM); default: each embedded one")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.out, args.count)
    if args.command == "qr":
        return show_qr(args.document)
    return verify(args.documents, args.cert)


if __name__ == "__main__":
    sys.exit(main())
