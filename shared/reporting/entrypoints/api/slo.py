"""Per-tenant SLO: share of runs succeeded by their due time, per window (service_layer/slo.py says what counts)."""
from __future__ import annotations

from datetime import timezone
from typing import Any

from reporting.domain.principal import Role
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.entrypoints.api.openapi import register
from reporting.entrypoints.api.query import Query
from reporting.service_layer.slo import LATE_LIST_LIMIT, LateRun, SloReport, SloWindow, tenant_slo


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def late_view(run: LateRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "property_id": run.property_id, "template_version_id": run.template_version_id,
            "origin": run.origin, "state": run.state, "due_by": _ts(run.due_by), "finished_at": _ts(run.finished_at)}


def slo_view(report: SloReport) -> dict[str, Any]:
    return {
        "tenant_id": report.tenant_id,
        "window": {"from": report.window.first.isoformat(), "to": report.window.last.isoformat(),
                   "timezone": "UTC", "as_of": report.as_of.isoformat()},
        "property_ids": list(report.property_ids) if report.property_ids is not None else None,
        "target": report.target, "runs_due": report.runs_due, "succeeded_on_time": report.succeeded_on_time,
        "late": [late_view(r) for r in report.late], "ratio": report.ratio, "met": report.met,
    }


def get_slo(api: ApiRequest) -> Response:
    principal = api.require(Role.ADMIN)
    query = Query(api.request.args, allowed={"from", "to"})
    today = api.deps.clock.now().astimezone(timezone.utc).date()
    window = SloWindow.choose(query.date("from"), query.date("to"), today)
    # A hotel-limited admin sees the figure for their hotels only: other hotels' runs stay undisclosed.
    property_ids = sorted(principal.property_ids) if principal.property_ids is not None else None
    report = tenant_slo(principal.tenant_id, window, api.deps, api.services.service_level, property_ids=property_ids)
    return json_response(slo_view(report))


UUID_S = {"type": "string", "format": "uuid"}
TS = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}
register("SloReport", {
    "type": "object", "additionalProperties": False,
    "required": ["tenant_id", "window", "property_ids", "target", "runs_due", "succeeded_on_time", "late", "ratio",
                 "met"],
    "properties": {
        "tenant_id": UUID_S,
        "window": {"type": "object", "additionalProperties": False, "required": ["from", "to", "timezone", "as_of"],
                   "properties": {"from": DATE, "to": DATE, "timezone": {"const": "UTC"}, "as_of": TS}},
        "property_ids": {"oneOf": [{"type": "null"}, {"type": "array", "items": UUID_S}]},
        "target": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "runs_due": {"type": "integer", "minimum": 0},
        "succeeded_on_time": {"type": "integer", "minimum": 0},
        "late": {"type": "array", "maxItems": LATE_LIST_LIMIT, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["run_id", "property_id", "template_version_id", "origin", "state", "due_by", "finished_at"],
            "properties": {"run_id": UUID_S, "property_id": UUID_S, "template_version_id": UUID_S,
                           "origin": {"enum": ["user", "schedule"]},
                           "state": {"enum": ["requested", "rendering", "succeeded", "failed", "cancelled",
                                              "superseded"]},
                           "due_by": TS, "finished_at": {"type": ["string", "null"], "format": "date-time"}}}},
        "ratio": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "met": {"type": "boolean"}}})

ROUTES: list[Route] = [
    Route("/api/v1/reports/slo", "GET", "get_slo", get_slo,
          summary="Per-tenant SLO: share of runs succeeded by their due time over a window (default the last "
                  "14 UTC days, at most 90), and the late runs (newest 100)",
          role="admin", query=(("from", DATE), ("to", DATE)), responses=((200, "SloReport"),)),
]
