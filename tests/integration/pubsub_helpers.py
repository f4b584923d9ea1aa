"""Emulator plumbing for tests: a project per test, taps (pull subscriptions) on topics, bounded pulls."""
from __future__ import annotations

import time
import uuid
from typing import Any

from google.cloud import pubsub_v1


def new_project() -> str:
    """The emulator keeps projects apart: one per test isolates topics and subscriptions."""
    return f"test-{uuid.uuid4().hex[:12]}"


def tap(project: str, topic: str, *, create_topic: bool = True) -> str:
    """A pull subscription on `topic` (created if asked) so a test can see what was published."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    if create_topic:
        try:
            publisher.create_topic(name=topic_path)
        except Exception:  # AlreadyExists
            pass
    path = subscriber.subscription_path(project, f"tap.{topic}.{uuid.uuid4().hex[:6]}")
    subscriber.create_subscription(request={"name": path, "topic": topic_path, "ack_deadline_seconds": 10})
    return path


def pull(subscription: str, *, expect: int, timeout: float = 10.0, settle: float = 0.3) -> list[Any]:
    """Pull and ack until `expect` messages arrived (then wait `settle` s more for extras) or timeout."""
    subscriber = pubsub_v1.SubscriberClient()
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    while time.monotonic() < deadline:
        if len(got) >= expect:
            settle_until = settle_until or time.monotonic() + settle
            if time.monotonic() >= settle_until:
                break
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 100},
                                   timeout=2.0, retry=None)
        if response.received_messages:
            subscriber.acknowledge(request={"subscription": subscription,
                                            "ack_ids": [m.ack_id for m in response.received_messages]})
            got.extend(m.message for m in response.received_messages)
        else:
            time.sleep(0.05)
    return got
