"""Test doubles that are honest: they keep state and obey the same rules as the real adapters."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from reporting.service_layer.ports import Clock


class MutableClock(Clock):
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        self._now = when
