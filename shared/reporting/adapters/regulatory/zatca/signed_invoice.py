"""One call from an invoice and its place in the chain to the signed XML, its hash and its QR.

The order follows ZATCA's signing steps (E-Invoicing Detailed Technical Guideline, "signing
process"): build the XML, hash it (extensions, signature and QR excluded), sign the hash, write the
XAdES extension, then the QR (whose tags 6-9 need the hash, the signature and the certificate).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from reporting.adapters.regulatory.zatca.chain import ChainHead
from reporting.adapters.regulatory.zatca.invoice import SimplifiedInvoice
from reporting.adapters.regulatory.zatca.qr import qr_base64, qr_fields
from reporting.adapters.regulatory.zatca.signing import (
    SigningCredentials,
    load_credentials,
    sign_invoice_hash,
    signature_extension,
)
from reporting.adapters.regulatory.zatca.ubl import NS_EXT, XPATH_NS, build_invoice_tree, invoice_hash, serialize


@dataclass(frozen=True)
class SignedInvoice:
    """The signed invoice document and what the chain and the reporting call need from it."""

    xml: bytes
    invoice_hash: str
    qr_base64: str
    uuid: str
    invoice_number: str
    icv: int
    previous_hash: str

    @property
    def chain_head(self) -> ChainHead:
        """This invoice as the previous link of the next one."""
        return ChainHead(icv=self.icv, invoice_hash=self.invoice_hash)


def build_signed_invoice(
    invoice: SimplifiedInvoice,
    *,
    icv: int,
    previous_hash: str,
    key_pem: bytes | str | None = None,
    cert_pem: bytes | str | None = None,
    credentials: SigningCredentials | None = None,
    signing_time: datetime | None = None,
) -> SignedInvoice:
    """Sign `invoice` as link `icv` after the invoice whose hash is `previous_hash`.

    Give the PEM key and certificate, or `credentials` already loaded (cheaper for a batch).
    The invoice hash depends only on the invoice, `icv` and `previous_hash`, never on the signing
    time or the signature, so rebuilding a link on a retry gives the same hash.
    """
    if credentials is None:
        if key_pem is None or cert_pem is None:
            raise ValueError("give key_pem and cert_pem, or credentials")
        credentials = load_credentials(key_pem, cert_pem)
    root = build_invoice_tree(invoice, icv=icv, previous_hash=previous_hash)
    digest = invoice_hash(root)
    signature = sign_invoice_hash(digest, credentials.private_key)
    placeholder = root.find(f"{{{NS_EXT}}}UBLExtensions")
    extension = signature_extension(
        invoice_digest=digest,
        signature_value=signature,
        credentials=credentials,
        signing_time=signing_time or datetime.now(timezone.utc),
    )
    extension.tail = placeholder.tail
    root.replace(placeholder, extension)
    qr = qr_base64(qr_fields(invoice, invoice_hash=digest, signature=signature, certificate=credentials.certificate))
    (qr_slot,) = root.xpath(
        "cac:AdditionalDocumentReference[cbc:ID='QR']/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
        namespaces=XPATH_NS,
    )
    qr_slot.text = qr
    xml = serialize(root)
    # The extension and the QR sit outside the hash; a change here would be a bug, never data.
    if invoice_hash(xml) != digest:
        raise AssertionError("invoice hash changed while signing")
    return SignedInvoice(
        xml=xml,
        invoice_hash=digest,
        qr_base64=qr,
        uuid=invoice.uuid,
        invoice_number=invoice.invoice_number,
        icv=icv,
        previous_hash=previous_hash,
    )
