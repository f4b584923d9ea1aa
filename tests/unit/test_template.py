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


def test_tenant_importing_from_another_residency_is_allowed() -> None:
    tenant(residency=Residency.KSA, status=TenantStatus.IMPORTING).check_may_write(Residency.AF)


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
