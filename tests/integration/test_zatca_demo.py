"""The demo's ZATCA day (devenv/zatca_demo.file_day): a KSA hotel's business date filed through the live adapter and
the local simulator, the signed XML and QR images written, the chain and the QR tags checked."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reporting.adapters.regulatory.zatca import verify_chain
from reporting.adapters.regulatory.zatca.qr import qr_summary
from reporting.adapters.regulatory.zatca.ubl import document_fields
from reporting.devenv.zatca_demo import file_day
from reporting.domain.tenant import Residency

pytestmark = pytest.mark.integration


def test_file_day_files_a_days_invoices_and_leaves_them_for_an_auditor(make_services, make_hotel, clock, tmp_path):
    clock.set(datetime.now(timezone.utc))  # file_day runs on real time: the hotel's "yesterday" must be real
    services = make_services(Residency.KSA)  # no REPORTING_ZATCA_ENDPOINT: file_day brings its own simulator
    hotel = make_hotel(services)
    out = tmp_path / "zatca"
    summary = file_day(services, hotel.tenant_id, hotel.property_id, hotel.yesterday, out)
    assert summary.documents > 0 and summary.submissions == summary.documents == summary.accepted
    assert (summary.rejected, summary.open, summary.problems) == (0, 0, ())
    assert summary.chain_verified and summary.qr_ok and summary.first_icv == 1
    assert summary.last_icv == summary.documents and "verified" in str(summary)
    xml = sorted(out.glob("*.xml"))
    assert len(xml) == summary.documents and len(list(out.glob("*-qr.png"))) == summary.documents
    assert verify_chain([p.read_bytes() for p in xml]).ok
    tags = qr_summary(document_fields(xml[0].read_bytes()).qr)
    assert list(tags) == ["seller_name", "vat_number", "timestamp", "total_with_vat", "vat_total", "invoice_hash",
                          "signature", "public_key", "certificate_signature"]
    again = file_day(services, hotel.tenant_id, hotel.property_id, hotel.yesterday, out)  # idempotent
    assert (again.documents, again.accepted, again.last_icv) == (summary.documents, summary.accepted,
                                                                 summary.last_icv)
    assert (out / "egs" / "private-key.pem").stat().st_mode & 0o077 == 0


def test_exported_files_verify_offline_and_a_tampered_one_is_named(make_services, make_hotel, clock, tmp_path, capsys):
    """`reporting zatca files DIR`: what a new user runs on make demo's out/ksa/zatca, without a database."""
    from reporting.cli import main as cli

    clock.set(datetime.now(timezone.utc))
    services = make_services(Residency.KSA)
    hotel = make_hotel(services)
    out = tmp_path / "zatca"
    assert file_day(services, hotel.tenant_id, hotel.property_id, hotel.yesterday, out).documents > 1
    assert cli(["zatca", "files", str(out), "--qr"]) == 0
    printed = capsys.readouterr().out
    assert "OK:" in printed and "0 chain problem(s), 0 QR problem(s)" in printed and "Invoice total (with VAT)" in printed
    second = sorted(out.glob("*.xml"))[1]
    second.write_bytes(second.read_bytes().replace(b"SINV-", b"SINW-", 1))  # the number edited after signing
    assert cli(["zatca", "files", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "BROKEN" in printed
    assert cli(["zatca", "files", str(tmp_path / "empty")]) == 2
