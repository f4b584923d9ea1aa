"""KSA VAT through ZATCA: the property's e-invoicing unit for simplified invoices and credit notes.

The submit adapter needs four calls:

    link = next_link(head)                         # chain.py: ICV and PIH after the stored head
    signed = build_signed_invoice(invoice, icv=link.icv, previous_hash=link.previous_hash,
                                  key_pem=..., cert_pem=...)          # signed_invoice.py
    result = report(config, signed)                # client.py: Reported | ReportedWithWarnings |
                                                   #            Rejected | Transient
    head = signed.chain_head                       # store with the XML, in the same transaction

and `verify_chain(documents, public_key=...)` checks a day of stored documents.
"""
from reporting.adapters.regulatory.zatca.chain import (
    GENESIS_PIH,
    ChainBroken,
    ChainHead,
    ChainLink,
    ChainProblem,
    ChainReport,
    next_icv,
    next_link,
    next_previous_hash,
    verify_chain,
)
from reporting.adapters.regulatory.zatca.client import (
    Rejected,
    Reported,
    ReportedWithWarnings,
    ReportingConfig,
    ReportingResult,
    Transient,
    ValidationMessage,
    report,
)
from reporting.adapters.regulatory.zatca.invoice import (
    Address,
    BillingReference,
    DocumentKind,
    InvalidInvoice,
    InvoiceLine,
    Seller,
    SimplifiedInvoice,
    TotalsMismatch,
    line,
    simplified_invoice,
)
from reporting.adapters.regulatory.zatca.qr import QrTag, decode_qr, qr_png, qr_summary, qr_svg
from reporting.adapters.regulatory.zatca.signed_invoice import SignedInvoice, build_signed_invoice
from reporting.adapters.regulatory.zatca.signing import (
    InvalidCredentials,
    InvalidInvoiceSignature,
    SigningCredentials,
    certificate_pem_from_csid,
    generate_test_credentials,
    load_credentials,
    verify_signed_invoice,
)
from reporting.adapters.regulatory.zatca.ubl import invoice_hash

__all__ = [
    "GENESIS_PIH",
    "Address",
    "BillingReference",
    "ChainBroken",
    "ChainHead",
    "ChainLink",
    "ChainProblem",
    "ChainReport",
    "DocumentKind",
    "InvalidCredentials",
    "InvalidInvoice",
    "InvalidInvoiceSignature",
    "InvoiceLine",
    "QrTag",
    "Rejected",
    "Reported",
    "ReportedWithWarnings",
    "ReportingConfig",
    "ReportingResult",
    "Seller",
    "SignedInvoice",
    "SigningCredentials",
    "SimplifiedInvoice",
    "TotalsMismatch",
    "Transient",
    "ValidationMessage",
    "build_signed_invoice",
    "certificate_pem_from_csid",
    "decode_qr",
    "generate_test_credentials",
    "invoice_hash",
    "line",
    "load_credentials",
    "next_icv",
    "next_link",
    "next_previous_hash",
    "qr_png",
    "qr_summary",
    "qr_svg",
    "report",
    "simplified_invoice",
    "verify_chain",
    "verify_signed_invoice",
]
