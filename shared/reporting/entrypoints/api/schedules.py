"""Schedule routes (create, update / re-pin, list, get, delete) and the internal scheduler tick."""
from __future__ import annotations

from typing import Any

from reporting.domain.principal import Role
from reporting.domain.schedule import Schedule
from reporting.entrypoints.api.bodies import UUID, read_json, read_optional_json
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.entrypoints.api.openapi import register
from reporting.entrypoints.api.query import Query, decode_cursor, encode_cursor
from reporting.entrypoints.api.views import API
from reporting.service_layer.schedules import (DEFAULT_TICK_LIMIT, CreateSchedule, UpdateSchedule, create_schedule,
                                               delete_schedule, get_schedule, list_schedules, tick, update_schedule)

# ---- bodies (unknown fields rejected; the domain checks cron and zone semantics) ----

CRON = {"type": "string", "minLength": 9, "maxLength": 200}
TIMEZONE = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z][A-Za-z0-9_+\\-]*(/[A-Za-z0-9_+\\-]+)*$"}
_FIELDS = {
    "template_version_id": UUID,
    "cron": CRON,
    "timezone": TIMEZONE,
    "params": {"type": "object", "maxProperties": 50},
    "formats": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True,
                "items": {"enum": ["pdf", "csv", "html"]}},
    "locale": {"enum": ["en", "ps", "fa-AF", "ar", "hi"]},
    "enabled": {"type": "boolean"},
}
CREATE_SCHEDULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["property_id", "cron"],
    "properties": {"property_id": UUID, "template_key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,62}$"},
                   **_FIELDS},
    # A version id pins that version; a template key pins its latest published version now.
    "oneOf": [{"required": ["template_version_id"]}, {"required": ["template_key"]}],
}
UPDATE_SCHEDULE = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": _FIELDS}
TICK = {"type": "object", "additionalProperties": False,
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100_000}}}

# ---- views ----

TS = {"type": ["string", "null"], "format": "date-time"}
register("Schedule", {
    "type": "object", "additionalProperties": False,
    "required": ["schedule_id", "property_id", "template_version_id", "cron", "timezone", "params", "formats",
                 "locale", "enabled", "next_fire_at", "last_fired_at", "created_at", "updated_at"],
    "properties": {
        "schedule_id": {"type": "string", "format": "uuid"}, "property_id": {"type": "string", "format": "uuid"},
        "template_version_id": {"type": "string", "format": "uuid"}, "cron": {"type": "string"},
        "timezone": {"type": "string"}, "params": {"type": "object"},
        "formats": {"type": "array", "items": {"enum": ["pdf", "csv", "html"]}}, "locale": {"type": "string"},
        "enabled": {"type": "boolean"}, "next_fire_at": TS, "last_fired_at": TS,
        "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}})
register("ScheduleList", {
    "type": "object", "additionalProperties": False, "required": ["schedules", "next_cursor"],
    "properties": {"schedules": {"type": "array", "items": {"$ref": "#/components/schemas/Schedule"}},
                   "next_cursor": {"type": ["string", "null"]}}})
_COUNT = {"type": "integer", "minimum": 0}
register("TickReport", {
    "type": "object", "additionalProperties": False,
    "required": ["due", "requested", "duplicates", "skipped", "errors", "dropped", "deferred", "advanced", "tenants",
                 "elapsed_ms"],
    "properties": {**{name: _COUNT for name in ("due", "requested", "duplicates", "skipped", "errors", "dropped",
                                                "deferred", "advanced", "tenants")},
                   "elapsed_ms": {"type": "number", "minimum": 0}}})


def schedule_view(s: Schedule) -> dict[str, Any]:
    """A schedule as the API shows it; next_fire_at only while it is on (a switched-off one restarts from now)."""
    return {"schedule_id": s.schedule_id, "property_id": s.property_id, "template_version_id": s.template_version_id,
            "cron": s.cron, "timezone": s.timezone, "params": s.params, "formats": list(s.formats),
            "locale": s.locale, "enabled": s.enabled,
            "next_fire_at": s.next_fire_at.isoformat() if s.enabled else None,
            "last_fired_at": s.last_fired_at.isoformat() if s.last_fired_at else None,
            "created_at": s.created_at.isoformat(), "updated_at": s.updated_at.isoformat()}


# ---- handlers ----

def create(api: ApiRequest) -> Response:
    principal = api.require(Role.ADMIN)
    body = read_json(api.request, CREATE_SCHEDULE)
    principal.require_property(body["property_id"])
    schedule = create_schedule(CreateSchedule(
        tenant_id=principal.tenant_id, property_id=body["property_id"].lower(), created_by=principal.subject,
        cron=body["cron"], timezone=body.get("timezone"), template_version_id=body.get("template_version_id"),
        template_key=body.get("template_key"), params=body.get("params") or {},
        formats=tuple(body["formats"]) if body.get("formats") else None, locale=body.get("locale"),
        enabled=body.get("enabled", True)), api.deps)
    return json_response(schedule_view(schedule), 201, {"Location": f"{API}/schedules/{schedule.schedule_id}"})


def update(api: ApiRequest, schedule_id: str) -> Response:
    principal = api.require(Role.ADMIN)
    body = read_json(api.request, UPDATE_SCHEDULE)
    schedule = update_schedule(UpdateSchedule(
        tenant_id=principal.tenant_id, schedule_id=schedule_id, updated_by=principal.subject,
        template_version_id=body.get("template_version_id"), cron=body.get("cron"), timezone=body.get("timezone"),
        params=body.get("params"), formats=tuple(body["formats"]) if "formats" in body else None,
        locale=body.get("locale"), enabled=body.get("enabled"),
        visible_property_ids=principal.property_ids), api.deps)
    return json_response(schedule_view(schedule))


def get_one(api: ApiRequest, schedule_id: str) -> Response:
    principal = api.require(Role.VIEWER)
    schedule = get_schedule(principal.tenant_id, schedule_id, api.deps, visible_property_ids=principal.property_ids)
    return json_response(schedule_view(schedule))


def list_all(api: ApiRequest) -> Response:
    principal = api.require(Role.VIEWER)
    query = Query(api.request.args, allowed={"property_id", "limit", "cursor"})
    property_ids = api.property_filter(query.uuid("property_id"))
    limit = query.integer("limit", 50, 1, 200)
    after = decode_cursor(query.text("cursor"))
    schedules = [] if property_ids == [] else list_schedules(principal.tenant_id, api.deps, limit=limit,
                                                             property_ids=property_ids, after=after)
    last = schedules[-1] if len(schedules) == limit else None
    return json_response({"schedules": [schedule_view(s) for s in schedules],
                          "next_cursor": encode_cursor((last.created_at, last.schedule_id)) if last else None})


def delete(api: ApiRequest, schedule_id: str) -> Response:
    principal = api.require(Role.ADMIN)
    delete_schedule(principal.tenant_id, schedule_id, principal.subject, api.deps,
                    visible_property_ids=principal.property_ids)
    return "", 204, {}


def scheduler_tick(api: ApiRequest) -> Response:
    """Cloud Scheduler's call (every minute): fire what is due now; safe to retry and to overlap."""
    body = read_optional_json(api.request, TICK)
    report = tick(api.deps.clock.now(), api.deps, limit=body.get("limit", DEFAULT_TICK_LIMIT))
    return json_response(report.as_dict())


SCHEDULE_ID = "/api/v1/reports/schedules/<uuid:schedule_id>"
LIST_QUERY = (("property_id", {"type": "string", "format": "uuid"}),
              ("limit", {"type": "integer", "minimum": 1, "maximum": 200}), ("cursor", {"type": "string"}))
WRITE_ERRORS = (409, 413, 415, 422, 423)

ROUTES: list[Route] = [
    Route("/api/v1/reports/schedules", "POST", "create_schedule", create,
          summary="Create a schedule pinned to a template version", role="admin", body=CREATE_SCHEDULE,
          responses=((201, "Schedule"),), errors=WRITE_ERRORS),
    Route("/api/v1/reports/schedules", "GET", "list_schedules", list_all, summary="List schedules",
          role="viewer", query=LIST_QUERY, responses=((200, "ScheduleList"),)),
    Route(SCHEDULE_ID, "GET", "get_schedule", get_one, summary="A schedule", role="viewer",
          responses=((200, "Schedule"),)),
    Route(SCHEDULE_ID, "PATCH", "update_schedule", update,
          summary="Update a schedule: re-pin its version, change timing, parameters, outputs or switch it",
          role="admin", body=UPDATE_SCHEDULE, responses=((200, "Schedule"),), errors=WRITE_ERRORS),
    Route(SCHEDULE_ID, "DELETE", "delete_schedule", delete, summary="Delete a schedule (kept as history)",
          role="admin", responses=((204, None),), errors=(423,)),
    Route("/api/v1/reports/internal/schedules:tick", "POST", "scheduler_tick", scheduler_tick, auth="scheduler",
          summary="Scheduler tick: request every due scheduled run and advance the schedules", body=TICK,
          body_required=False, responses=((200, "TickReport"),), errors=(413, 415, 422)),
]
