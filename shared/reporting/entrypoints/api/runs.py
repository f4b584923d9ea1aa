"""Report-run routes: request (idempotent by Idempotency-Key), get one, download an artifact."""
from __future__ import annotations

from datetime import date, timedelta

from reporting.domain.errors import ValidationFailed
from reporting.domain.principal import Role
from reporting.domain.report_run import RunState
from reporting.entrypoints.api.bodies import CANCEL_RUN, REQUEST_RUN, read_json, read_optional_json
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.entrypoints.api.openapi import register
from reporting.entrypoints.api.query import Query, decode_cursor, encode_cursor
from reporting.entrypoints.api.views import API, run_view
from reporting.service_layer.commands import CancelReportRun, RequestReportRun, RerenderReportRun
from reporting.service_layer.queries import RunFilter, get_report_run, list_report_runs, read_artifact
from reporting.service_layer.report_runs import cancel_report_run, request_report_run, rerender_report_run

MAX_IDEMPOTENCY_KEY = 200
SIGNED_URL_TTL = timedelta(minutes=5)  # long enough to start a download, short enough not to be shared
CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}


def _idempotency_key(api: ApiRequest) -> str:
    key = (api.request.headers.get("Idempotency-Key") or "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise ValidationFailed("an Idempotency-Key header (1-200 printable characters) is required", status=400)
    return key


def request_run(api: ApiRequest) -> Response:
    principal = api.require(Role.OPERATOR)
    key = _idempotency_key(api)
    body = read_json(api.request, REQUEST_RUN)
    principal.require_property(body["property_id"])
    outcome = request_report_run(RequestReportRun(
        tenant_id=principal.tenant_id, property_id=body["property_id"], requested_by=principal.subject,
        template_key=body.get("template_key"), template_id=body.get("template_id"),
        template_version_id=body.get("template_version_id"),
        run_date=date.fromisoformat(body["run_date"]) if body.get("run_date") else None,
        params=body.get("params") or {}, locale=body.get("locale"),
        formats=tuple(body["formats"]) if body.get("formats") else None,
        idempotency_key=key, correlation_id=api.correlation_id), api.deps)
    # 202: accepted for rendering; a replay of the same request answers 200 with the same run.
    return json_response(run_view(outcome.run), 202 if outcome.created else 200,
                         {"Location": f"{API}/runs/{outcome.run.run_id}"})


def get_run(api: ApiRequest, run_id: str) -> Response:
    principal = api.require(Role.VIEWER)
    view = get_report_run(principal.tenant_id, run_id, api.deps)
    api.require_property_or_not_found(view.run.property_id)
    return json_response(run_view(view.run, view.artifacts))


def download_artifact(api: ApiRequest, run_id: str, fmt: str) -> Response:
    """Envelope-encrypted artifacts stream from here, decrypted and verified (their bytes are useless
    elsewhere). Plain ones (regulatory, CMEK only) answer 302 to a V4 signed URL, GET only, living
    SIGNED_URL_TTL, when the store can sign (GCS in the cloud); otherwise, as locally, they stream too.
    The run view's download_url is always this route, so the decision is made per download, after the
    caller's token, tenant and property were checked."""
    principal = api.require(Role.VIEWER)
    view = get_report_run(principal.tenant_id, run_id, api.deps)
    api.require_property_or_not_found(view.run.property_id)
    download = read_artifact(principal.tenant_id, run_id, fmt, api.deps, signed_url_ttl=SIGNED_URL_TTL)
    if download.url is not None:
        # no-referrer: the signed URL is a bearer credential until it expires.
        return b"", 302, {"Location": download.url, "Cache-Control": "private, no-store",
                          "Referrer-Policy": "no-referrer"}
    return download.data, 200, {"Content-Type": CONTENT_TYPES.get(fmt, "application/octet-stream"),
                                "Content-Disposition": f'attachment; filename="report-{run_id}.{fmt}"',
                                "ETag": f'"{download.artifact.sha256}"', "Cache-Control": "private, no-store"}


def list_runs(api: ApiRequest) -> Response:
    principal = api.require(Role.VIEWER)
    query = Query(api.request.args, allowed={"state", "template_id", "template_version_id", "property_id",
                                             "run_date_from", "run_date_to", "limit", "cursor"})
    property_ids = api.property_filter(query.uuid("property_id"))
    filters = RunFilter(state=query.choice("state", [str(s) for s in RunState]),
                        template_id=query.uuid("template_id"), template_version_id=query.uuid("template_version_id"),
                        property_ids=property_ids, run_date_from=query.date("run_date_from"),
                        run_date_to=query.date("run_date_to"))
    page = list_report_runs(principal.tenant_id, filters, api.deps, limit=query.integer("limit", 50, 1, 200),
                            after=decode_cursor(query.text("cursor")))
    return json_response({"runs": [run_view(r) for r in page.runs],
                          "next_cursor": encode_cursor(page.next_after) if page.next_after else None})


def cancel_run(api: ApiRequest, run_id: str) -> Response:
    principal = api.require(Role.OPERATOR)
    body = read_optional_json(api.request, CANCEL_RUN)
    view = get_report_run(principal.tenant_id, run_id, api.deps)
    api.require_property_or_not_found(view.run.property_id)
    run = cancel_report_run(CancelReportRun(tenant_id=principal.tenant_id, run_id=run_id,
                                            cancelled_by=principal.subject,
                                            reason=body.get("reason") or "cancelled by operator"), api.deps)
    return json_response(run_view(run))


def rerender_run(api: ApiRequest, run_id: str) -> Response:
    principal = api.require(Role.OPERATOR)
    key = _idempotency_key(api)
    view = get_report_run(principal.tenant_id, run_id, api.deps)
    api.require_property_or_not_found(view.run.property_id)
    outcome = rerender_report_run(RerenderReportRun(tenant_id=principal.tenant_id, run_id=run_id,
                                                    requested_by=principal.subject, idempotency_key=key), api.deps)
    return json_response(run_view(outcome.run), 202 if outcome.created else 200,
                         {"Location": f"{API}/runs/{outcome.run.run_id}"})


UUID_S = {"type": "string", "format": "uuid"}
TS = {"type": ["string", "null"], "format": "date-time"}
register("Artifact", {
    "type": "object", "additionalProperties": False,
    "required": ["format", "sha256", "size_bytes", "retention_class", "locked_until", "region", "encryption",
                 "download_url"],
    "properties": {"format": {"enum": ["pdf", "csv", "html"]}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                   "size_bytes": {"type": "integer", "minimum": 0}, "retention_class": {"type": "string"},
                   "locked_until": TS, "region": {"type": "string"}, "encryption": {"enum": ["none", "envelope"]},
                   "download_url": {"type": "string"}}})
register("Run", {
    "type": "object", "additionalProperties": False,
    "required": ["run_id", "property_id", "template_version_id", "snapshot_hash", "run_date", "origin", "state",
                 "locale", "formats", "params", "attempts", "requested_at", "due_by", "started_at", "finished_at",
                 "error", "supersedes", "superseded_by", "artifacts"],
    "properties": {
        "run_id": UUID_S, "property_id": UUID_S, "template_version_id": UUID_S,
        "snapshot_hash": {"type": "string"}, "run_date": {"type": "string", "format": "date"},
        "origin": {"enum": ["user", "schedule", "backfill"]},
        "state": {"enum": [str(s) for s in RunState]}, "locale": {"type": "string"},
        "formats": {"type": "array", "items": {"enum": ["pdf", "csv", "html"]}}, "params": {"type": "object"},
        "attempts": {"type": "integer", "minimum": 0}, "requested_at": {"type": "string", "format": "date-time"},
        "due_by": {"type": "string", "format": "date-time"}, "started_at": TS, "finished_at": TS,
        "error": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["code", "message"],
                                                "properties": {"code": {"type": "string"},
                                                               "message": {"type": ["string", "null"]}}}]},
        "supersedes": {"type": ["string", "null"]}, "superseded_by": {"type": ["string", "null"]},
        "artifacts": {"type": "array", "items": {"$ref": "#/components/schemas/Artifact"}}}})
register("RunList", {
    "type": "object", "additionalProperties": False, "required": ["runs", "next_cursor"],
    "properties": {"runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
                   "next_cursor": {"type": ["string", "null"]}}})
IDEMPOTENCY_KEY = (("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 200}, True),)
LIST_QUERY = (("state", {"enum": [str(s) for s in RunState]}), ("template_id", UUID_S),
              ("template_version_id", UUID_S), ("property_id", UUID_S),
              ("run_date_from", {"type": "string", "format": "date"}),
              ("run_date_to", {"type": "string", "format": "date"}),
              ("limit", {"type": "integer", "minimum": 1, "maximum": 200}), ("cursor", {"type": "string"}))

ROUTES = [
    Route("/api/v1/reports/runs", "POST", "request_run", request_run, summary="Request a report run",
          role="operator", body=REQUEST_RUN, headers=IDEMPOTENCY_KEY,
          responses=((202, "Run"), (200, "Run")), errors=(409, 413, 415, 422, 423)),
    Route("/api/v1/reports/runs", "GET", "list_runs", list_runs, summary="List runs, newest first",
          role="viewer", query=LIST_QUERY, responses=((200, "RunList"),)),
    Route("/api/v1/reports/runs/<uuid:run_id>", "GET", "get_run", get_run,
          summary="A run: state, timestamps, error, artifacts and download links", role="viewer",
          responses=((200, "Run"),)),
    Route("/api/v1/reports/runs/<uuid:run_id>:cancel", "POST", "cancel_run", cancel_run, summary="Cancel a run",
          role="operator", body=CANCEL_RUN, body_required=False, responses=((200, "Run"),),
          errors=(409, 413, 415, 422, 423)),
    Route("/api/v1/reports/runs/<uuid:run_id>:rerender", "POST", "rerender_run", rerender_run,
          summary="Re-render: supersede the run and request a new one (plan §5)", role="operator",
          headers=IDEMPOTENCY_KEY, responses=((202, "Run"), (200, "Run")), errors=(409, 423)),
    Route("/api/v1/reports/runs/<uuid:run_id>/artifacts/<any(pdf, csv, html):fmt>", "GET", "download_artifact",
          download_artifact, summary="Download an artifact", role="viewer",
          responses=((200, "application/pdf|text/csv|text/html"),
                     (302, "A plain (CMEK-only) artifact in Cloud Storage: a 5-minute V4 signed URL"))),
]
