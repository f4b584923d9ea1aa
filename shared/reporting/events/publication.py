"""What the relay publishes for one outbox entry: its own version, plus the older one during a transition.

Every message is validated against its schema before it leaves (a producer bug is
caught here, set aside with its reason, and never reaches a consumer).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable, Mapping

from reporting.events.catalog import EventValidationError, validate_or_throw
from reporting.events.downcasters import DOWNCASTERS, Downcaster
from reporting.events.envelope import Envelope
from reporting.events.transitions import Transition, load_transitions
from reporting.events.wiring import topic_name


class PublicationError(Exception):
    """The outbox entry can never be published (invalid, or its transition is misconfigured)."""


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
                 validate: Callable[[dict[str, Any]], Envelope] = validate_or_throw) -> None:
        self._today = today
        self._transitions = load_transitions() if transitions is None else transitions
        self._downcasters = DOWNCASTERS if downcasters is None else downcasters
        self._validate = validate
        for transition in self._transitions:
            if transition.new_event_type not in self._downcasters:
                raise PublicationError(f"transition {transition.subject}: no downcaster registered for "
                                       f"{transition.new_event_type}")

    def publications(self, raw_envelope: dict[str, Any]) -> list[Publication]:
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
