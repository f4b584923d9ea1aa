"""What the relay publishes for one outbox entry: its own version, plus the older one during a transition.

Every message is validated against its schema before it leaves (a producer bug is
caught here, set aside with its reason, and never reaches a consumer).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable, Mapping

from reporting.events.catalog import EventValidationError, event_types, validate_or_throw
from reporting.events.downcasters import DOWNCASTERS, Downcaster
from reporting.events.envelope import Envelope
from reporting.events.transitions import Transition, load_transitions
from reporting.events.wiring import topic_name


class PublicationError(Exception):
    """The outbox entry cannot be published: never (`permanent`: invalid, or its transition is
    misconfigured) or not by this code (an event type a newer release writes during a rolling deploy)."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class Publication:
    topic: str
    envelope: Envelope

    @property
    def data(self) -> bytes:
        return self.envelope.to_bytes()


class PublicationPlan:
    def __init__(self, *, today: Callable[[], date], transitions: list[Transition] | None = None,
                 downcasters: Mapping[str, Downcaster] | None = None,
                 validate: Callable[[dict[str, Any]], Envelope] = validate_or_throw,
                 known_types: Callable[[], list[str]] | None = None) -> None:
        self._today = today
        self._transitions = load_transitions() if transitions is None else transitions
        self._downcasters = DOWNCASTERS if downcasters is None else downcasters
        self._validate = validate
        self._known_types = known_types
        for transition in self._transitions:
            if transition.new_event_type not in self._downcasters:
                raise PublicationError(f"transition {transition.subject}: no downcaster registered for "
                                       f"{transition.new_event_type}")

    def _known(self) -> set[str]:
        return set((self._known_types or event_types)())

    def publications(self, raw_envelope: dict[str, Any]) -> list[Publication]:
        event_type = f"{raw_envelope.get('subject')}.v{raw_envelope.get('version')}"
        if isinstance(raw_envelope.get("subject"), str) and event_type not in self._known():
            # Written by a newer release than this relay: leave it for a relay that knows it.
            raise PublicationError(f"event type {event_type} unknown to this release", permanent=False)
        try:
            envelope = self._validate(raw_envelope)
        except EventValidationError as exc:
            raise PublicationError(f"invalid: {exc.reason}") from None
        out = [Publication(topic_name(envelope.event_type), envelope)]
        today = self._today()
        for transition in self._transitions:
            if (transition.subject == envelope.subject and transition.to_version == envelope.version
                    and transition.publishes_old_on(today)):
                old_data = self._downcasters[transition.new_event_type](dict(envelope.data))
                old = replace(envelope, version=transition.from_version, data=old_data)
                try:
                    self._validate(old.to_dict())
                except EventValidationError as exc:
                    raise PublicationError(f"downcast to {old.event_type} invalid: {exc.reason}") from None
                out.append(Publication(topic_name(old.event_type), old))
        return out
