"""ZATCA's reporting call for simplified invoices, mapped to a typed result.

Sources: ZATCA Fatoora portal API documentation, Reporting API (`POST /invoices/reporting/single`,
API version V2) and "Security Features Implementation Standards" §5 (EGS authentication: HTTP Basic
with the CSID, i.e. base64 of `binarySecurityToken:secret`).

- Request: JSON `{"invoiceHash", "uuid", "invoice"}`, the invoice as base64 of the signed XML bytes;
  headers `Accept-Version: V2`, `Accept-Language`, `Content-Type: application/json`. The
  `Clearance-Status` header belongs to the clearance API only and is not sent.
- Responses: 200 reported; 202 reported with warnings (`validationResults.warningMessages`); 400
  rejected, not reported (`validationResults.errorMessages`, each with type, code, category,
  message, status). 409 is ZATCA's duplicate check ("Invoice was already reported successfully
  earlier"): ZATCA's staff state, in their announcement of the 208/409 duplicate checks on the
  ZATCA developer community, that it only answers a document whose first submission was reported,
  so it maps to reported (`duplicate=True`) and a retry after a lost answer ends there.
  401, 429, 5xx, other statuses, timeouts and connection errors are transient.

Base URLs are configuration, one per environment (ZATCA's portal currently documents the
developer-portal sandbox, simulation and core (production) paths under
`https://gw-fatoora.zatca.gov.sa/e-invoicing/`); nothing here defaults to one.

Nothing from the invoice goes into a log line or a result: validation messages are truncated and
scrubbed of quoted text and long digit runs (VAT numbers, identifiers) before they are kept.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Union

from reporting.adapters.regulatory.zatca.signed_invoice import SignedInvoice
from reporting.logs import get_logger

log = get_logger(__name__)

REPORTING_PATH = "/invoices/reporting/single"
MAX_MESSAGES = 20
MAX_MESSAGE_CHARS = 200
MAX_CODE_CHARS = 64
MAX_RESPONSE_BYTES = 1 << 20
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")
_DIGIT_RUN = re.compile(r"\d{5,}")


@dataclass(frozen=True)
class ReportingConfig:
    """Where and as whom to report: one property's e-invoicing unit in one ZATCA environment."""

    base_url: str
    binary_security_token: str = field(repr=False)
    secret: str = field(repr=False)
    timeout_seconds: float = 15.0
    accept_language: str = "en"

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if not self.binary_security_token or not self.secret:
            raise ValueError("the CSID token and secret are required")

    @property
    def url(self) -> str:
        """The reporting endpoint."""
        return self.base_url.rstrip("/") + REPORTING_PATH

    def authorization(self) -> str:
        """The Basic authorization header value."""
        pair = f"{self.binary_security_token}:{self.secret}".encode("utf-8")
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class ValidationMessage:
    """One of ZATCA's validation results, scrubbed of values."""

    code: str
    category: str
    message: str


@dataclass(frozen=True)
class Reported:
    """ZATCA reported the invoice (200), or had already reported it (409, `duplicate`)."""

    http_status: int
    duplicate: bool = False


@dataclass(frozen=True)
class ReportedWithWarnings:
    """ZATCA reported the invoice with warnings (202)."""

    http_status: int
    warnings: tuple[ValidationMessage, ...]


@dataclass(frozen=True)
class Rejected:
    """ZATCA refused the invoice (400): permanent, resubmitting the same document cannot help."""

    http_status: int
    errors: tuple[ValidationMessage, ...]
    warnings: tuple[ValidationMessage, ...] = ()


@dataclass(frozen=True)
class Transient:
    """No verdict (auth, throttling, server error, timeout, network): retry until the cutoff."""

    reason: str
    http_status: int | None = None


ReportingResult = Union[Reported, ReportedWithWarnings, Rejected, Transient]


def scrub(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Text without quoted values or long digit runs, cut to `limit` characters."""
    cleaned = _DIGIT_RUN.sub("…", _QUOTED.sub("'…'", str(text or "")))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _messages(results: Any, key: str) -> tuple[ValidationMessage, ...]:
    items = results.get(key) if isinstance(results, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        ValidationMessage(
            code=scrub(item.get("code"), MAX_CODE_CHARS),
            category=scrub(item.get("category"), MAX_CODE_CHARS),
            message=scrub(item.get("message")),
        )
        for item in items[:MAX_MESSAGES]
        if isinstance(item, dict)
    )


def request_body(signed: SignedInvoice) -> dict[str, str]:
    """The reporting API's JSON body for a signed invoice."""
    return {
        "invoiceHash": signed.invoice_hash,
        "uuid": signed.uuid,
        "invoice": base64.b64encode(signed.xml).decode("ascii"),
    }


def interpret(status: int, body: bytes) -> ReportingResult:
    """The typed result of a reporting response."""
    try:
        payload = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, ValueError):
        payload = {}
    results = payload.get("validationResults") if isinstance(payload, dict) else None
    warnings = _messages(results, "warningMessages")
    if status == 200:
        return Reported(status)
    if status == 202:
        return ReportedWithWarnings(status, warnings)
    if status == 409:
        return Reported(status, duplicate=True)
    if status == 400:
        errors = _messages(results, "errorMessages") or (
            ValidationMessage(code="http-400", category="", message="rejected without validation results"),
        )
        return Rejected(status, errors, warnings)
    if status == 401:
        return Transient("unauthorized: CSID token or secret refused", status)
    if status == 429:
        return Transient("throttled", status)
    if status >= 500:
        return Transient("server error", status)
    return Transient(f"unexpected status {status}", status)


def report(config: ReportingConfig, signed: SignedInvoice) -> ReportingResult:
    """Report one signed simplified invoice; never raises for HTTP or network trouble."""
    data = json.dumps(request_body(signed)).encode("utf-8")
    request = urllib.request.Request(
        config.url,
        data=data,
        method="POST",
        headers={
            "Accept": "application/json",
            "Accept-Language": config.accept_language,
            "Accept-Version": "V2",
            "Content-Type": "application/json",
            "Authorization": config.authorization(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_seconds) as response:
            result = interpret(response.status, response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            result = interpret(exc.code, exc.read(MAX_RESPONSE_BYTES))
    except (TimeoutError, socket.timeout):
        result = Transient("timeout")
    except urllib.error.URLError as exc:
        timed_out = isinstance(exc.reason, (TimeoutError, socket.timeout))
        result = Transient("timeout" if timed_out else f"connection failed: {type(exc.reason).__name__}")
    except (OSError, http.client.HTTPException) as exc:
        result = Transient(f"connection failed: {type(exc).__name__}")
    log.info(
        "zatca reporting result",
        extra={
            "invoice_uuid": signed.uuid,
            "icv": signed.icv,
            "outcome": type(result).__name__,
            "http_status": getattr(result, "http_status", None),
        },
    )
    return result
