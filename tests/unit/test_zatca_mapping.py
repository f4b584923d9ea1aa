"""A KSA VAT dataset row (as the run's CSV carries it) → the ZATCA document: codes, credit notes, amounts, rounding."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from reporting.adapters.regulatory.zatca import (
    GENESIS_PIH,
    DocumentKind,
    TotalsMismatch,
    build_signed_invoice,
    generate_test_credentials,
    load_credentials,
)
from reporting.adapters.regulatory.zatca.invoice import RIYADH
from reporting.adapters.regulatory.zatca.mapping import (
    PAYMENT_MEANS_CODES,
    Identity,
    UnusableRow,
    cell,
    credit_note_for,
    from_row,
    invoice_from_xml,
    payment_means_code,
    same_substance,
)
from reporting.adapters.regulatory.zatca.simulator import PAYMENT_MEANS_SUBSET
from reporting.adapters.regulatory.zatca.ubl import XPATH_NS, parse

KEY, CERT = generate_test_credentials()
CREDENTIALS = load_credentials(KEY, CERT)


def lines_json(*prices: str) -> str:
    """lines_json as the warehouse writes it: numbers, not strings, with the NUMERIC's nine places."""
    lines = [f'{{"name":"Charge {n}","business_date":"2025-03-08","quantity":1,"unit_price":{p}}}'
             for n, p in enumerate(prices)]
    json.loads("[" + ",".join(lines) + "]")
    return "[" + ",".join(lines) + "]"


def row(**overrides: str) -> dict[str, str]:
    """An invoice row exactly as the renderer writes ksa_vat_invoices into the CSV (text; NUMERIC with 9 places)."""
    base = {
        "business_date": "2025-03-10", "icv": "1196", "invoice_number": "SINV-2025-001196",
        "invoice_uuid": "8605c0b6-dcc3-5491-a8e5-b3382313e185", "document_type": "invoice",
        "invoice_type_code": "388", "invoice_subtype": "0200000", "issue_date": "2025-03-10",
        "issued_at": "2025-03-10T06:32:00", "original_invoice_number": "", "original_issue_date": "",
        "credit_reason": "", "payment_method": "card", "confirmation_number": "RIY-001279",
        "seller_name": "Al Murabba Suites Demo Hospitality Co.", "seller_vat_number": "300000000033033",
        "seller_commercial_registration": "1010003303", "seller_street": "Demo Street",
        "seller_building_number": "2012", "seller_district": "Al Murabba", "seller_city": "Riyadh",
        "seller_postal_code": "12613", "currency": "SAR", "net_amount": "1296.780000000",
        "vat_rate": "0.150000000", "vat_amount": "194.520000000", "total_amount": "1491.300000000",
        "lines_json": lines_json("89.500000000", "56.000000000", "575.640000000", "575.640000000"),
    }
    return {**base, **overrides}


def credit_row(**overrides: str) -> dict[str, str]:
    return row(**{"invoice_number": "SCRN-2025-001201", "invoice_uuid": "1b2f9a43-4a1f-5d3e-9a41-2f0c1c0d7e11",
                  "document_type": "credit_note", "invoice_type_code": "381",
                  "original_invoice_number": "SINV-2025-001150", "original_issue_date": "2025-03-07",
                  "credit_reason": "Service not provided", "payment_method": "cash", "net_amount": "-56.000000000",
                  "vat_amount": "-8.400000000", "total_amount": "-64.400000000",
                  "lines_json": lines_json("-56.000000000"), **overrides})


def xml_of(invoice, icv: int = 1):
    return parse(build_signed_invoice(invoice, icv=icv, previous_hash=GENESIS_PIH, credentials=CREDENTIALS).xml)


def text(root, path: str) -> str:
    return root.xpath(path, namespaces=XPATH_NS)[0].text


@pytest.mark.parametrize(("method", "code"), [("cash", "10"), ("card", "48"), ("bank_transfer", "30"),
                                              ("mobile_wallet", "1")])
def test_payment_methods_map_to_untdid_4461_codes_inside_zatcas_subset(method: str, code: str):
    invoice = from_row(row(payment_method=method))
    assert payment_means_code(row(payment_method=method)) == code == invoice.payment_means_code
    assert text(xml_of(invoice), "/inv:Invoice/cac:PaymentMeans/cbc:PaymentMeansCode") == code
    assert code in PAYMENT_MEANS_SUBSET  # BR-KSA-16
    assert set(PAYMENT_MEANS_CODES) == {"cash", "card", "bank_transfer", "mobile_wallet"}


def test_an_unknown_payment_method_is_refused_not_guessed():
    with pytest.raises(UnusableRow, match="payment_method"):
        from_row(row(payment_method="voucher"))
    with pytest.raises(UnusableRow, match="payment_method"):
        from_row(row(payment_method=""))


def test_an_invoice_row_is_a_simplified_388_in_riyadh_time_with_the_rows_figures():
    invoice = from_row(row())
    root = xml_of(invoice)
    assert invoice.kind is DocumentKind.INVOICE and invoice.billing_reference is None
    type_code = root.xpath("/inv:Invoice/cbc:InvoiceTypeCode", namespaces=XPATH_NS)[0]
    assert (type_code.text, type_code.get("name")) == ("388", "0200000")
    assert (text(root, "/inv:Invoice/cbc:IssueDate"), text(root, "/inv:Invoice/cbc:IssueTime")) == (
        "2025-03-10", "06:32:00")
    assert invoice.issued_at == datetime(2025, 3, 10, 6, 32, tzinfo=RIYADH)
    assert (invoice.net_total, invoice.vat_total, invoice.total_with_vat) == (
        Decimal("1296.78"), Decimal("194.52"), Decimal("1491.30"))
    assert text(root, "/inv:Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount") == "1491.30"
    assert not root.xpath("/inv:Invoice/cac:BillingReference", namespaces=XPATH_NS)
    # NUMERIC(…, 9) padding does not reach the XML; the value does.
    assert [p.text for p in root.xpath("//cac:Price/cbc:PriceAmount", namespaces=XPATH_NS)] == [
        "89.50", "56.00", "575.64", "575.64"]
    seller = invoice.seller
    assert (seller.vat_number, seller.other_id, seller.other_id_scheme, seller.address.building_number,
            seller.address.postal_zone) == ("300000000033033", "1010003303", "CRN", "2012", "12613")
    assert b"RIY-001279" not in build_signed_invoice(invoice, icv=1, previous_hash=GENESIS_PIH,
                                                     credentials=CREDENTIALS).xml


def test_a_credit_note_row_is_a_381_with_billing_reference_reason_and_absolute_amounts():
    note = from_row(credit_row())
    root = xml_of(note)
    assert note.kind is DocumentKind.CREDIT_NOTE
    assert text(root, "/inv:Invoice/cbc:InvoiceTypeCode") == "381"
    reference = "/inv:Invoice/cac:BillingReference/cac:InvoiceDocumentReference"
    assert (text(root, f"{reference}/cbc:ID"), text(root, f"{reference}/cbc:IssueDate")) == (
        "SINV-2025-001150", "2025-03-07")
    assert text(root, "/inv:Invoice/cac:PaymentMeans/cbc:InstructionNote") == "Service not provided"
    assert text(root, "/inv:Invoice/cac:PaymentMeans/cbc:PaymentMeansCode") == "10"
    assert (note.net_total, note.vat_total, note.total_with_vat) == (Decimal("56.00"), Decimal("8.40"),
                                                                     Decimal("64.40"))
    assert text(root, "/inv:Invoice/cac:InvoiceLine/cac:Price/cbc:PriceAmount") == "56.00"


def test_a_credit_note_without_its_reason_or_original_is_refused():
    with pytest.raises(UnusableRow, match="credit_reason"):
        from_row(credit_row(credit_reason=""))
    with pytest.raises(UnusableRow, match="original_invoice_number"):
        from_row(credit_row(original_invoice_number=""))
    with pytest.raises(UnusableRow, match="invoice_type_code"):
        from_row(row(invoice_type_code="381"))


def test_totals_that_disagree_with_the_lines_by_one_halala_are_refused():
    with pytest.raises(TotalsMismatch, match="vat"):
        from_row(row(vat_amount="194.53", total_amount="1491.31"))
    with pytest.raises(TotalsMismatch, match="net"):
        from_row(row(net_amount="1296.79"))


def test_vat_is_rounded_once_half_up_on_the_taxable_amount_not_line_by_line():
    # Three lines of 0.10: each line's VAT is 0.015 → 0.02 (0.06 summed), the document's is 15% of 0.30 = 0.045 → 0.05.
    invoice = from_row(row(lines_json=lines_json("0.100000000", "0.100000000", "0.100000000"), net_amount="0.30",
                           vat_amount="0.05", total_amount="0.35"))
    root = xml_of(invoice)
    assert invoice.vat_total == Decimal("0.05")
    assert [t.text for t in root.xpath("//cac:InvoiceLine/cac:TaxTotal/cbc:TaxAmount", namespaces=XPATH_NS)] == [
        "0.02"] * 3
    assert text(root, "/inv:Invoice/cac:TaxTotal[1]/cbc:TaxAmount") == "0.05"
    with pytest.raises(TotalsMismatch):  # the line-by-line sum is not what the dataset computes
        from_row(row(lines_json=lines_json("0.100000000", "0.100000000", "0.100000000"), net_amount="0.30",
                     vat_amount="0.06", total_amount="0.36"))


def test_rows_the_model_cannot_carry_are_refused_with_the_field_named():
    cases = {
        "lines mix": {"lines_json": lines_json("100.00", "-10.00"), "net_amount": "90", "vat_amount": "13.5",
                      "total_amount": "103.5"},
        "lines_json": {"lines_json": "not json"},
        "standard-rated": {"vat_rate": "0.05"},
        "SAR": {"currency": "USD"},
        "issued_at": {"issued_at": "yesterday"},
        "simplified": {"invoice_subtype": "0100000"},
        "building number": {"seller_building_number": "12"},
        "VAT number": {"seller_vat_number": "123"},
    }
    for expected, override in cases.items():
        with pytest.raises(UnusableRow if expected not in ("building number", "VAT number") else ValueError,
                           match=expected):
            from_row(row(**override))


def test_the_csv_formula_guard_is_undone_and_an_explicit_offset_wins():
    assert cell({"seller_name": "'=Hotel"}, "seller_name") == "=Hotel"
    assert cell({"seller_name": "'Hotel"}, "seller_name") == "'Hotel"
    invoice = from_row(row(issued_at="2025-03-10T03:32:00+00:00"))
    assert invoice.issued_at.astimezone(RIYADH) == datetime(2025, 3, 10, 6, 32, tzinfo=RIYADH)


def test_a_stored_document_reads_back_to_the_same_substance():
    original = from_row(row())
    signed = build_signed_invoice(original, icv=7, previous_hash=GENESIS_PIH, credentials=CREDENTIALS)
    again = invoice_from_xml(signed.xml)
    assert same_substance(original, again)
    assert (again.uuid, again.invoice_number, again.issued_at) == (original.uuid, original.invoice_number,
                                                                   original.issued_at)
    assert same_substance(from_row(credit_row()), invoice_from_xml(
        build_signed_invoice(from_row(credit_row()), icv=1, previous_hash=GENESIS_PIH, credentials=CREDENTIALS).xml))
    reissued = from_row(row(), identity=Identity("SINV-2025-001196-R1", "3f1d2c4b-0000-4000-8000-000000000001"),
                        issued=datetime(2025, 3, 12, 9, 0, tzinfo=timezone.utc))
    assert same_substance(original, reissued)  # numbers, UUIDs and times do not make a difference…
    changed = from_row(row(lines_json=lines_json("99.500000000", "56.000000000", "575.640000000", "575.640000000"),
                           net_amount="1306.78", vat_amount="196.02", total_amount="1502.80"))
    assert not same_substance(original, changed)  # …figures do
    assert not same_substance(original, from_row(row(payment_method="cash")))


def test_a_correcting_credit_note_cancels_the_original_in_full():
    original = from_row(row())
    issued = datetime(2025, 3, 12, 9, 0, tzinfo=timezone.utc)
    note = credit_note_for(original, identity=Identity("SINV-2025-001196-C1", "3f1d2c4b-0000-4000-8000-000000000002"),
                           issued=issued, reason="Invoice data corrected")
    assert note.kind is DocumentKind.CREDIT_NOTE and note.reason == "Invoice data corrected"
    assert (note.billing_reference.invoice_number, note.billing_reference.issue_date) == (
        "SINV-2025-001196", date(2025, 3, 10))
    assert (note.net_total, note.vat_total, note.total_with_vat) == (original.net_total, original.vat_total,
                                                                     original.total_with_vat)
    assert note.lines == original.lines and note.payment_means_code == original.payment_means_code
    assert note.issued_at == issued and note.issued_at - original.issued_at > timedelta(days=1)
