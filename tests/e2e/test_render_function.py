"""The render Cloud Function's own entry point, configured from the environment as in the cloud."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from reporting import bootstrap
from reporting.adapters.postgres.connection import local_connection_factory
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.config import Settings
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, generate, load_into
from reporting.domain.report_run import RunState
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.ports import business_yesterday
from reporting.service_layer.report_runs import request_report_run
from reporting.service_layer.tenants import sync_property, sync_tenant
from tests.e2e.helpers import load_function
from tests.integration.helpers import requested_cloud_event

pytestmark = pytest.mark.e2e


def test_render_function_renders_a_run_from_a_pubsub_cloud_event(migrated, tmp_path, monkeypatch):
    env = {
        "REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated.app.url(),
        "REPORTING_ARTIFACT_DIR": str(tmp_path / "artifacts"), "REPORTING_DEAD_LETTER_DIR": str(tmp_path / "dlq"),
        "REPORTING_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = dataclasses.replace(DEMO_HOTELS[0], tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
    setup = bootstrap.Services(Settings.from_env(env), conn_factory=local_connection_factory(migrated.app))
    yesterday = business_yesterday(setup.clock.now(), spec.timezone)
    with DuckDBWarehouse(tmp_path / "warehouse.duckdb") as warehouse:
        load_into(warehouse, generate(spec, yesterday - timedelta(days=2), yesterday))
    sync_tenant(Tenant(spec.tenant_id, "E2E group", Residency.AF, "local-af", features={"reporting_v1": True}),
                setup.deps)
    sync_property(Property(spec.property_id, spec.tenant_id, spec.name, spec.timezone, spec.currency, spec.country,
                           "en", spec.room_count), setup.deps)
    run = request_report_run(RequestReportRun(tenant_id=spec.tenant_id, property_id=spec.property_id,
                                              requested_by="scheduler", template_key="daily_occupancy",
                                              idempotency_key="e2e", formats=("pdf",)), setup.deps).run
    event = requested_cloud_event(setup, spec.tenant_id, run.run_id)

    monkeypatch.setattr(bootstrap, "_services", None)  # a cold instance: built from the environment
    render = load_function("render").render
    render(event)
    render(event)  # Pub/Sub redelivers: nothing changes

    with setup.uow(spec.tenant_id) as uow:
        done = uow.runs.get(run.run_id)
        artifacts = uow.artifacts.for_run(run.run_id)
    assert done.state is RunState.SUCCEEDED and len(artifacts) == 1
    pdf = Path(artifacts[0].object_uri.removeprefix("file://"))
    assert pdf.read_bytes().startswith(b"%PDF-") and str(pdf).startswith(str(tmp_path / "artifacts"))
    assert artifacts[0].region == "local-af"
    bootstrap._services.close()
    setup.close()
