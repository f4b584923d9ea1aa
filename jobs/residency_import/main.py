"""residency_import: a one-shot Cloud Run Job, one step of a residency move (runbook:
docs/runbooks/platform/residency-migration.md). Arguments are the CLI's
(`reporting residency import --help`); the execution passes --move and --tenant. Idempotent: a
retried or re-run execution resumes where the last one stopped.
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["residency", "import", *sys.argv[1:]]))
