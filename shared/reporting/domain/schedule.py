"""Schedule: a pinned template version fired on a wall-clock cron in an IANA timezone (SPEC §3).

Occurrences are computed on naive local wall times (croniter never sees a
timezone) and converted to UTC with zoneinfo here, so the DST rules are ours and
tested, not a library's side effect:

- a wall time that does not exist (spring-forward gap) fires once, at the first
  instant after the gap (02:30 in New York on the spring-forward day → 03:00 EDT);
- a wall time that happens twice (fall-back fold) fires once, on its first
  occurrence (fold=0), never twice.

Both rules keep the mapping wall time → instant monotone, which is what makes
`next_after` a simple forward search and "a wall time fires once per local day" hold.
"""
from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from reporting.domain.errors import ValidationFailed
from reporting.domain.template import FORMATS
from reporting.domain.tenant import LOCALES

UTC = timezone.utc
MAX_CRON_LENGTH = 200
# Standard 5-field cron: numbers, *, ranges, steps, lists, and three-letter month / weekday names.
# croniter's extensions (seconds and year fields, L, W, #, H, ?, @macros) are refused: an operator
# should be able to read a schedule with any cron manual.
_FIELD = re.compile(r"^[0-9*,/\-]+$")
_NAMED_FIELD = re.compile(r"^(?:[0-9*,/\-]|[A-Za-z]{3})+$")
# A search that has not found an instant after this many candidates is a bug, not a schedule.
_MAX_CANDIDATES = 100_000


def parse_cron(expression: str) -> str:
    """A validated, whitespace-normalised 5-field cron expression (minute hour day month weekday)."""
    if not isinstance(expression, str) or len(expression) > MAX_CRON_LENGTH:
        raise ValidationFailed("cron must be a string of at most 200 characters")
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationFailed("cron must have exactly 5 fields: minute hour day-of-month month day-of-week",
                               fields=len(fields))
    for index, text in enumerate(fields):
        pattern = _NAMED_FIELD if index >= 3 else _FIELD
        if not pattern.match(text):
            raise ValidationFailed("cron field uses unsupported syntax", field=index + 1)
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise ValidationFailed("cron expression is not valid")
    try:
        # Days that never come (30 February) are valid syntax but never fire: refuse them.
        croniter(normalised, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, CroniterBadCronError, ValueError):
        raise ValidationFailed("cron expression never fires") from None
    return normalised


@lru_cache(maxsize=1)
def _iana_zones() -> frozenset[str]:
    # The names tzdata ships, less the machine-relative ones: a schedule must mean the same everywhere.
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA zone name such as Asia/Kabul (file paths and machine-local names are refused)."""
    if not isinstance(name, str) or name not in _iana_zones():
        raise ValidationFailed("unknown IANA timezone (use a name such as Asia/Kabul)")
    return ZoneInfo(name)


def wall_time_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive local wall time fires at: gaps move to the gap's end, folds take fold=0."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first <= second:  # equal: an ordinary time; first < second: a fold, and the first occurrence wins
        return first
    # In a gap fold=0 reads the wall time with the offset from before the transition and fold=1 with the
    # one after, so the transition instant lies in (second, first]. Transitions fall on whole seconds:
    # bisect on them, keeping "offset before" at `low` and "offset after" at `high`.
    before = wall.replace(tzinfo=zone, fold=0).utcoffset()
    low, high = int(second.timestamp()), int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=16_384)
def _next_after(cron: str, timezone_name: str, instant: datetime) -> datetime:
    # Memoised: many schedules share a cron, a zone and a due instant ("0 6 * * *" in Asia/Kabul), and a
    # tick of ten thousand of them should search once per distinct triple, not once per schedule.
    zone = ZoneInfo(timezone_name)
    # Start from the instant's own wall time. Its instant is never later than `instant` (in a fold it
    # is the first pass), and the mapping is monotone, so no earlier wall time can fire after
    # `instant`: the answer is the first later candidate that does.
    wall = instant.astimezone(zone).replace(tzinfo=None, fold=0)
    candidates = croniter(cron, wall)
    for _ in range(_MAX_CANDIDATES):
        at = wall_time_to_instant(candidates.get_next(datetime), zone)
        if at > instant:
            return at
    raise RuntimeError(f"no occurrence of {cron!r} in {timezone_name} found after {instant.isoformat()}")


@dataclass(frozen=True)
class Recurrence:
    """A validated cron expression in an IANA timezone."""

    cron: str
    timezone: str

    @classmethod
    def parse(cls, cron: str, timezone_name: str) -> "Recurrence":
        parse_timezone(timezone_name)
        return cls(parse_cron(cron), timezone_name)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_after(self, instant: datetime) -> datetime:
        """The first occurrence strictly after `instant` (aware), as an aware UTC datetime."""
        if instant.tzinfo is None:
            raise ValueError("next_after needs an aware instant")
        return _next_after(self.cron, self.timezone, instant.astimezone(UTC))

    def catch_up(self, next_fire_at: datetime, now: datetime, *, max_age: timedelta, max_count: int) -> CatchUp:
        """Every occurrence from `next_fire_at` up to `now`: at most `max_count` (the rest stay due for the
        next tick), none older than `now - max_age` (counted as dropped, never requested)."""
        at, dropped = next_fire_at, 0
        cutoff = now - max_age
        if at < cutoff:
            resume = self.next_after(cutoff - timedelta(microseconds=1))
            probe = at
            while probe < resume and dropped < max_count:  # counted for the log, within a bound
                dropped += 1
                probe = self.next_after(probe)
            at = resume
        occurrences: list[datetime] = []
        while at <= now and len(occurrences) < max_count:
            occurrences.append(at)
            at = self.next_after(at)
        return CatchUp(tuple(occurrences), dropped, at)

    def business_date(self, scheduled_at: datetime, *, day_so_far: bool = False) -> date:
        """The business date an occurrence reports on: the day before its local date, or for a per-subject
        regulatory template the local date itself (the day so far; see schedules.py)."""
        local = scheduled_at.astimezone(self.zone).date()
        return local if day_so_far else local - timedelta(days=1)


@dataclass(frozen=True)
class CatchUp:
    """What one tick owes a schedule: the occurrences to request, those too old to request, where to resume."""

    occurrences: tuple[datetime, ...]
    dropped: int
    next_fire_at: datetime


@dataclass(frozen=True)
class DueSchedule:
    """The minimum the cross-tenant due read discloses: which schedule, whose, due since when."""

    schedule_id: str
    tenant_id: str
    next_fire_at: datetime


@dataclass(frozen=True)
class ScheduleAdvance:
    """Move next_fire_at from `expected` (what the tick read) to `to`; `fired` is the last occurrence requested."""

    schedule_id: str
    expected: datetime
    to: datetime
    fired: datetime | None


@dataclass(frozen=True)
class Firing:
    """What the tick reads of a due schedule: enough to request its runs and advance it, nothing more."""

    schedule_id: str
    tenant_id: str
    property_id: str
    template_version_id: str
    snapshot_hash: str  # of the pinned version, recorded on every run (snapshot-on-run)
    recurrence: Recurrence
    params: dict[str, Any]
    formats: list[str]
    locale: str
    next_fire_at: datetime
    regulatory_adapter: str | None = None  # of the pinned version: per-subject ones report on the day so far


@dataclass
class Schedule:
    schedule_id: str
    tenant_id: str
    property_id: str
    template_version_id: str
    cron: str
    timezone: str
    params: dict[str, Any]
    formats: list[str]
    locale: str
    enabled: bool
    next_fire_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_fired_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def create(cls, *, schedule_id: str, tenant_id: str, property_id: str, template_version_id: str, cron: str,
               timezone_name: str, params: dict[str, Any], formats: list[str], locale: str, enabled: bool,
               created_by: str, now: datetime) -> "Schedule":
        recurrence = Recurrence.parse(cron, timezone_name)
        _check_formats_and_locale(formats, locale)
        return cls(schedule_id=schedule_id, tenant_id=tenant_id, property_id=property_id,
                   template_version_id=template_version_id, cron=recurrence.cron, timezone=recurrence.timezone,
                   params=dict(params), formats=list(formats), locale=locale, enabled=enabled,
                   next_fire_at=recurrence.next_after(now), created_by=created_by, created_at=now, updated_at=now)

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(self.cron, self.timezone)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def next_after(self, instant: datetime) -> datetime:
        """The schedule's first occurrence strictly after `instant`, in UTC."""
        return self.recurrence.next_after(instant)

    def update(self, now: datetime, *, template_version_id: str | None = None, cron: str | None = None,
               timezone_name: str | None = None, params: dict[str, Any] | None = None,
               formats: list[str] | None = None, locale: str | None = None, enabled: bool | None = None) -> None:
        """Change what was given (None: unchanged). A new cron or timezone, or switching the schedule back
        on, restarts it from `now`: occurrences missed while it was off, or under its old timing, never fire."""
        recurrence = Recurrence.parse(cron if cron is not None else self.cron,
                                      timezone_name if timezone_name is not None else self.timezone)
        new_formats = list(formats) if formats is not None else self.formats
        new_locale = locale if locale is not None else self.locale
        _check_formats_and_locale(new_formats, new_locale)
        restart = (recurrence != self.recurrence) or (enabled is True and not self.enabled)
        self.cron, self.timezone = recurrence.cron, recurrence.timezone
        if template_version_id is not None:
            self.template_version_id = template_version_id
        if params is not None:
            self.params = dict(params)
        self.formats, self.locale = new_formats, new_locale
        if enabled is not None:
            self.enabled = enabled
        if restart:
            self.next_fire_at = recurrence.next_after(now)
        self.updated_at = now

    def delete(self, now: datetime) -> None:
        """Soft delete: the row stays as the history behind the runs it requested."""
        self.enabled = False
        self.deleted_at = self.deleted_at or now
        self.updated_at = now

    def catch_up(self, now: datetime, *, max_age: timedelta, max_count: int) -> CatchUp:
        """What a tick at `now` owes this schedule (see Recurrence.catch_up)."""
        return self.recurrence.catch_up(self.next_fire_at, now, max_age=max_age, max_count=max_count)


def _check_formats_and_locale(formats: list[str], locale: str) -> None:
    if not formats or not set(formats) <= set(FORMATS) or len(set(formats)) != len(formats):
        raise ValidationFailed("formats must be distinct values among pdf, csv, html")
    if locale not in LOCALES:
        raise ValidationFailed("unknown locale", locale=locale)
