"""`reporting residency …`: the steps of a residency move, run by an operator (runbook) or as Cloud Run Jobs."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reporting.domain.errors import DomainError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    steps = parser.add_subparsers(dest="residency_command", required=True)

    def step(name: str, help_: str, *, move: bool = True, tenant: bool = True, transfer: bool = False) -> Any:
        p = steps.add_parser(name, help=help_)
        if tenant:
            p.add_argument("--tenant", required=True, metavar="TENANT_ID")
        if move:
            p.add_argument("--move", required=name != "lock", metavar="MOVE_ID",
                           help="the move's id (printed by `lock`)" if name != "lock" else "reuse an id (a rerun)")
        if transfer:
            p.add_argument("--transfer", metavar="DIR",
                           help="the transfer area (default: REPORTING_TRANSFER_DIR, else <home>/transfer)")
        p.set_defaults(func=run, step=name)
        return p

    lock = step("lock", "source: lock the tenant read-only and start a move")
    lock.add_argument("--to", required=True, choices=["AF", "IN", "KSA"], help="the target residency")
    step("export", "source: rows, operational files and the manifest to the transfer area", transfer=True)
    imp = step("import", "target: verify the transfer and import the tenant as `importing`", tenant=False,
               transfer=True)
    imp.add_argument("--region", help="this deployment's region (default: REPORTING_REGION)")
    step("abort", "source: give up a move that has not completed (unlocks the tenant)")
    step("status", "this deployment's record of the move")
    announce = step("announce", "local runs only: deliver tenant.region_changed.v1 here as tenant-service would")
    announce.add_argument("--from", dest="from_residency", required=True, choices=["AF", "IN", "KSA"])
    announce.add_argument("--to", dest="to_residency", required=True, choices=["AF", "IN", "KSA"])
    announce.add_argument("--to-region", required=True)


def _transfer(args: argparse.Namespace, settings: Any) -> Any:
    import os

    from reporting.adapters.local.transfer_area import LocalTransferArea

    where = args.transfer or os.environ.get("REPORTING_TRANSFER_DIR") or str(Path(settings.artifact_dir).parent /
                                                                              "transfer")
    return LocalTransferArea(Path(where))


def run(args: argparse.Namespace) -> int:
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.domain.tenant import Residency
    from reporting.logs import configure
    from reporting.service_layer import residency_move as move

    configure()
    services = Services(Settings.from_env())
    deps, settings = services.deps, services.settings
    try:
        if args.step == "lock":
            result: Any = move.lock_for_move(args.tenant, Residency(args.to), deps, move_id=args.move)
        elif args.step == "export":
            result = move.export_tenant(args.move, args.tenant, deps, _transfer(args, settings),
                                        region=settings.region)
        elif args.step == "import":
            result = move.import_tenant(args.move, deps, _transfer(args, settings),
                                        region=args.region or settings.region)
        elif args.step == "abort":
            result = move.abort_move(args.move, args.tenant, deps)
        elif args.step == "status":
            result = move.move_status(args.move, args.tenant, deps)
        else:  # announce: what tenant-service's event does in the cloud, for a local walk through the runbook
            from reporting.adapters.local.bus import to_cloud_event
            from reporting.entrypoints.consumers import consume

            event = move.region_changed_event(
                move_id=args.move, tenant_id=args.tenant, from_residency=Residency(args.from_residency),
                to_residency=Residency(args.to_residency), to_region=args.to_region, now=deps.clock.now())
            consumed = consume("region_changed", to_cloud_event(event.to_dict()), services)
            result = {"status": consumed.status, "outcome": consumed.result, "reason": consumed.reason}
    except DomainError as refused:
        print(json.dumps({"error": refused.code, "message": refused.message, "details": refused.details},
                         default=str), file=sys.stderr)
        return 1 if not refused.permanent else 2
    finally:
        services.close()
    print(json.dumps(result.__dict__ if hasattr(result, "__dict__") else result, indent=2, default=str))
    return 0
