"""Benchmark: the outbox relay to Pub/Sub vs. a bare publisher sending the same messages, in the same run.

    .venv/bin/python bench/relay.py [--events 2000]

Relay = claim_outbox (SECURITY DEFINER, SKIP LOCKED, lease) → validate each
envelope against its schema → publish with ordering key → wait → mark published.
Baseline = google-cloud-pubsub's PublisherClient publishing the same bytes with
the same ordering keys and waiting for every future (no database, no schema).
Both against the real Pub/Sub emulator started here; Postgres is the machine's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.adapters.postgres.connection import local_connection_factory  # noqa: E402
from reporting.adapters.postgres.outbox_store import PostgresOutboxStore  # noqa: E402
from reporting.adapters.pubsub.client import publisher_client, reset_clients  # noqa: E402
from reporting.adapters.pubsub.provision import provision  # noqa: E402
from reporting.adapters.pubsub.publisher import PubSubPublisher  # noqa: E402
from reporting.bootstrap import Services  # noqa: E402
from reporting.config import Settings  # noqa: E402
from reporting.db.migrate import migrate  # noqa: E402
from reporting.devenv import postgres as pg  # noqa: E402
from reporting.devenv import pubsub_emulator  # noqa: E402
from reporting.domain.tenant import Residency, Tenant  # noqa: E402
from reporting.events.publication import PublicationPlan  # noqa: E402
from reporting.events.wiring import topic_name  # noqa: E402
from reporting.service_layer.outbox_relay import OutboxRelay  # noqa: E402
from reporting.service_layer.tenants import sync_tenant  # noqa: E402

EVENT = "report_run.cancelled.v1"


def envelope(tenant_id: str) -> dict:
    run_id = str(uuid.uuid4())
    return {"event_id": str(uuid.uuid4()), "subject": "report_run.cancelled", "version": 1,
            "occurred_at": "2026-11-24T06:00:00+00:00", "tenant_id": tenant_id, "residency": "AF",
            "correlation_id": str(uuid.uuid4()), "causation_id": None, "aggregate_id": run_id,
            "data": {"run_id": run_id, "property_id": str(uuid.uuid4()), "cancelled_by": "bench",
                     "reason": "benchmark", "previous_state": "requested"}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=OutboxRelay.DEFAULT_BATCH, help="rows claimed per round")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    emulator = pubsub_emulator.start(work / "pubsub")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    reset_clients()
    server = pg.provide_server(work, use_machine_server=True)
    name = f"rs_bench_{uuid.uuid4().hex[:8]}"
    owner, app = pg.create_database(server.admin, name)
    try:
        migrate(local_connection_factory(owner), log=lambda e: None)
        project = "bench-relay"
        provision(project)
        settings = Settings.from_env({"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
                                      "REPORTING_EVENT_BUS": "pubsub", "REPORTING_PUBSUB_PROJECT": project,
                                      "REPORTING_ARTIFACT_DIR": str(work / "a")})
        services = Services(settings, conn_factory=local_connection_factory(app))
        tenant_id = str(uuid.uuid4())
        sync_tenant(Tenant(tenant_id, "bench", Residency.AF, "local-af", features={"reporting_v1": True}),
                    services.deps)
        envelopes = [envelope(tenant_id) for _ in range(args.events)]
        from reporting.events.catalog import validate_or_throw
        validate_or_throw(envelopes[0])  # the bench's own events must be valid, or it measures set-asides

        with services.uow(tenant_id) as uow:
            for e in envelopes:
                uow.outbox.add(e)
            uow.commit()  # (the after-commit hook publishes ids it flushed itself: none here)

        started = time.perf_counter()
        relay = OutboxRelay(PostgresOutboxStore(services.pool), PubSubPublisher(project),
                            PublicationPlan(today=lambda: services.clock.now().date()), batch=args.batch)
        report = relay.sweep()
        relay_s = time.perf_counter() - started
        assert report.published == args.events and report.dead == 0, report

        client = publisher_client()
        topic = client.topic_path(project, topic_name(EVENT))
        payloads = [(json.dumps(e, sort_keys=True, separators=(",", ":")).encode(), e) for e in envelopes]
        started = time.perf_counter()
        futures = [client.publish(topic, data, ordering_key=e["aggregate_id"], event_id=e["event_id"],
                                  tenant_id=tenant_id) for data, e in payloads]
        for f in futures:
            f.result(timeout=60)
        bare_s = time.perf_counter() - started

        print(f"events: {args.events}, one tenant, Pub/Sub emulator, Postgres machine")
        print(f"{'':38}{'events/s':>10}{'total s':>10}")
        print(f"{'relay (claim, validate, publish, mark)':38}{args.events / relay_s:>10.0f}{relay_s:>10.2f}")
        print(f"{'baseline (bare PublisherClient)':38}{args.events / bare_s:>10.0f}{bare_s:>10.2f}")
        print(f"ratio relay/baseline time: {relay_s / bare_s:.2f}x "
              f"(claimed {args.batch} rows per round, {report.messages} messages)")
        services.close()
    finally:
        pg.drop_database(server.admin, name)
        server.stop()
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
