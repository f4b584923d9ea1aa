"""Create the topics and subscriptions of the wiring on Pub/Sub (the emulator, or a dev project).

In the cloud Terraform creates the same names from `reporting events wiring`;
this is for tests and local runs against the emulator. Idempotent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from reporting.events.wiring import (CONSUMERS, DEAD_LETTER_RETENTION_DAYS, dead_letter_hold_subscription,
                                     dead_letter_topic, external_routes, routes)


@dataclass
class Provisioned:
    topics: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)


def provision(project: str, *, push_endpoints: Mapping[str, str] | None = None,
              publisher: Any = None, subscriber: Any = None) -> Provisioned:
    """Topics for every event type and dead-letter topic; a subscription per wired consumer (push to
    `push_endpoints[consumer]` when given, else pull) with the dead-letter policy; `.hold` pulls."""
    from google.api_core import exceptions
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    done = Provisioned()

    def topic(name: str) -> str:
        path = publisher.topic_path(project, name)
        try:
            publisher.create_topic(name=path)
        except exceptions.AlreadyExists:
            pass
        done.topics.append(name)
        return path

    def subscription(name: str, request: dict[str, Any]) -> None:
        path = subscriber.subscription_path(project, name)
        try:
            subscriber.create_subscription(request={"name": path, **request})
        except exceptions.AlreadyExists:
            pass
        done.subscriptions.append(name)

    for consumer in CONSUMERS:
        dlq = topic(dead_letter_topic(consumer))
        subscription(dead_letter_hold_subscription(consumer), {
            "topic": dlq, "ack_deadline_seconds": 60, "expiration_policy": {},  # {} = never expires
            "message_retention_duration": duration_pb2.Duration(seconds=DEAD_LETTER_RETENTION_DAYS * 86400)})
    # External topics are other services' in the cloud; on the emulator we create them so our subscriptions exist.
    for route in routes() + external_routes():
        path = topic(route.topic)
        for sub in route.subscriptions:
            request: dict[str, Any] = {
                "topic": path, "ack_deadline_seconds": sub.ack_deadline_seconds,
                "enable_message_ordering": sub.ordered,
                "dead_letter_policy": {"dead_letter_topic": publisher.topic_path(project, sub.dead_letter_topic),
                                       "max_delivery_attempts": sub.max_delivery_attempts},
                "retry_policy": {"minimum_backoff": duration_pb2.Duration(seconds=sub.min_backoff_seconds),
                                 "maximum_backoff": duration_pb2.Duration(seconds=sub.max_backoff_seconds)},
            }
            if sub.never_expires:
                request["expiration_policy"] = {}
            endpoint = (push_endpoints or {}).get(sub.consumer)
            if endpoint:
                request["push_config"] = {"push_endpoint": endpoint}
            subscription(sub.name, request)
    return done
