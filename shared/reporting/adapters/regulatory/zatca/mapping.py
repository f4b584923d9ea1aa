"""A row of the KSA VAT dataset (catalog/ksa_vat_invoices) → the library's SimplifiedInvoice.

The row is one invoice or credit note as the run rendered it into its CSV (so values are
text): seller_* fields, issued_at in Riyadh civil time, payment_method, lines_json (net,
signed like the document), net/vat/total (credit notes negative). The document carries
absolute amounts under its type code; the totals the lines add up to must equal the row's,
to the halala, or the row is refused (a payload an operator has to look at, never a guess). The
row's `icv` column is the PMS's own numbering and is not used: the service is the e-invoicing unit,
and the unit's chain assigns the ICV (store.py).

Payment means (UNTDID 4461, BT-81). ZATCA accepts a subset only (BR-KSA-16: 10, 30, 42, 48, 1,
as the SDK's schematron checks); the library's model allows 10, 30, 48 and 1:

| payment_method | code | why |
|---|---|---|
| cash | 10 | "In cash" |
| card | 48 | "Bank card": credit, debit and mada cards, and wallets that pay with a card token at the
  terminal (Apple Pay, mada Pay), which the PMS records as card |
| bank_transfer | 30 | "Credit transfer": the guest's bank pushes the money to the hotel. 42 ("Payment to bank
  account") is also in ZATCA's subset, but the library's model does not take it, and 30 says the same
  from the payer's side |
| mobile_wallet | 1 | "Instrument not defined". The precise UNTDID code, 68 "Online payment service", is outside
  ZATCA's subset, and an account-to-account wallet payment (STC Pay, urpay) is neither cash, nor a
  card, nor a transfer to the hotel's bank account; 1 is the truthful code ZATCA accepts |
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reporting.adapters.regulatory.zatca.invoice import (
    RIYADH,
    Address,
    InvalidInvoice,
    InvoiceLine,
    Seller,
    SimplifiedInvoice,
    line,
    simplified_invoice,
    to_decimal,
)

PAYMENT_MEANS_CODES: dict[str, str] = {"cash": "10", "card": "48", "bank_transfer": "30", "mobile_wallet": "1"}
DOCUMENT_TYPES = {"invoice": "388", "credit_note": "381"}
STANDARD_RATES = (Decimal("0.15"), Decimal("15"))  # the dataset writes 0.15; 15 is the same rate as a percent
_FORMULA_MARK = ("'=", "'+", "'-", "'@", "'\t", "'\r")  # the renderer's CSV neutralises formula-like cells


class UnusableRow(InvalidInvoice):
    """The row cannot be filed as it is; the message names the field, never guest data."""


def cell(row: Mapping[str, Any], key: str) -> str:
    """A CSV cell as the dataset produced it: the renderer's formula guard undone, blanks as ''."""
    value = row.get(key)
    text = "" if value is None else str(value)
    return text[1:] if text.startswith(_FORMULA_MARK) else text.strip()


def _required(row: Mapping[str, Any], key: str) -> str:
    value = cell(row, key)
    if not value:
        raise UnusableRow(f"{key} is empty")
    return value


def issued_at(row: Mapping[str, Any]) -> datetime:
    """issued_at: the dataset's Riyadh civil time (an offset, if present, wins)."""
    try:
        when = datetime.fromisoformat(_required(row, "issued_at"))
    except ValueError:
        raise UnusableRow("issued_at is not an ISO date-time") from None
    return when if when.tzinfo else when.replace(tzinfo=RIYADH)


def _date(row: Mapping[str, Any], key: str) -> date | None:
    value = cell(row, key)
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise UnusableRow(f"{key} is not an ISO date") from None


def seller(row: Mapping[str, Any]) -> Seller:
    """The property as the seller, from the row's seller_* fields."""
    return Seller(
        name=_required(row, "seller_name"),
        vat_number=_required(row, "seller_vat_number"),
        other_id=_required(row, "seller_commercial_registration"),
        other_id_scheme="CRN",
        address=Address(
            street=_required(row, "seller_street"),
            building_number=cell(row, "seller_building_number"),
            district=_required(row, "seller_district"),
            city=_required(row, "seller_city"),
            postal_zone=cell(row, "seller_postal_code"),
        ),
    )


def payment_means_code(row: Mapping[str, Any]) -> str:
    """BT-81 for the row's payment_method (see the table above)."""
    method = cell(row, "payment_method")
    try:
        return PAYMENT_MEANS_CODES[method]
    except KeyError:
        raise UnusableRow(f"payment_method must be one of {sorted(PAYMENT_MEANS_CODES)}") from None


def document_type(row: Mapping[str, Any]) -> str:
    """388 or 381, from document_type (and invoice_type_code, when given, must agree)."""
    kind = cell(row, "document_type")
    if kind not in DOCUMENT_TYPES:
        raise UnusableRow(f"document_type must be one of {sorted(DOCUMENT_TYPES)}")
    code = cell(row, "invoice_type_code")
    if code and code != DOCUMENT_TYPES[kind]:
        raise UnusableRow("invoice_type_code does not match document_type")
    subtype = cell(row, "invoice_subtype")
    if subtype and subtype != "0200000":
        raise UnusableRow("only simplified documents (subtype 0200000) are reported")
    return DOCUMENT_TYPES[kind]


def lines(row: Mapping[str, Any]) -> tuple[InvoiceLine, ...]:
    """The document's lines: absolute unit prices (credit notes come negative), standard-rated."""
    try:
        raw = json.loads(_required(row, "lines_json"), parse_float=Decimal)
    except ValueError:
        raise UnusableRow("lines_json is not JSON") from None
    if not isinstance(raw, list) or not raw:
        raise UnusableRow("lines_json has no lines")
    built = []
    signs = set()
    for item in raw:
        if not isinstance(item, dict) or "unit_price" not in item or not str(item.get("name") or "").strip():
            raise UnusableRow("each line needs a name and a unit_price")
        price = to_decimal(item["unit_price"], "line unit price")
        quantity = to_decimal(item.get("quantity", 1), "line quantity")
        if price:
            signs.add(price > 0)
        # The warehouse's NUMERIC(…, 9) carries trailing zeros; the XML gets the value, not the padding.
        built.append(line(str(item["name"]).strip(), abs(quantity).normalize(), abs(price).normalize()))
    if len(signs) > 1:
        # A negative line inside an invoice is an allowance, which the model does not carry.
        raise UnusableRow("lines mix charges and reversals; issue the reversal as a credit note")
    return tuple(built)


@dataclass(frozen=True)
class Identity:
    """Number and UUID a document is issued under (the row's own, or a correction's new ones)."""

    invoice_number: str
    uuid: str


def from_row(row: Mapping[str, Any], *, identity: Identity | None = None, issued: datetime | None = None
             ) -> SimplifiedInvoice:
    """The document a dataset row describes; `identity` and `issued` override the row's when reissuing."""
    type_code = document_type(row)
    rate = to_decimal(cell(row, "vat_rate") or "0.15", "vat_rate")
    if rate not in STANDARD_RATES:
        raise UnusableRow("only standard-rated (15%) documents are supported")
    currency = cell(row, "currency") or "SAR"
    if currency != "SAR":
        raise UnusableRow("only SAR documents are supported")
    credit = type_code == "381"
    reason = cell(row, "credit_reason") if credit else None
    if credit and not reason:
        raise UnusableRow("a credit note needs its reason (credit_reason, KSA-10)")
    invoice = simplified_invoice(
        uuid=identity.uuid if identity else _required(row, "invoice_uuid"),
        invoice_number=identity.invoice_number if identity else _required(row, "invoice_number"),
        issued_at=issued or issued_at(row),
        seller=seller(row),
        lines=lines(row),
        original_invoice_number=_required(row, "original_invoice_number") if credit else None,
        original_issue_date=_date(row, "original_issue_date") if credit else None,
        reason=reason,
        payment_means_code=payment_means_code(row),
    )
    invoice.check_totals(net=_required(row, "net_amount"), vat=_required(row, "vat_amount"),
                         total=_required(row, "total_amount"))
    return invoice


def credit_note_for(original: SimplifiedInvoice, *, identity: Identity, issued: datetime,
                    reason: str) -> SimplifiedInvoice:
    """A credit note cancelling `original` in full: its lines, seller and payment means, type 381."""
    return simplified_invoice(
        uuid=identity.uuid,
        invoice_number=identity.invoice_number,
        issued_at=issued,
        seller=original.seller,
        lines=original.lines,
        original_invoice_number=original.invoice_number,
        original_issue_date=original.issue_date,
        reason=reason,
        payment_means_code=original.payment_means_code,
    )


def _xml_text(root: Any, path: str, *, required: bool = True) -> str | None:
    from reporting.adapters.regulatory.zatca.ubl import XPATH_NS

    found = root.xpath(path, namespaces=XPATH_NS)
    if not found or found[0].text is None:
        if required:
            raise UnusableRow(f"stored document has no {path.rsplit('/', 1)[-1]}")
        return None
    return found[0].text.strip()


def invoice_from_xml(xml: bytes) -> SimplifiedInvoice:
    """The model of a document this unit signed, read back from its stored XML (to cancel or compare it)."""
    from reporting.adapters.regulatory.zatca.ubl import XPATH_NS, parse

    root = parse(xml)
    party = "/inv:Invoice/cac:AccountingSupplierParty/cac:Party"
    address = f"{party}/cac:PostalAddress"
    issued = datetime.combine(date.fromisoformat(_xml_text(root, "/inv:Invoice/cbc:IssueDate") or ""),
                              datetime.strptime(_xml_text(root, "/inv:Invoice/cbc:IssueTime") or "", "%H:%M:%S").time(),
                              tzinfo=RIYADH)
    built = []
    for item in root.xpath("/inv:Invoice/cac:InvoiceLine", namespaces=XPATH_NS):
        (quantity,) = item.xpath("cbc:InvoicedQuantity", namespaces=XPATH_NS)
        built.append(line(_xml_text(item, "cac:Item/cbc:Name") or "", quantity.text,
                          _xml_text(item, "cac:Price/cbc:PriceAmount"), unit_code=quantity.get("unitCode", "PCE")))
    reference = _xml_text(root, "/inv:Invoice/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
                          required=False)
    reference_date = _xml_text(root, "/inv:Invoice/cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate",
                               required=False)
    return simplified_invoice(
        uuid=_xml_text(root, "/inv:Invoice/cbc:UUID") or "",
        invoice_number=_xml_text(root, "/inv:Invoice/cbc:ID") or "",
        issued_at=issued,
        seller=Seller(
            name=_xml_text(root, f"{party}/cac:PartyLegalEntity/cbc:RegistrationName") or "",
            vat_number=_xml_text(root, f"{party}/cac:PartyTaxScheme/cbc:CompanyID") or "",
            other_id=_xml_text(root, f"{party}/cac:PartyIdentification/cbc:ID") or "",
            other_id_scheme=root.xpath(f"{party}/cac:PartyIdentification/cbc:ID/@schemeID",
                                       namespaces=XPATH_NS)[0],
            address=Address(
                street=_xml_text(root, f"{address}/cbc:StreetName") or "",
                building_number=_xml_text(root, f"{address}/cbc:BuildingNumber") or "",
                district=_xml_text(root, f"{address}/cbc:CitySubdivisionName") or "",
                city=_xml_text(root, f"{address}/cbc:CityName") or "",
                postal_zone=_xml_text(root, f"{address}/cbc:PostalZone") or "",
                additional_number=_xml_text(root, f"{address}/cbc:PlotIdentification", required=False),
            ),
        ),
        lines=built,
        original_invoice_number=reference,
        original_issue_date=date.fromisoformat(reference_date) if reference_date else None,
        reason=_xml_text(root, "/inv:Invoice/cac:PaymentMeans/cbc:InstructionNote", required=False),
        payment_means_code=_xml_text(root, "/inv:Invoice/cac:PaymentMeans/cbc:PaymentMeansCode") or "",
    )


def same_substance(a: SimplifiedInvoice, b: SimplifiedInvoice) -> bool:
    """True when two documents say the same thing to ZATCA, whatever their numbers, UUIDs and issue times."""
    def substance(doc: SimplifiedInvoice) -> tuple:
        return (doc.kind, doc.seller, tuple((ln.name, ln.quantity, ln.unit_price, ln.unit_code) for ln in doc.lines),
                doc.payment_means_code, doc.net_total, doc.vat_total,
                doc.billing_reference.invoice_number if doc.billing_reference else None, doc.reason)
    return substance(a) == substance(b)
