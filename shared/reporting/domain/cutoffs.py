"""Legal cutoffs per adapter (SPEC §8), in the authority's timezone, and the retry plan that never passes them.

| adapter | subject | cutoff |
|---|---|---|
| AF police guest register | a business date | 10:00 Asia/Kabul the next day (*assumption*, SPEC §8) |
| KSA VAT (ZATCA) | an invoice | 24 h after issue (ZATCA's reporting rule for simplified invoices) |
| IN Form C (FRRO) | a foreign guest's arrival | 24 h after the arrival at the hotel (FRRO rule) |
| fake | any | as the adapter it stands in for |

Retries: exponential backoff with full jitter (AWS architecture blog's "full jitter":
a random delay in [0, min(cap, base·2^n)]), but never planned at or past the cutoff:
when the backoff would land after the last moment worth trying (cutoff − margin), the
next attempt is planned at that last moment instead, if it is still ahead; otherwise no
attempt is left and the watchdog records the miss at the cutoff.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reporting.domain.submission import Adapter

AUTHORITY_TIMEZONE: dict[Adapter, str] = {
    Adapter.AF_POLICE: "Asia/Kabul",
    Adapter.KSA_ZATCA: "Asia/Riyadh",
    Adapter.IN_FORM_C: "Asia/Kolkata",
}
AF_POLICE_DEADLINE = time(10, 0)  # the next day, local time (assumption, SPEC §8)
PER_SUBJECT_WINDOW = timedelta(hours=24)  # ZATCA and Form C
# Their subject is one invoice or one guest's arrival, each cut off PER_SUBJECT_WINDOW after it: their
# scheduled runs report on the day so far, hourly, so a subject is filed within about an hour of
# existing and keeps some 23 hours of retry room (service_layer/schedules.py).
PER_SUBJECT_ADAPTERS = frozenset({Adapter.KSA_ZATCA, Adapter.IN_FORM_C})

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(minutes=30)
LAST_CHANCE_MARGIN = timedelta(minutes=5)  # an attempt takes seconds; keep room for its answer


def business_date_cutoff(adapter: Adapter, business_date: date) -> datetime:
    """AF police: the register of a business date is due at 10:00 Kabul time the next day."""
    tz = ZoneInfo(AUTHORITY_TIMEZONE.get(adapter, "Asia/Kabul"))
    return datetime.combine(business_date + timedelta(days=1), AF_POLICE_DEADLINE, tzinfo=tz)


def per_subject_cutoff(event_at: datetime) -> datetime:
    """ZATCA (invoice issued) and Form C (guest arrived): 24 hours after the event."""
    if event_at.tzinfo is None:
        raise ValueError("the subject's time must be aware")
    return event_at + PER_SUBJECT_WINDOW


def plan_retry(now: datetime, attempts: int, cutoff: datetime, *, rng: random.Random | None = None,
               base: timedelta = RETRY_BASE, cap: timedelta = RETRY_CAP,
               margin: timedelta = LAST_CHANCE_MARGIN) -> datetime | None:
    """When to try again after `attempts` failed attempts; None when no attempt fits before the cutoff."""
    last_chance = cutoff - margin
    if now >= last_chance:
        return None
    # The exponent stops growing long before the cap is reached: a day-long outage makes hundreds of attempts.
    ceiling = min(cap, base * (2 ** min(max(attempts - 1, 0), 30)))
    delay = ceiling * (rng or random).random()
    planned = now + max(delay, timedelta(seconds=1))
    return planned if planned < last_chance else last_chance
