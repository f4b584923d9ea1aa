"""Template routes: list (platform-shared and the tenant's own), get one, create, publish a version, archive."""
from __future__ import annotations

from typing import Any

from reporting.domain.principal import Role
from reporting.domain.template import (FORMATS, RETENTION_CLASSES, Template, TemplateCategory, TemplateVersion,
                                       TemplateVersionSummary)
from reporting.domain.tenant import LOCALES
from reporting.entrypoints.api.bodies import read_json, read_optional_json
from reporting.entrypoints.api.context import ApiRequest, Response, Route, json_response
from reporting.entrypoints.api.openapi import register
from reporting.entrypoints.api.query import Query
from reporting.entrypoints.api.views import API
from reporting.service_layer.commands import AddTemplateVersion, ArchiveTemplate, CreateTemplate
from reporting.service_layer.templates import (MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_REASON_CHARS,
                                               TemplateDetail, add_template_version, archive_template,
                                               create_template, get_template, get_template_version, list_templates)

# A version carries up to 256 KiB of layout and 64 KiB of SQL, JSON-escaped: more than the 64 KiB of
# other bodies. Each field's own limit is checked (in bytes) by the use case.
MAX_TEMPLATE_BODY_BYTES = 1024 * 1024

_CONTENT = {
    "layout": {"type": "string", "minLength": 1},
    "dataset_sql": {"type": "string", "minLength": 1},
    "params_schema": {"type": "object"},
    "formats": {"type": "array", "minItems": 1, "maxItems": len(FORMATS), "uniqueItems": True,
                "items": {"enum": list(FORMATS)}},
    "locales": {"type": "array", "minItems": 1, "maxItems": len(LOCALES), "uniqueItems": True,
                "items": {"enum": list(LOCALES)}},
    "retention_class": {"enum": list(RETENTION_CLASSES)},
}
CREATE_TEMPLATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["key", "name", "layout", "dataset_sql", "params_schema"],
    "properties": {
        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,62}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION_CHARS},
        "category": {"enum": [str(c) for c in TemplateCategory]},
        **_CONTENT,
    },
}
PUBLISH_VERSION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["layout", "dataset_sql", "params_schema"],
    "properties": dict(_CONTENT),
}
ARCHIVE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON_CHARS}},
}


def _read_template_body(request: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """As bodies.read_json, with the larger bound a template version needs."""
    return read_json(request, schema, limit=MAX_TEMPLATE_BODY_BYTES)


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def version_view(v: TemplateVersionSummary, *, with_params_schema: bool = False) -> dict[str, Any]:
    view = {"template_version_id": v.template_version_id, "version": v.version, "status": str(v.status),
            "published_at": _ts(v.published_at), "archived_at": _ts(v.archived_at), "formats": list(v.formats),
            "locales": list(v.locales), "retention_class": v.retention_class, "snapshot_hash": v.snapshot_hash,
            "regulatory_adapter": v.regulatory_adapter}
    if with_params_schema:
        view["params_schema"] = v.params_schema
    return view


def template_view(t: Template, versions: tuple[TemplateVersionSummary, ...], *,
                  with_params_schema: bool = False) -> dict[str, Any]:
    published = [v for v in versions if str(v.status) == "published"]
    return {
        "template_id": t.template_id, "key": t.key, "name": t.name, "description": t.description,
        "category": str(t.category), "owner": "platform" if t.platform_shared else "tenant",
        "latest_version_id": published[-1].template_version_id if published else None,
        "versions": [version_view(v, with_params_schema=with_params_schema) for v in versions],
    }


def version_content_view(v: TemplateVersion) -> dict[str, Any]:
    return {"template_id": v.template_id, "template_key": v.template_key,
            **version_view(v.summary(), with_params_schema=True),
            "layout": v.layout, "dataset_sql": v.dataset_sql}


def _detail_view(detail: TemplateDetail) -> dict[str, Any]:
    return template_view(detail.template, detail.versions, with_params_schema=True)


def list_templates_route(api: ApiRequest) -> Response:
    principal = api.require(Role.VIEWER)
    query = Query(api.request.args, allowed={"category", "include_archived"})
    category = query.choice("category", [str(c) for c in TemplateCategory])
    include_archived = query.choice("include_archived", ["true", "false"]) == "true"
    details = list_templates(principal.tenant_id, api.deps, category=category, include_archived=include_archived)
    return json_response({"templates": [template_view(d.template, d.versions) for d in details]})


def get_template_route(api: ApiRequest, template_id: str) -> Response:
    principal = api.require(Role.VIEWER)
    return json_response(_detail_view(get_template(principal.tenant_id, template_id, api.deps)))


def get_template_version_route(api: ApiRequest, template_id: str, template_version_id: str) -> Response:
    principal = api.require(Role.VIEWER)
    version = get_template_version(principal.tenant_id, template_id, template_version_id, api.deps)
    return json_response(version_content_view(version))


def create_template_route(api: ApiRequest) -> Response:
    principal = api.require(Role.ADMIN)
    body = _read_template_body(api.request, CREATE_TEMPLATE)
    detail = create_template(CreateTemplate(
        tenant_id=principal.tenant_id, template_key=body["key"], name=body["name"],
        description=body.get("description", ""), category=body.get("category", "operational"),
        layout=body["layout"], dataset_sql=body["dataset_sql"], params_schema=body["params_schema"],
        formats=tuple(body.get("formats") or ("pdf",)), locales=tuple(body.get("locales") or ("en",)),
        retention_class=body.get("retention_class", "operational"), created_by=principal.subject), api.deps)
    return json_response(_detail_view(detail), 201,
                         {"Location": f"{API}/templates/{detail.template.template_id}"})


def publish_version_route(api: ApiRequest, template_id: str) -> Response:
    principal = api.require(Role.ADMIN)
    body = _read_template_body(api.request, PUBLISH_VERSION)
    version = add_template_version(AddTemplateVersion(
        tenant_id=principal.tenant_id, template_id=template_id, layout=body["layout"],
        dataset_sql=body["dataset_sql"], params_schema=body["params_schema"],
        formats=tuple(body.get("formats") or ("pdf",)), locales=tuple(body.get("locales") or ("en",)),
        retention_class=body.get("retention_class", "operational"), published_by=principal.subject), api.deps)
    return json_response(
        {"template_id": version.template_id, "template_key": version.template_key,
         **version_view(version.summary(), with_params_schema=True)}, 201,
        {"Location": f"{API}/templates/{version.template_id}/versions/{version.template_version_id}"})


def archive_route(api: ApiRequest, target_id: str) -> Response:
    principal = api.require(Role.ADMIN)
    body = read_optional_json(api.request, ARCHIVE)
    outcome = archive_template(ArchiveTemplate(tenant_id=principal.tenant_id, target_id=target_id,
                                               archived_by=principal.subject, reason=body.get("reason")), api.deps)
    # 200 both times: a repeat finds the version archived already and changes nothing.
    return json_response({"template": _detail_view(outcome.detail),
                          "archived_version_ids": list(outcome.archived_version_ids)})


UUID_S = {"type": "string", "format": "uuid"}
TS = {"type": ["string", "null"], "format": "date-time"}
_VERSION_PROPERTIES = {
    "template_version_id": UUID_S, "version": {"type": "integer", "minimum": 1},
    "status": {"enum": ["draft", "published", "archived"]}, "published_at": TS, "archived_at": TS,
    "formats": {"type": "array", "items": {"enum": list(FORMATS)}},
    "locales": {"type": "array", "items": {"enum": list(LOCALES)}},
    "retention_class": {"enum": list(RETENTION_CLASSES)},
    "snapshot_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "regulatory_adapter": {"type": ["string", "null"]},
    "params_schema": {"type": "object"},  # on a single template and a single version, not in listings
}
_VERSION_REQUIRED = ["template_version_id", "version", "status", "published_at", "archived_at", "formats", "locales",
                     "retention_class", "snapshot_hash", "regulatory_adapter"]
register("TemplateVersionSummary", {"type": "object", "additionalProperties": False, "required": _VERSION_REQUIRED,
                                    "properties": _VERSION_PROPERTIES})
register("TemplateVersion", {
    "type": "object", "additionalProperties": False,
    "required": ["template_id", "template_key", *_VERSION_REQUIRED, "params_schema"],
    "properties": {"template_id": UUID_S, "template_key": {"type": "string"}, **_VERSION_PROPERTIES,
                   "layout": {"type": "string"}, "dataset_sql": {"type": "string"}}})
register("Template", {
    "type": "object", "additionalProperties": False,
    "required": ["template_id", "key", "name", "description", "category", "owner", "latest_version_id", "versions"],
    "properties": {
        "template_id": UUID_S, "key": {"type": "string"}, "name": {"type": "string"},
        "description": {"type": "string"}, "category": {"enum": [str(c) for c in TemplateCategory]},
        "owner": {"enum": ["platform", "tenant"]}, "latest_version_id": {"type": ["string", "null"]},
        "versions": {"type": "array", "items": {"$ref": "#/components/schemas/TemplateVersionSummary"}}}})
register("TemplateList", {
    "type": "object", "additionalProperties": False, "required": ["templates"],
    "properties": {"templates": {"type": "array", "items": {"$ref": "#/components/schemas/Template"}}}})
register("TemplateArchived", {
    "type": "object", "additionalProperties": False, "required": ["template", "archived_version_ids"],
    "properties": {"template": {"$ref": "#/components/schemas/Template"},
                   "archived_version_ids": {"type": "array", "items": UUID_S}}})
LIST_QUERY = (("category", {"enum": [str(c) for c in TemplateCategory]}),
              ("include_archived", {"enum": ["true", "false"]}))
WRITE_ERRORS = (409, 413, 415, 422, 423)

ROUTES = [
    Route("/api/v1/reports/templates", "GET", "list_templates", list_templates_route,
          summary="List templates: platform-shared and the tenant's own, with their versions", role="viewer",
          query=LIST_QUERY, responses=((200, "TemplateList"),)),
    Route("/api/v1/reports/templates", "POST", "create_template", create_template_route,
          summary="Create a tenant template with its first published version", role="admin",
          body=CREATE_TEMPLATE, responses=((201, "Template"),), errors=WRITE_ERRORS),
    Route("/api/v1/reports/templates/<uuid:template_id>", "GET", "get_template", get_template_route,
          summary="A template with all its versions (archived ones kept as history)", role="viewer",
          responses=((200, "Template"),)),
    Route("/api/v1/reports/templates/<uuid:template_id>/versions", "POST", "publish_template_version",
          publish_version_route, summary="Publish a new immutable version of a tenant template", role="admin",
          body=PUBLISH_VERSION, responses=((201, "TemplateVersion"),), errors=WRITE_ERRORS),
    Route("/api/v1/reports/templates/<uuid:template_id>/versions/<uuid:template_version_id>", "GET",
          "get_template_version", get_template_version_route,
          summary="One template version with its layout, dataset SQL and params schema", role="viewer",
          responses=((200, "TemplateVersion"),)),
    Route("/api/v1/reports/templates/<uuid:target_id>:archive", "POST", "archive_template", archive_route,
          summary="Archive a template version, or every published version of a template (plan §7)",
          role="admin", body=ARCHIVE, body_required=False, responses=((200, "TemplateArchived"),),
          errors=WRITE_ERRORS),
]
