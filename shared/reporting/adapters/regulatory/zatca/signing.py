"""The cryptographic stamp: ECDSA (secp256k1, SHA-256) and the XAdES-B-B enveloped signature.

Sources: ZATCA "Security Features Implementation Standards" §2.3.3 (structure of the cryptographic
stamp in XAdES format) and the signing steps of the E-Invoicing Detailed Technical Guideline, with
every encoding below checked against the output of ZATCA's SDK (`fatoora -sign` on its sample
simplified invoice; tests/unit/test_zatca_sdk_sample.py reproduces each value):

- signature value: ECDSA over secp256k1 with SHA-256 of the 32 raw bytes of the invoice hash (not
  of the canonical SignedInfo, as plain XML-DSig would have it), DER, base64. The same text is the
  QR's tag 7.
- certificate digest (xades:CertDigest): SHA-256 of the certificate's base64 text (the content of
  ds:X509Certificate), written as base64 of the lowercase hex digest.
- signed properties digest (the second ds:Reference): SHA-256, base64 of the hex digest, over the
  xades:SignedProperties block exactly as ZATCA's template writes it (xmlns:xades on the element,
  xmlns:ds on each ds: child, the SDK's indentation, LF line ends); a C14N of the element in the
  document gives another value, and ZATCA's validator checks the template's.
- X509IssuerName: the issuer's RDNs most specific first, joined with ", " (ZATCA's CA reads
  "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local"); X509SerialNumber in decimal.
- signing time: `YYYY-MM-DDTHH:MM:SS` without an offset. *Assumption*: we write UTC (the SDK writes
  the signer's clock, the standard names no zone, and UTC can never look like a future time).

signxml is not used: ZATCA signs the invoice hash rather than SignedInfo and digests a template
rather than the canonical element, which a standard XML-DSig library would (rightly) not do.

The key and the certificate come in as PEM: in production from Secret Manager through the caller
(the CSID that ZATCA issues, see `certificate_pem_from_csid`). `generate_test_credentials` makes a
self-signed pair for tests and the demo; its certificate is NOT issued by ZATCA and ZATCA's
services reject it.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from string import Template
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.backends.openssl import backend as _openssl
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from reporting.adapters.regulatory.zatca.ubl import NS_CBC, NS_EXT, XPATH_NS, invoice_hash, parse

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XADES = "http://uri.etsi.org/01903/v1.3.2#"
SIGNATURE_NS = {**XPATH_NS, "ds": NS_DS, "xades": NS_XADES}
TEST_CERTIFICATE_MARK = "NOT ZATCA-ISSUED TEST CERTIFICATE"

# ZATCA signs the hash bytes; RFC 6979 nonces (when OpenSSL has them) make a re-signed invoice
# byte-identical, so a retry that rebuilds the document reports the same bytes.
# (Older cryptography or OpenSSL < 3.2: randomised nonces, signatures still valid, just not repeatable.)
_DETERMINISTIC = getattr(_openssl, "ecdsa_deterministic_supported", lambda: False)()
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True) if _DETERMINISTIC else ec.ECDSA(hashes.SHA256())
_VERIFY = ec.ECDSA(hashes.SHA256())

# The block ZATCA digests for the second reference; indentation and namespaces are significant.
_SIGNED_PROPERTIES_FOR_DIGEST = Template(
    '<xades:SignedProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Id="xadesSignedProperties">\n'
    "                                    <xades:SignedSignatureProperties>\n"
    "                                        <xades:SigningTime>${signing_time}</xades:SigningTime>\n"
    "                                        <xades:SigningCertificate>\n"
    "                                            <xades:Cert>\n"
    "                                                <xades:CertDigest>\n"
    '                                                    <ds:DigestMethod xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'
    ' Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\n'
    '                                                    <ds:DigestValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    "${certificate_digest}</ds:DigestValue>\n"
    "                                                </xades:CertDigest>\n"
    "                                                <xades:IssuerSerial>\n"
    '                                                    <ds:X509IssuerName xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    "${issuer}</ds:X509IssuerName>\n"
    '                                                    <ds:X509SerialNumber xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
    "${serial}</ds:X509SerialNumber>\n"
    "                                                </xades:IssuerSerial>\n"
    "                                            </xades:Cert>\n"
    "                                        </xades:SigningCertificate>\n"
    "                                    </xades:SignedSignatureProperties>\n"
    "                                </xades:SignedProperties>"
)

# The signature extension in the layout of ZATCA's SDK, so the SignedProperties in the document
# read exactly like the block that is digested.
_UBL_EXTENSIONS = Template(
    "<ext:UBLExtensions>\n"
    "    <ext:UBLExtension>\n"
    "        <ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>\n"
    "        <ext:ExtensionContent>\n"
    '            <sig:UBLDocumentSignatures xmlns:sig="urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2"'
    ' xmlns:sac="urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2"'
    ' xmlns:sbc="urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2">\n'
    "                <sac:SignatureInformation>\n"
    "                    <cbc:ID>urn:oasis:names:specification:ubl:signature:1</cbc:ID>\n"
    "                    <sbc:ReferencedSignatureID>urn:oasis:names:specification:ubl:signature:Invoice"
    "</sbc:ReferencedSignatureID>\n"
    '                    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="signature">\n'
    "                        <ds:SignedInfo>\n"
    '                            <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>\n'
    '                            <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>\n'
    '                            <ds:Reference Id="invoiceSignedData" URI="">\n'
    "                                <ds:Transforms>\n"
    '                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">\n'
    "                                        <ds:XPath>not(//ancestor-or-self::ext:UBLExtensions)</ds:XPath>\n"
    "                                    </ds:Transform>\n"
    '                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">\n'
    "                                        <ds:XPath>not(//ancestor-or-self::cac:Signature)</ds:XPath>\n"
    "                                    </ds:Transform>\n"
    '                                    <ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">\n'
    "                                        <ds:XPath>not(//ancestor-or-self::cac:AdditionalDocumentReference[cbc:ID='QR'])"
    "</ds:XPath>\n"
    "                                    </ds:Transform>\n"
    '                                    <ds:Transform Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>\n'
    "                                </ds:Transforms>\n"
    '                                <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\n'
    "                                <ds:DigestValue>${invoice_digest}</ds:DigestValue>\n"
    "                            </ds:Reference>\n"
    '                            <ds:Reference Type="http://www.w3.org/2000/09/xmldsig#SignatureProperties"'
    ' URI="#xadesSignedProperties">\n'
    '                                <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\n'
    "                                <ds:DigestValue>${signed_properties_digest}</ds:DigestValue>\n"
    "                            </ds:Reference>\n"
    "                        </ds:SignedInfo>\n"
    "                        <ds:SignatureValue>${signature_value}</ds:SignatureValue>\n"
    "                        <ds:KeyInfo>\n"
    "                            <ds:X509Data>\n"
    "                                <ds:X509Certificate>${certificate}</ds:X509Certificate>\n"
    "                            </ds:X509Data>\n"
    "                        </ds:KeyInfo>\n"
    "                        <ds:Object>\n"
    '                            <xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#"'
    ' Target="signature">\n'
    '                                <xades:SignedProperties Id="xadesSignedProperties">\n'
    "                                    <xades:SignedSignatureProperties>\n"
    "                                        <xades:SigningTime>${signing_time}</xades:SigningTime>\n"
    "                                        <xades:SigningCertificate>\n"
    "                                            <xades:Cert>\n"
    "                                                <xades:CertDigest>\n"
    '                                                    <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>\n'
    "                                                    <ds:DigestValue>${certificate_digest}</ds:DigestValue>\n"
    "                                                </xades:CertDigest>\n"
    "                                                <xades:IssuerSerial>\n"
    "                                                    <ds:X509IssuerName>${issuer}</ds:X509IssuerName>\n"
    "                                                    <ds:X509SerialNumber>${serial}</ds:X509SerialNumber>\n"
    "                                                </xades:IssuerSerial>\n"
    "                                            </xades:Cert>\n"
    "                                        </xades:SigningCertificate>\n"
    "                                    </xades:SignedSignatureProperties>\n"
    "                                </xades:SignedProperties>\n"
    "                            </xades:QualifyingProperties>\n"
    "                        </ds:Object>\n"
    "                    </ds:Signature>\n"
    "                </sac:SignatureInformation>\n"
    "            </sig:UBLDocumentSignatures>\n"
    "        </ext:ExtensionContent>\n"
    "    </ext:UBLExtension>\n"
    "</ext:UBLExtensions>"
)


class InvalidCredentials(ValueError):
    """The key or certificate cannot sign ZATCA invoices (the message never carries key material)."""


class InvalidInvoiceSignature(ValueError):
    """A signed invoice fails verification; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SigningCredentials:
    """The EGS unit's secp256k1 private key and the certificate (CSID) for it."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_base64(self) -> str:
        """The certificate's DER as one base64 line (the ds:X509Certificate text)."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _as_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def load_credentials(key_pem: bytes | str, cert_pem: bytes | str) -> SigningCredentials:
    """Credentials from PEM text (SEC1 or PKCS#8 key), checked to be a secp256k1 pair."""
    try:
        key = serialization.load_pem_private_key(_as_bytes(key_pem), password=None)
    except (ValueError, TypeError):
        raise InvalidCredentials("private key is not an unencrypted PEM key") from None
    try:
        certificate = x509.load_pem_x509_certificate(_as_bytes(cert_pem))
    except ValueError:
        raise InvalidCredentials("certificate is not a PEM X.509 certificate") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256K1):
        raise InvalidCredentials("ZATCA stamps need an EC secp256k1 private key")
    if certificate.public_key() != key.public_key():
        raise InvalidCredentials("certificate does not belong to the private key")
    return SigningCredentials(key, certificate)


def certificate_pem_from_csid(binary_security_token: str) -> bytes:
    """PEM of the certificate in a CSID: ZATCA's binarySecurityToken is base64 of the base64 DER."""
    try:
        der = base64.b64decode(base64.b64decode(binary_security_token, validate=True), validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise InvalidCredentials("binarySecurityToken is not a base64-wrapped certificate") from None
    return certificate.public_bytes(serialization.Encoding.PEM)


def _hash_bytes(invoice_hash_b64: str) -> bytes:
    digest = base64.b64decode(invoice_hash_b64, validate=True)
    if len(digest) != 32:
        raise ValueError("an invoice hash is base64 of 32 bytes")
    return digest


def sign_invoice_hash(invoice_hash_b64: str, private_key: ec.EllipticCurvePrivateKey) -> str:
    """base64 DER ECDSA signature (SHA-256) over the invoice hash's 32 bytes."""
    return base64.b64encode(private_key.sign(_hash_bytes(invoice_hash_b64), _ECDSA)).decode("ascii")


def verify_invoice_hash_signature(
    invoice_hash_b64: str, signature_b64: str, public_key: ec.EllipticCurvePublicKey
) -> bool:
    """True if the signature is the key's over the invoice hash."""
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), _hash_bytes(invoice_hash_b64), _VERIFY)
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64_hex_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).hexdigest().encode("ascii")).decode("ascii")


def certificate_digest(certificate: x509.Certificate) -> str:
    """xades:CertDigest: base64 of the hex SHA-256 of the certificate's base64 text."""
    text = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER))
    return _b64_hex_sha256(text)


def issuer_name(certificate: x509.Certificate) -> str:
    """X509IssuerName: the issuer's RDNs, most specific first, joined with ', '."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(certificate.issuer.rdns))


def signing_time_text(moment: datetime) -> str:
    """xades:SigningTime: UTC, to the second, without an offset."""
    if moment.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def signed_properties_digest(*, signing_time: str, certificate_digest: str, issuer: str, serial: str) -> str:
    """The second reference's digest over ZATCA's SignedProperties block."""
    block = _SIGNED_PROPERTIES_FOR_DIGEST.substitute(
        signing_time=escape(signing_time),
        certificate_digest=escape(certificate_digest),
        issuer=escape(issuer),
        serial=escape(serial),
    )
    return _b64_hex_sha256(block.encode("utf-8"))


def signature_extension(
    *, invoice_digest: str, signature_value: str, credentials: SigningCredentials, signing_time: datetime
) -> etree._Element:
    """The ext:UBLExtensions element carrying the enveloped XAdES signature."""
    time_text = signing_time_text(signing_time)
    cert_digest = certificate_digest(credentials.certificate)
    issuer = issuer_name(credentials.certificate)
    serial = str(credentials.certificate.serial_number)
    text = _UBL_EXTENSIONS.substitute(
        invoice_digest=escape(invoice_digest),
        signed_properties_digest=signed_properties_digest(
            signing_time=time_text, certificate_digest=cert_digest, issuer=issuer, serial=serial
        ),
        signature_value=escape(signature_value),
        certificate=credentials.certificate_base64,
        signing_time=escape(time_text),
        certificate_digest=escape(cert_digest),
        issuer=escape(issuer),
        serial=serial,
    )
    # The block uses the document's ext: and cbc: prefixes; declare them on a throwaway wrapper.
    wrapper = etree.fromstring(
        f'<wrapper xmlns:ext="{NS_EXT}" xmlns:cbc="{NS_CBC}">{text}</wrapper>'.encode("utf-8")
    )
    return wrapper[0]


@dataclass(frozen=True)
class SignatureParts:
    """The values of a signed invoice's signature, read back from the document."""

    invoice_digest: str
    signed_properties_digest: str
    signature_value: str
    certificate: x509.Certificate
    signing_time: str
    certificate_digest: str
    issuer: str
    serial: str


def _one(root: etree._Element, path: str, what: str) -> str:
    found = root.xpath(path, namespaces=SIGNATURE_NS)
    if len(found) != 1 or found[0].text is None:
        raise InvalidInvoiceSignature("missing", f"signed invoice has no single {what}")
    return "".join(found[0].text.split())


def read_signature(xml: bytes | etree._Element) -> SignatureParts:
    """The signature values of a signed invoice document."""
    root = xml if isinstance(xml, etree._Element) else parse(xml)
    base = "/inv:Invoice/ext:UBLExtensions//ds:Signature"
    props = f"{base}/ds:Object/xades:QualifyingProperties/xades:SignedProperties/xades:SignedSignatureProperties"
    cert_text = _one(root, f"{base}/ds:KeyInfo/ds:X509Data/ds:X509Certificate", "certificate")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(cert_text, validate=True))
    except ValueError:
        raise InvalidInvoiceSignature("certificate", "embedded certificate is not a DER certificate") from None
    return SignatureParts(
        invoice_digest=_one(root, f"{base}/ds:SignedInfo/ds:Reference[@URI='']/ds:DigestValue", "invoice digest"),
        signed_properties_digest=_one(
            root,
            f"{base}/ds:SignedInfo/ds:Reference[@URI='#xadesSignedProperties']/ds:DigestValue",
            "signed properties digest",
        ),
        signature_value=_one(root, f"{base}/ds:SignatureValue", "signature value"),
        certificate=certificate,
        signing_time=_one(root, f"{props}/xades:SigningTime", "signing time"),
        certificate_digest=_one(
            root, f"{props}/xades:SigningCertificate/xades:Cert/xades:CertDigest/ds:DigestValue", "certificate digest"
        ),
        issuer=root.xpath(
            f"string({props}/xades:SigningCertificate/xades:Cert/xades:IssuerSerial/ds:X509IssuerName)",
            namespaces=SIGNATURE_NS,
        ),
        serial=_one(
            root, f"{props}/xades:SigningCertificate/xades:Cert/xades:IssuerSerial/ds:X509SerialNumber", "serial"
        ),
    )


def verify_signed_invoice(xml: bytes, public_key: ec.EllipticCurvePublicKey | None = None) -> str:
    """Check a signed invoice end to end and return its (recomputed) invoice hash.

    Raises InvalidInvoiceSignature when the document changed after signing, the signed properties
    or certificate digest do not match, the embedded certificate is not `public_key`'s (when given),
    or the signature does not verify.
    """
    root = parse(xml)
    parts = read_signature(root)
    computed = invoice_hash(root)
    if parts.invoice_digest != computed:
        raise InvalidInvoiceSignature("invoice_digest", "the invoice changed after it was signed")
    if parts.certificate_digest != certificate_digest(parts.certificate):
        raise InvalidInvoiceSignature("certificate_digest", "certificate digest does not match the certificate")
    expected_props = signed_properties_digest(
        signing_time=parts.signing_time,
        certificate_digest=parts.certificate_digest,
        issuer=parts.issuer,
        serial=parts.serial,
    )
    if parts.signed_properties_digest != expected_props:
        raise InvalidInvoiceSignature("signed_properties", "signed properties digest does not match")
    key = public_key or parts.certificate.public_key()
    if public_key is not None and parts.certificate.public_key() != public_key:
        raise InvalidInvoiceSignature("certificate", "embedded certificate is not the expected key's")
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidInvoiceSignature("certificate", "certificate key is not an EC key")
    if not verify_invoice_hash_signature(computed, parts.signature_value, key):
        raise InvalidInvoiceSignature("signature", "signature does not verify against the public key")
    return computed


def generate_test_credentials(
    *, organization: str = "Test hotel", vat_number: str = "399999999900003", valid_days: int = 365
) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) of a self-signed secp256k1 pair, for tests and the demo only.

    NOT ZATCA-issued: the subject's CN says so, and ZATCA's services reject the certificate.
    """
    key = ec.generate_private_key(ec.SECP256K1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, vat_number),
            x509.NameAttribute(NameOID.COMMON_NAME, TEST_CERTIFICATE_MARK),
        ]
    )
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)
