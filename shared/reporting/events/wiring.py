"""One source of truth for event routing: subject → topic → subscribing functions.

Read by the local bus, the outbox relay, the tests and (issue 8) Terraform.
"""
from __future__ import annotations

from dataclasses import dataclass

from reporting.events.catalog import event_types


@dataclass(frozen=True)
class Route:
    event_type: str
    topic: str
    subscribers: tuple[str, ...]
    dead_letter_topic: str


def topic_name(event_type: str) -> str:
    """Pub/Sub topic ids allow letters, digits, dots, dashes and underscores: the name maps 1:1."""
    return f"reporting.{event_type}"


# Which function consumes which event. Everything published has a topic even
# without a subscriber: other services (notifications, analytics) subscribe too.
SUBSCRIBERS: dict[str, tuple[str, ...]] = {
    "report_run.requested.v1": ("render",),
}


def routes() -> list[Route]:
    return [Route(event_type=t, topic=topic_name(t), subscribers=SUBSCRIBERS.get(t, ()),
                  dead_letter_topic=f"{topic_name(t)}.dead-letter") for t in event_types()]


def subscribers_of(event_type: str) -> tuple[str, ...]:
    return SUBSCRIBERS.get(event_type, ())
