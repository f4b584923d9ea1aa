"""A simplified tax invoice or credit note as ZATCA's XML standard needs it, built from plain values.

Sources (ZATCA, "E-Invoicing XML Implementation Standard" and its data dictionary, the KSA-n /
BR-KSA-n terms; checked against the signed sample invoice of ZATCA's Compliance & Enablement
Toolbox SDK, `Data/Samples/Simplified/Invoice/Simplified_Invoice.xml`):

- document type: invoice 388, credit note 381 (UN/CEFACT 1001; BR-KSA-05); a credit note refers to
  the invoice it corrects (billing reference) and states why (KSA-10, carried in PaymentMeans'
  InstructionNote).
- issue date and time are the seller's civil time; this model keeps an aware datetime and renders it
  in Asia/Riyadh (*assumption*: the hotel is in KSA and its EGS clock is Riyadh time).
- seller: registration name, VAT number (15 digits, first and last 3), one other identifier
  (CRN by default) and a Saudi national address (4-digit building number, 5-digit postal code).
- amounts: SAR as both document and tax currency (the only case the hotels have: *assumption*,
  enforced); halalas rounded half up; the VAT of a category is its taxable amount times the rate,
  rounded once (so the header VAT may differ by a halala from the sum of the lines' VAT, as the
  standard allows). Only VAT category S at 15% is modelled; zero-rated, exempt and out-of-scope
  lines need exemption reason codes this model does not carry, and are refused.

Amounts on a credit note are positive here (the document type carries the sign); a warehouse row
with negative figures is made absolute by the caller. No guest data is part of the model: a
simplified invoice does not need the buyer, so none is kept.
"""
from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

RIYADH = ZoneInfo("Asia/Riyadh")
CURRENCY = "SAR"
STANDARD_RATE = Decimal("15")
HALALA = Decimal("0.01")

_VAT_NUMBER = re.compile(r"^3\d{13}3$")
_BUILDING_NUMBER = re.compile(r"^\d{4}$")
_POSTAL_ZONE = re.compile(r"^\d{5}$")
# Seller identification schemes the standard lists for the seller (commercial registration and
# the ministry licences); "OTH" is "other".
SELLER_ID_SCHEMES = frozenset({"CRN", "MOM", "MLS", "700", "SAG", "OTH"})
# UNTDID 4461 codes the hotels use: cash, credit transfer, bank card, not defined.
PAYMENT_MEANS = frozenset({"10", "30", "48", "1"})


class InvalidInvoice(ValueError):
    """The values cannot make a valid simplified invoice; the message names the field, never guest data."""


class TotalsMismatch(InvalidInvoice):
    """Totals given by the source disagree with the totals the lines add up to."""


class DocumentKind(str, Enum):
    """The UBL InvoiceTypeCode of the document."""

    INVOICE = "388"
    CREDIT_NOTE = "381"


def money(value: Decimal) -> Decimal:
    """Round to the halala, half up."""
    return value.quantize(HALALA, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, field: str) -> Decimal:
    """A Decimal from a plain value (str, int, float via its shortest repr, Decimal)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidInvoice(f"{field} must be a number")
    elif isinstance(value, (int, float, str)):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise InvalidInvoice(f"{field} must be a number") from None
    else:
        raise InvalidInvoice(f"{field} must be a number")
    if not result.is_finite():
        raise InvalidInvoice(f"{field} must be a finite number")
    return result


def _required(value: str | None, field: str) -> str:
    if value is None or not str(value).strip():
        raise InvalidInvoice(f"{field} is required")
    return str(value).strip()


@dataclass(frozen=True)
class Address:
    """The seller's Saudi national address."""

    street: str
    building_number: str
    district: str
    city: str
    postal_zone: str
    additional_number: str | None = None
    country_code: str = "SA"

    def __post_init__(self) -> None:
        for field in ("street", "district", "city"):
            _required(getattr(self, field), f"seller address {field}")
        if not _BUILDING_NUMBER.match(self.building_number or ""):
            raise InvalidInvoice("seller building number must be 4 digits")
        if not _POSTAL_ZONE.match(self.postal_zone or ""):
            raise InvalidInvoice("seller postal zone must be 5 digits")
        if self.additional_number is not None and not _BUILDING_NUMBER.match(self.additional_number):
            raise InvalidInvoice("seller additional number must be 4 digits")
        if self.country_code != "SA":
            raise InvalidInvoice("seller country must be SA")


@dataclass(frozen=True)
class Seller:
    """The property as the invoice's seller (the taxpayer the EGS unit belongs to)."""

    name: str
    vat_number: str
    address: Address
    other_id: str
    other_id_scheme: str = "CRN"

    def __post_init__(self) -> None:
        _required(self.name, "seller name")
        _required(self.other_id, "seller identifier")
        if not _VAT_NUMBER.match(self.vat_number or ""):
            raise InvalidInvoice("seller VAT number must be 15 digits starting and ending with 3")
        if self.other_id_scheme not in SELLER_ID_SCHEMES:
            raise InvalidInvoice(f"seller identifier scheme must be one of {sorted(SELLER_ID_SCHEMES)}")


@dataclass(frozen=True)
class InvoiceLine:
    """One line: what was sold, how many, the unit price before VAT, standard-rated."""

    name: str
    quantity: Decimal
    unit_price: Decimal
    vat_category: str = "S"
    vat_percent: Decimal = STANDARD_RATE
    unit_code: str = "PCE"

    def __post_init__(self) -> None:
        _required(self.name, "line name")
        if self.quantity <= 0:
            raise InvalidInvoice("line quantity must be positive")
        if self.unit_price < 0:
            raise InvalidInvoice("line unit price must not be negative")
        if self.vat_category != "S" or self.vat_percent != STANDARD_RATE:
            raise InvalidInvoice("only VAT category S at 15% is supported")

    @property
    def net_amount(self) -> Decimal:
        """Quantity times unit price, to the halala (BT-131)."""
        return money(self.quantity * self.unit_price)

    @property
    def vat_amount(self) -> Decimal:
        """The line's VAT, to the halala."""
        return money(self.net_amount * self.vat_percent / 100)

    @property
    def amount_with_vat(self) -> Decimal:
        """Net plus VAT (the line's RoundingAmount in ZATCA's profile)."""
        return self.net_amount + self.vat_amount


@dataclass(frozen=True)
class TaxSubtotal:
    """The VAT breakdown of one category and rate."""

    category: str
    percent: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class BillingReference:
    """The invoice a credit note corrects."""

    invoice_number: str
    issue_date: date | None = None


@dataclass(frozen=True)
class SimplifiedInvoice:
    """A simplified tax invoice (B2C, reported within 24 hours) or a credit note on one."""

    uuid: str
    invoice_number: str
    issued_at: datetime
    seller: Seller
    lines: tuple[InvoiceLine, ...]
    kind: DocumentKind = DocumentKind.INVOICE
    billing_reference: BillingReference | None = None
    reason: str | None = None
    payment_means_code: str = "10"
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        try:
            canonical = str(uuid_module.UUID(str(self.uuid)))
        except ValueError:
            raise InvalidInvoice("uuid must be a UUID") from None
        object.__setattr__(self, "uuid", canonical)
        _required(self.invoice_number, "invoice number")
        if self.issued_at.tzinfo is None or self.issued_at.utcoffset() is None:
            raise InvalidInvoice("issued_at must be timezone-aware")
        if not self.lines:
            raise InvalidInvoice("an invoice needs at least one line")
        object.__setattr__(self, "lines", tuple(self.lines))
        if self.currency != CURRENCY:
            raise InvalidInvoice("only SAR invoices are supported")
        if self.payment_means_code not in PAYMENT_MEANS:
            raise InvalidInvoice(f"payment means code must be one of {sorted(PAYMENT_MEANS)}")
        if self.kind is DocumentKind.CREDIT_NOTE:
            if self.billing_reference is None:
                raise InvalidInvoice("a credit note needs the number of the invoice it corrects")
            _required(self.billing_reference.invoice_number, "original invoice number")
            _required(self.reason, "credit note reason")
        elif self.billing_reference is not None or self.reason is not None:
            raise InvalidInvoice("only a credit note carries a billing reference and a reason")

    @property
    def local_issued_at(self) -> datetime:
        """The issue instant in Riyadh civil time, to the second."""
        return self.issued_at.astimezone(RIYADH).replace(microsecond=0)

    @property
    def issue_date(self) -> date:
        """IssueDate (KSA-1 / BT-2)."""
        return self.local_issued_at.date()

    @property
    def issue_time(self) -> time:
        """IssueTime (KSA-25), without an offset."""
        return self.local_issued_at.time().replace(tzinfo=None)

    @property
    def tax_subtotals(self) -> tuple[TaxSubtotal, ...]:
        """One breakdown per (category, rate); the VAT rounded once per category."""
        groups: dict[tuple[str, Decimal], Decimal] = {}
        for line in self.lines:
            key = (line.vat_category, line.vat_percent)
            groups[key] = groups.get(key, Decimal("0")) + line.net_amount
        return tuple(
            TaxSubtotal(category, percent, taxable, money(taxable * percent / 100))
            for (category, percent), taxable in groups.items()
        )

    @property
    def net_total(self) -> Decimal:
        """Sum of the lines' net amounts (LineExtensionAmount, also TaxExclusiveAmount)."""
        return sum((line.net_amount for line in self.lines), Decimal("0.00"))

    @property
    def vat_total(self) -> Decimal:
        """Total VAT (the header TaxAmount, the QR's tag 5)."""
        return sum((sub.tax_amount for sub in self.tax_subtotals), Decimal("0.00"))

    @property
    def total_with_vat(self) -> Decimal:
        """TaxInclusiveAmount, also PayableAmount (no prepayment), the QR's tag 4."""
        return self.net_total + self.vat_total

    def check_totals(self, *, net: Any, vat: Any, total: Any) -> None:
        """Raise TotalsMismatch unless the source's figures equal what the lines add up to.

        Signs are ignored: the warehouse keeps credit notes negative, the document positive.
        """
        expected = {"net": self.net_total, "vat": self.vat_total, "total": self.total_with_vat}
        given = {"net": net, "vat": vat, "total": total}
        for name, value in given.items():
            if money(abs(to_decimal(value, name))) != expected[name]:
                raise TotalsMismatch(
                    f"invoice {self.invoice_number}: {name} {money(abs(to_decimal(value, name)))} "
                    f"!= {expected[name]} from its lines"
                )


def line(name: str, quantity: Any, unit_price: Any, *, unit_code: str = "PCE") -> InvoiceLine:
    """A standard-rated line from plain values."""
    return InvoiceLine(
        name=name,
        quantity=to_decimal(quantity, "line quantity"),
        unit_price=to_decimal(unit_price, "line unit price"),
        unit_code=unit_code,
    )


def simplified_invoice(
    *,
    uuid: str,
    invoice_number: str,
    issued_at: datetime,
    seller: Seller,
    lines: Iterable[InvoiceLine | Mapping[str, Any]],
    original_invoice_number: str | None = None,
    original_issue_date: date | None = None,
    reason: str | None = None,
    payment_means_code: str = "10",
) -> SimplifiedInvoice:
    """An invoice, or a credit note when the original invoice number is given, from plain values.

    `lines` are InvoiceLine objects or mappings with `name`, `quantity`, `unit_price`.
    """
    built = tuple(
        item if isinstance(item, InvoiceLine) else line(item["name"], item["quantity"], item["unit_price"])
        for item in lines
    )
    credit = original_invoice_number is not None
    return SimplifiedInvoice(
        uuid=uuid,
        invoice_number=invoice_number,
        issued_at=issued_at,
        seller=seller,
        lines=built,
        kind=DocumentKind.CREDIT_NOTE if credit else DocumentKind.INVOICE,
        billing_reference=BillingReference(original_invoice_number, original_issue_date) if credit else None,
        reason=reason,
        payment_means_code=payment_means_code,
    )
