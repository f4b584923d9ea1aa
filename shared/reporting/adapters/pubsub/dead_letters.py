"""Dead letters on Pub/Sub: the consumer's dead-letter topic, with a `reason` attribute (SPEC §5).

The original bytes and attributes travel unchanged, so an operator can inspect
the `.hold` subscription and replay. If this publish fails the consumer raises:
the message is redelivered rather than lost.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from reporting.adapters.pubsub.client import publisher_client
from reporting.events.wiring import dead_letter_topic
from reporting.logs import get_logger
from reporting.service_layer.ports import DeadLetterSink

log = get_logger(__name__)
MAX_ATTRIBUTE_BYTES = 1024  # Pub/Sub's limit on an attribute value


def _clip(value: str) -> str:
    raw = value.encode("utf-8")[:MAX_ATTRIBUTE_BYTES]
    return raw.decode("utf-8", errors="ignore")


class PubSubDeadLetterSink(DeadLetterSink):
    def __init__(self, project: str, *, timeout_seconds: float = 30.0,
                 client: Callable[[], Any] = lambda: publisher_client(ordered=False)) -> None:
        self._project = project
        self._timeout = timeout_seconds
        self._client = client

    def publish(self, consumer: str, raw: bytes, attributes: Mapping[str, str], reason: str) -> None:
        client = self._client()
        topic = client.topic_path(self._project, dead_letter_topic(consumer))
        attrs = {**{k: _clip(str(v)) for k, v in attributes.items()}, "reason": _clip(reason), "consumer": consumer,
                 "dead_lettered_at": datetime.now(timezone.utc).isoformat()}
        client.publish(topic, raw, **attrs).result(timeout=self._timeout)
        log.warning("event dead-lettered", extra={"consumer": consumer, "reason": reason,
                                                  "event_id": attributes.get("event_id"), "topic": topic})
