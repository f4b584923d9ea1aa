"""The one wiring table agrees with the consumers' handlers, the catalog and Pub/Sub's naming rules."""
from __future__ import annotations

import re
from datetime import date

import pytest

from reporting.entrypoints.consumers import HANDLERS
from reporting.events.catalog import event_types
from reporting.events.publication import PublicationError, PublicationPlan
from reporting.events.transitions import Transition, TransitionConfigError, add_months, load_transitions
from reporting.events.wiring import CONSUMED_ONLY, CONSUMERS, SUBSCRIBERS, as_document, routes

PUBSUB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")  # and not starting with "goog"


def test_every_wired_consumer_has_a_handler_for_the_event_and_every_handler_is_wired():
    wired = {(consumer, event) for event, consumers in SUBSCRIBERS.items() for consumer in consumers}
    handled = {(consumer, event) for consumer, table in HANDLERS.items() for event in table}
    assert wired == handled
    assert set(HANDLERS) == set(CONSUMERS)


def test_every_published_event_type_has_a_topic_and_consumed_only_ones_do_not():
    topics = {r.event_type for r in routes()}
    assert topics == set(event_types()) - CONSUMED_ONLY
    assert "tenant.region_changed.v1" in event_types() and "tenant.region_changed.v1" not in topics


def test_names_are_valid_pubsub_resource_ids():
    doc = as_document()
    names = [t["topic"] for t in doc["topics"]] + [s["name"] for t in doc["topics"] for s in t["subscriptions"]]
    names += [d["topic"] for d in doc["dead_letter_topics"]] + [d["hold_subscription"] for d in doc["dead_letter_topics"]]
    assert names and all(PUBSUB_NAME.match(n) and not n.startswith("goog") for n in names)


def test_a_transition_without_a_downcaster_is_refused_at_start_up():
    with pytest.raises(PublicationError, match="no downcaster"):
        PublicationPlan(today=date.today, transitions=[Transition("report_run.failed", 1, 2, date(2026, 1, 1))],
                        downcasters={})


def test_an_invalid_envelope_is_a_publication_error_naming_the_field():
    plan = PublicationPlan(today=date.today, transitions=[])
    with pytest.raises(PublicationError, match="data.run_id: is required"):
        plan.publications({"event_id": "55555555-5555-4555-8555-555555555555", "subject": "report_run.failed",
                           "version": 1, "occurred_at": "2026-11-23T21:00:00+00:00",
                           "tenant_id": "11111111-1111-4111-8111-111111111111", "residency": "AF",
                           "correlation_id": "66666666-6666-4666-8666-666666666666", "causation_id": None,
                           "aggregate_id": "x", "data": {}})


def test_quarters_are_calendar_months_clamped_to_month_end():
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert Transition("a.b", 1, 2, date(2026, 1, 15)).earliest_retirement == date(2026, 4, 15)


def test_transitions_config_is_validated():
    with pytest.raises(TransitionConfigError):
        Transition.from_dict({"subject": "a.b", "from_version": 1, "to_version": 3, "started_on": "2026-01-01"})
    with pytest.raises(TransitionConfigError):
        Transition.from_dict({"subject": "a.b", "from_version": 1, "to_version": 2, "started_on": "soon"})
    assert load_transitions() == []  # nothing in transition today; the committed file parses


def test_instants_are_checked_as_rfc3339_not_just_by_length():
    from reporting.events.catalog import EventValidationError, schema_for, validate_or_throw

    example = dict(schema_for("report_run.requested.v1")["examples"][0])
    example["occurred_at"] = "twenty-fourth of November"
    with pytest.raises(EventValidationError, match="occurred_at"):
        validate_or_throw(example)
