"""`reporting backfill`: the backfill job's command (local terminal or Cloud Run Job task)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from reporting.domain.errors import DomainError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", action="append", default=[], metavar="TENANT_ID",
                        help="a tenant to backfill (repeat); default: every active tenant served here")
    parser.add_argument("--template", action="append", default=[], metavar="KEY",
                        help="a template key (repeat); default: every published template each tenant sees")
    dates = parser.add_mutually_exclusive_group(required=True)
    dates.add_argument("--days", type=int, help="this many business dates, ending yesterday (at most 90)")
    dates.add_argument("--from", dest="start", type=date.fromisoformat, help="first business date (YYYY-MM-DD)")
    parser.add_argument("--to", dest="end", type=date.fromisoformat,
                        help="last business date with --from (default: yesterday in each property's timezone)")
    parser.add_argument("--shard", metavar="INDEX/COUNT",
                        help="this task's share (default: CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT, else 0/1)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the warehouse estimate; write nothing")


def run(args: argparse.Namespace) -> int:
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.entrypoints.progress import ProgressReporter
    from reporting.logs import configure, get_logger
    from reporting.service_layer.backfill import BackfillRequest, plan_backfill, run_backfill

    configure()
    log = get_logger("reporting.jobs.backfill")
    if args.end and not args.start:
        print("reporting backfill: --to needs --from", file=sys.stderr)
        return 2
    from reporting.domain.shard import Shard

    try:
        shard = Shard.parse(args.shard) if args.shard else Shard.from_env()
    except ValueError as refused:
        print(f"reporting backfill: {refused}", file=sys.stderr)
        return 2
    services = Services(Settings.from_env())
    try:
        request = BackfillRequest(tenant_ids=tuple(args.tenant), template_keys=tuple(args.template),
                                  start=args.start, end=args.end, days=args.days, shard=shard)
        try:
            plan = plan_backfill(request, services.deps)
        except DomainError as refused:
            print(f"reporting backfill: {refused.message}", file=sys.stderr)
            return 2
        for skipped in plan.skipped:
            log.warning("backfill skips", extra={"skipped": skipped})
        if args.dry_run:
            print(json.dumps(_dry_run(plan, services), indent=2, default=str))
            return 0
        report = run_backfill(plan, services.deps, ProgressReporter("backfill"))
    finally:
        services.close()
    print(json.dumps({"requested": report.requested, "already_present": report.already_present,
                      "candidates": report.candidates, "total": report.total, "tenants": report.tenants,
                      "failed_chunks": len(report.errors)}), file=sys.stdout)
    if report.requested:
        print("the runs' events are in the outbox: the outbox sweeper publishes them "
              "(locally: `reporting outbox sweep` renders them through the local bus)", file=sys.stderr)
    return 1 if report.errors else 0


def _dry_run(plan: Any, services: Any) -> dict[str, Any]:
    from reporting.service_layer.backfill import count_already_present, estimate_bytes

    present = count_already_present(plan, services.deps)
    by_template: dict[str, int] = {}
    for item in plan.items:
        by_template[item.template_key] = by_template.get(item.template_key, 0) + item.dates
    return {"tenants": len({i.tenant_id for i in plan.items}), "properties": len({i.item.property_id for i in plan.items}),
            "runs_by_template": by_template, "candidate_runs": plan.total, "already_present": present,
            "to_request": plan.total - present, "skipped": plan.skipped,
            "warehouse_bytes_estimate": estimate_bytes(plan, services.deps)}
