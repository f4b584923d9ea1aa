"""Benchmark: the backfill job's runs requested per second vs. a raw COPY of the same rows, measured in the same run.

    .venv/bin/python bench/backfill.py [--tenants 1000] [--days 90]

Backfill = plan_backfill + run_backfill as the job runs them (reporting_app under RLS,
one tenant-scoped transaction per chunk, runs + their outbox events, skipping dates
already present). Baseline = the rows that backfill wrote (report_runs and outbox),
exported and COPYed back into the same, emptied, tables by the superuser (no RLS, no
checks): the fastest Postgres can take those rows. Target: backfill ≥ 0.3 of the COPY rate.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pg8000.native  # noqa: E402

from reporting.adapters.postgres.connection import local_connection_factory  # noqa: E402
from reporting.bootstrap import Services  # noqa: E402
from reporting.catalog.platform import platform_templates  # noqa: E402
from reporting.config import Settings  # noqa: E402
from reporting.devenv import postgres as pg  # noqa: E402
from reporting.domain.tenant import Property, Residency, Tenant  # noqa: E402
from reporting.entrypoints.progress import ProgressReporter  # noqa: E402
from reporting.service_layer.backfill import BackfillRequest, plan_backfill, run_backfill  # noqa: E402
from reporting.service_layer.tenants import sync_property, sync_tenant  # noqa: E402

TABLES = ("reporting.report_runs", "reporting.outbox")


def native(info) -> pg8000.native.Connection:
    return pg8000.native.Connection(user=info.user, host=info.host, port=info.port, database=info.database,
                                    password=info.password, unix_sock=info.unix_sock)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    scratch = pg.scratch_database("bench-backfill-")
    work, server, app = scratch.work, scratch.server, scratch.app
    try:
        settings = Settings.from_env({"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
                                      "REPORTING_ARTIFACT_DIR": str(work / "artifacts"),
                                      "REPORTING_DEAD_LETTER_DIR": str(work / "dlq"), "LOG_LEVEL": "WARNING"})
        services = Services(settings, conn_factory=local_connection_factory(app))
        started = time.perf_counter()
        tenant_ids = []
        for n in range(args.tenants):
            tenant_id, property_id = str(uuid.uuid4()), str(uuid.uuid4())
            sync_tenant(Tenant(tenant_id, f"bench {n}", Residency.AF, "local-af", features={"reporting_v1": True}),
                        services.deps)
            sync_property(Property(property_id, tenant_id, f"Hotel {n}", "Asia/Kabul", "AFN", "AF", "en", 40),
                          services.deps)
            tenant_ids.append(tenant_id)
        setup_s = time.perf_counter() - started

        started = time.perf_counter()
        plan = plan_backfill(BackfillRequest(days=args.days), services.deps)
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        report = run_backfill(plan, services.deps, ProgressReporter("backfill", interval=10.0))
        backfill_s = time.perf_counter() - started
        services.close()
        assert report.requested == plan.total == args.tenants * args.days * len(list(platform_templates())), report

        admin = native(server.admin.with_database(scratch.name))
        dumps = {}
        for table in TABLES:
            out = io.BytesIO()
            admin.run(f"COPY {table} TO STDOUT", stream=out)
            dumps[table] = out.getvalue()
        admin.run("TRUNCATE reporting.outbox, reporting.report_runs CASCADE")
        started = time.perf_counter()
        admin.run("START TRANSACTION")
        for table in TABLES:
            admin.run(f"COPY {table} FROM STDIN", stream=io.BytesIO(dumps[table]))
        admin.run("COMMIT")
        copy_s = time.perf_counter() - started
        admin.close()

        runs = report.requested
        print(f"backfill: {args.tenants} tenants x {args.days} days x {len(list(platform_templates()))} templates "
              f"= {runs:,} runs (+ {runs:,} outbox events); local Postgres; setup {setup_s:.1f} s, plan {plan_s:.1f} s")
        print(f"{'':34}{'seconds':>9}{'runs/s':>10}")
        print(f"{'COPY of the same rows (baseline)':34}{copy_s:>9.1f}{runs / copy_s:>10,.0f}")
        print(f"{'backfill job (plan + request)':34}{plan_s + backfill_s:>9.1f}{runs / (plan_s + backfill_s):>10,.0f}")
        print(f"ratio backfill/COPY: {(copy_s / (plan_s + backfill_s)):.2f} (target >= 0.3)")
    finally:
        scratch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
