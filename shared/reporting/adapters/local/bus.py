"""The local bus: the outbox relay with an in-process "broker" that calls the consumers directly.

It stands in for Pub/Sub + push subscriptions during `make demo` and in most
tests: the same relay (claims through the owner's SECURITY DEFINER functions,
validates, dual-publishes during transitions) hands each message, wrapped as the
`messagePublished` CloudEvent Eventarc would deliver, to every function the one
wiring table subscribes to its topic. A consumer that raises = retry after the
lease; after `max_attempts` the event is parked in the dead-letter sink, as the
subscription's dead-letter policy would.
"""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from cloudevents.http import CloudEvent

from reporting.events.envelope import Envelope
from reporting.events.wiring import topic_for, topic_name
from reporting.logs import get_logger
from reporting.service_layer.ports import MessagePublisher, OutgoingMessage, PublishFailure

log = get_logger(__name__)

Consumer = Callable[[Any], Any]  # takes the CloudEvent; raise = retry


def message_cloud_event(topic: str, data: bytes, attributes: Mapping[str, str], *, message_id: str | None = None,
                        project: str = "local", subscription: str = "local") -> CloudEvent:
    """The `google.cloud.pubsub.topic.v1.messagePublished` event a push subscription would deliver."""
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished",
         "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
         "id": message_id or str(uuid.uuid4()), "datacontenttype": "application/json"},
        {"message": {"data": base64.b64encode(data).decode("ascii"), "attributes": dict(attributes),
                     "messageId": message_id or str(uuid.uuid4()),
                     "publishTime": datetime.now(timezone.utc).isoformat()},
         "subscription": f"projects/{project}/subscriptions/{subscription}"},
    )


def to_cloud_event(envelope: dict[str, Any], *, project: str = "local") -> CloudEvent:
    env = Envelope.from_dict(envelope)
    return message_cloud_event(topic_name(env.event_type), env.to_bytes(), env.attributes(), project=project,
                               message_id=env.event_id)


class InProcessPublisher(MessagePublisher):
    def __init__(self, consumers: Mapping[str, Consumer]) -> None:
        self._consumers = consumers

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure | None]:
        return [self._deliver(m) for m in messages]

    def _deliver(self, message: OutgoingMessage) -> PublishFailure | None:
        route = topic_for(message.topic)
        if route is None:
            return PublishFailure(f"topic {message.topic} does not exist", permanent=True)
        for consumer in route.subscribers:
            try:
                self._consumers[consumer](message_cloud_event(message.topic, message.data, message.attributes))
            except Exception as exc:  # a consumer raising means "retry me"
                log.warning("consumer failed; event will be retried",
                            extra={"consumer": consumer, "event_id": message.attributes.get("event_id"),
                                   "error_type": type(exc).__name__})
                return PublishFailure(f"{consumer}: {type(exc).__name__}", permanent=False)
        return None
