"""`reporting schema-backfill`: the schema_backfill job's command (local terminal or Cloud Run Job task)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from reporting.db.data_backfills.runner import ScriptState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's options (the CLI calls this; nothing heavy is imported here)."""
    parser.add_argument("--script", metavar="NAME",
                        help="one script, by number (d0001) or full name; default: every script in number order "
                             "whose migration is applied")
    parser.add_argument("--list", action="store_true",
                        help="each script's state: tenants finished / in progress / not started, rows done")
    parser.add_argument("--batch-size", type=int, default=500, metavar="N",
                        help="rows per batch, one transaction each (default 500, at most 10000)")
    parser.add_argument("--shard", metavar="INDEX/COUNT",
                        help="this task's share of the tenants (default: CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT, "
                             "else 0/1)")


def format_states(states: Sequence[ScriptState]) -> str:
    """The `--list` table."""
    header = ("script", "status", "tenants", "finished", "in progress", "not started", "rows done")
    lines = [header] + [(s.script, s.status, str(s.tenants), str(s.finished), str(s.in_progress),
                         str(s.not_started), str(s.rows_done)) for s in states]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [line[i].ljust(widths[i]) if i < 2 else line[i].rjust(widths[i]) for i in range(len(header))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Run the chosen scripts (or list their state); exit 1 when a tenant failed, so the task is retried."""
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.db.data_backfills import UnknownScript, find_script, scripts
    from reporting.db.data_backfills.runner import (MAX_BATCH_SIZE, RunnerNotInstalled, ScriptNotReady, Shard,
                                                    list_states, run_script)
    from reporting.entrypoints.progress import ProgressReporter
    from reporting.logs import configure, get_logger

    configure()
    log = get_logger("reporting.jobs.schema_backfill")
    try:
        targets = [find_script(args.script)] if args.script else scripts()
        shard = Shard.parse(args.shard) if args.shard else Shard.from_env()
    except (UnknownScript, ValueError) as refused:
        print(f"reporting schema-backfill: {refused}", file=sys.stderr)
        return 2
    if not 1 <= args.batch_size <= MAX_BATCH_SIZE:
        print(f"reporting schema-backfill: --batch-size must be 1..{MAX_BATCH_SIZE}", file=sys.stderr)
        return 2
    services = Services(Settings.from_env())
    try:
        if args.list:
            print(format_states(list_states(services.deps)))
            return 0
        failed = False
        for script in targets:
            try:
                report = run_script(script, services.deps, shard=shard, batch_size=args.batch_size,
                                    progress=ProgressReporter(f"schema-backfill {script.number}"))
            except ScriptNotReady as not_ready:
                if args.script:  # asked for by name: say so and fail
                    print(f"reporting schema-backfill: {not_ready}", file=sys.stderr)
                    return 2
                log.warning("schema backfill waits for its migration",
                            extra={"schema_backfill": {"script": script.name, "requires": script.requires}})
                continue
            print(json.dumps(report.as_dict()), flush=True)
            if report.errors:
                failed = True
                break  # a later script may build on this one: let the retry finish it first
        return 1 if failed else 0
    except RunnerNotInstalled as missing:
        print(f"reporting schema-backfill: {missing}", file=sys.stderr)
        return 2
    finally:
        services.close()
