"""Schedule: cron and timezone validation, occurrences at the +04:30 / +05:30 / +03:00 offsets and across
DST gaps and folds (a wall time fires once per local day), catch-up bounds, updates and soft delete."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from reporting.domain.errors import ValidationFailed
from reporting.domain.schedule import Recurrence, Schedule, parse_cron, parse_timezone, wall_time_to_instant

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # Tuesday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def occurrences(cron: str, zone: str, after: datetime, n: int) -> list[datetime]:
    recurrence, out = Recurrence.parse(cron, zone), []
    for _ in range(n):
        after = recurrence.next_after(after)
        out.append(after)
    return out


def new_schedule(cron: str = "0 6 * * *", zone: str = "Asia/Kabul", now: datetime = NOW, **kw) -> Schedule:
    return Schedule.create(schedule_id="s1", tenant_id="t1", property_id="p1", template_version_id="v1", cron=cron,
                           timezone_name=zone, params=kw.pop("params", {}), formats=kw.pop("formats", ["pdf"]),
                           locale=kw.pop("locale", "en"), enabled=kw.pop("enabled", True), created_by="admin",
                           now=now)


# ---- validation ----

@pytest.mark.parametrize("cron, normalised", [
    ("0 6 * * *", "0 6 * * *"),
    ("  0   6 * *   * ", "0 6 * * *"),
    ("*/15 9-17 * * 1-5", "*/15 9-17 * * 1-5"),
    ("0 2 * JAN-MAR MON-FRI", "0 2 * JAN-MAR MON-FRI"),
    ("0 0 29 2 *", "0 0 29 2 *"),  # leap days come
    ("30 1 1,15 * 0", "30 1 1,15 * 0"),
])
def test_valid_cron_expressions_are_accepted_and_normalised(cron, normalised):
    assert parse_cron(cron) == normalised


@pytest.mark.parametrize("cron", [
    "", "* * * *", "* * * * * *", "0 0 6 * * *",  # seconds fields and too few fields
    "@daily", "61 * * * *", "0 24 * * *", "*/0 * * * *", "x y z a b", "0 6 * * 8x",
    "0 2 L * *", "0 2 * * MON#2", "H 2 * * *", "0 2 ? * *", "0 2 15W * *",  # croniter's extensions
    "0 0 30 2 *", "0 0 31 4 *",  # never fire
    "0 6 * * *" + " " * 300,
])
def test_nonsense_and_non_standard_cron_is_refused(cron):
    with pytest.raises(ValidationFailed):
        parse_cron(cron)


@pytest.mark.parametrize("name", ["Asia/Kabul", "Asia/Kolkata", "Asia/Riyadh", "America/New_York", "UTC"])
def test_iana_zones_are_accepted(name):
    assert parse_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "America", "asia/kabul", "Asia/Kabul ", "+04:30",
                                  "../../etc/passwd", "/etc/localtime", "localtime", "Factory", "Asia/\x00", 42])
def test_unknown_or_machine_relative_zones_are_refused(name):
    with pytest.raises(ValidationFailed):
        parse_timezone(name)


# ---- fixed offsets: +04:30, +05:30, +03:00 ----

# (cron, zone, after, expected next instants in UTC)
TABLE = [
    ("0 6 * * *", "Asia/Kabul", NOW, [utc(2026, 11, 25, 1, 30), utc(2026, 11, 26, 1, 30)]),
    ("0 6 * * *", "Asia/Kolkata", NOW, [utc(2026, 11, 25, 0, 30), utc(2026, 11, 26, 0, 30)]),
    ("0 6 * * *", "Asia/Riyadh", NOW, [utc(2026, 11, 25, 3, 0), utc(2026, 11, 26, 3, 0)]),
    ("30 23 * * *", "Asia/Kabul", utc(2026, 11, 24, 0, 0), [utc(2026, 11, 24, 19, 0), utc(2026, 11, 25, 19, 0)]),
    ("15 0 * * *", "Asia/Kolkata", utc(2026, 11, 24, 18, 0), [utc(2026, 11, 24, 18, 45), utc(2026, 11, 25, 18, 45)]),
    ("0 * * * *", "Asia/Kabul", NOW, [utc(2026, 11, 24, 6, 30), utc(2026, 11, 24, 7, 30)]),
    ("*/15 * * * *", "Asia/Kolkata", NOW, [utc(2026, 11, 24, 6, 15), utc(2026, 11, 24, 6, 30)]),
    ("0 9 * * 1-5", "Asia/Riyadh", utc(2026, 11, 27, 7, 0), [utc(2026, 11, 30, 6, 0), utc(2026, 12, 1, 6, 0)]),
    ("0 10 * * SUN", "Asia/Riyadh", NOW, [utc(2026, 11, 29, 7, 0), utc(2026, 12, 6, 7, 0)]),
    ("0 0 1 * *", "Asia/Kabul", NOW, [utc(2026, 11, 30, 19, 30), utc(2026, 12, 31, 19, 30)]),
    ("0 2 29 2 *", "Asia/Kolkata", NOW, [utc(2028, 2, 28, 20, 30), utc(2032, 2, 28, 20, 30)]),
    ("0 6 * * *", "UTC", NOW, [utc(2026, 11, 25, 6, 0), utc(2026, 11, 26, 6, 0)]),
    # DST zones, ordinary days
    ("0 6 * * *", "America/New_York", NOW, [utc(2026, 11, 24, 11, 0), utc(2026, 11, 25, 11, 0)]),
    ("0 6 * * *", "Europe/London", utc(2026, 7, 1), [utc(2026, 7, 1, 5, 0), utc(2026, 7, 2, 5, 0)]),
    ("0 6 * * *", "Australia/Sydney", NOW, [utc(2026, 11, 24, 19, 0), utc(2026, 11, 25, 19, 0)]),
]


@pytest.mark.parametrize("cron, zone, after, expected", TABLE, ids=[f"{c}|{z}" for c, z, *_ in TABLE])
def test_next_occurrences_table(cron, zone, after, expected):
    assert occurrences(cron, zone, after, len(expected)) == expected


def test_next_after_is_strictly_after_and_accepts_any_offset():
    kabul = Recurrence.parse("0 6 * * *", "Asia/Kabul")
    on_time = utc(2026, 11, 25, 1, 30)
    assert kabul.next_after(on_time) == utc(2026, 11, 26, 1, 30)
    assert kabul.next_after(on_time - timedelta(microseconds=1)) == on_time
    assert kabul.next_after(on_time.astimezone(ZoneInfo("Asia/Tokyo"))) == utc(2026, 11, 26, 1, 30)
    with pytest.raises(ValueError):
        kabul.next_after(datetime(2026, 11, 24))


# ---- DST: spring-forward gaps fire once at the end of the gap ----

def test_new_york_spring_forward_0230_fires_once_at_0300_local():
    got = occurrences("30 2 * * *", "America/New_York", utc(2026, 3, 6, 12), 3)
    assert got == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]
    local = [g.astimezone(ZoneInfo("America/New_York")) for g in got]
    assert [(x.day, x.hour, x.minute) for x in local] == [(7, 2, 30), (8, 3, 0), (9, 2, 30)]


def test_london_spring_forward_0130_fires_once_at_0200_bst():
    got = occurrences("30 1 * * *", "Europe/London", utc(2026, 3, 28, 12), 2)
    assert got == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_every_wall_time_inside_a_gap_collapses_to_one_firing():
    # 02:00, 02:15, 02:30, 02:45 do not exist on 8 March in New York: one run at 03:00 EDT, then 03:15.
    got = occurrences("*/15 2-3 * * *", "America/New_York", utc(2026, 3, 8, 6, 0), 3)
    assert got == [utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 15), utc(2026, 3, 8, 7, 30)]


def test_hourly_across_the_gap():
    got = occurrences("0 * * * *", "America/New_York", utc(2026, 3, 8, 5, 30), 3)
    assert got == [utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0)]


# ---- DST: fall-back folds fire once, on the first occurrence ----

def test_new_york_fall_back_0130_fires_once():
    got = occurrences("30 1 * * *", "America/New_York", utc(2026, 10, 31), 3)
    assert got == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_london_fall_back_0130_fires_once():
    got = occurrences("30 1 * * *", "Europe/London", utc(2026, 10, 24, 12), 2)
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_tick_inside_the_repeated_hour_does_not_fire_the_second_pass():
    recurrence = Recurrence.parse("30 1 * * *", "America/New_York")
    # 06:10Z is 01:10 EST, the second pass: 01:30 already fired at 05:30Z (EDT).
    assert recurrence.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)
    assert recurrence.next_after(utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 2, 6, 30)


def test_hourly_across_the_fold_skips_the_repeated_hour():
    got = occurrences("0 * * * *", "America/New_York", utc(2026, 11, 1, 3, 30), 3)
    assert got == [utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 7, 0)]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Australia/Sydney", "America/Santiago",
                                  "Asia/Tehran", "Asia/Kabul", "Asia/Kolkata", "Asia/Riyadh"])
@pytest.mark.parametrize("cron", ["30 2 * * *", "30 1 * * *", "0 0 * * *", "59 23 * * *", "30 0 * * *"])
def test_a_daily_wall_time_fires_exactly_once_per_local_day_for_a_year(zone, cron):
    got = occurrences(cron, zone, utc(2025, 12, 31, 12), 400)
    tz = ZoneInfo(zone)
    dates = [g.astimezone(tz).date() for g in got]
    assert all(a < b for a, b in zip(got, got[1:]))
    assert len(set(dates)) == len(dates)
    days = [d for d in dates if d.year == 2026]
    assert days == [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


def test_wall_time_to_instant_rules_directly():
    ny = ZoneInfo("America/New_York")
    assert wall_time_to_instant(datetime(2026, 3, 8, 2, 30), ny) == utc(2026, 3, 8, 7, 0)  # gap → gap end
    assert wall_time_to_instant(datetime(2026, 11, 1, 1, 30), ny) == utc(2026, 11, 1, 5, 30)  # fold → first
    assert wall_time_to_instant(datetime(2026, 6, 1, 12, 0), ny) == utc(2026, 6, 1, 16, 0)


# ---- the aggregate ----

def test_create_sets_the_first_occurrence_after_now():
    s = new_schedule()
    assert s.next_fire_at == utc(2026, 11, 25, 1, 30) and s.enabled and not s.deleted


def test_create_validates_formats_locale_cron_and_zone():
    for bad in ({"formats": []}, {"formats": ["docx"]}, {"formats": ["pdf", "pdf"]}, {"locale": "de"}):
        with pytest.raises(ValidationFailed):
            new_schedule(**bad)
    with pytest.raises(ValidationFailed):
        new_schedule(cron="0 0 6 * * *")
    with pytest.raises(ValidationFailed):
        new_schedule(zone="Asia/Nowhere")


def test_changing_timing_restarts_from_now_and_other_changes_keep_the_next_occurrence():
    s = new_schedule()
    later = NOW + timedelta(hours=1)
    s.update(later, params={"x": 1}, formats=["csv"], template_version_id="v2")
    assert s.next_fire_at == utc(2026, 11, 25, 1, 30) and s.template_version_id == "v2" and s.updated_at == later
    s.update(later, cron="0 7 * * *", timezone_name="Asia/Riyadh")
    assert (s.cron, s.timezone, s.next_fire_at) == ("0 7 * * *", "Asia/Riyadh", utc(2026, 11, 25, 4, 0))
    with pytest.raises(ValidationFailed):
        s.update(later, cron="61 * * * *")
    assert s.cron == "0 7 * * *"  # a refused update changes nothing


def test_switching_back_on_restarts_from_now():
    s = new_schedule()
    s.update(NOW, enabled=False)
    much_later = NOW + timedelta(days=10)
    s.update(much_later, enabled=True)
    assert s.next_fire_at == Recurrence.parse("0 6 * * *", "Asia/Kabul").next_after(much_later)


def test_delete_is_soft_and_switches_off():
    s = new_schedule()
    s.delete(NOW)
    assert s.deleted and s.deleted_at == NOW and not s.enabled


def test_catch_up_requests_every_missed_occurrence_and_resumes_after_now():
    s = new_schedule()  # next 25 Nov 01:30Z
    owed = s.catch_up(utc(2026, 11, 27, 2, 0), max_age=timedelta(days=7), max_count=500)
    assert owed.occurrences == (utc(2026, 11, 25, 1, 30), utc(2026, 11, 26, 1, 30), utc(2026, 11, 27, 1, 30))
    assert owed.dropped == 0 and owed.next_fire_at == utc(2026, 11, 28, 1, 30)


def test_catch_up_drops_what_is_older_than_the_bound():
    s = new_schedule()
    owed = s.catch_up(utc(2026, 12, 5, 2, 0), max_age=timedelta(days=7), max_count=500)
    assert owed.dropped == 4  # 25-28 Nov 01:30Z are more than 7 days before 5 Dec 02:00Z
    assert owed.occurrences[0] == utc(2026, 11, 29, 1, 30) and len(owed.occurrences) == 7


def test_catch_up_defers_beyond_the_per_tick_count():
    s = new_schedule(cron="*/15 * * * *")
    now = s.next_fire_at + timedelta(hours=2)
    owed = s.catch_up(now, max_age=timedelta(days=7), max_count=5)
    assert len(owed.occurrences) == 5 and owed.dropped == 0
    assert owed.next_fire_at == owed.occurrences[-1] + timedelta(minutes=15) <= now  # still due: deferred


def test_nothing_owed_before_the_next_occurrence():
    s = new_schedule()
    owed = s.catch_up(NOW + timedelta(hours=1), max_age=timedelta(days=7), max_count=500)
    assert owed.occurrences == () and owed.next_fire_at == s.next_fire_at


def test_business_date_is_the_day_before_the_local_date_of_the_occurrence():
    kabul = Recurrence.parse("0 6 * * *", "Asia/Kabul")
    assert kabul.business_date(utc(2026, 11, 25, 1, 30)) == date(2026, 11, 24)
    # 00:15 in Kolkata on 25 Nov is still 24 Nov in UTC: the local date decides.
    assert Recurrence.parse("15 0 * * *", "Asia/Kolkata").business_date(utc(2026, 11, 24, 18, 45)) == \
        date(2026, 11, 24)
