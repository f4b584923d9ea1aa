"""Use cases on templates: list and read (platform-shared and the tenant's own), create a tenant template,
publish a new immutable version, archive (plan §7)."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from reporting.catalog.i18n import catalog_hash
from reporting.domain.errors import Conflict, NotFound, PayloadTooLarge, RenderFailed, ValidationFailed
from reporting.domain.template import (FORMATS, Template, TemplateCategory, TemplateVersion, TemplateVersionSummary,
                                       VersionStatus)
from reporting.domain.tenant import LOCALES
from reporting.service_layer.commands import AddTemplateVersion, ArchiveTemplate, CreateTemplate, PublishTemplateVersion
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_readable_tenant, require_writable_tenant

# Tenant-owned content is untrusted input: bounded before anything parses it.
MAX_LAYOUT_BYTES = 256 * 1024
MAX_DATASET_SQL_BYTES = 64 * 1024
MAX_PARAMS_SCHEMA_BYTES = 32 * 1024
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 1000
MAX_REASON_CHARS = 200
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")  # the same rule as the templates.key CHECK (0003)

# What the render use case binds for every run (render_report_run.dataset_params); a dataset may use these
# and the parameters its params schema requires, nothing else. A run can never supply these itself.
SYSTEM_DATASET_PARAMETERS = frozenset({"tenant_id", "property_id", "run_date", "deduct_out_of_order"})
# Regulatory templates (and their locked retention classes) come from the platform only (SPEC §7).
TENANT_CATEGORIES = frozenset({TemplateCategory.OPERATIONAL.value})
TENANT_RETENTION_CLASSES = frozenset({"operational"})
_REFERENCE_KEYWORDS = frozenset({"$ref", "$dynamicRef", "$id", "$anchor", "$dynamicAnchor", "$recursiveRef"})


@dataclass(frozen=True)
class TemplateContent:
    """What a version is made of; checked as a whole before any of it is stored."""

    layout: str
    dataset_sql: str
    params_schema: dict[str, Any]
    formats: tuple[str, ...]
    locales: tuple[str, ...]
    retention_class: str


@dataclass(frozen=True)
class TemplateDetail:
    template: Template
    versions: tuple[TemplateVersionSummary, ...]


@dataclass(frozen=True)
class ArchiveOutcome:
    detail: TemplateDetail
    archived_version_ids: tuple[str, ...]  # archived by this call; empty when it changed nothing (a repeat)


# --- content checks ------------------------------------------------------------


def _bounded(field: str, text: str, limit: int) -> None:
    size = len(text.encode("utf-8"))
    if size > limit:
        raise PayloadTooLarge(f"{field} is too large", field=field, limit_bytes=limit, size_bytes=size)


def _schema_problem(message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(f"params_schema: {message}", field="params_schema", **details)


def _keywords(node: Any, names: frozenset[str]) -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in names:
                yield key, value
            yield from _keywords(value, names)
    elif isinstance(node, list):
        for item in node:
            yield from _keywords(item, names)


def _resolves(schema: dict[str, Any], ref: str) -> bool:
    """Whether a JSON-pointer reference ("#/a/b") points at something inside the schema itself."""
    node: Any = schema
    for token in ref[1:].split("/")[1:] if ref != "#" else ():
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return isinstance(node, (dict, bool))


def check_params_schema(schema: Any) -> frozenset[str]:
    """A valid JSON Schema (2020-12) for an object of run parameters; returns the names it requires."""
    if not isinstance(schema, dict):
        raise _schema_problem("must be a JSON object")
    _bounded("params_schema", json.dumps(schema, separators=(",", ":"), ensure_ascii=False), MAX_PARAMS_SCHEMA_BYTES)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise _schema_problem("is not a valid JSON Schema", rule=err.validator,
                              path="/" + "/".join(map(str, err.absolute_path))) from None
    if schema.get("type") != "object":
        raise _schema_problem('must describe an object ("type": "object"): run parameters are one')
    # Every run request is validated against this schema: a reference that is remote (fetched, or an error,
    # at request time), re-based ($id) or dangling would fail there. Only JSON pointers into this document.
    for keyword, value in _keywords(schema, _REFERENCE_KEYWORDS):
        if keyword != "$ref" or not isinstance(value, str) or not (value == "#" or value.startswith("#/")):
            raise _schema_problem("only local $ref JSON pointers (#/...) are allowed; no $id, anchors or "
                                  "dynamic references", keyword=keyword)
        if not _resolves(schema, value):
            raise _schema_problem("a $ref points at nothing in the schema", keyword=keyword)
    properties = schema.get("properties") or {}
    reserved = sorted(SYSTEM_DATASET_PARAMETERS & set(properties))
    if reserved:
        raise _schema_problem("these parameters are bound by the service, not by a run", reserved=reserved)
    return frozenset(schema.get("required") or ())


def _dataset_parameters(dataset_sql: str, deps: Dependencies) -> frozenset[str]:
    try:
        return deps.warehouse().dataset_parameters(dataset_sql)
    except RenderFailed as err:  # the adapters' DatasetError
        raise ValidationFailed(f"dataset_sql: {err.message}", field="dataset_sql",
                               **{k: v for k, v in err.details.items() if k != "status"}) from None
    except Exception as err:  # a parser fed untrusted text may fail in ways it does not type: still bad input
        raise ValidationFailed("dataset_sql does not parse as BigQuery SQL", field="dataset_sql",
                               reason=type(err).__name__) from None


def _check_layout(layout: str, locales: tuple[str, ...], deps: Dependencies) -> None:
    try:
        for locale in locales:
            deps.renderer().compile(layout, locale)
    except RenderFailed as err:
        raise ValidationFailed("layout does not compile in the sandbox", field="layout",
                               reason=err.details.get("reason"), line=err.details.get("line")) from None


def check_template_content(content: TemplateContent, deps: Dependencies) -> None:
    """Everything a tenant version must pass before it is stored: sizes, formats, locales, retention,
    params schema, dataset SQL (BigQuery dialect, allowed parameters only), layout (sandbox compile)."""
    _bounded("layout", content.layout, MAX_LAYOUT_BYTES)
    _bounded("dataset_sql", content.dataset_sql, MAX_DATASET_SQL_BYTES)
    for field, values, allowed in (("formats", content.formats, FORMATS), ("locales", content.locales, LOCALES)):
        if not values or len(set(values)) != len(values) or not set(values) <= set(allowed):
            raise ValidationFailed(f"{field} must be a non-empty list of distinct values from {list(allowed)}",
                                   field=field)
    if content.retention_class not in TENANT_RETENTION_CLASSES:
        raise ValidationFailed("tenant templates use the operational retention class; regulatory classes "
                               "belong to platform templates", field="retention_class")
    required = check_params_schema(content.params_schema)
    used = _dataset_parameters(content.dataset_sql, deps)
    unknown = sorted(used - SYSTEM_DATASET_PARAMETERS - required)
    if unknown:
        raise ValidationFailed(
            "dataset_sql uses parameters that are neither bound by the service nor required by params_schema",
            field="dataset_sql", parameters=unknown, bound_by_service=sorted(SYSTEM_DATASET_PARAMETERS))
    if not content.layout.strip():
        raise ValidationFailed("layout is empty", field="layout")
    _check_layout(content.layout, content.locales, deps)


def _check_identity(key: str, name: str, category: str, description: str = "") -> None:
    if not KEY_RE.match(key):
        raise ValidationFailed("template key must match ^[a-z][a-z0-9_]{1,62}$", field="key")
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise ValidationFailed(f"name must be 1-{MAX_NAME_CHARS} characters", field="name")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationFailed(f"description is at most {MAX_DESCRIPTION_CHARS} characters", field="description")
    if category not in TENANT_CATEGORIES:
        raise ValidationFailed("regulatory templates are platform-only; tenant templates are operational",
                               field="category")


def event_actor(subject: str) -> str:
    """An actor id for an event (no personal data, no spaces): the token subject when it is an opaque id,
    else a stable pseudonym of it (an e-mail-like subject never leaves in an event)."""
    if "@" not in subject and re.fullmatch(r"[A-Za-z0-9._:|+-]{1,190}", subject):
        return f"user:{subject}"
    return "user-sha256:" + hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]


# --- writes ----------------------------------------------------------------------


def _publish_next(uow: Any, template: Template, content: TemplateContent, deps: Dependencies) -> TemplateVersion:
    """Add and publish the template's next version; the caller holds the template's row lock."""
    version = TemplateVersion(
        template_version_id=str(uuid.uuid4()), template_id=template.template_id, tenant_id=template.tenant_id,
        version=uow.templates.next_version_number(template.template_id), status=VersionStatus.DRAFT,
        layout=content.layout, dataset_sql=content.dataset_sql, params_schema=dict(content.params_schema),
        formats=list(content.formats), locales=list(content.locales), retention_class=content.retention_class,
        catalog_hash=catalog_hash(content.locales), template_key=template.key)
    version.publish(deps.clock.now())
    uow.templates.add_version(version)
    return version


def _check_writable(uow: Any, template_id: str) -> None:
    """Another tenant's template is not found (RLS hides it); a platform one is seen but refused."""
    visible = uow.templates.get(template_id)
    if visible is None:
        raise NotFound("template not found")
    visible.check_tenant_may_change()


def _writable_template(uow: Any, template_id: str) -> Template:
    """The tenant's own template, row-locked until commit (see _check_writable for the refusals)."""
    _check_writable(uow, template_id)
    template = uow.templates.get_for_update(template_id)
    if template is None:  # vanishes only if RLS and the read above disagree: never disclose more
        raise NotFound("template not found")
    return template


def _content_of(cmd: CreateTemplate | AddTemplateVersion | PublishTemplateVersion) -> TemplateContent:
    return TemplateContent(cmd.layout, cmd.dataset_sql, dict(cmd.params_schema), tuple(cmd.formats),
                           tuple(cmd.locales), cmd.retention_class)


def create_template(cmd: CreateTemplate, deps: Dependencies) -> TemplateDetail:
    """A new tenant template with its first published version; a key already taken is a conflict."""
    content = _content_of(cmd)
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        _check_identity(cmd.template_key, cmd.name, cmd.category, cmd.description)
        taken = uow.templates.by_key(cmd.template_key, cmd.tenant_id)
        if taken is not None:
            raise Conflict("a template with this key already exists", template_key=cmd.template_key,
                           platform_shared=taken.platform_shared)
        check_template_content(content, deps)
        template = Template(template_id=str(uuid.uuid4()), tenant_id=cmd.tenant_id, key=cmd.template_key,
                            category=TemplateCategory(cmd.category), name=cmd.name, description=cmd.description)
        if not uow.templates.add_if_key_free(template):  # a concurrent create won
            raise Conflict("a template with this key already exists", template_key=cmd.template_key,
                           platform_shared=False)
        version = _publish_next(uow, template, content, deps)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.created_by, action="template.create",
                         target_type="template", target_id=template.template_id,
                         details={"template_key": template.key, "template_version_id": version.template_version_id,
                                  "version": version.version, "snapshot_hash": version.snapshot_hash})
        uow.commit()
        return TemplateDetail(template, (version.summary(),))


def add_template_version(cmd: AddTemplateVersion, deps: Dependencies) -> TemplateVersion:
    """Publish the next immutable version of the tenant's template (version numbers increase by one)."""
    content = _content_of(cmd)
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        _check_writable(uow, cmd.template_id)
        check_template_content(content, deps)  # before the row lock: compiling takes a moment
        template = _writable_template(uow, cmd.template_id)
        version = _publish_next(uow, template, content, deps)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.published_by, action="template.publish",
                         target_type="template_version", target_id=version.template_version_id,
                         details={"template_key": template.key, "version": version.version,
                                  "snapshot_hash": version.snapshot_hash})
        uow.commit()
        return version


def publish_template_version(cmd: PublishTemplateVersion, deps: Dependencies) -> TemplateVersion:
    """Create the tenant's template on first use, then add and publish its next version (by key)."""
    content = _content_of(cmd)
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        template = uow.templates.by_key(cmd.template_key, cmd.tenant_id)
        if template is not None and template.platform_shared:
            raise ValidationFailed("a platform template's key cannot be reused by a tenant template",
                                   template_key=cmd.template_key)
        if template is None:
            _check_identity(cmd.template_key, cmd.name, cmd.category)
        check_template_content(content, deps)
        if template is None:
            template = Template(template_id=str(uuid.uuid4()), tenant_id=cmd.tenant_id, key=cmd.template_key,
                                category=TemplateCategory(cmd.category), name=cmd.name)
            uow.templates.add_if_key_free(template)
            template = uow.templates.by_key(cmd.template_key, cmd.tenant_id)  # ours, or a concurrent winner's
            assert template is not None
        template = _writable_template(uow, template.template_id)
        version = _publish_next(uow, template, content, deps)
        uow.audit.append(tenant_id=cmd.tenant_id, actor=cmd.published_by, action="template.publish",
                         target_type="template_version", target_id=version.template_version_id,
                         details={"template_key": template.key, "version": version.version})
        uow.commit()
        return version


def archive_template(cmd: ArchiveTemplate, deps: Dependencies) -> ArchiveOutcome:
    """Plan §7: archive a version (or every published version of a template): one audit entry and one
    template.archived.v1. Idempotent: a repeat changes nothing and records nothing."""
    if cmd.reason is not None and len(cmd.reason) > MAX_REASON_CHARS:
        raise ValidationFailed(f"reason is at most {MAX_REASON_CHARS} characters", field="reason")
    now = deps.clock.now()
    with deps.uow(cmd.tenant_id) as uow:
        require_writable_tenant(uow, cmd.tenant_id, deps.residency)
        named_version = uow.templates.get_version(cmd.target_id)
        template_id = named_version.template_id if named_version is not None else cmd.target_id
        if named_version is None and uow.templates.get(template_id) is None:
            raise NotFound("template or template version not found")
        template = _writable_template(uow, template_id)
        versions = uow.templates.versions_of(template_id, for_update=True)
        if named_version is not None:
            targets = [v for v in versions if v.template_version_id == named_version.template_version_id]
        else:
            targets = [v for v in versions if v.status is VersionStatus.PUBLISHED]
        changed = template.archive(targets, now, archived_by=event_actor(cmd.archived_by))
        for version in changed:
            uow.templates.save_version_status(version)
        if changed:
            uow.audit.append(
                tenant_id=cmd.tenant_id, actor=cmd.archived_by, action="template.archive",
                target_type="template_version" if named_version is not None else "template",
                target_id=cmd.target_id,
                details={"template_id": template_id,
                         "template_version_ids": [v.template_version_id for v in changed],
                         **({"reason": cmd.reason} if cmd.reason else {})})
        uow.commit()
        detail = TemplateDetail(template, tuple(v.summary() for v in versions
                                                if v.status is not VersionStatus.DRAFT))
        return ArchiveOutcome(detail, tuple(v.template_version_id for v in changed))


# --- reads -----------------------------------------------------------------------


def list_templates(tenant_id: str, deps: Dependencies, *, category: str | None = None,
                   include_archived: bool = False) -> list[TemplateDetail]:
    """Platform-shared templates and the tenant's own, each with its versions; archived ones only on request
    (a template whose versions are all archived is then history and listed only with include_archived)."""
    statuses = ("published", "archived") if include_archived else ("published",)
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        templates = uow.templates.list_visible(category=category)
        summaries = uow.templates.version_summaries([t.template_id for t in templates], statuses=statuses)
    by_template: dict[str, list[TemplateVersionSummary]] = {}
    for summary in summaries:
        by_template.setdefault(summary.template_id, []).append(summary)
    return [TemplateDetail(t, tuple(by_template[t.template_id])) for t in templates if t.template_id in by_template]


def get_template(tenant_id: str, template_id: str, deps: Dependencies) -> TemplateDetail:
    """One visible template with every published and archived version (archived ones kept as history)."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        template = uow.templates.get(template_id)
        if template is None:
            raise NotFound("template not found")
        return TemplateDetail(template, tuple(uow.templates.version_summaries([template_id])))


def get_template_version(tenant_id: str, template_id: str, template_version_id: str,
                         deps: Dependencies) -> TemplateVersion:
    """One visible version with its content (layout, dataset SQL, params schema)."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        version = uow.templates.get_version(template_version_id)
        if version is None or version.template_id != template_id or version.status is VersionStatus.DRAFT:
            raise NotFound("template version not found")
        return version
