"""Legal cutoffs in the authority's timezone, and retries that never plan past them."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from reporting.domain.cutoffs import (LAST_CHANCE_MARGIN, RETRY_CAP, business_date_cutoff, per_subject_cutoff,
                                      plan_retry)
from reporting.domain.submission import Adapter

UTC = timezone.utc


def test_the_af_police_register_is_due_at_ten_kabul_time_the_next_day():
    assert business_date_cutoff(Adapter.AF_POLICE, date(2026, 11, 23)) == datetime(2026, 11, 24, 5, 30, tzinfo=UTC)


def test_per_subject_cutoffs_are_24_hours_after_the_subject_and_need_an_aware_time():
    issued = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert per_subject_cutoff(issued) == issued + timedelta(hours=24)
    with pytest.raises(ValueError):
        per_subject_cutoff(datetime(2026, 11, 23, 10, 0))


@pytest.mark.parametrize("attempts", [1, 2, 5, 10, 40, 400, 100_000])
def test_a_retry_is_planned_after_now_and_before_the_last_chance_however_many_attempts(attempts):
    rng = random.Random(attempts)
    now = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    cutoff = now + timedelta(hours=6)
    for _ in range(50):
        planned = plan_retry(now, attempts, cutoff, rng=rng)
        assert planned is not None and now < planned <= cutoff - LAST_CHANCE_MARGIN
        assert planned - now <= RETRY_CAP


def test_backoff_grows_with_attempts_until_the_cap():
    now = datetime(2026, 11, 24, tzinfo=UTC)
    far = now + timedelta(days=2)

    def worst(attempts: int) -> timedelta:
        return max(plan_retry(now, attempts, far, rng=random.Random(s)) - now for s in range(200))

    assert worst(1) <= timedelta(minutes=1) < worst(4) <= timedelta(minutes=8) < worst(8) <= RETRY_CAP


def test_close_to_the_cutoff_the_last_chance_is_taken_and_after_it_nothing_is_planned():
    now = datetime(2026, 11, 24, tzinfo=UTC)
    cutoff = now + LAST_CHANCE_MARGIN + timedelta(minutes=2)
    assert plan_retry(now, 9, cutoff, rng=random.Random(1)) <= cutoff - LAST_CHANCE_MARGIN
    assert plan_retry(cutoff - LAST_CHANCE_MARGIN, 1, cutoff) is None
    assert plan_retry(cutoff, 1, cutoff) is None
