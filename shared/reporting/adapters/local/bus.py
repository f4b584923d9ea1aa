"""The local bus: claims committed outbox rows and delivers them to the same consumers the cloud triggers call.

It stands in for outbox relay + Pub/Sub + push subscription during `make demo`
and in tests: rows are claimed through the owner's SECURITY DEFINER function (the
app role cannot read across tenants), validated, wrapped as the Pub/Sub
CloudEvent Eventarc would deliver, and dispatched by the one wiring table.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from cloudevents.http import CloudEvent

from reporting.adapters.postgres.connection import fetch_all
from reporting.adapters.postgres.pool import ConnectionPool
from reporting.events.envelope import Envelope
from reporting.events.wiring import subscribers_of, topic_name
from reporting.logs import get_logger

log = get_logger(__name__)

Consumer = Callable[[Any], Any]  # takes the CloudEvent; raise = retry


def to_cloud_event(envelope: dict[str, Any], *, project: str = "local") -> CloudEvent:
    """The `google.cloud.pubsub.topic.v1.messagePublished` event a push subscription would deliver."""
    env = Envelope.from_dict(envelope)
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished",
         "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic_name(env.event_type)}",
         "id": str(uuid.uuid4()), "datacontenttype": "application/json"},
        {"message": {"data": base64.b64encode(env.to_bytes()).decode("ascii"), "attributes": env.attributes(),
                     "messageId": env.event_id, "publishTime": datetime.now(timezone.utc).isoformat()},
         "subscription": f"projects/{project}/subscriptions/local"},
    )


@dataclass
class DrainReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    by_subject: dict[str, int] = field(default_factory=dict)


class LocalBus:
    def __init__(self, pool: ConnectionPool, consumers: dict[str, Consumer], *, lease_seconds: int = 30,
                 max_attempts: int = 5, batch: int = 50) -> None:
        self._pool = pool
        self._consumers = consumers
        self._lease = lease_seconds
        self._max_attempts = max_attempts
        self._batch = batch

    def _call(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        conn = self._pool.get()
        broken = False
        try:
            rows = fetch_all(conn, sql, params)
            conn.commit()
            return rows
        except Exception:
            broken = True
            raise
        finally:
            if broken:
                try:
                    conn.rollback()
                except Exception:
                    pass
            self._pool.put(conn, broken=broken)

    def claim(self) -> list[dict[str, Any]]:
        return self._call("SELECT * FROM reporting.claim_outbox(:n, :lease)", {"n": self._batch, "lease": self._lease})

    def drain(self, *, max_rounds: int = 1000, on_event: Callable[[str, str], None] | None = None) -> DrainReport:
        """Deliver until nothing is claimable (rows that failed wait out their lease)."""
        report = DrainReport()
        for _ in range(max_rounds):
            rows = self.claim()
            if not rows:
                break
            delivered: list[str] = []
            for row in rows:
                event_id = str(row["event_id"])
                error = self._deliver(row)
                if error is None:
                    delivered.append(event_id)
                    report.delivered += 1
                    report.by_subject[row["subject"]] = report.by_subject.get(row["subject"], 0) + 1
                    if on_event:
                        on_event(row["subject"], event_id)
                elif row["claim_count"] >= self._max_attempts:
                    self._call("SELECT reporting.release_outbox(:e::uuid, true, :r) AS n", {"e": event_id, "r": error})
                    report.dead += 1
                    log.error("outbox event dead after retries",
                              extra={"event_id": event_id, "subject": row["subject"], "reason": error})
                else:
                    self._call("SELECT reporting.release_outbox(:e::uuid, false, :r) AS n", {"e": event_id, "r": error})
                    report.retried += 1
            if delivered:
                self._call("SELECT reporting.mark_outbox_published(CAST(:ids AS uuid[])) AS n", {"ids": delivered})
        return report

    def _deliver(self, row: dict[str, Any]) -> str | None:
        envelope = row["envelope"] if isinstance(row["envelope"], dict) else json.loads(row["envelope"])
        for consumer in subscribers_of(row["subject"]):
            try:
                self._consumers[consumer](to_cloud_event(envelope))
            except Exception as exc:  # a consumer raising means "retry me"
                log.warning("consumer failed; event will be retried",
                            extra={"consumer": consumer, "event_id": str(row["event_id"]),
                                   "error_type": type(exc).__name__})
                return f"{consumer}: {type(exc).__name__}"
        return None

