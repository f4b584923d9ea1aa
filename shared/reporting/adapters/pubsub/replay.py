"""Replay parked events from a consumer's dead-letter `.hold` subscription onto their original topics.

After the cause is fixed (a bug deployed away, a missing tenant mirrored), an
operator replays; consumers dedupe by event id, so replaying twice is harmless.
Messages whose topic cannot be told from their attributes (undecodable ones)
are left parked and counted, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reporting.events.catalog import event_types
from reporting.events.wiring import dead_letter_hold_subscription, topic_name
from reporting.logs import get_logger

log = get_logger(__name__)
# Added by the app's sink or by Pub/Sub's dead-letter policy; stripped on replay.
PARKING_ATTRIBUTES = ("reason", "consumer", "dead_lettered_at")
PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetterSource"


@dataclass
class ReplayReport:
    replayed: int = 0
    kept: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    kept_reasons: dict[str, int] = field(default_factory=dict)


def replay_dead_letters(project: str, consumer: str, *, limit: int = 1000, dry_run: bool = False,
                        publisher: Any = None, subscriber: Any = None) -> ReplayReport:
    from google.cloud import pubsub_v1

    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    hold = subscriber.subscription_path(project, dead_letter_hold_subscription(consumer))
    known = set(event_types())
    report = ReplayReport()
    kept: list[str] = []  # held (un-acked) until the end, so a later pull does not hand them back
    try:
        while report.replayed + report.kept < limit:
            response = subscriber.pull(request={"subscription": hold,
                                                "max_messages": min(100, limit - report.replayed - report.kept)},
                                       timeout=2.0)
            if not response.received_messages:
                break
            done: list[str] = []
            for received in response.received_messages:
                attributes = dict(received.message.attributes)
                event_type = attributes.get("event_type", "")
                if event_type not in known or dry_run:
                    kept.append(received.ack_id)
                    report.kept += 1
                    reason = "dry run" if dry_run and event_type in known else "no known event_type attribute"
                    report.kept_reasons[reason] = report.kept_reasons.get(reason, 0) + 1
                    continue
                clean = {k: v for k, v in attributes.items()
                         if k not in PARKING_ATTRIBUTES and not k.startswith(PUBSUB_DEAD_LETTER_PREFIX)}
                topic = topic_name(event_type)
                # The topic is shared: its other subscribers get the event again too; like us they
                # dedupe by event id, which is what makes a replay safe.
                publisher.publish(publisher.topic_path(project, topic), received.message.data,
                                  **clean).result(timeout=30)
                done.append(received.ack_id)
                report.replayed += 1
                report.by_topic[topic] = report.by_topic.get(topic, 0) + 1
            if done:
                subscriber.acknowledge(request={"subscription": hold, "ack_ids": done})
    finally:
        for start in range(0, len(kept), 1000):  # back on the hold subscription at once
            subscriber.modify_ack_deadline(request={"subscription": hold, "ack_ids": kept[start:start + 1000],
                                                    "ack_deadline_seconds": 0})
    log.info("dead letters replayed", extra={"consumer": consumer, "replayed": report.replayed,
                                             "kept": report.kept, "dry_run": dry_run})
    return report
