"""outbox_sweeper: a one-shot Cloud Run Job (Cloud Scheduler starts it every few minutes).

Publishes every outbox row the request/render fast path left behind (a crash
after commit, a broker outage, a relay killed between publish and mark), then
exits. Safe to run while others run: rows are claimed with SKIP LOCKED and a lease.
Configured from the environment like the functions (REPORTING_EVENT_BUS=pubsub).
"""
import sys

from reporting.cli import main

if __name__ == "__main__":
    sys.exit(main(["outbox", "sweep"]))
