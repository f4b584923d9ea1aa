"""Domain events raised by aggregates; the unit of work turns them into outbox envelopes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """`subject` is the full versioned name, `aggregate.verb_past_tense.vN` (plan §4)."""

    subject: str
    aggregate_id: str
    data: dict[str, Any]
    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass
class EventSource:
    """Mixin for aggregates: events recorded here are written to the outbox on commit."""

    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def record(self, event: DomainEvent) -> None:
        self.events.append(event)
