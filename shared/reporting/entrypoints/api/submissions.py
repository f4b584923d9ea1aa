"""Regulatory submissions: list and get, and an operator's confirmation of a Form C filed on the FRRO portal.

Views carry ids, states, codes, references and timestamps only: the payload, which holds guest data,
stays in the run's artifacts, and errors are shown by code, never by the authority's free text."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from reporting.domain.errors import ValidationFailed
from reporting.domain.principal import Role
from reporting.domain.submission import Adapter, SubjectKind, Submission, SubmissionState
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.entrypoints.api.openapi import register
from reporting.entrypoints.api.query import Query, decode_cursor, encode_cursor
from reporting.entrypoints.api.bodies import read_json
from reporting.service_layer.submissions import SubmissionFilter, get_submission, list_submissions
from reporting.service_layer.submit import confirm_submission

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


def _cutoff_bound(query: Query, name: str, *, upper: bool) -> datetime | None:
    """A date (a whole UTC day) or an RFC 3339 instant, as a half-open bound: `from` inclusive; `to`
    inclusive too, returned as the exclusive instant just after it."""
    value = query.text(name, max_length=40)
    if value is None:
        return None
    bad = ValidationFailed("query parameter is invalid", status=400,
                           errors=[{"path": f"?{name}", "rule": "format:date or date-time"}])
    try:
        if _DATE.match(value):
            at = datetime.combine(date.fromisoformat(value), time(), tzinfo=timezone.utc)
            step = timedelta(days=1)
        elif _INSTANT.match(value):
            at = datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(timezone.utc)
            step = timedelta(microseconds=1)
        else:
            raise bad
    except (ValueError, OverflowError):
        raise bad from None
    if not upper:
        return at
    try:
        return at + step
    except OverflowError:
        return None  # nothing lies after the end of the calendar


def submission_view(s: Submission) -> dict[str, Any]:
    """A submission as the API shows it (never guest data: subject_ref is a date, an invoice number or a stay id)."""
    def ts(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {"submission_id": s.submission_id, "property_id": s.property_id, "run_id": s.run_id,
            "adapter": str(s.adapter), "subject_kind": str(s.subject_kind), "subject_ref": s.subject_ref,
            "state": str(s.state), "cutoff_at": s.cutoff_at.isoformat(), "attempts": s.attempts,
            "last_attempt_at": ts(s.last_attempt_at), "next_attempt_at": ts(s.next_attempt_at),
            "authority_reference": s.authority_reference, "accepted_at": ts(s.accepted_at),
            "last_error": {"code": s.last_error_code, "at": ts(s.last_error_at)} if s.last_error_code else None,
            "corrects": s.corrects, "created_at": s.created_at.isoformat(), "updated_at": s.updated_at.isoformat()}


def list_all(api: ApiRequest) -> Response:
    principal = api.require(Role.VIEWER)
    query = Query(api.request.args, allowed={"state", "adapter", "property_id", "cutoff_from", "cutoff_to", "limit",
                                             "cursor"})
    property_ids = api.property_filter(query.uuid("property_id"))
    filters = SubmissionFilter(state=query.choice("state", [str(s) for s in SubmissionState]),
                               adapter=query.choice("adapter", [str(a) for a in Adapter]),
                               property_ids=property_ids, cutoff_from=_cutoff_bound(query, "cutoff_from", upper=False),
                               cutoff_before=_cutoff_bound(query, "cutoff_to", upper=True))
    page = list_submissions(principal.tenant_id, filters, api.deps, limit=query.integer("limit", 50, 1, 200),
                            after=decode_cursor(query.text("cursor")))
    return json_response({"submissions": [submission_view(s) for s in page.submissions],
                          "next_cursor": encode_cursor(page.next_after) if page.next_after else None})


def get_one(api: ApiRequest, submission_id: str) -> Response:
    principal = api.require(Role.VIEWER)
    submission = get_submission(principal.tenant_id, submission_id, api.deps,
                                visible_property_ids=principal.property_ids)
    return json_response(submission_view(submission))


CONFIRM = {"type": "object", "additionalProperties": False, "required": ["authority_reference"],
           "properties": {"authority_reference": {
               "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9][A-Za-z0-9._/:-]*$",
               "description": "the reference the authority's portal gave for the upload"}}}


def confirm(api: ApiRequest, submission_id: str) -> Response:
    principal = api.require(Role.OPERATOR)
    body = read_json(api.request, CONFIRM)
    submission = confirm_submission(principal.tenant_id, submission_id, body["authority_reference"],
                                    principal.subject, api.deps, visible_property_ids=principal.property_ids)
    return json_response(submission_view(submission))


UUID_S = {"type": "string", "format": "uuid"}
TS = {"type": ["string", "null"], "format": "date-time"}
register("Submission", {
    "type": "object", "additionalProperties": False,
    "required": ["submission_id", "property_id", "run_id", "adapter", "subject_kind", "subject_ref", "state",
                 "cutoff_at", "attempts", "last_attempt_at", "next_attempt_at", "authority_reference",
                 "accepted_at", "last_error", "corrects", "created_at", "updated_at"],
    "properties": {
        "submission_id": UUID_S, "property_id": UUID_S, "run_id": UUID_S,
        "adapter": {"enum": [str(a) for a in Adapter]}, "subject_kind": {"enum": [str(k) for k in SubjectKind]},
        "subject_ref": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$"},
        "state": {"enum": [str(s) for s in SubmissionState]},
        "cutoff_at": {"type": "string", "format": "date-time"}, "attempts": {"type": "integer", "minimum": 0},
        "last_attempt_at": TS, "next_attempt_at": TS,
        "authority_reference": {"type": ["string", "null"], "maxLength": 200}, "accepted_at": TS,
        "last_error": {"oneOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False, "required": ["code", "at"],
            "properties": {"code": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}]},
        "corrects": {"type": ["string", "null"], "format": "uuid"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}})
register("SubmissionList", {
    "type": "object", "additionalProperties": False, "required": ["submissions", "next_cursor"],
    "properties": {"submissions": {"type": "array", "items": {"$ref": "#/components/schemas/Submission"}},
                   "next_cursor": {"type": ["string", "null"]}}})
CUTOFF_BOUND = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
                "description": "a date (the whole UTC day) or an RFC 3339 instant; the range is inclusive"}
LIST_QUERY = (("state", {"enum": [str(s) for s in SubmissionState]}), ("adapter", {"enum": [str(a) for a in Adapter]}),
              ("property_id", UUID_S), ("cutoff_from", CUTOFF_BOUND), ("cutoff_to", CUTOFF_BOUND),
              ("limit", {"type": "integer", "minimum": 1, "maximum": 200}), ("cursor", {"type": "string"}))

ROUTES: list[Route] = [
    Route("/api/v1/reports/submissions", "GET", "list_submissions", list_all,
          summary="List regulatory submissions, latest cutoff first", role="viewer", query=LIST_QUERY,
          responses=((200, "SubmissionList"),)),
    Route("/api/v1/reports/submissions/<uuid:submission_id>", "GET", "get_submission", get_one,
          summary="A regulatory submission: state, attempts, cutoff, authority reference, last error code",
          role="viewer", responses=((200, "Submission"),)),
    Route("/api/v1/reports/submissions/<uuid:submission_id>:confirm", "POST", "confirm_submission", confirm,
          summary="Confirm a Form C filed by hand on the FRRO portal, with the portal's reference", role="operator",
          body=CONFIRM, responses=((200, "Submission"),), errors=(409, 413, 415, 422, 423)),
]
