"""UBL 2.1 XML of a simplified invoice (lxml) and ZATCA's invoice hash.

Sources:
- Element order: the OASIS UBL 2.1 Invoice schema (`UBL-Invoice-2.1.xsd`, the sequence of
  InvoiceType), as ZATCA's "E-Invoicing XML Implementation Standard" profiles it; the tests validate
  the output against those XSDs. Credit notes stay `Invoice` documents (type code 381), as ZATCA's
  profile has it.
- ZATCA-specific parts, as in the SDK's signed sample (`Data/Samples/Simplified/Invoice/
  Simplified_Invoice.xml`): ProfileID `reporting:1.0`; InvoiceTypeCode `name="0200000"` (02 =
  simplified, then the five transaction flags, all off); the invoice counter (ICV, KSA-16) in an
  AdditionalDocumentReference with ID `ICV` and the counter in its `cbc:UUID`; the previous invoice
  hash (PIH, KSA-13) and the QR code (KSA-14) as `text/plain` embedded objects of references `PIH`
  and `QR`; `cac:Signature` pointing at the enveloped XAdES signature; two TaxTotal elements (the
  first in the tax currency with the amount only, the second with the breakdown).
- Invoice hash: ZATCA "Security Features Implementation Standards" (§2.3.3, the XAdES reference to
  the invoice with its three XPath transforms): remove `ext:UBLExtensions`, `cac:Signature` and the
  `AdditionalDocumentReference` whose ID is `QR`, canonicalise (C14N 1.1), SHA-256, base64 of the 32
  digest bytes. Removal keeps the whitespace around the removed elements (the XPath filter drops
  element nodes, not the text between them). Our hash reproduces the digest ZATCA's SDK recorded
  for its own sample byte for byte (tests/unit/test_zatca_sdk_sample.py).
- C14N 1.1 vs lxml's C14N 1.0: the two differ only for document subsets carrying `xml:` attributes
  (xml:base fix-up, xml:id inheritance); we canonicalise a whole document with none, so the bytes
  are identical.
"""
from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from reporting.adapters.regulatory.zatca.invoice import DocumentKind, SimplifiedInvoice

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS_EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
NSMAP = {None: NS_INVOICE, "cac": NS_CAC, "cbc": NS_CBC, "ext": NS_EXT}
XPATH_NS = {"inv": NS_INVOICE, "cac": NS_CAC, "cbc": NS_CBC, "ext": NS_EXT}

PROFILE_ID = "reporting:1.0"
SIMPLIFIED_SUBTYPE = "0200000"
SIGNATURE_ID = "urn:oasis:names:specification:ubl:signature:Invoice"
SIGNATURE_METHOD = "urn:oasis:names:specification:ubl:dsig:enveloped:xades"

# What the invoice hash leaves out (Security Features Implementation Standards §2.3.3).
_EXCLUDED = (
    "/inv:Invoice/ext:UBLExtensions"
    " | /inv:Invoice/cac:Signature"
    " | /inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='QR']"
)


class MalformedInvoiceXml(ValueError):
    """The bytes are not an invoice this module can read."""


def _parser() -> etree.XMLParser:
    # No entities, no network, no DTD: the XML may come back from storage or another party.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


def parse(xml: bytes) -> etree._Element:
    """The root element of an invoice document, parsed safely."""
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedInvoiceXml(f"not well-formed XML: {exc.msg}") from None
    if root.tag != f"{{{NS_INVOICE}}}Invoice":
        raise MalformedInvoiceXml("root element is not a UBL Invoice")
    return root


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _el(parent: etree._Element, ns: str, local: str, text: str | None = None, /, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, local), attrs)
    if text is not None:
        element.text = text
    return element


def _cbc(parent: etree._Element, local: str, text: str | None = None, /, **attrs: str) -> etree._Element:
    return _el(parent, NS_CBC, local, text, **attrs)


def _cac(parent: etree._Element, local: str) -> etree._Element:
    return _el(parent, NS_CAC, local)


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _price(value: Decimal) -> str:
    # Prices may carry more than two decimals; never fewer than two.
    return f"{value:.2f}" if value.as_tuple().exponent >= -2 else format(value, "f")


def _quantity(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _percent(value: Decimal) -> str:
    return f"{value:.2f}"


def _tax_category(parent: etree._Element, name: str, category: str, percent: Decimal) -> None:
    tax_category = _cac(parent, name)
    _cbc(tax_category, "ID", category, schemeID="UN/ECE 5305", schemeAgencyID="6")
    _cbc(tax_category, "Percent", _percent(percent))
    scheme = _cac(tax_category, "TaxScheme")
    _cbc(scheme, "ID", "VAT", schemeID="UN/ECE 5153", schemeAgencyID="6")


def _attachment_reference(root: etree._Element, ref_id: str, value: str) -> etree._Element:
    reference = _cac(root, "AdditionalDocumentReference")
    _cbc(reference, "ID", ref_id)
    attachment = _cac(reference, "Attachment")
    _cbc(attachment, "EmbeddedDocumentBinaryObject", value, mimeCode="text/plain")
    return reference


def _seller(root: etree._Element, invoice: SimplifiedInvoice) -> None:
    seller = invoice.seller
    party = _cac(_cac(root, "AccountingSupplierParty"), "Party")
    _cbc(_cac(party, "PartyIdentification"), "ID", seller.other_id, schemeID=seller.other_id_scheme)
    address = _cac(party, "PostalAddress")
    _cbc(address, "StreetName", seller.address.street)
    _cbc(address, "BuildingNumber", seller.address.building_number)
    if seller.address.additional_number:
        _cbc(address, "PlotIdentification", seller.address.additional_number)
    _cbc(address, "CitySubdivisionName", seller.address.district)
    _cbc(address, "CityName", seller.address.city)
    _cbc(address, "PostalZone", seller.address.postal_zone)
    _cbc(_cac(address, "Country"), "IdentificationCode", seller.address.country_code)
    tax_scheme = _cac(party, "PartyTaxScheme")
    _cbc(tax_scheme, "CompanyID", seller.vat_number)
    _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    _cbc(_cac(party, "PartyLegalEntity"), "RegistrationName", seller.name)


def build_invoice_tree(invoice: SimplifiedInvoice, *, icv: int, previous_hash: str) -> etree._Element:
    """The invoice document with empty slots for the signature extension and the QR code.

    The slots sit where the signed document has them, so the whitespace the hash keeps around them
    is the same before and after signing.
    """
    if icv < 1:
        raise ValueError("the invoice counter starts at 1")
    if not previous_hash:
        raise ValueError("previous invoice hash is required")
    currency = invoice.currency
    root = etree.Element(_q(NS_INVOICE, "Invoice"), nsmap=NSMAP)
    _el(root, NS_EXT, "UBLExtensions")  # slot: the signing step puts the XAdES signature here
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", invoice.invoice_number)
    _cbc(root, "UUID", invoice.uuid)
    _cbc(root, "IssueDate", invoice.issue_date.isoformat())
    _cbc(root, "IssueTime", invoice.issue_time.isoformat(timespec="seconds"))
    _cbc(root, "InvoiceTypeCode", invoice.kind.value, name=SIMPLIFIED_SUBTYPE)
    _cbc(root, "DocumentCurrencyCode", currency)
    _cbc(root, "TaxCurrencyCode", currency)
    if invoice.billing_reference is not None:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", invoice.billing_reference.invoice_number)
        if invoice.billing_reference.issue_date is not None:
            _cbc(reference, "IssueDate", invoice.billing_reference.issue_date.isoformat())
    counter = _cac(root, "AdditionalDocumentReference")
    _cbc(counter, "ID", "ICV")
    _cbc(counter, "UUID", str(icv))
    _attachment_reference(root, "PIH", previous_hash)
    _attachment_reference(root, "QR", "")  # slot: the QR code needs the signature
    signature = _cac(root, "Signature")
    _cbc(signature, "ID", SIGNATURE_ID)
    _cbc(signature, "SignatureMethod", SIGNATURE_METHOD)
    _seller(root, invoice)
    # A simplified invoice names no buyer; UBL still requires the (empty) customer party.
    _cac(root, "AccountingCustomerParty")
    payment = _cac(root, "PaymentMeans")
    _cbc(payment, "PaymentMeansCode", invoice.payment_means_code)
    if invoice.kind is DocumentKind.CREDIT_NOTE:
        _cbc(payment, "InstructionNote", invoice.reason)
    _cbc(_cac(root, "TaxTotal"), "TaxAmount", _amount(invoice.vat_total), currencyID=currency)
    tax_total = _cac(root, "TaxTotal")
    _cbc(tax_total, "TaxAmount", _amount(invoice.vat_total), currencyID=currency)
    for sub in invoice.tax_subtotals:
        subtotal = _cac(tax_total, "TaxSubtotal")
        _cbc(subtotal, "TaxableAmount", _amount(sub.taxable_amount), currencyID=currency)
        _cbc(subtotal, "TaxAmount", _amount(sub.tax_amount), currencyID=currency)
        _tax_category(subtotal, "TaxCategory", sub.category, sub.percent)
    totals = _cac(root, "LegalMonetaryTotal")
    _cbc(totals, "LineExtensionAmount", _amount(invoice.net_total), currencyID=currency)
    _cbc(totals, "TaxExclusiveAmount", _amount(invoice.net_total), currencyID=currency)
    _cbc(totals, "TaxInclusiveAmount", _amount(invoice.total_with_vat), currencyID=currency)
    _cbc(totals, "PrepaidAmount", _amount(Decimal("0")), currencyID=currency)
    _cbc(totals, "PayableAmount", _amount(invoice.total_with_vat), currencyID=currency)
    for number, item in enumerate(invoice.lines, start=1):
        line = _cac(root, "InvoiceLine")
        _cbc(line, "ID", str(number))
        _cbc(line, "InvoicedQuantity", _quantity(item.quantity), unitCode=item.unit_code)
        _cbc(line, "LineExtensionAmount", _amount(item.net_amount), currencyID=currency)
        line_tax = _cac(line, "TaxTotal")
        _cbc(line_tax, "TaxAmount", _amount(item.vat_amount), currencyID=currency)
        _cbc(line_tax, "RoundingAmount", _amount(item.amount_with_vat), currencyID=currency)
        product = _cac(line, "Item")
        _cbc(product, "Name", item.name)
        classified = _cac(product, "ClassifiedTaxCategory")
        _cbc(classified, "ID", item.vat_category)
        _cbc(classified, "Percent", _percent(item.vat_percent))
        _cbc(_cac(classified, "TaxScheme"), "ID", "VAT")
        _cbc(_cac(line, "Price"), "PriceAmount", _price(item.unit_price), currencyID=currency)
    etree.indent(root, space="    ")
    root.text = None  # the extension opens right after <Invoice>, as in ZATCA's samples
    return root


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with the XML declaration, as the document is stored and reported."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def _remove_keeping_whitespace(element: etree._Element) -> None:
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def canonical_for_hash(xml: bytes | etree._Element) -> bytes:
    """The canonical bytes the invoice hash is taken over."""
    root = copy.deepcopy(xml) if isinstance(xml, etree._Element) else parse(xml)
    for element in root.xpath(_EXCLUDED, namespaces=XPATH_NS):
        _remove_keeping_whitespace(element)
    return etree.tostring(root, method="c14n", exclusive=False, with_comments=False)


def invoice_hash(xml: bytes | etree._Element) -> str:
    """base64(SHA-256) of the canonical invoice without extensions, signature and QR."""
    return base64.b64encode(hashlib.sha256(canonical_for_hash(xml)).digest()).decode("ascii")


@dataclass(frozen=True)
class DocumentFields:
    """What the chain and the reporting call read back from a stored invoice."""

    invoice_number: str
    uuid: str
    icv: int
    previous_hash: str
    qr: str


def _text(root: etree._Element, path: str, what: str) -> str:
    found = root.xpath(path, namespaces=XPATH_NS)
    if len(found) != 1 or found[0].text is None:
        raise MalformedInvoiceXml(f"invoice has no single {what}")
    return found[0].text.strip()


def document_fields(xml: bytes | etree._Element) -> DocumentFields:
    """The invoice number, UUID, ICV, PIH and QR of a document."""
    root = xml if isinstance(xml, etree._Element) else parse(xml)
    icv_text = _text(root, "/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID", "ICV")
    if not icv_text.isdigit():
        raise MalformedInvoiceXml("ICV is not a number")
    attachment = "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"
    qr = root.xpath(f"/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='QR']/{attachment}", namespaces=XPATH_NS)
    return DocumentFields(
        invoice_number=_text(root, "/inv:Invoice/cbc:ID", "invoice number"),
        uuid=_text(root, "/inv:Invoice/cbc:UUID", "UUID"),
        icv=int(icv_text),
        previous_hash=_text(root, f"/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='PIH']/{attachment}", "PIH"),
        qr=(qr[0].text or "").strip() if len(qr) == 1 else "",
    )
