"""Benchmark: one daily-occupancy run end to end vs. the bare PDF render it contains, measured in the same run.

    .venv/bin/python bench/pipeline.py [--runs 30]

Pipeline = request use case (Postgres, RLS, outbox) + consume("render") (inbox,
DuckDB dataset, Jinja2, xhtml2pdf, put_once, completion). Baseline = xhtml2pdf
rendering the same HTML alone. The ratio is the pipeline's own overhead.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.adapters.postgres.connection import local_connection_factory  # noqa: E402
from reporting.adapters.renderers.document import DocumentRenderer  # noqa: E402
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse  # noqa: E402
from reporting.bootstrap import Services  # noqa: E402
from reporting.config import Settings  # noqa: E402
from reporting.devenv import postgres as pg  # noqa: E402
from reporting.devenv.synthetic_hotels import DEMO_HOTELS, generate, load_into  # noqa: E402
from reporting.domain.tenant import Property, Residency, Tenant  # noqa: E402
from reporting.entrypoints.consumers import consume  # noqa: E402
from reporting.service_layer.commands import RequestReportRun  # noqa: E402
from reporting.service_layer.ports import business_yesterday  # noqa: E402
from reporting.service_layer.report_runs import request_report_run  # noqa: E402
from reporting.service_layer.tenants import sync_property, sync_tenant  # noqa: E402
from tests.integration.helpers import requested_cloud_event  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    scratch = pg.scratch_database("bench-pipeline-")
    work, server, app = scratch.work, scratch.server, scratch.app
    try:
        settings = Settings.from_env({"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
                                      "REPORTING_ARTIFACT_DIR": str(work / "artifacts"),
                                      "REPORTING_DEAD_LETTER_DIR": str(work / "dlq")})
        warehouse = DuckDBWarehouse(None)
        services = Services(settings, conn_factory=local_connection_factory(app), warehouse=warehouse)
        spec = dataclasses.replace(DEMO_HOTELS[0], tenant_id=str(uuid.uuid4()), property_id=str(uuid.uuid4()))
        yesterday = business_yesterday(services.clock.now(), spec.timezone)
        load_into(warehouse, generate(spec, yesterday - timedelta(days=89), yesterday))
        sync_tenant(Tenant(spec.tenant_id, "bench", Residency.AF, "local-af", features={"reporting_v1": True}),
                    services.deps)
        sync_property(Property(spec.property_id, spec.tenant_id, spec.name, spec.timezone, spec.currency,
                               spec.country, "en", spec.room_count), services.deps)

        pipeline, html = [], None
        for i in range(args.runs + 3):
            day = yesterday - timedelta(days=i % 60)
            t0 = time.perf_counter()
            run = request_report_run(RequestReportRun(
                tenant_id=spec.tenant_id, property_id=spec.property_id, requested_by="bench",
                template_key="daily_occupancy", run_date=day, idempotency_key=f"b{i}", formats=("pdf",)),
                services.deps).run
            consume("render", requested_cloud_event(services, spec.tenant_id, run.run_id), services)
            if i >= 3:  # warm-up: imports, first connections, compiled templates
                pipeline.append((time.perf_counter() - t0) * 1000)
        # Baseline: the same document's HTML straight through xhtml2pdf.
        renderer = DocumentRenderer()
        from reporting.service_layer.ports import RenderRequest
        from reporting.service_layer.render_report_run import dataset_params, render_context

        with services.uow(spec.tenant_id) as uow:
            run_obj = uow.runs.get(run.run_id)
            version = uow.templates.get_version(run_obj.template_version_id)
            prop = uow.properties.get(spec.property_id)
        rows = warehouse.query(version.dataset_sql, dataset_params(run_obj, prop))
        html = renderer.html(RenderRequest(version.layout, "pdf", "en", rows,
                                           render_context(run_obj, version, prop, services.clock.now())))
        from xhtml2pdf import pisa

        baseline = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            pisa.CreatePDF(html, dest=io.BytesIO())
            baseline.append((time.perf_counter() - t0) * 1000)
        services.close()
    finally:
        scratch.close()

    p50, p99 = statistics.median(pipeline), pct(pipeline, 0.99)
    b50, b99 = statistics.median(baseline), pct(baseline, 0.99)
    print(f"runs: {args.runs} (after 3 warm-up), daily_occupancy, pdf only, Postgres {server.origin}")
    print(f"{'':<34}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'pipeline (request + render)':<34}{p50:>10.1f}{p99:>10.1f}")
    print(f"{'baseline (xhtml2pdf alone)':<34}{b50:>10.1f}{b99:>10.1f}")
    print(f"ratio pipeline/baseline p50: {p50 / b50:.2f}x; overhead {p50 - b50:.1f} ms "
          f"({(p50 - b50) / p50:.0%} of a run)")
    print(f"throughput: {1000 / p50:.1f} runs/s on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
