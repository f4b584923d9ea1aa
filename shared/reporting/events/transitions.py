"""Event version transitions (plan §3): while a subject moves from vN to vN+1, both are published.

The transition is configuration (`transitions.json`, package data) with a start
date. The producer emits the new version into the outbox; the relay also
publishes the old one, derived by a registered downcaster, until the transition
is retired. Retiring earlier than one quarter after the start is refused by the
evolution gate (`reporting events check`), so consumers always get their quarter.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

MIN_TRANSITION_MONTHS = 3  # "at least one quarter"


class TransitionConfigError(ValueError):
    """transitions.json is malformed."""


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day (Nov 30 + 3 months = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Transition:
    subject: str  # e.g. "report_run.completed" (no version)
    from_version: int
    to_version: int
    started_on: date
    retire_on: date | None = None  # first day the old version is no longer published

    @property
    def earliest_retirement(self) -> date:
        return add_months(self.started_on, MIN_TRANSITION_MONTHS)

    @property
    def old_event_type(self) -> str:
        return f"{self.subject}.v{self.from_version}"

    @property
    def new_event_type(self) -> str:
        return f"{self.subject}.v{self.to_version}"

    def publishes_old_on(self, today: date) -> bool:
        return self.retire_on is None or today < self.retire_on

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Transition":
        try:
            transition = cls(subject=str(raw["subject"]), from_version=int(raw["from_version"]),
                             to_version=int(raw["to_version"]), started_on=date.fromisoformat(raw["started_on"]),
                             retire_on=date.fromisoformat(raw["retire_on"]) if raw.get("retire_on") else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise TransitionConfigError(f"transition {raw!r}: {exc}") from None
        if transition.to_version != transition.from_version + 1:
            raise TransitionConfigError(f"transition {transition.subject}: versions must be consecutive")
        return transition


def load_transitions(path: Path | None = None) -> list[Transition]:
    source = Path(path) if path else files("reporting.events").joinpath("transitions.json")
    raw = json.loads(source.read_text(encoding="utf-8"))
    return [Transition.from_dict(entry) for entry in raw.get("transitions", [])]
