"""backfill: a one-shot Cloud Run Job requesting the report runs of past business dates.

Arguments are the CLI's (`reporting backfill --help`), e.g. ["--days", "90"] or
["--tenant", ID, "--template", "daily_occupancy", "--from", "2026-09-01"]. Each task
takes its shard from CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT; a retried or re-run
task requests nothing twice. Exit 1 when a tenant's chunk failed (so the task retries).
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
