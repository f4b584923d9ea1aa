"""One source of truth for event routing: subject → topic → subscription → function.

Read by the outbox relay, the local bus, the emulator provisioning in tests and
`reporting events wiring` (which Terraform consumes as JSON, issue 8).

Names (Pub/Sub ids allow letters, digits, `.`, `-`, `_`; they start with a letter):
- topic per event type:            reporting.<subject>.v<N>
- subscription per consumer:       reporting.<subject>.v<N>.<consumer>
- dead-letter topic per consumer:  reporting.dead-letter.<consumer>
  (the app publishes undecodable/invalid/permanently failing events there with a
  `reason` attribute; the subscription's dead-letter policy sends events whose
  transient retries ran out to the same topic)
- a `.hold` subscription on each dead-letter topic keeps parked events for
  inspection and replay (a topic without subscriptions would drop them).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from reporting.events.catalog import event_types

CONSUMERS = ("render", "submit", "region_changed")
MAX_DELIVERY_ATTEMPTS = 5  # then the subscription's dead-letter policy takes over
ACK_DEADLINE_SECONDS = 600  # a render may take minutes; an un-acked push is redelivered after this
DEAD_LETTER_RETENTION_DAYS = 7  # Pub/Sub's maximum message retention for a subscription
MIN_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 1, 60  # redelivery backoff of a transient failure

# Which function consumes which event. A pair is wired only once its handler
# exists (tests enforce the match with entrypoints.consumers.HANDLERS), so nothing
# is routed to a function that would dead-letter it.
SUBSCRIBERS: dict[str, tuple[str, ...]] = {
    "report_run.requested.v1": ("render",),
    "report_run.completed.v1": ("submit",),  # regulatory runs open their submissions
    "tenant.region_changed.v1": ("region_changed",),
}


# Events other services publish and we only consume: their topics are not ours to
# create. We subscribe to them under our own subscription names; the topic's name is
# the owner's (the platform's `<service>.<event type>` convention; Terraform takes the
# full topic id per residency as a variable, and the emulator setup creates it locally).
CONSUMED_ONLY: frozenset[str] = frozenset({"tenant.region_changed.v1"})
EXTERNAL_TOPICS: dict[str, str] = {"tenant.region_changed.v1": "tenant-service.tenant.region_changed.v1"}


def published_event_types() -> list[str]:
    return [t for t in event_types() if t not in CONSUMED_ONLY]


def topic_name(event_type: str) -> str:
    return f"reporting.{event_type}"


def subscription_name(event_type: str, consumer: str) -> str:
    return f"{topic_name(event_type)}.{consumer}"


def dead_letter_topic(consumer: str) -> str:
    return f"reporting.dead-letter.{consumer}"


def dead_letter_hold_subscription(consumer: str) -> str:
    return f"{dead_letter_topic(consumer)}.hold"


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    consumer: str
    dead_letter_topic: str
    max_delivery_attempts: int = MAX_DELIVERY_ATTEMPTS
    ack_deadline_seconds: int = ACK_DEADLINE_SECONDS
    # Unordered: our consumers are idempotent and guarded by state, and an ordered subscription
    # blocks its key behind a message that keeps failing (the emulator never dead-letters it at all).
    # The relay still publishes with ordering keys, for subscribers that want order.
    ordered: bool = False
    min_backoff_seconds: int = MIN_BACKOFF_SECONDS
    max_backoff_seconds: int = MAX_BACKOFF_SECONDS
    never_expires: bool = True  # Pub/Sub deletes subscriptions idle for 31 days by default


@dataclass(frozen=True)
class Route:
    event_type: str
    topic: str
    subscriptions: tuple[Subscription, ...]

    @property
    def subscribers(self) -> tuple[str, ...]:
        return tuple(s.consumer for s in self.subscriptions)


def subscribers_of(event_type: str) -> tuple[str, ...]:
    return SUBSCRIBERS.get(event_type, ())


def routes() -> list[Route]:
    """Every event type we publish has a topic (other services subscribe too), with our subscriptions."""
    return [Route(event_type=t, topic=topic_name(t),
                  subscriptions=tuple(Subscription(subscription_name(t, c), topic_name(t), c, dead_letter_topic(c))
                                      for c in subscribers_of(t)))
            for t in published_event_types()]


def external_routes() -> list[Route]:
    """Our subscriptions to other services' topics (the consumed-only events we handle)."""
    return [Route(event_type=t, topic=EXTERNAL_TOPICS[t],
                  subscriptions=tuple(Subscription(subscription_name(t, c), EXTERNAL_TOPICS[t], c,
                                                   dead_letter_topic(c)) for c in subscribers_of(t)))
            for t in sorted(CONSUMED_ONLY) if subscribers_of(t)]


def topic_for(topic: str) -> Route | None:
    return next((r for r in routes() + external_routes() if r.topic == topic), None)


def as_document() -> dict:
    """The wiring as plain JSON for Terraform and operators."""
    return {
        "topics": [{"event_type": r.event_type, "topic": r.topic,
                    "subscriptions": [asdict(s) for s in r.subscriptions]} for r in routes()],
        # not ours: Terraform subscribes to the owner's topic (its id is a variable), never creates it
        "external_topics": [{"event_type": r.event_type, "topic": r.topic, "owner": r.topic.split(".")[0],
                             "subscriptions": [asdict(s) for s in r.subscriptions]} for r in external_routes()],
        "dead_letter_topics": [{"consumer": c, "topic": dead_letter_topic(c),
                                "hold_subscription": dead_letter_hold_subscription(c),
                                "retention_days": DEAD_LETTER_RETENTION_DAYS, "never_expires": True}
                               for c in CONSUMERS],
    }
