"""Small readers for integration tests: what the outbox, runs and store hold for one tenant."""
from __future__ import annotations

import base64
import json
from typing import Any

from cloudevents.http import CloudEvent

from reporting.adapters.local.bus import to_cloud_event
from reporting.adapters.postgres.connection import connect, fetch_all, fetch_one


def outbox(services, tenant_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
    with services.uow(tenant_id) as uow:
        rows = fetch_all(uow.connection, """
            SELECT subject, envelope, published_at FROM reporting.outbox
             WHERE (CAST(:s AS text) IS NULL OR subject = :s) ORDER BY created_at""", {"s": event_type})
    return rows


def requested_cloud_event(services, tenant_id: str, run_id: str) -> CloudEvent:
    """The CloudEvent Pub/Sub would deliver for this run's report_run.requested.v1."""
    for row in outbox(services, tenant_id, "report_run.requested.v1"):
        if row["envelope"]["data"]["run_id"] == run_id:
            return to_cloud_event(row["envelope"])
    raise AssertionError("no requested event for run")


def raw_cloud_event(data: bytes, attributes: dict[str, str] | None = None) -> CloudEvent:
    return CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished",
                       "source": "//pubsub.googleapis.com/projects/test/topics/t"},
                      {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {},
                                   "messageId": "1"}})


def json_event(payload: Any) -> CloudEvent:
    return raw_cloud_event(json.dumps(payload).encode())


def completed_envelope(migrated, run_id: str) -> dict:
    """The report_run.completed.v1 envelope a run's completion wrote to the outbox (what submit receives)."""
    conn = connect(migrated.owner)
    try:
        return fetch_one(conn, "SELECT envelope FROM reporting.outbox WHERE aggregate_id = :r AND "
                               "subject = 'report_run.completed.v1'", {"r": run_id})["envelope"]
    finally:
        conn.close()
