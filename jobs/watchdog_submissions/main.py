"""watchdog_submissions: a Cloud Run Job Cloud Scheduler starts every few minutes.

Files every regulatory submission that is due (first attempts that did not happen,
retries whose time came, attempts lost in a crash), escalates those close to their
cutoff and not accepted, and marks those past it `missed_cutoff` (the event once, one
ERROR line with alert=submission_cutoff_missed for the log-based alert). Exit 1 when a
submission could not be handled, so the execution shows as failed.
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["watchdog", "submissions"]))
