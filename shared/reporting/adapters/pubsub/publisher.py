"""The MessagePublisher port on Google Cloud Pub/Sub (the real google-cloud-pubsub client)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from reporting.adapters.pubsub.client import publisher_client
from reporting.logs import get_logger
from reporting.service_layer.ports import MessagePublisher, OutgoingMessage, PublishFailure

log = get_logger(__name__)


class PubSubPublisher(MessagePublisher):
    """Publishes a batch, then waits for all of it under one deadline (not one timeout per message:
    with the broker down, a batch must fail fast, well inside the relay's lease)."""

    def __init__(self, project: str, *, timeout_seconds: float = 10.0,
                 client: Callable[[], Any] = publisher_client) -> None:
        self._project = project
        self._timeout = timeout_seconds
        self._client = client

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure | None]:
        from concurrent import futures as cf

        from google.api_core import exceptions

        client = self._client()
        pending: list[tuple[str, OutgoingMessage, Any]] = []
        for m in messages:
            topic = client.topic_path(self._project, m.topic)
            try:
                pending.append((topic, m, client.publish(topic, m.data, ordering_key=m.ordering_key,
                                                         **dict(m.attributes))))
            except Exception as exc:  # e.g. the ordering key is still paused after an earlier failure
                pending.append((topic, m, exc))
        cf.wait([f for _, _, f in pending if not isinstance(f, Exception)], timeout=self._timeout)
        results: list[PublishFailure | None] = []
        for topic, m, future in pending:
            failure = self._outcome(future, m, exceptions)
            if failure is not None:
                # With ordering on, any failure pauses the key until resumed; resume so the
                # retry (after the outbox lease) is not refused outright.
                try:
                    client.resume_publish(topic, m.ordering_key)
                except Exception:
                    pass
            results.append(failure)
        return results

    @staticmethod
    def _outcome(future: Any, m: OutgoingMessage, exceptions: Any) -> PublishFailure | None:
        if isinstance(future, Exception):
            return PublishFailure(f"publish refused: {type(future).__name__}", permanent=False)
        if not future.done():
            future.cancel()
            return PublishFailure("publish timed out", permanent=False)
        error = future.exception()
        if error is None:
            return None
        if isinstance(error, exceptions.NotFound):
            # A deploy that has not created the topic yet: retried (after the lease) until it
            # exists rather than set aside, so fixing the wiring is all it takes.
            return PublishFailure(f"topic {m.topic} does not exist", permanent=False)
        if isinstance(error, (exceptions.InvalidArgument, ValueError, TypeError)):
            return PublishFailure(f"rejected by Pub/Sub: {type(error).__name__}", permanent=True)
        return PublishFailure(f"publish failed: {type(error).__name__}", permanent=False)
