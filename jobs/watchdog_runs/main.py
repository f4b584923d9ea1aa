"""watchdog_runs: a Cloud Run Job Cloud Scheduler starts every few minutes.

Fails runs stuck in `rendering` past the render timeout (with a reason and
report_run.failed.v1) and logs each active tenant's SLO as a metric line. Exits 1 when a
run could not be handled, so the execution shows as failed.
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["watchdog", "runs"]))
