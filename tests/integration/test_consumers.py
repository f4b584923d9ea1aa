"""The inbox boundary: validate_or_throw, dead letters with reasons, and the stream keeps flowing (SPEC §5)."""
from __future__ import annotations

import base64
import json

import pytest

from reporting.domain.report_run import RunState
from reporting.entrypoints.consumers import consume
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from tests.integration.helpers import json_event, raw_cloud_event, requested_cloud_event

pytestmark = pytest.mark.integration


def request_run(services, hotel, **kw):
    return request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op@test",
        template_key="daily_occupancy", idempotency_key="k", **kw), services.deps).run


def test_malformed_messages_are_dead_lettered_with_a_reason_and_a_good_one_after_still_completes(services,
                                                                                                 make_hotel):
    hotel = make_hotel(services)
    run = request_run(services, hotel, formats=("csv",))
    good = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    envelope = json.loads(base64.b64decode(good.data["message"]["data"]))
    missing_field = dict(envelope, data={k: v for k, v in envelope["data"].items() if k != "run_id"})

    outcomes = [
        consume("render", raw_cloud_event(b"\x00\xffnot json"), services),
        consume("render", json_event(["not", "an", "object"]), services),
        consume("render", json_event(missing_field), services),
        consume("render", json_event(dict(envelope, subject="report_run.exploded")), services),
        consume("render", good, services),
    ]

    assert [o.status for o in outcomes] == ["dead_lettered"] * 4 + ["processed"]
    reasons = [entry["reason"] for entry in services.dead_letters.entries()]
    assert reasons[0].startswith("undecodable")
    assert reasons[1] == "invalid: (root): not a JSON object"
    assert reasons[2] == "invalid: report_run.requested.v1 data.run_id: is required"
    assert "report_run.exploded.v1" in reasons[3]
    # Nothing is lost: the parked message keeps its bytes for a replay.
    assert base64.b64decode(services.dead_letters.entries()[2]["data_base64"]) == json.dumps(missing_field).encode()
    with services.uow(hotel.tenant_id) as uow:
        assert uow.runs.get(run.run_id).state is RunState.SUCCEEDED


def test_an_event_from_another_residency_is_dead_lettered(make_services, make_hotel):
    af, ksa = make_services(), make_services(__import__("reporting.domain.tenant", fromlist=["x"]).Residency.KSA)
    hotel = make_hotel(ksa)
    run = request_run(ksa, hotel)
    outcome = consume("render", requested_cloud_event(ksa, hotel.tenant_id, run.run_id), af)
    assert outcome.status == "dead_lettered" and outcome.reason.startswith("residency mismatch")


def test_a_run_unknown_here_is_a_permanent_error_and_is_dead_lettered(services, make_hotel):
    hotel = make_hotel(services)
    run = request_run(services, hotel)
    event = requested_cloud_event(services, hotel.tenant_id, run.run_id)
    envelope = json.loads(base64.b64decode(event.data["message"]["data"]))
    envelope["data"]["run_id"] = "99999999-9999-4999-8999-999999999999"
    outcome = consume("render", json_event(envelope), services)
    assert outcome.status == "dead_lettered" and "NOT_FOUND" in outcome.reason


def test_functions_without_handlers_dead_letter_instead_of_dropping(services, make_hotel):
    hotel = make_hotel(services)
    run = request_run(services, hotel)
    outcome = consume("submit", requested_cloud_event(services, hotel.tenant_id, run.run_id), services)
    assert outcome.status == "dead_lettered" and outcome.reason.startswith("unhandled event type")
