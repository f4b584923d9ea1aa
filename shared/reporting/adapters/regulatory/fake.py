"""FakeRegulatoryAdapter (plan §8): the default for the demo, the tests and the soak; it ships in the library.

Scripted, deterministic behaviour so an operator or a test can rehearse the bad days:
- `outages`: time windows during which every filing gets a transient failure
  (the authority is down), e.g. "fail for two hours before a cutoff";
- `slow`: windows during which the authority answers only after a delay (the clock
  is advanced by it when a simulated clock is used, so a soak stays fast);
- `reject_subjects`: subject refs (or `*`) permanently rejected, as a malformed
  payload would be;
- `fail_first`: the first N attempts of each submission fail transiently.
Accepted filings get a stable reference derived from the submission id, so a retried
filing of the same submission gets the same reference (the authority's idempotency).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from reporting.service_layer.regulatory import FilingRequest, FilingResult, RegulatoryAdapter


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end


@dataclass
class FakeScript:
    outages: list[Window] = field(default_factory=list)
    slow: list[tuple[Window, timedelta]] = field(default_factory=list)
    reject_subjects: set[str] = field(default_factory=set)
    fail_first: int = 0

    @classmethod
    def from_json(cls, text: str) -> "FakeScript":
        """The demo's/operator's form: {"outages": [["2026-11-24T06:00+04:30", "2026-11-24T08:00+04:30"]], …}."""
        raw = json.loads(text or "{}")
        parse = datetime.fromisoformat
        return cls(outages=[Window(parse(a), parse(b)) for a, b in raw.get("outages", [])],
                   slow=[(Window(parse(a), parse(b)), timedelta(seconds=s)) for a, b, s in raw.get("slow", [])],
                   reject_subjects=set(raw.get("reject_subjects", [])), fail_first=int(raw.get("fail_first", 0)))


class FakeRegulatoryAdapter(RegulatoryAdapter):
    name = "fake"

    def __init__(self, script: FakeScript | None = None, *, now: Callable[[], datetime],
                 wait: Callable[[timedelta], None] | None = None) -> None:
        self.script = script or FakeScript()
        self._now = now
        self._wait = wait or (lambda delay: None)
        self.filed: list[tuple[str, int, str]] = []  # (submission id, attempt, outcome): what a test inspects

    def file(self, request: FilingRequest) -> FilingResult:
        now = self._now()
        for window, delay in self.script.slow:
            if window.contains(now):
                self._wait(delay)
                now = self._now()
        if any(w.contains(now) for w in self.script.outages):
            result = FilingResult.transient("FAKE_UNAVAILABLE", "the authority is not answering (scripted outage)")
        elif request.attempt <= self.script.fail_first:
            result = FilingResult.transient("FAKE_TRY_LATER", "scripted transient failure")
        elif request.subject_ref in self.script.reject_subjects or "*" in self.script.reject_subjects:
            result = FilingResult.rejected("FAKE_REJECTED", "scripted rejection of the payload")
        else:
            digest = hashlib.sha256(request.submission_id.encode()).hexdigest()[:16].upper()
            result = FilingResult.accepted(f"FAKE-{request.adapter.upper()}-{digest}")
        self.filed.append((request.submission_id, request.attempt, str(result.outcome)))
        return result
