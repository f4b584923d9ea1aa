"""The outbox relay: committed events → the broker, at least once, losing nothing.

Two ways in:
- `publish_now(ids)`: right after a unit of work commits (request and render
  paths), so an event is usually on its topic within milliseconds;
- `sweep()`: the safety net (a Cloud Run job / the local bus loop) for rows left
  behind: a crash between commit and publish, a broker outage, a relay that died
  between publish and mark (its lease runs out and the row is published again;
  consumers dedupe by event id in their inbox).

Rows are claimed with SKIP LOCKED and a lease, so several relays run at once
without double claims; each row succeeds or fails on its own, so one bad row
never blocks the others. A row that can never be published is set aside (kept
in the outbox with its reason) and logged as an ERROR.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from reporting.events.publication import PublicationError, PublicationPlan
from reporting.logs import get_logger
from reporting.service_layer.ports import MessagePublisher, OutboxRow, OutboxStore, OutgoingMessage, PublishFailure

log = get_logger(__name__)


@dataclass
class RelayReport:
    published: int = 0
    retried: int = 0
    dead: int = 0
    messages: int = 0
    by_subject: dict[str, int] = field(default_factory=dict)

    def add(self, other: "RelayReport") -> None:
        self.published += other.published
        self.retried += other.retried
        self.dead += other.dead
        self.messages += other.messages
        for subject, n in other.by_subject.items():
            self.by_subject[subject] = self.by_subject.get(subject, 0) + n


class OutboxRelay:
    DEFAULT_BATCH = 500  # rows per claim: fewer broker round trips per sweep (claim_outbox allows 1000)

    def __init__(self, store: OutboxStore, publisher: MessagePublisher, plan: PublicationPlan, *,
                 lease_seconds: int = 30, batch: int = DEFAULT_BATCH, max_attempts: int | None = None,
                 on_gave_up: Callable[[OutboxRow, str], None] | None = None) -> None:
        """`max_attempts=None`: transient failures are retried forever (a broker outage must not lose
        events); the local bus sets a limit to play the subscription's dead-letter policy."""
        self._store = store
        self._publisher = publisher
        self._plan = plan
        self._lease = lease_seconds
        self._batch = batch
        self._max_attempts = max_attempts
        self._on_gave_up = on_gave_up

    def publish_now(self, event_ids: Sequence[str]) -> RelayReport:
        rows = self._store.claim_ids(list(event_ids), self._lease)
        return self._relay(rows)

    def sweep(self, *, max_rounds: int = 10_000, on_event: Callable[[str, str], None] | None = None,
              progress: Callable[[RelayReport], None] | None = None) -> RelayReport:
        """Publish until nothing is claimable (rows that failed wait out their lease)."""
        total = RelayReport()
        for _ in range(max_rounds):
            rows = self._store.claim(self._batch, self._lease)
            if not rows:
                break
            total.add(self._relay(rows, on_event=on_event))
            if progress:
                progress(total)
        return total

    def _relay(self, rows: list[OutboxRow], on_event: Callable[[str, str], None] | None = None) -> RelayReport:
        report = RelayReport()
        planned: list[tuple[OutboxRow, list[OutgoingMessage]]] = []
        for row in rows:
            try:
                publications = self._plan.publications(row.envelope)
            except PublicationError as exc:
                if exc.permanent:
                    self._set_aside(row, str(exc), report)
                else:
                    self._retry_later(row, PublishFailure(str(exc), permanent=False), report)
                continue
            planned.append((row, [OutgoingMessage(topic=p.topic, data=p.data, attributes=p.envelope.attributes(),
                                                  ordering_key=row.aggregate_id) for p in publications]))
        messages = [m for _, ms in planned for m in ms]
        started = time.perf_counter()
        results = iter(self._publisher.publish(messages)) if messages else iter(())
        published: list[str] = []
        for row, ms in planned:
            failures = [f for f in (next(results) for _ in ms) if f is not None]
            if not failures:
                published.append(row.event_id)
                report.published += 1
                report.messages += len(ms)
                report.by_subject[row.subject] = report.by_subject.get(row.subject, 0) + 1
                if on_event:
                    on_event(row.subject, row.event_id)
            elif any(f.permanent for f in failures):
                self._set_aside(row, failures[0].reason, report)
            else:
                self._retry_later(row, failures[0], report)
        self._store.mark_published(published)
        if rows:
            log.info("outbox relayed", extra={"claimed": len(rows), "published": report.published,
                                              "retried": report.retried, "dead": report.dead,
                                              "publish_ms": round((time.perf_counter() - started) * 1000, 1)})
        return report

    def _retry_later(self, row: OutboxRow, failure: PublishFailure, report: RelayReport) -> None:
        if self._max_attempts is not None and row.claim_count >= self._max_attempts:
            if self._on_gave_up:
                self._on_gave_up(row, failure.reason)
            self._set_aside(row, f"gave up after {row.claim_count} attempts: {failure.reason}", report)
            return
        self._store.release(row.event_id, dead=False, reason=failure.reason)
        report.retried += 1
        log.warning("outbox event not published; retried after its lease",
                    extra={"event_id": row.event_id, "subject": row.subject, "attempt": row.claim_count,
                           "reason": failure.reason})

    def _set_aside(self, row: OutboxRow, reason: str, report: RelayReport) -> None:
        self._store.release(row.event_id, dead=True, reason=reason)
        report.dead += 1
        log.error("outbox event set aside: it can never be published",
                  extra={"event_id": row.event_id, "subject": row.subject, "reason": reason})
