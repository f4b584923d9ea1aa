"""The outbox relay and dead letters on the real Pub/Sub emulator, through the real google-cloud-pubsub client."""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import date
from typing import Any

import pytest

from reporting.adapters.postgres.outbox_store import PostgresOutboxStore
from reporting.adapters.pubsub.provision import provision
from reporting.adapters.pubsub.publisher import PubSubPublisher
from reporting.domain.report_run import RunState
from reporting.entrypoints.consumers import consume
from reporting.events.catalog import EventValidationError, event_types, validate_or_throw
from reporting.events.envelope import Envelope
from reporting.events.publication import PublicationPlan
from reporting.events.transitions import Transition
from reporting.events.wiring import dead_letter_hold_subscription, subscription_name, topic_name
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.outbox_relay import OutboxRelay
from reporting.service_layer.report_runs import request_report_run
from tests.integration.helpers import outbox, raw_cloud_event
from tests.integration.pubsub_helpers import new_project, pull, tap
from google.cloud import pubsub_v1

pytestmark = pytest.mark.usefixtures("pubsub")
REQUESTED = "report_run.requested.v1"
TODAY = date(2026, 11, 24)


@pytest.fixture
def project() -> str:
    project = new_project()
    provision(project)
    return project


def on_pubsub(make_services, project: str):
    return make_services(env={"REPORTING_EVENT_BUS": "pubsub", "REPORTING_PUBSUB_PROJECT": project})


def request(services, hotel):
    return request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op@test",
        idempotency_key=uuid.uuid4().hex, template_key="daily_occupancy"), services.deps).run


def relay_for(services, project: str, *, plan: PublicationPlan | None = None, store=None,
              lease_seconds: int = 30) -> OutboxRelay:
    return OutboxRelay(store or PostgresOutboxStore(services.pool), PubSubPublisher(project),
                       plan or PublicationPlan(today=lambda: TODAY), lease_seconds=lease_seconds)


def subscription_path(project: str, name: str) -> str:
    return f"projects/{project}/subscriptions/{name}"


def run_ids(messages) -> list[str]:
    return [json.loads(m.data)["data"]["run_id"] for m in messages]


def test_a_commit_publishes_its_event_at_once_with_ordering_key_and_attributes(make_services, make_hotel, project):
    services = on_pubsub(make_services, project)
    hotel = make_hotel(services)
    run = request(services, hotel)  # no sweep: the after-commit hook published it

    [message] = pull(subscription_path(project, subscription_name(REQUESTED, "render")), expect=1)
    event = validate_or_throw(json.loads(message.data))
    assert event.data["run_id"] == run.run_id and message.ordering_key == run.run_id
    assert dict(message.attributes) == {"event_type": REQUESTED, "subject": "report_run.requested", "version": "v1",
                                        "tenant_id": hotel.tenant_id, "residency": "AF",
                                        "event_id": event.event_id}
    [row] = outbox(services, hotel.tenant_id, REQUESTED)
    assert row["published_at"] is not None


def test_rows_left_behind_by_a_crash_after_commit_are_published_by_the_sweeper(make_services, make_hotel, project):
    local = make_services()  # commits without publishing, as a process that died right after COMMIT
    hotel = make_hotel(local)
    runs = [request(local, hotel) for _ in range(3)]
    assert all(r["published_at"] is None for r in outbox(local, hotel.tenant_id))

    tapped = tap(project, topic_name(REQUESTED), create_topic=False)
    on_pubsub(make_services, project).relay.sweep()
    assert {r.run_id for r in runs} <= set(run_ids(pull(tapped, expect=3)))
    assert all(r["published_at"] is not None for r in outbox(local, hotel.tenant_id))


def test_two_relays_at_once_publish_every_row_once_and_lose_none(make_services, make_hotel, project):
    local = make_services()
    hotel = make_hotel(local)
    runs = [request(local, hotel) for _ in range(40)]
    tapped = tap(project, topic_name(REQUESTED), create_topic=False)
    relays = [relay_for(on_pubsub(make_services, project), project) for _ in range(2)]
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda r=r: reports.append(r.sweep())) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ours = [i for i in run_ids(pull(tapped, expect=40, timeout=20)) if i in {r.run_id for r in runs}]
    assert sorted(ours) == sorted(r.run_id for r in runs)  # each exactly once: no loss, no double claim
    assert sum(r.published for r in reports) >= 40  # (the session's other tenants' leftovers count too)
    assert all(r["published_at"] is not None for r in outbox(local, hotel.tenant_id))


def test_one_bad_row_is_set_aside_with_its_reason_and_does_not_block_the_others(make_services, make_hotel, project):
    local = make_services()
    hotel = make_hotel(local)
    good = request(local, hotel)
    bad_id = str(uuid.uuid4())
    with local.uow(hotel.tenant_id) as uow:  # a producer bug: an envelope its schema refuses
        [row] = [r for r in outbox(local, hotel.tenant_id, REQUESTED)]
        broken = dict(row["envelope"], event_id=bad_id, data={k: v for k, v in row["envelope"]["data"].items()
                                                              if k != "due_by"})
        uow.outbox.add(broken)
        uow.commit()
    tapped = tap(project, topic_name(REQUESTED), create_topic=False)
    report = on_pubsub(make_services, project).relay.sweep()

    assert good.run_id in run_ids(pull(tapped, expect=1))
    assert report.published >= 1
    with local.uow(hotel.tenant_id) as uow:
        [kept] = execute_rows(uow, "SELECT dead_lettered_at, dead_letter_reason FROM reporting.outbox "
                                   "WHERE event_id = CAST(:e AS uuid)", {"e": bad_id})
    assert kept["dead_lettered_at"] is not None and "data.due_by" in kept["dead_letter_reason"]


def execute_rows(uow, sql, params):
    from reporting.adapters.postgres.connection import fetch_all

    return fetch_all(uow.connection, sql, params)


class CrashBeforeMark(PostgresOutboxStore):
    """The relay process dies after Pub/Sub accepted the message and before the row was marked."""

    crashes = 1

    def mark_published(self, event_ids):
        if self.crashes and event_ids:
            self.crashes -= 1
            raise ConnectionError("relay killed between publish and mark")
        super().mark_published(event_ids)


def test_a_relay_crash_between_publish_and_mark_republishes_and_the_consumer_dedupes(make_services, make_hotel,
                                                                                      project):
    local = make_services()
    hotel = make_hotel(local)
    run = request(local, hotel)
    services = on_pubsub(make_services, project)
    tapped = tap(project, topic_name(REQUESTED), create_topic=False)
    relay = relay_for(services, project, store=CrashBeforeMark(services.pool), lease_seconds=1)
    with pytest.raises(ConnectionError):
        relay.sweep()
    time.sleep(1.2)  # the dead relay's lease runs out
    relay.sweep()

    messages = [m for m in pull(tapped, expect=2) if json.loads(m.data)["data"]["run_id"] == run.run_id]
    assert len(messages) == 2 and len({m.attributes["event_id"] for m in messages}) == 1
    results = [consume("render", as_push(m), services) for m in messages]
    assert [r.result.duplicate for r in results] == [False, True]
    with services.uow(hotel.tenant_id) as uow:
        assert uow.runs.get(run.run_id).state is RunState.SUCCEEDED
        artifacts = uow.artifacts.for_run(run.run_id)
    assert sorted(a.format for a in artifacts) == sorted(run.formats)  # one per format, not one per delivery
    assert len(outbox(services, hotel.tenant_id, "report_run.completed.v1")) == 1


def as_push(message):
    return raw_cloud_event(message.data, dict(message.attributes))


# ---- dual publish during a transition (plan §3), with a v2 that exists only in this test ----

V2_DATA_KEYS = {"run": "run_id"}  # v2 renamed run_id → run (a breaking change, hence v2)


def v2_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out["run_id"] = out.pop("run")
    return out


def validate_with_v2(raw: dict[str, Any]) -> Envelope:
    if raw.get("version") == 2:
        if "run" not in raw.get("data", {}) or "run_id" in raw["data"]:
            raise EventValidationError("report_run.requested.v2 data.run: fails 'required'")
        return Envelope.from_dict(raw)
    return validate_or_throw(raw)


@pytest.mark.parametrize("retire_on, expect_v1", [(None, True), (date(2027, 2, 24), True), (TODAY, False)])
def test_a_subject_in_transition_is_published_as_v2_and_v1_from_one_outbox_entry(make_services, make_hotel, project,
                                                                                   retire_on, expect_v1):
    local = make_services()
    hotel = make_hotel(local)
    run = request(local, hotel)
    [row] = outbox(local, hotel.tenant_id, REQUESTED)
    v2 = dict(row["envelope"], event_id=str(uuid.uuid4()), version=2, data=dict(row["envelope"]["data"]))
    v2["data"]["run"] = v2["data"].pop("run_id")
    with local.uow(hotel.tenant_id) as uow:
        uow.outbox.add(v2)
        uow.commit()
    services = on_pubsub(make_services, project)
    pubsub_v1.PublisherClient().create_topic(name=f"projects/{project}/topics/{topic_name('report_run.requested.v2')}")
    v1_tap = tap(project, topic_name(REQUESTED), create_topic=False)
    v2_tap = tap(project, topic_name("report_run.requested.v2"), create_topic=False)
    plan = PublicationPlan(today=lambda: TODAY, validate=validate_with_v2,
                           known_types=lambda: event_types() + ["report_run.requested.v2"],
                           transitions=[Transition("report_run.requested", 1, 2, date(2026, 11, 1), retire_on)],
                           downcasters={"report_run.requested.v2": v2_to_v1})
    relay_for(services, project, plan=plan).sweep()

    [as_v2] = [m for m in pull(v2_tap, expect=1) if m.attributes["event_id"] == v2["event_id"]]
    assert json.loads(as_v2.data)["data"]["run"] == run.run_id and as_v2.attributes["version"] == "v2"
    as_v1 = [m for m in pull(v1_tap, expect=2 if expect_v1 else 1) if m.attributes["event_id"] == v2["event_id"]]
    if expect_v1:
        [one] = as_v1
        event = validate_or_throw(json.loads(one.data))  # the real v1 schema accepts the downcast
        assert event.version == 1 and event.data["run_id"] == run.run_id
    else:
        assert as_v1 == []


# ---- dead letters ----

def test_an_invalid_event_goes_to_the_dead_letter_topic_with_its_reason_and_the_stream_keeps_flowing(
        make_services, make_hotel, project):
    services = on_pubsub(make_services, project)
    hotel = make_hotel(services)
    garbage = raw_cloud_event(b'{"subject": "report_run.requested", "version": 1}', {"event_id": "x"})
    assert consume("render", garbage, services).status == "dead_lettered"
    run = request(services, hotel)
    [message] = pull(subscription_path(project, subscription_name(REQUESTED, "render")), expect=1)
    assert consume("render", as_push(message), services).status == "processed"

    [parked] = pull(subscription_path(project, dead_letter_hold_subscription("render")), expect=1)
    assert parked.data == b'{"subject": "report_run.requested", "version": 1}'  # kept byte for byte
    assert parked.attributes["reason"].startswith("invalid: envelope") and parked.attributes["consumer"] == "render"
    with services.uow(hotel.tenant_id) as uow:
        assert uow.runs.get(run.run_id).state is RunState.SUCCEEDED


def test_when_transient_retries_run_out_the_subscription_moves_the_event_to_the_dead_letter_topic():
    """A render endpoint that keeps failing (HTTP 500 = raise = redeliver): after 5 deliveries
    Pub/Sub's own dead-letter policy parks the message next to the app's dead letters."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    deliveries: list[bytes] = []

    class AlwaysFails(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            deliveries.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysFails)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = new_project()
    try:
        provision(project, push_endpoints={"render": f"http://127.0.0.1:{server.server_address[1]}/"})
        subscriber = pubsub_v1.SubscriberClient()
        sub = subscriber.get_subscription(subscription=subscription_path(project, subscription_name(REQUESTED,
                                                                                                    "render")))
        assert sub.dead_letter_policy.max_delivery_attempts == 5
        publisher = pubsub_v1.PublisherClient()
        publisher.publish(publisher.topic_path(project, topic_name(REQUESTED)), b'{"stuck": true}',
                          event_id="stuck-1").result(timeout=10)
        [parked] = pull(subscription_path(project, dead_letter_hold_subscription("render")), expect=1, timeout=60)
    finally:
        server.shutdown()
    assert parked.data == b'{"stuck": true}' and parked.attributes["event_id"] == "stuck-1"
    assert len(deliveries) == 5


def test_parked_events_are_replayed_onto_their_topic_once_the_cause_is_fixed(make_services, make_hotel, project):
    from reporting.adapters.pubsub.replay import replay_dead_letters

    services = on_pubsub(make_services, project)
    hotel = make_hotel(services)
    local = make_services()  # a run whose event reached render before... its row was visible (simulated: gone)
    run = request(local, hotel)
    [row] = outbox(local, hotel.tenant_id, REQUESTED)
    orphan = dict(row["envelope"], event_id=str(uuid.uuid4()), data=dict(row["envelope"]["data"],
                                                                        run_id=str(uuid.uuid4())))
    message = raw_cloud_event(json.dumps(orphan).encode(), Envelope.from_dict(orphan).attributes())
    assert consume("render", message, services).status == "dead_lettered"  # permanent: run not found
    garbage = raw_cloud_event(b"garbage", {"event_id": "g"})
    assert consume("render", garbage, services).status == "dead_lettered"

    tapped = tap(project, topic_name(REQUESTED), create_topic=False)
    dry = replay_dead_letters(project, "render", dry_run=True)
    assert (dry.replayed, dry.kept) == (0, 2)
    report = replay_dead_letters(project, "render")
    assert report.replayed == 1 and report.kept == 1 and report.kept_reasons == {"no known event_type attribute": 1}
    [back] = pull(tapped, expect=1)
    assert json.loads(back.data)["event_id"] == orphan["event_id"]
    assert "reason" not in back.attributes and back.attributes["event_id"] == orphan["event_id"]
    assert run.run_id  # the real run is untouched by all this


def test_an_event_type_from_a_newer_release_waits_for_a_relay_that_knows_it(make_services, make_hotel, project):
    local = make_services()
    hotel = make_hotel(local)
    request(local, hotel)
    [row] = outbox(local, hotel.tenant_id, REQUESTED)
    newer = dict(row["envelope"], event_id=str(uuid.uuid4()), version=9)
    with local.uow(hotel.tenant_id) as uow:
        uow.outbox.add(newer)
        uow.commit()
    on_pubsub(make_services, project).relay.sweep()  # a rolling deploy: this release has no v9
    with local.uow(hotel.tenant_id) as uow:
        [kept] = execute_rows(uow, "SELECT dead_lettered_at, published_at, claim_count FROM reporting.outbox "
                                   "WHERE event_id = CAST(:e AS uuid)", {"e": newer["event_id"]})
    assert kept["dead_lettered_at"] is None and kept["published_at"] is None and kept["claim_count"] == 1
