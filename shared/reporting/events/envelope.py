"""The event envelope of SPEC §5, shared by the outbox, Pub/Sub and the local bus."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

SUBJECT_RE = re.compile(r"^(?P<subject>[a-z_]+\.[a-z_]+)\.v(?P<version>[1-9][0-9]*)$")


def split_event_type(event_type: str) -> tuple[str, int]:
    """'report_run.requested.v1' -> ('report_run.requested', 1)."""
    match = SUBJECT_RE.match(event_type)
    if not match:
        raise ValueError(f"event type {event_type!r} is not aggregate.verb_past_tense.vN")
    return match["subject"], int(match["version"])


@dataclass(frozen=True)
class Envelope:
    event_id: str
    subject: str  # aggregate.verb_past_tense, without the version
    version: int
    occurred_at: str  # RFC 3339, UTC
    tenant_id: str
    residency: str
    correlation_id: str
    causation_id: str | None
    aggregate_id: str
    data: dict[str, Any]

    @property
    def event_type(self) -> str:
        """The versioned name consumers and topics use: subject.vN."""
        return f"{self.subject}.v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def attributes(self) -> dict[str, str]:
        """Pub/Sub message attributes: enough to route and filter without reading the body."""
        return {
            "event_type": self.event_type, "subject": self.subject, "version": f"v{self.version}",
            "tenant_id": self.tenant_id, "residency": self.residency, "event_id": self.event_id,
        }

    @classmethod
    def for_event(cls, event: Any, *, event_id: str, occurred_at: str, tenant_id: str, residency: str,
                  correlation_id: str, causation_id: str | None) -> "Envelope":
        """The envelope of a domain event (subject.vN, aggregate id, data) as the outbox stores it."""
        subject, version = split_event_type(event.subject)
        return cls(event_id=event_id, subject=subject, version=version, occurred_at=occurred_at,
                   tenant_id=tenant_id, residency=residency,
                   correlation_id=event.correlation_id or correlation_id,
                   causation_id=event.causation_id or causation_id, aggregate_id=event.aggregate_id,
                   data=event.data)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Envelope":
        return cls(**{name: raw.get(name) for name in cls.__dataclass_fields__})  # type: ignore[arg-type]
