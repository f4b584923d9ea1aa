"""The MessagePublisher port on Google Cloud Pub/Sub (the real google-cloud-pubsub client)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from reporting.adapters.pubsub.client import publisher_client
from reporting.logs import get_logger
from reporting.service_layer.ports import MessagePublisher, OutgoingMessage, PublishFailure

log = get_logger(__name__)


class PubSubPublisher(MessagePublisher):
    def __init__(self, project: str, *, timeout_seconds: float = 30.0,
                 client: Callable[[], Any] = publisher_client) -> None:
        self._project = project
        self._timeout = timeout_seconds
        self._client = client

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure | None]:
        from google.api_core import exceptions

        client = self._client()
        futures = []
        for m in messages:
            topic = client.topic_path(self._project, m.topic)
            try:
                futures.append((topic, m, client.publish(topic, m.data, ordering_key=m.ordering_key,
                                                         **dict(m.attributes))))
            except Exception as exc:  # e.g. the ordering key is paused after an earlier failure
                futures.append((topic, m, exc))
        results: list[PublishFailure | None] = []
        for topic, m, future in futures:
            try:
                if isinstance(future, Exception):
                    raise future
                future.result(timeout=self._timeout)
                results.append(None)
            except exceptions.NotFound:
                # A deploy that has not created the topic yet: retried (after the lease) until it
                # exists rather than set aside, so fixing the wiring is all it takes.
                results.append(PublishFailure(f"topic {m.topic} does not exist", permanent=False))
            except (exceptions.InvalidArgument, ValueError, TypeError) as exc:
                results.append(PublishFailure(f"rejected by Pub/Sub: {type(exc).__name__}", permanent=True))
            except Exception as exc:
                results.append(PublishFailure(f"publish failed: {type(exc).__name__}", permanent=False))
                # With ordering on, a failed publish pauses its key until resumed; resume so the
                # retry (after the outbox lease) is not refused outright.
                try:
                    client.resume_publish(topic, m.ordering_key)
                except Exception:
                    pass
        return results
