"""TemplateVersion (snapshot hash, publish, use for new runs) and the Tenant write gate (plan §1.2, SPEC §4)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from reporting.domain.errors import (AuthzDenied, IllegalStateTransition, ResidencyMismatch, TemplateVersionArchived,
                                     TenantLocked, ValidationFailed)
from reporting.domain.template import TemplateVersion, VersionStatus, snapshot_hash
from reporting.domain.tenant import Residency, Tenant, TenantStatus
from reporting.events.catalog import validate_or_throw

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
LAYOUT = "<h1>{{ property.name }}</h1>"
DATASET = "SELECT 1 AS x WHERE @tenant_id IS NOT NULL"
PARAMS = {"type": "object", "properties": {"floor": {"type": "integer"}}, "additionalProperties": False}
CATALOG = "c" * 64


def version(status: VersionStatus = VersionStatus.DRAFT, **overrides: Any) -> TemplateVersion:
    fields: dict[str, Any] = dict(
        template_version_id=str(uuid.uuid4()), template_id=str(uuid.uuid4()), tenant_id=str(uuid.uuid4()),
        version=1, status=status, layout=LAYOUT, dataset_sql=DATASET, params_schema=PARAMS, formats=["pdf"],
        locales=["en"], retention_class="operational", catalog_hash=CATALOG, template_key="night_audit",
    )
    fields.update(overrides)
    return TemplateVersion(**fields)


# --- snapshot hash -----------------------------------------------------------


def test_snapshot_hash_is_deterministic_sha256_hex() -> None:
    first = snapshot_hash(LAYOUT, DATASET, PARAMS, CATALOG)
    assert first == snapshot_hash(LAYOUT, DATASET, dict(reversed(list(PARAMS.items()))), CATALOG)
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")


@pytest.mark.parametrize("changed", [
    {"layout": LAYOUT + " "},
    {"dataset_sql": DATASET.replace("1", "2")},
    {"params_schema": {**PARAMS, "required": ["floor"]}},
    {"params_schema": {**PARAMS, "properties": {"floor": {"type": "string"}}}},
    {"catalog_hash": "d" * 64},
])
def test_snapshot_hash_changes_when_any_input_changes(changed: dict[str, Any]) -> None:
    base = {"layout": LAYOUT, "dataset_sql": DATASET, "params_schema": PARAMS, "catalog_hash": CATALOG}
    assert snapshot_hash(**base) != snapshot_hash(**{**base, **changed})


def test_snapshot_hash_does_not_confuse_fields() -> None:
    """Moving text from the layout into the dataset must not give the same hash (no plain concatenation)."""
    assert snapshot_hash("ab", "c", {}, CATALOG) != snapshot_hash("a", "bc", {}, CATALOG)


def test_new_version_computes_its_snapshot_hash() -> None:
    assert version().snapshot_hash == snapshot_hash(LAYOUT, DATASET, PARAMS, CATALOG)


def test_version_loaded_with_its_correct_stored_hash_is_accepted() -> None:
    stored = snapshot_hash(LAYOUT, DATASET, PARAMS, CATALOG)
    assert version(VersionStatus.PUBLISHED, snapshot_hash=stored).snapshot_hash == stored


def test_version_loaded_with_a_wrong_stored_hash_raises() -> None:
    with pytest.raises(ValueError, match="snapshot hash mismatch"):
        version(VersionStatus.PUBLISHED, snapshot_hash="0" * 64)


def test_version_whose_layout_was_edited_after_hashing_raises() -> None:
    stored = snapshot_hash(LAYOUT, DATASET, PARAMS, CATALOG)
    with pytest.raises(ValueError, match="snapshot hash mismatch"):
        version(VersionStatus.PUBLISHED, snapshot_hash=stored, layout=LAYOUT + "<!-- tampered -->")


@pytest.mark.parametrize("formats", [[], ["docx"], ["pdf", "xlsx"]])
def test_version_with_unknown_or_no_format_is_refused(formats: list[str]) -> None:
    with pytest.raises(ValidationFailed, match="format"):
        version(formats=formats)


def test_version_with_unknown_retention_class_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="retention"):
        version(retention_class="forever")


# --- publish / use for new runs ----------------------------------------------


def test_publishing_a_draft_publishes_and_emits_a_valid_event() -> None:
    v = version()
    v.publish(NOW)
    assert v.status is VersionStatus.PUBLISHED
    assert v.published_at == NOW
    [event] = v.events
    assert event.subject == "template.published.v1"
    assert event.aggregate_id == v.template_version_id
    assert event.data["snapshot_hash"] == v.snapshot_hash
    validate_or_throw({
        "event_id": str(uuid.uuid4()), "subject": "template.published", "version": 1,
        "occurred_at": NOW.isoformat(), "tenant_id": v.tenant_id, "residency": "KSA",
        "correlation_id": str(uuid.uuid4()), "causation_id": None, "aggregate_id": event.aggregate_id,
        "data": event.data,
    })


@pytest.mark.parametrize("status", [VersionStatus.PUBLISHED, VersionStatus.ARCHIVED])
def test_publish_is_refused_unless_draft(status: VersionStatus) -> None:
    v = version(status)
    with pytest.raises(IllegalStateTransition):
        v.publish(NOW)
    assert v.status is status
    assert v.events == []
    assert v.published_at is None


def test_published_version_is_usable_for_new_runs() -> None:
    version(VersionStatus.PUBLISHED).check_usable_for_new_run()


def test_archived_version_is_refused_for_new_runs() -> None:
    v = version(VersionStatus.ARCHIVED)
    with pytest.raises(TemplateVersionArchived) as err:
        v.check_usable_for_new_run()
    assert err.value.http_status == 409
    assert err.value.details["template_version_id"] == v.template_version_id


def test_draft_version_is_refused_for_new_runs() -> None:
    with pytest.raises(ValidationFailed, match="not published"):
        version(VersionStatus.DRAFT).check_usable_for_new_run()


# --- Tenant.check_may_write ----------------------------------------------------


def tenant(*, flag: bool = True, residency: Residency = Residency.AF,
           status: TenantStatus = TenantStatus.ACTIVE, **kw: Any) -> Tenant:
    return Tenant(tenant_id=str(uuid.uuid4()), name="Hotel group", residency=residency,
                  stored_region="local-" + residency.value.lower(), features={"reporting_v1": flag}, status=status,
                  **kw)


def test_active_tenant_of_this_residency_with_flag_may_write() -> None:
    tenant().check_may_write(Residency.AF)


@pytest.mark.parametrize(("residency", "status"), [
    (Residency.AF, TenantStatus.ACTIVE),
    (Residency.AF, TenantStatus.LOCKED_READONLY),
    (Residency.KSA, TenantStatus.ACTIVE),
    (Residency.KSA, TenantStatus.LOCKED_READONLY),
    (Residency.AF, TenantStatus.MOVED),
])
def test_flag_off_is_denied_before_residency_or_lock_checks(residency: Residency, status: TenantStatus) -> None:
    with pytest.raises(AuthzDenied) as err:
        tenant(flag=False, residency=residency, status=status).check_may_write(Residency.AF)
    assert err.value.code == "MELMASTOON.IAM.AUTHZ_DENIED"
    assert err.value.http_status == 403


def test_tenant_without_any_flag_entry_is_denied() -> None:
    t = Tenant(tenant_id=str(uuid.uuid4()), name="x", residency=Residency.IN, stored_region="asia-south1")
    with pytest.raises(AuthzDenied):
        t.check_may_write(Residency.IN)


@pytest.mark.parametrize("home", [Residency.IN, Residency.KSA])
def test_tenant_of_another_residency_is_refused(home: Residency) -> None:
    with pytest.raises(ResidencyMismatch) as err:
        tenant(residency=home).check_may_write(Residency.AF)
    assert err.value.code == "MELMASTOON.REPORTING.RESIDENCY_MISMATCH"


def test_tenant_importing_from_another_residency_is_served_here_but_read_only() -> None:
    importing = tenant(residency=Residency.KSA, status=TenantStatus.IMPORTING)
    importing.check_served_by(Residency.AF)  # the one exception to "homed elsewhere"
    with pytest.raises(TenantLocked):  # the source stays authoritative until region_changed
        importing.check_may_write(Residency.AF)


def test_locked_readonly_tenant_cannot_write() -> None:
    with pytest.raises(TenantLocked) as err:
        tenant(status=TenantStatus.LOCKED_READONLY).check_may_write(Residency.AF)
    assert err.value.http_status == 423
    assert err.value.code == "MELMASTOON.REPORTING.TENANT_LOCKED"


def test_locked_tenant_of_another_residency_gets_residency_mismatch_not_lock() -> None:
    with pytest.raises(ResidencyMismatch):
        tenant(residency=Residency.IN, status=TenantStatus.LOCKED_READONLY).check_may_write(Residency.AF)


def test_moved_tenant_is_refused_with_residency_mismatch_naming_the_target() -> None:
    t = tenant(residency=Residency.AF, status=TenantStatus.MOVED, moved_to_residency=Residency.KSA)
    with pytest.raises(ResidencyMismatch) as err:
        t.check_may_write(Residency.AF)
    assert err.value.details["moved_to"] == "KSA"


# --- archive (plan §7) ------------------------------------------------------------

from types import SimpleNamespace  # noqa: E402

from reporting.domain.errors import PayloadTooLarge  # noqa: E402
from reporting.domain.template import Template, TemplateCategory  # noqa: E402
from reporting.domain.tenant import Property  # noqa: E402


def template(tenant_id: str | None = "t", **kw: Any) -> Template:
    return Template(template_id=str(uuid.uuid4()), tenant_id=str(uuid.uuid4()) if tenant_id == "t" else tenant_id,
                    key="night_audit", category=TemplateCategory.OPERATIONAL, name="Night audit", **kw)


def versions_of(t: Template, *statuses: VersionStatus) -> list[TemplateVersion]:
    return [version(s, template_id=t.template_id, tenant_id=t.tenant_id, version=i + 1,
                    published_at=None if s is VersionStatus.DRAFT else NOW,
                    archived_at=NOW if s is VersionStatus.ARCHIVED else None)
            for i, s in enumerate(statuses)]


def archived_envelope(t: Template, data: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "subject": "template.archived", "version": 1,
            "occurred_at": NOW.isoformat(), "tenant_id": t.tenant_id, "residency": "AF",
            "correlation_id": str(uuid.uuid4()), "causation_id": None, "aggregate_id": t.template_id, "data": data}


def test_archiving_a_published_version_archives_it_and_keeps_it() -> None:
    v = version(VersionStatus.PUBLISHED, published_at=NOW)
    assert v.archive(NOW) is True
    assert v.status is VersionStatus.ARCHIVED and v.archived_at == NOW and v.published_at == NOW
    assert v.archive(NOW.replace(hour=9)) is False  # idempotent: the first archive time stays
    assert v.archived_at == NOW


def test_a_draft_cannot_be_archived() -> None:
    with pytest.raises(IllegalStateTransition):
        version(VersionStatus.DRAFT).archive(NOW)


def test_archiving_versions_records_one_valid_event_naming_each_changed_version() -> None:
    t = template()
    vs = versions_of(t, VersionStatus.PUBLISHED, VersionStatus.ARCHIVED, VersionStatus.PUBLISHED)
    changed = t.archive(vs, NOW, archived_by="user:dev-user")
    assert changed == [vs[0], vs[2]]
    assert all(v.status is VersionStatus.ARCHIVED for v in vs)
    [event] = t.events
    assert event.subject == "template.archived.v1" and event.aggregate_id == t.template_id
    assert event.data == {"template_id": t.template_id, "archived_by": "user:dev-user",
                          "template_version_ids": [vs[0].template_version_id, vs[2].template_version_id]}
    validate_or_throw(archived_envelope(t, event.data))
    assert all(v.events == [] for v in vs)  # the template carries the one event, not each version


def test_archiving_again_records_nothing() -> None:
    t = template()
    vs = versions_of(t, VersionStatus.PUBLISHED)
    t.archive(vs, NOW, archived_by="user:a")
    t.events.clear()
    assert t.archive(vs, NOW, archived_by="user:a") == []
    assert t.events == []


def test_a_tenant_cannot_archive_a_platform_template() -> None:
    t = template(tenant_id=None)
    vs = versions_of(t, VersionStatus.PUBLISHED)
    with pytest.raises(AuthzDenied):
        t.archive(vs, NOW, archived_by="user:a")
    assert vs[0].status is VersionStatus.PUBLISHED and t.events == []


def test_versions_of_another_template_are_refused() -> None:
    t = template()
    stranger = versions_of(template(), VersionStatus.PUBLISHED)
    with pytest.raises(ValueError, match="do not belong"):
        t.archive(stranger, NOW, archived_by="user:a")
    assert stranger[0].status is VersionStatus.PUBLISHED


def test_an_archived_version_is_refused_for_new_runs_once_archived() -> None:
    t = template()
    [v] = versions_of(t, VersionStatus.PUBLISHED)
    v.check_usable_for_new_run()
    t.archive([v], NOW, archived_by="user:a")
    with pytest.raises(TemplateVersionArchived):
        v.check_usable_for_new_run()


# --- the template service's checks ------------------------------------------------

from reporting.adapters.renderers.document import DocumentRenderer  # noqa: E402
from reporting.service_layer import templates as uc  # noqa: E402
from reporting.service_layer.dependencies import Dependencies  # noqa: E402
from reporting.service_layer.render_report_run import dataset_params  # noqa: E402
from tests.fakes import MutableClock  # noqa: E402
import functools  # noqa: E402

from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse  # noqa: E402

SCOPED = "SELECT @run_date AS d FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id"


@functools.cache
def local_warehouse() -> DuckDBWarehouse:
    """The local warehouse checks datasets at publish time (in memory; nothing is queried here)."""
    return DuckDBWarehouse(None)


def deps() -> Dependencies:
    return Dependencies(uow=lambda *a, **k: None, clock=MutableClock(), residency=Residency.AF,  # type: ignore[arg-type]
                        warehouse=local_warehouse, renderer=lambda: DocumentRenderer(),  # type: ignore[arg-type,return-value]
                        artifact_store=lambda: None)  # type: ignore[arg-type,return-value]


def content(**kw: Any) -> uc.TemplateContent:
    fields: dict[str, Any] = dict(layout=LAYOUT, dataset_sql=SCOPED, params_schema={"type": "object"},
                                  formats=("pdf",), locales=("en",), retention_class="operational")
    fields.update(kw)
    return uc.TemplateContent(**fields)


def test_the_system_parameters_are_what_the_render_use_case_binds() -> None:
    run = SimpleNamespace(params={}, tenant_id="t", property_id="p", run_date=NOW.date())
    prop = Property(property_id="p", tenant_id="t", name="H", timezone="Asia/Kabul", currency="AFN", country="AF",
                    locale="en", room_count=10)
    assert set(dataset_params(run, prop)) == uc.SYSTEM_DATASET_PARAMETERS  # type: ignore[arg-type]


def test_good_content_passes() -> None:
    uc.check_template_content(content(), deps())
    uc.check_template_content(content(
        dataset_sql=SCOPED + " AND floor = @floor",
        params_schema={"type": "object", "required": ["floor"], "properties": {"floor": {"type": "integer"}},
                       "$defs": {"n": {"type": "integer"}}, "additionalProperties": {"$ref": "#/$defs/n"}},
        locales=("en", "ps", "fa-AF", "ar", "hi"), formats=("pdf", "csv", "html")), deps())


@pytest.mark.parametrize("field, text, limit", [
    ("layout", "x" * (256 * 1024 + 1), uc.MAX_LAYOUT_BYTES),
    ("layout", "ب" * (128 * 1024 + 1), uc.MAX_LAYOUT_BYTES),  # bytes, not characters
    ("dataset_sql", SCOPED + " " * (64 * 1024), uc.MAX_DATASET_SQL_BYTES),
])
def test_oversized_content_is_refused_before_it_is_parsed(field: str, text: str, limit: int) -> None:
    with pytest.raises(PayloadTooLarge) as err:
        uc.check_template_content(content(**{field: text}), deps())
    assert err.value.details["field"] == field and err.value.details["limit_bytes"] == limit


def test_an_oversized_params_schema_is_refused() -> None:
    schema = {"type": "object", "description": "x" * (32 * 1024)}
    with pytest.raises(PayloadTooLarge):
        uc.check_template_content(content(params_schema=schema), deps())


@pytest.mark.parametrize("layout", ["{% if %}", "{{ rows | no_such_filter }}", "{% for r in rows %}", "   "])
def test_a_layout_that_does_not_compile_is_refused(layout: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        uc.check_template_content(content(layout=layout), deps())
    assert err.value.details["field"] == "layout"


@pytest.mark.parametrize("sql, why", [
    ("SELEC 1 FROM", "parse"),
    ("DELETE FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id", "query"),
    ("SELECT 1 AS x; SELECT 2 AS y", "one statement"),
    ("SELECT 1 AS x FROM dw.rooms WHERE tenant_id = @tenant_id", "property_id"),
    ("SELECT 1 AS x FROM dw.rooms WHERE tenant_id = ? AND property_id = @property_id", "positional"),
    (SCOPED + " AND floor = @floor", "neither bound"),
])
def test_dataset_sql_must_be_one_scoped_bigquery_query_with_allowed_parameters(sql: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        uc.check_template_content(content(dataset_sql=sql), deps())
    assert err.value.details["field"] == "dataset_sql"
    assert why in err.value.message or why in str(err.value.details), err.value.message


def test_a_dataset_parameter_the_schema_does_not_require_is_refused() -> None:
    """A run that omitted an optional parameter would fail at render time: refuse it at publish time."""
    optional = {"type": "object", "properties": {"floor": {"type": "integer"}}}
    with pytest.raises(ValidationFailed, match="neither bound"):
        uc.check_template_content(content(dataset_sql=SCOPED + " AND floor = @floor", params_schema=optional),
                                  deps())


@pytest.mark.parametrize("schema, why", [
    ({"type": "object", "properties": {"floor": {"type": 5}}}, "valid JSON Schema"),
    ({"type": "string"}, "object"),
    ({}, "object"),
    ({"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}}, "local \\$ref"),
    ({"type": "object", "properties": {"tenant_id": {"type": "string"}}}, "bound by the service"),
    ({"type": "object", "required": "floor"}, "valid JSON Schema"),
    ({"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}}, "points at nothing"),
    ({"type": "object", "properties": {"x": {"$ref": "#node"}}, "$defs": {"n": {"$anchor": "node"}}}, "local \\$ref"),
    ({"type": "object", "$id": "https://example.com/base.json"}, "no \\$id"),
])
def test_params_schema_must_itself_be_a_valid_json_schema_for_run_parameters(schema: dict[str, Any],
                                                                              why: str) -> None:
    with pytest.raises(ValidationFailed, match=why) as err:
        uc.check_template_content(content(params_schema=schema), deps())
    assert err.value.details["field"] == "params_schema"


@pytest.mark.parametrize("changed, field", [
    ({"retention_class": "regulatory-ksa-vat"}, "retention_class"),
    ({"locales": ("en", "de")}, "locales"),
    ({"locales": ()}, "locales"),
    ({"formats": ("pdf", "pdf")}, "formats"),
    ({"formats": ("docx",)}, "formats"),
])
def test_tenant_versions_use_known_formats_locales_and_the_operational_retention(changed: dict[str, Any],
                                                                                field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        uc.check_template_content(content(**changed), deps())
    assert err.value.details["field"] == field


@pytest.mark.parametrize("subject, expected", [
    ("dev-user", "user:dev-user"),
    ("7c1e0d2a-5b3f-4e69-a8d4-0f2b6c9e3a15", "user:7c1e0d2a-5b3f-4e69-a8d4-0f2b6c9e3a15"),
])
def test_event_actor_keeps_opaque_subjects(subject: str, expected: str) -> None:
    assert uc.event_actor(subject) == expected


@pytest.mark.parametrize("subject", ["ana.karimi@hotel.af", "Ana Karimi", "x" * 300])
def test_event_actor_pseudonymises_subjects_that_could_be_personal_or_do_not_fit(subject: str) -> None:
    actor = uc.event_actor(subject)
    assert actor.startswith("user-sha256:") and subject not in actor
    assert actor == uc.event_actor(subject)  # stable
    t = template()
    validate_or_throw(archived_envelope(t, {"template_id": t.template_id, "archived_by": actor,
                                            "template_version_ids": [str(uuid.uuid4())]}))
