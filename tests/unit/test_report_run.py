"""ReportRun: the SPEC §3 state machine, its events (checked against the catalog), idempotency keys, due times."""
from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from reporting.domain.errors import Conflict, IllegalStateTransition, ValidationFailed
from reporting.domain.events import DomainEvent
from reporting.domain.report_run import (DUE_AFTER, TRANSITIONS, ReportRun, RunOrigin, RunState, idempotency_key,
                                         request_hash)
from reporting.events.catalog import schema_for, validate_or_throw
from reporting.events.envelope import split_event_type

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
TENANT = "11111111-1111-4111-8111-111111111111"
PROPERTY = "22222222-2222-4222-8222-222222222222"
VERSION = "44444444-4444-4444-8444-444444444444"
CORRELATION = "66666666-6666-4666-8666-666666666666"
SNAPSHOT = "a" * 64
ARTIFACT = {"format": "pdf", "uri": "file:///tmp/report.pdf", "sha256": "b" * 64, "size_bytes": 1234}

# SPEC §3, written out independently of the code's TRANSITIONS table.
ALLOWED = {
    (RunState.REQUESTED, RunState.RENDERING),
    (RunState.REQUESTED, RunState.CANCELLED),
    (RunState.RENDERING, RunState.SUCCEEDED),
    (RunState.RENDERING, RunState.FAILED),
    (RunState.RENDERING, RunState.CANCELLED),
    (RunState.SUCCEEDED, RunState.SUPERSEDED),
}


def new_run(origin: RunOrigin = RunOrigin.USER, *, now: datetime = NOW, **overrides: Any) -> ReportRun:
    fields: dict[str, Any] = dict(
        run_id=str(uuid.uuid4()), tenant_id=TENANT, property_id=PROPERTY, template_version_id=VERSION,
        snapshot_hash=SNAPSHOT, params={}, locale="en", formats=["pdf", "csv"], run_date=date(2026, 11, 23),
        origin=origin, idempotency_key="user:abc", request_hash="c" * 64, requested_by="user-1",
        correlation_id=CORRELATION, now=now,
    )
    fields.update(overrides)
    return ReportRun.request(**fields)


def transition(run: ReportRun, wanted: RunState) -> None:
    """Drive the run towards `wanted` through its public API (REQUESTED has none: nothing goes back to it)."""
    later = NOW + timedelta(minutes=5)
    actions: dict[RunState, Callable[[], None]] = {
        RunState.RENDERING: lambda: run.start_rendering(later),
        RunState.SUCCEEDED: lambda: run.succeed(later, [ARTIFACT]),
        RunState.FAILED: lambda: run.fail(later, "MELMASTOON.REPORTING.RENDER_FAILED", "boom"),
        RunState.CANCELLED: lambda: run.cancel(later, "operator asked"),
        RunState.SUPERSEDED: lambda: run.supersede(later, str(uuid.uuid4())),
        RunState.REQUESTED: lambda: run._move(RunState.REQUESTED),
    }
    actions[wanted]()


def envelope_for(event: DomainEvent) -> dict[str, Any]:
    """The envelope the unit of work would write to the outbox for this event."""
    subject, version = split_event_type(event.subject)
    return {
        "event_id": str(uuid.uuid4()), "subject": subject, "version": version, "occurred_at": NOW.isoformat(),
        "tenant_id": TENANT, "residency": "AF", "correlation_id": event.correlation_id or str(uuid.uuid4()),
        "causation_id": event.causation_id, "aggregate_id": event.aggregate_id, "data": event.data,
    }


def assert_matches_catalog(event: DomainEvent) -> None:
    validate_or_throw(envelope_for(event))
    declared = schema_for(event.subject)["properties"]["data"]["properties"]
    extra = set(event.data) - set(declared)
    assert not extra, f"{event.subject} carries fields its schema does not declare: {sorted(extra)}"


# --- state machine -----------------------------------------------------------


def test_code_transition_table_is_exactly_spec_section_3() -> None:
    table = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_transition_moves_the_run(current: RunState, wanted: RunState) -> None:
    run = new_run()
    run.state = current
    transition(run, wanted)
    assert run.state is wanted


@pytest.mark.parametrize(("current", "wanted"),
                         [pair for pair in itertools.product(RunState, RunState) if pair not in ALLOWED])
def test_transition_not_in_spec_raises_and_leaves_run_untouched(current: RunState, wanted: RunState) -> None:
    run = new_run()
    run.state = current
    events_before = list(run.events)
    with pytest.raises(IllegalStateTransition) as err:
        transition(run, wanted)
    assert run.state is current
    assert run.events == events_before, "an illegal transition must not emit an event"
    assert isinstance(err.value, Conflict) and err.value.http_status == 409
    assert err.value.details == {"current": current, "wanted": wanted}


def test_cancelled_run_cannot_start_rendering() -> None:
    run = new_run()
    run.cancel(NOW, "operator asked")
    with pytest.raises(IllegalStateTransition):
        run.start_rendering(NOW)
    assert run.state is RunState.CANCELLED and run.attempts == 0


def test_full_happy_path_then_supersede_records_the_successor() -> None:
    run = new_run()
    run.start_rendering(NOW + timedelta(minutes=1))
    run.succeed(NOW + timedelta(minutes=2), [ARTIFACT])
    successor = str(uuid.uuid4())
    run.supersede(NOW + timedelta(hours=1), successor)
    assert run.state is RunState.SUPERSEDED
    assert run.superseded_by == successor
    assert run.finished_at == NOW + timedelta(minutes=2)


def test_failure_keeps_code_and_truncates_message() -> None:
    run = new_run()
    run.start_rendering(NOW)
    run.fail(NOW, "MELMASTOON.REPORTING.RENDER_FAILED", "x" * 2000)
    assert run.error_code == "MELMASTOON.REPORTING.RENDER_FAILED"
    assert len(run.error_message or "") == 500


# --- events ------------------------------------------------------------------


def test_request_records_one_requested_event_valid_against_its_schema() -> None:
    run = new_run()
    assert [e.subject for e in run.events] == ["report_run.requested.v1"]
    event = run.events[0]
    assert event.aggregate_id == run.run_id
    assert event.correlation_id == CORRELATION
    assert event.data["due_by"] == (NOW + timedelta(minutes=15)).isoformat()
    assert event.data["formats"] == ["pdf", "csv"]
    assert_matches_catalog(event)


def test_succeed_records_completed_event_valid_against_its_schema() -> None:
    run = new_run()
    run.start_rendering(NOW)
    run.succeed(NOW + timedelta(minutes=3), [ARTIFACT])
    event = run.events[-1]
    assert event.subject == "report_run.completed.v1"
    assert event.aggregate_id == run.run_id
    assert event.data["on_time"] is True
    assert event.data["artifacts"] == [ARTIFACT]
    assert_matches_catalog(event)
    artifact_keys = schema_for(event.subject)["properties"]["data"]["properties"]["artifacts"]["items"]["properties"]
    assert set(event.data["artifacts"][0]) <= set(artifact_keys)


def test_success_after_due_by_is_reported_late() -> None:
    run = new_run()
    run.start_rendering(NOW)
    run.succeed(run.due_by + timedelta(seconds=1), [ARTIFACT])
    assert run.events[-1].data["on_time"] is False
    assert_matches_catalog(run.events[-1])


def test_success_exactly_at_due_by_is_on_time() -> None:
    run = new_run()
    run.start_rendering(NOW)
    run.succeed(run.due_by, [ARTIFACT])
    assert run.events[-1].data["on_time"] is True


def test_fail_records_failed_event_with_code_but_not_the_message() -> None:
    run = new_run(RunOrigin.SCHEDULE, idempotency_key="schedule:s1:2026-11-24T06:00:00+00:00")
    run.start_rendering(NOW)
    run.fail(NOW, "MELMASTOON.REPORTING.RENDER_FAILED", "guest Jane Doe passport P1234567X broke the layout")
    event = run.events[-1]
    assert event.subject == "report_run.failed.v1"
    assert event.data["error_code"] == "MELMASTOON.REPORTING.RENDER_FAILED"
    assert event.data["origin"] == "schedule"
    assert "P1234567X" not in repr(event.data), "error messages may carry guest data; events must not"
    assert_matches_catalog(event)


@pytest.mark.parametrize("from_state", [RunState.REQUESTED, RunState.RENDERING])
def test_cancel_records_cancelled_event_valid_against_its_schema(from_state: RunState) -> None:
    run = new_run()
    if from_state is RunState.RENDERING:
        run.start_rendering(NOW)
    run.cancel(NOW, "r" * 1000)
    event = run.events[-1]
    assert event.subject == "report_run.cancelled.v1"
    assert event.aggregate_id == run.run_id
    assert len(event.data["reason"]) == 200  # the schema's maxLength
    assert_matches_catalog(event)


def test_start_rendering_and_supersede_emit_no_events() -> None:
    run = new_run()
    run.start_rendering(NOW)
    run.succeed(NOW, [ARTIFACT])
    subjects_before = [e.subject for e in run.events]
    run.supersede(NOW, str(uuid.uuid4()))
    assert [e.subject for e in run.events] == subjects_before == ["report_run.requested.v1",
                                                                  "report_run.completed.v1"]


# --- attempts ----------------------------------------------------------------


def test_new_run_has_no_attempts() -> None:
    assert new_run().attempts == 0


def test_each_render_start_and_retry_counts_one_attempt() -> None:
    run = new_run()
    run.start_rendering(NOW)
    assert run.attempts == 1
    run.retry_rendering(NOW + timedelta(minutes=1))
    run.retry_rendering(NOW + timedelta(minutes=2))
    assert run.attempts == 3
    assert run.started_at == NOW + timedelta(minutes=2)
    assert run.state is RunState.RENDERING


@pytest.mark.parametrize("state", [s for s in RunState if s is not RunState.RENDERING])
def test_retry_rendering_outside_rendering_is_refused_and_not_counted(state: RunState) -> None:
    run = new_run()
    run.state = state
    with pytest.raises(IllegalStateTransition):
        run.retry_rendering(NOW)
    assert run.attempts == 0
    assert run.state is state


# --- idempotency keys --------------------------------------------------------


def test_user_key_is_namespaced() -> None:
    assert idempotency_key(RunOrigin.USER, user_key="abc-123") == "user:abc-123"


def test_user_key_of_200_characters_is_accepted() -> None:
    assert idempotency_key(RunOrigin.USER, user_key="k" * 200) == "user:" + "k" * 200


@pytest.mark.parametrize("bad", [None, "", "k" * 201, "line\nbreak", "tab\there", "nul\x00"])
def test_user_key_missing_too_long_or_unprintable_is_refused(bad: str | None) -> None:
    with pytest.raises(ValidationFailed, match="Idempotency-Key"):
        idempotency_key(RunOrigin.USER, user_key=bad)


def test_schedule_key_names_schedule_and_scheduled_time() -> None:
    at = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    assert idempotency_key(RunOrigin.SCHEDULE, schedule_id="sch-1", scheduled_at=at) == \
        "schedule:sch-1:2026-11-24T06:00:00+00:00"


def test_schedule_key_ignores_a_user_key() -> None:
    at = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    key = idempotency_key(RunOrigin.SCHEDULE, user_key="abc", schedule_id="sch-1", scheduled_at=at)
    assert key.startswith("schedule:sch-1:")


@pytest.mark.parametrize("kwargs", [
    {"schedule_id": None, "scheduled_at": NOW},
    {"schedule_id": "", "scheduled_at": NOW},
    {"schedule_id": "sch-1", "scheduled_at": None},
])
def test_schedule_key_without_schedule_or_time_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed, match="schedule"):
        idempotency_key(RunOrigin.SCHEDULE, **kwargs)


def test_backfill_key_names_property_version_and_date() -> None:
    key = idempotency_key(RunOrigin.BACKFILL, property_id="p1", template_version_id="v1", run_date=date(2026, 9, 1))
    assert key == "backfill:p1:v1:2026-09-01"


@pytest.mark.parametrize("missing", ["property_id", "template_version_id", "run_date"])
def test_backfill_key_missing_a_part_is_refused(missing: str) -> None:
    kwargs: dict[str, Any] = {"property_id": "p1", "template_version_id": "v1", "run_date": date(2026, 9, 1)}
    kwargs[missing] = None
    with pytest.raises(ValidationFailed, match="backfill"):
        idempotency_key(RunOrigin.BACKFILL, **kwargs)


def test_keys_of_different_namespaces_never_collide() -> None:
    user = idempotency_key(RunOrigin.USER, user_key="backfill:p1:v1:2026-09-01")
    backfill = idempotency_key(RunOrigin.BACKFILL, property_id="p1", template_version_id="v1",
                               run_date=date(2026, 9, 1))
    assert user != backfill


# --- request hash ------------------------------------------------------------

BASE_REQUEST: dict[str, Any] = {
    "property_id": PROPERTY, "template_ref": VERSION, "run_date": date(2026, 11, 23),
    "params": {"floor": 3, "filters": {"segment": "corporate", "channel": "direct"}}, "locale": "en",
    "formats": ["pdf", "csv"],
}


def test_request_hash_is_a_sha256_hex() -> None:
    digest = request_hash(**BASE_REQUEST)
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


def test_request_hash_ignores_formats_order() -> None:
    assert request_hash(**BASE_REQUEST) == request_hash(**{**BASE_REQUEST, "formats": ["csv", "pdf"]})


def test_request_hash_ignores_params_key_order_at_every_depth() -> None:
    reordered = {"filters": {"channel": "direct", "segment": "corporate"}, "floor": 3}
    assert list(reordered) != list(BASE_REQUEST["params"])
    assert request_hash(**BASE_REQUEST) == request_hash(**{**BASE_REQUEST, "params": reordered})


@pytest.mark.parametrize(("field", "other"), [
    ("property_id", "99999999-9999-4999-8999-999999999999"),
    ("template_ref", "daily_occupancy"),
    ("run_date", date(2026, 11, 22)),
    ("params", {"floor": 4, "filters": {"segment": "corporate", "channel": "direct"}}),
    ("params", {"floor": 3, "filters": {"segment": "corporate", "channel": "ota"}}),
    ("params", {}),
    ("locale", "fa-AF"),
    ("formats", ["pdf"]),
    ("formats", ["pdf", "csv", "html"]),
])
def test_request_hash_changes_when_any_field_differs(field: str, other: Any) -> None:
    assert request_hash(**BASE_REQUEST) != request_hash(**{**BASE_REQUEST, field: other})


# --- due time ----------------------------------------------------------------


def test_user_run_is_due_15_minutes_after_request() -> None:
    assert new_run(RunOrigin.USER).due_by == NOW + timedelta(minutes=15)


def test_scheduled_run_is_due_30_minutes_after_its_time() -> None:
    assert new_run(RunOrigin.SCHEDULE).due_by == NOW + timedelta(minutes=30)


def test_backfill_run_is_due_by_its_own_policy() -> None:
    assert new_run(RunOrigin.BACKFILL).due_by == NOW + DUE_AFTER[RunOrigin.BACKFILL]


def test_template_override_of_due_time_wins() -> None:
    assert new_run(RunOrigin.USER, due_after=timedelta(hours=2)).due_by == NOW + timedelta(hours=2)


def test_new_run_is_requested_and_pins_version_and_snapshot() -> None:
    run = new_run()
    assert run.state is RunState.REQUESTED
    assert (run.template_version_id, run.snapshot_hash) == (VERSION, SNAPSHOT)
    assert run.requested_at == NOW


def test_schedule_key_is_the_same_for_one_instant_written_in_any_offset():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from reporting.domain.report_run import RunOrigin, idempotency_key

    utc = datetime(2026, 11, 24, 4, 30, tzinfo=timezone.utc)
    kabul = utc.astimezone(ZoneInfo("Asia/Kabul"))
    assert idempotency_key(RunOrigin.SCHEDULE, schedule_id="s", scheduled_at=utc) == \
        idempotency_key(RunOrigin.SCHEDULE, schedule_id="s", scheduled_at=kabul) == \
        "schedule:s:2026-11-24T04:30:00+00:00"
