"""AF police guest register over HTTPS (SPEC §8). No public specification of the police system exists, so the
payload is versioned and ours, the endpoint is configuration and the transport is swappable.

Payload `af-police-guest-register/1` (JSON): the property's police branch code and the business
date (the subject), the submission id (the authority's idempotency key: a retried filing is the
same filing), the reference of a corrected filing if any, and one line per guest movement (check-in
or check-out) with the register's columns as the regulatory dataset renders them. The body is
built from the run's own CSV payload, so what is filed is what was rendered.

Answers: 200/201 with a reference → accepted; 400/409/422 → rejected (the payload is wrong: an
operator corrects it); 401/403 → transient with code AUTH_REFUSED (credentials can be fixed before
the cutoff; the submission watchdog escalates it meanwhile); 408/425/429/5xx/timeouts → transient.
The authority's text never reaches a log; only its error code, truncated, reaches the rejection.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from reporting.service_layer.regulatory import FilingRequest, FilingResult, RegulatoryAdapter

PAYLOAD_VERSION = "af-police-guest-register/1"
# The register's columns, as af_police_guest_register's dataset names them; anything else in a row is not sent.
GUEST_FIELDS = ("line_number", "movement", "movement_at", "confirmation_number", "family_name", "given_names",
                "gender", "date_of_birth", "nationality", "is_foreign", "document_type", "document_number",
                "document_issuing_country", "document_issue_date", "document_expiry_date", "visa_number",
                "visa_type", "visa_issue_date", "visa_expiry_date", "home_address", "arrived_from_city",
                "arrived_from_country", "next_destination_city", "next_destination_country", "purpose_of_visit",
                "arrival_date", "departure_date", "nights", "adults", "children", "room_number")
_CODE = re.compile(r"[^A-Za-z0-9._:-]")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes


Transport = Callable[[str, bytes, Mapping[str, str], float], HttpAnswer]


def urllib_transport(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpAnswer:
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, response.read(65536))
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, error.read(65536))


def payload(request: FilingRequest) -> dict[str, Any]:
    """The versioned body (guest data inside: it goes to the authority over TLS and nowhere else)."""
    return {
        "schema": PAYLOAD_VERSION,
        "submission_id": request.submission_id,
        "police_branch_code": request.property_ids.get("police_branch_code"),
        "property_id": request.property_id,
        "business_date": request.subject_ref,
        "corrects": request.corrects_reference,
        "movements": [{k: row.get(k) or None for k in GUEST_FIELDS if k in row} for row in request.rows],
    }


class AfPoliceAdapter(RegulatoryAdapter):
    name = "af_police"

    def __init__(self, endpoint: str, credentials: Callable[[], str], *, transport: Transport = urllib_transport,
                 timeout_seconds: float = 20.0) -> None:
        if not endpoint.startswith("https://") and not endpoint.startswith(("http://127.0.0.1", "http://localhost")):
            raise ValueError("the police endpoint must be https (plain http only for a local stand-in)")
        self._endpoint = endpoint.rstrip("/")
        self._credentials = credentials  # the API token, read when needed (Secret Manager in the cloud)
        self._transport = transport
        self._timeout = timeout_seconds

    def file(self, request: FilingRequest) -> FilingResult:
        body = json.dumps(payload(request), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Authorization": f"Bearer {self._credentials()}", "Idempotency-Key": request.submission_id,
                   "X-Payload-Version": PAYLOAD_VERSION}
        try:
            answer = self._transport(f"{self._endpoint}/guest-registers", body, headers, self._timeout)
        except (TimeoutError, OSError) as error:
            return FilingResult.transient("UNREACHABLE", type(error).__name__)
        return interpret(answer)


def interpret(answer: HttpAnswer) -> FilingResult:
    try:
        parsed = json.loads(answer.body or b"{}")
    except ValueError:
        parsed = {}
    parsed = parsed if isinstance(parsed, dict) else {}
    if answer.status in (200, 201):
        reference = str(parsed.get("reference") or "")[:200]
        return FilingResult.accepted(reference) if reference else FilingResult.transient(
            "NO_REFERENCE", "accepted without a reference: asked again (the idempotency key keeps it one filing)")
    code = _CODE.sub("", str((parsed.get("error") or {}).get("code") if isinstance(parsed.get("error"), dict)
                             else parsed.get("code") or ""))[:60]
    if answer.status in (400, 409, 422):
        return FilingResult.rejected(f"POLICE_{code or answer.status}", "the register was refused by the police system")
    if answer.status in (401, 403):
        return FilingResult.transient("AUTH_REFUSED", "the police system refused our credentials")
    return FilingResult.transient(f"HTTP_{answer.status}", "the police system did not take the register")
