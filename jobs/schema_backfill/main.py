"""schema_backfill: a one-shot Cloud Run Job running the numbered data-backfill scripts (plan §2).

Arguments are the CLI's (`reporting schema-backfill --help`), e.g. ["--script", "d0001"] or
["--list"]. Each task takes its share of the tenants from CLOUD_RUN_TASK_INDEX /
CLOUD_RUN_TASK_COUNT; every batch commits with its checkpoint, so a retried or re-run task
resumes where it stopped and does nothing once finished. Exit 1 when a tenant failed (so the
task retries). Walkthrough: docs/schema-backfills.md.
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["schema-backfill", *sys.argv[1:]]))
