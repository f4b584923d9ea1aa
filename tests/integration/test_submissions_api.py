"""Submission routes end to end (list, get, an operator's Form C confirmation), and the repository under them:
the subject as idempotency key, the correction chain, the optimistic save and the DB's own rules.

The tests insert submissions through the repository inside a tenant unit of work, where the submit
use cases do (tests/integration/test_submit.py drives those)."""
from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import flask
import pg8000.dbapi
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from reporting.adapters.postgres.connection import connect, execute, fetch_all, fetch_one
from reporting.domain.errors import ConcurrentUpdate
from reporting.domain.submission import Adapter, SubjectKind, Submission, SubmissionState
from reporting.domain.tenant import Property, TenantStatus
from reporting.entrypoints.api.openapi import COMPONENTS
from reporting.entrypoints.http import handle
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from reporting.service_layer.tenants import sync_property, sync_tenant
from tests.conftest import API_AUDIENCE

pytestmark = pytest.mark.integration

APP = flask.Flask("submission-api-tests")
SUBMISSIONS = "/api/v1/reports/submissions"
CUTOFF = datetime(2026, 11, 25, 5, 30, tzinfo=timezone.utc)  # 10:00 Asia/Kabul on the 25th
VIEW_KEYS = {"submission_id", "property_id", "run_id", "adapter", "subject_kind", "subject_ref", "state", "cutoff_at",
             "attempts", "last_attempt_at", "next_attempt_at", "authority_reference", "accepted_at", "last_error",
             "corrects", "created_at", "updated_at"}


@pytest.fixture
def api(make_services, oidc_env):
    return make_services(env=oidc_env)


def call(services, method, path, *, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with APP.test_request_context(path, method=method, headers=headers):
        out, status, response_headers = handle(flask.request, services)
    parsed = json.loads(out) if response_headers.get("Content-Type") == "application/json" else out
    return status, parsed, response_headers


def assert_documented(body, component: str) -> None:
    """The answer matches the OpenAPI document's component schema (formats included)."""
    Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": {"schemas": COMPONENTS}},
                         format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)


def token(idp, hotel, *roles, **kw):
    return idp.provider.issue(hotel.tenant_id, roles or ("viewer",), audience=API_AUDIENCE, **kw)


def regulatory_run(api, hotel, property_id: str | None = None) -> str:
    """The run submissions come from (the foreign key wants a real one; it is never rendered here)."""
    return request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=property_id or hotel.property_id, requested_by="op@test",
        template_key="daily_occupancy", idempotency_key=f"reg-{uuid.uuid4()}"), api.deps).run.run_id


def second_property(api, hotel) -> str:
    property_id = str(uuid.uuid4())
    sync_property(Property(property_id=property_id, tenant_id=hotel.tenant_id, name="Annex", timezone="Asia/Kabul",
                           currency="AFN", country="AF", locale="en", room_count=12), api.deps)
    return property_id


def new_submission(hotel, run_id: str, *, property_id: str | None = None, adapter=Adapter.AF_POLICE,
                   kind=SubjectKind.BUSINESS_DATE, ref="2026-11-24", cutoff_at=CUTOFF, now=None,
                   corrects: str | None = None) -> Submission:
    now = now or cutoff_at - timedelta(hours=10)
    return Submission.create(submission_id=str(uuid.uuid4()), tenant_id=hotel.tenant_id,
                             property_id=property_id or hotel.property_id, run_id=run_id, adapter=adapter,
                             subject_kind=kind, subject_ref=ref, cutoff_at=cutoff_at, now=now, corrects=corrects)


def add(api, hotel, *submissions: Submission) -> list[bool]:
    with api.uow(hotel.tenant_id) as uow:
        inserted = [uow.submissions.add(s) for s in submissions]
        uow.commit()
    return inserted


def settle(s: Submission, outcome: str) -> Submission:
    """Drive a pending submission through its public API (as the submit path will)."""
    at = s.cutoff_at - timedelta(hours=9)
    if outcome == "pending":
        return s
    s.begin_attempt(at)
    if outcome == "accepted":
        s.accept(at + timedelta(seconds=3), "KBL-PD3-2026-004512")
    elif outcome == "retrying":
        s.reject(at + timedelta(seconds=3), "503", "Service temporarily unavailable", permanent=False,
                 retry_at=at + timedelta(minutes=5))
    elif outcome == "rejected":
        s.reject(at + timedelta(seconds=3), "BR-KSA-37", "guest Jane Doe: bad passport P1234567X",
                 permanent=True)
    s.events.clear()  # the outbox is not what these tests are about
    return s


# ---- the API ----

def test_list_pages_latest_cutoff_first_and_get_shows_one(api, make_hotel, idp):
    hotel, other = make_hotel(api), make_hotel(api)
    run_id = regulatory_run(api, hotel)
    made = [new_submission(hotel, run_id, ref=f"2026-11-{20 + i}", cutoff_at=CUTOFF + timedelta(days=i))
            for i in range(5)]
    assert add(api, hotel, *made) == [True] * 5
    add(api, other, new_submission(other, regulatory_run(api, other)))
    viewer = token(idp, hotel)

    seen, cursor = [], None
    while True:
        status, page, _ = call(api, "GET", f"{SUBMISSIONS}?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                               token=viewer)
        assert status == 200 and len(page["submissions"]) <= 2
        assert_documented(page, "SubmissionList")
        seen += [s["submission_id"] for s in page["submissions"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [s.submission_id for s in reversed(made)]  # latest cutoff first, each once, none of theirs

    status, got, _ = call(api, "GET", f"{SUBMISSIONS}/{made[2].submission_id}", token=viewer)
    assert status == 200 and set(got) == VIEW_KEYS
    assert_documented(got, "Submission")
    assert got == {"submission_id": made[2].submission_id, "property_id": hotel.property_id, "run_id": run_id,
                   "adapter": "af_police", "subject_kind": "business_date", "subject_ref": "2026-11-22",
                   "state": "pending", "cutoff_at": "2026-11-27T05:30:00+00:00", "attempts": 0,
                   "last_attempt_at": None, "next_attempt_at": None, "authority_reference": None,
                   "accepted_at": None, "last_error": None, "corrects": None,
                   "created_at": "2026-11-26T19:30:00+00:00", "updated_at": "2026-11-26T19:30:00+00:00"}


def test_a_settled_submission_shows_its_receipt_and_its_error_code_but_no_free_text(api, make_hotel, idp):
    hotel = make_hotel(api)
    run_id = regulatory_run(api, hotel)
    accepted = settle(new_submission(hotel, run_id), "accepted")
    rejected = settle(new_submission(hotel, run_id, adapter=Adapter.FAKE, kind=SubjectKind.GUEST_STAY,
                                     ref="stay-4711"), "rejected")
    add(api, hotel, accepted, rejected)

    _, got, _ = call(api, "GET", f"{SUBMISSIONS}/{accepted.submission_id}", token=token(idp, hotel))
    assert_documented(got, "Submission")
    assert (got["state"], got["attempts"], got["authority_reference"]) == ("accepted", 1, "KBL-PD3-2026-004512")
    assert got["accepted_at"] == "2026-11-24T20:30:03+00:00" and got["last_attempt_at"] == "2026-11-24T20:30:00+00:00"
    status, got, _ = call(api, "GET", f"{SUBMISSIONS}/{rejected.submission_id}", token=token(idp, hotel))
    assert status == 200 and got["state"] == "rejected"
    assert_documented(got, "Submission")
    assert got["last_error"] == {"code": "BR-KSA-37", "at": "2026-11-24T20:30:03+00:00"}
    assert "Jane" not in json.dumps(got) and "P1234567X" not in json.dumps(got)
    with api.uow(hotel.tenant_id) as uow:  # nor in the row: the message only travelled in the event
        row = fetch_one(uow.connection, "SELECT to_jsonb(s)::text AS t FROM reporting.submissions s "
                                        "WHERE submission_id = :s::uuid", {"s": rejected.submission_id})
    assert "Jane" not in row["t"] and "P1234567X" not in row["t"]


def test_list_filters_by_state_adapter_property_and_cutoff_range(api, make_hotel, idp):
    hotel = make_hotel(api)
    annex = second_property(api, hotel)
    run_id, annex_run = regulatory_run(api, hotel), regulatory_run(api, hotel, annex)
    early = settle(new_submission(hotel, run_id, ref="2026-11-23", cutoff_at=CUTOFF - timedelta(days=1)),
                   "accepted")
    late = settle(new_submission(hotel, run_id, ref="2026-11-24"), "retrying")
    fake = new_submission(hotel, run_id, adapter=Adapter.FAKE, kind=SubjectKind.INVOICE, ref="INV-1",
                          cutoff_at=CUTOFF + timedelta(hours=2))
    elsewhere = new_submission(hotel, annex_run, property_id=annex, cutoff_at=CUTOFF + timedelta(days=1))
    add(api, hotel, early, late, fake, elsewhere)
    viewer = token(idp, hotel)

    def ids(query: str) -> list[str]:
        status, page, _ = call(api, "GET", f"{SUBMISSIONS}?{query}", token=viewer)
        assert status == 200, (query, page)
        return [s["submission_id"] for s in page["submissions"]]

    assert ids("state=accepted") == [early.submission_id]
    assert ids("state=retrying") == [late.submission_id]
    assert ids("state=missed_cutoff") == []
    assert ids("adapter=fake") == [fake.submission_id]
    assert ids(f"property_id={annex}") == [elsewhere.submission_id]
    assert ids(f"property_id={hotel.property_id.upper()}&adapter=af_police") == [late.submission_id,
                                                                                    early.submission_id]
    # A date is a whole UTC day, both ends inclusive; an instant is exact.
    assert ids("cutoff_from=2026-11-25&cutoff_to=2026-11-25") == [fake.submission_id, late.submission_id]
    assert ids("cutoff_to=2026-11-24") == [early.submission_id]
    assert ids("cutoff_from=2026-11-25T07:30:00Z") == [elsewhere.submission_id, fake.submission_id]
    assert ids("cutoff_to=2026-11-25T10:00:00%2B04:30") == [late.submission_id, early.submission_id]
    assert ids("cutoff_from=2026-11-25T05:30:00.000001Z&cutoff_to=2026-11-26") == [elsewhere.submission_id,
                                                                                  fake.submission_id]
    for bad in ("state=bogus", "adapter=irs", "property_id=nope", "limit=0", "limit=201", "cursor=%%%",
                "cutoff_from=yesterday", "cutoff_to=2026-11-25T10:00:00", "cutoff_from=2026-02-30",
                "cutoff_to=2026-W47-1", "colour=red"):
        status, body, _ = call(api, "GET", f"{SUBMISSIONS}?{bad}", token=viewer)
        assert (status, body["error"]["code"]) == (400, "MELMASTOON.REPORTING.VALIDATION_FAILED"), bad


def test_another_tenants_submission_is_not_found(api, make_hotel, idp):
    mine, theirs = make_hotel(api), make_hotel(api)
    s = new_submission(mine, regulatory_run(api, mine))
    add(api, mine, s)
    status, body, _ = call(api, "GET", f"{SUBMISSIONS}/{s.submission_id}", token=token(idp, theirs, "admin"))
    assert (status, body["error"]["code"]) == (404, "MELMASTOON.REPORTING.NOT_FOUND")
    status, listed, _ = call(api, "GET", f"{SUBMISSIONS}?property_id={mine.property_id}",
                             token=token(idp, theirs, "admin"))
    assert status == 200 and listed["submissions"] == []
    status, body, _ = call(api, "GET", f"{SUBMISSIONS}/{uuid.uuid4()}", token=token(idp, mine))
    assert status == 404
    assert call(api, "GET", f"{SUBMISSIONS}/{s.submission_id}", token=token(idp, mine))[0] == 200


def test_a_hotel_limited_user_sees_only_its_hotels(api, make_hotel, idp):
    hotel = make_hotel(api)
    annex = second_property(api, hotel)
    main = new_submission(hotel, regulatory_run(api, hotel))
    annexed = new_submission(hotel, regulatory_run(api, hotel, annex), property_id=annex)
    add(api, hotel, main, annexed)
    limited = token(idp, hotel, "admin", property_ids=[annex])

    _, listed, _ = call(api, "GET", SUBMISSIONS, token=limited)
    assert [s["submission_id"] for s in listed["submissions"]] == [annexed.submission_id]
    _, listed, _ = call(api, "GET", f"{SUBMISSIONS}?property_id={hotel.property_id}", token=limited)
    assert listed["submissions"] == []  # not an error that would confirm the hotel exists
    status, body, _ = call(api, "GET", f"{SUBMISSIONS}/{main.submission_id}", token=limited)
    assert (status, body["error"]["code"]) == (404, "MELMASTOON.REPORTING.NOT_FOUND")
    assert call(api, "GET", f"{SUBMISSIONS}/{annexed.submission_id}", token=limited)[0] == 200
    _, listed, _ = call(api, "GET", SUBMISSIONS, token=token(idp, hotel, property_ids=[]))
    assert listed["submissions"] == []


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads_and_nobody_writes_here(api, make_hotel, idp, role):
    hotel = make_hotel(api)
    s = new_submission(hotel, regulatory_run(api, hotel))
    add(api, hotel, s)
    assert call(api, "GET", SUBMISSIONS, token=token(idp, hotel, role))[0] == 200
    assert call(api, "GET", f"{SUBMISSIONS}/{s.submission_id}", token=token(idp, hotel, role))[0] == 200
    for method, path in (("POST", SUBMISSIONS), ("PATCH", f"{SUBMISSIONS}/{s.submission_id}"),
                         ("DELETE", f"{SUBMISSIONS}/{s.submission_id}")):
        assert call(api, method, path, token=token(idp, hotel, role))[0] == 405, method


def test_no_token_no_answer(api, make_hotel):
    hotel = make_hotel(api)
    s = new_submission(hotel, regulatory_run(api, hotel))
    add(api, hotel, s)
    for path in (SUBMISSIONS, f"{SUBMISSIONS}/{s.submission_id}"):
        status, body, _ = call(api, "GET", path)
        assert (status, body["error"]["code"]) == (401, "MELMASTOON.IAM.AUTHN_REQUIRED")


def test_tenant_gate_flag_off_is_refused_and_a_locked_tenant_still_reads(api, make_hotel, idp):
    hotel = make_hotel(api)
    s = new_submission(hotel, regulatory_run(api, hotel))
    add(api, hotel, s)
    with api.uow(hotel.tenant_id) as uow:
        tenant = uow.tenants.get(hotel.tenant_id)

    sync_tenant(dataclasses.replace(tenant, status=TenantStatus.LOCKED_READONLY), api.deps)
    assert call(api, "GET", f"{SUBMISSIONS}/{s.submission_id}", token=token(idp, hotel))[0] == 200
    assert len(call(api, "GET", SUBMISSIONS, token=token(idp, hotel))[1]["submissions"]) == 1

    sync_tenant(dataclasses.replace(tenant, features={"reporting_v1": False}), api.deps)
    for path in (SUBMISSIONS, f"{SUBMISSIONS}/{s.submission_id}"):
        status, body, _ = call(api, "GET", path, token=token(idp, hotel, "admin"))
        assert (status, body["error"]["code"]) == (403, "MELMASTOON.IAM.AUTHZ_DENIED"), path


# ---- the repository and the table ----

def test_a_subject_is_submitted_once_and_corrections_form_one_chain(api, make_hotel):
    hotel = make_hotel(api)
    run_id, rerun = regulatory_run(api, hotel), regulatory_run(api, hotel)
    original = settle(new_submission(hotel, run_id), "accepted")
    assert add(api, hotel, original) == [True]
    # The same subject again (a redelivered event, an overlapping run): nothing new, whatever its id.
    assert add(api, hotel, new_submission(hotel, rerun)) == [False]
    # The same business date through another adapter, or at another hotel, is another subject.
    assert add(api, hotel, new_submission(hotel, run_id, adapter=Adapter.FAKE)) == [True]

    later = original.cutoff_at + timedelta(days=2)
    fix = original.correction(submission_id=str(uuid.uuid4()), run_id=rerun, cutoff_at=later, now=later)
    again = original.correction(submission_id=str(uuid.uuid4()), run_id=rerun, cutoff_at=later, now=later)
    assert add(api, hotel, fix, again) == [True, False]  # one correction per submission: a chain, no fork
    settle(fix, "accepted")
    with api.uow(hotel.tenant_id) as uow:
        uow.submissions.save(fix, expected_state=SubmissionState.PENDING)
        uow.commit()
    second_fix = fix.correction(submission_id=str(uuid.uuid4()), run_id=rerun, cutoff_at=later, now=later)
    assert add(api, hotel, second_fix) == [True]

    with api.uow(hotel.tenant_id) as uow:
        found = uow.submissions.for_subject(hotel.property_id, Adapter.AF_POLICE, SubjectKind.BUSINESS_DATE,
                                            "2026-11-24")
        found_fix = uow.submissions.for_subject(hotel.property_id, Adapter.AF_POLICE, SubjectKind.BUSINESS_DATE,
                                                "2026-11-24", corrects=original.submission_id)
    assert found.submission_id == original.submission_id and found.state is SubmissionState.ACCEPTED
    assert found_fix.submission_id == fix.submission_id and found_fix.corrects == original.submission_id


def test_save_writes_the_state_change_and_its_event_or_refuses_a_concurrent_one(api, make_hotel):
    hotel = make_hotel(api)
    s = new_submission(hotel, regulatory_run(api, hotel))
    add(api, hotel, s)
    with api.uow(hotel.tenant_id) as uow:
        loaded = uow.submissions.get(s.submission_id, for_update=True)
        loaded.begin_attempt(CUTOFF - timedelta(hours=1))
        loaded.accept(CUTOFF - timedelta(minutes=59), "ref-1")
        uow.submissions.save(loaded, expected_state=SubmissionState.PENDING)
        uow.commit()
    with api.uow(hotel.tenant_id) as uow:
        assert uow.submissions.get(s.submission_id) == loaded
        [event] = fetch_all(uow.connection, "SELECT subject, aggregate_id, envelope FROM reporting.outbox "
                                            "WHERE aggregate_id = :s", {"s": s.submission_id})
        stale = uow.submissions.get(s.submission_id)
        stale.state = SubmissionState.PENDING  # what a second, slower worker still believes
        stale.begin_attempt(CUTOFF - timedelta(minutes=30))
        with pytest.raises(ConcurrentUpdate):
            uow.submissions.save(stale, expected_state=SubmissionState.PENDING)
    assert event["subject"] == "regulatory_submission.accepted.v1"
    assert event["envelope"]["data"]["authority_reference"] == "ref-1"


@pytest.mark.parametrize("sql", [
    "UPDATE reporting.submissions SET state = 'accepted'",  # no acceptance time, no reference
    "UPDATE reporting.submissions SET next_attempt_at = cutoff_at, state = 'retrying', attempts = 1, "
    "last_attempt_at = now()",  # a retry planned at the cutoff
    "UPDATE reporting.submissions SET last_error_code = 'Ahmad Khan', last_error_at = now()",  # free text
    "UPDATE reporting.submissions SET subject_kind = 'invoice'",  # af_police files business dates
    "UPDATE reporting.submissions SET corrects = submission_id",
    "DELETE FROM reporting.submissions",
])
def test_the_table_refuses_what_the_domain_refuses(api, make_hotel, migrated_for, sql):
    hotel = make_hotel(api)
    add(api, hotel, new_submission(hotel, regulatory_run(api, hotel)))
    conn = connect(migrated_for("AF").owner)  # even the owner, who bypasses nothing but RLS
    try:
        with pytest.raises(pg8000.dbapi.DatabaseError):
            execute(conn, sql + " WHERE tenant_id = :t::uuid", {"t": hotel.tenant_id})
    finally:
        conn.rollback()
        conn.close()


def test_fuzzed_submission_requests_over_real_rows_get_documented_answers(make_services, make_hotel, oidc_env, idp):
    """test_openapi fuzzes every route over a tenant with no submissions; these two get rows to answer with."""
    services = make_services(env={**oidc_env, "REPORTING_RATE_LIMIT_PER_MINUTE": "100000"})
    hotel = make_hotel(services)
    run_id = regulatory_run(services, hotel)
    add(services, hotel, *(settle(new_submission(hotel, run_id, ref=f"2026-11-{10 + i}",
                                                 cutoff_at=CUTOFF - timedelta(days=i)), outcome)
                           for i, outcome in enumerate(("pending", "accepted", "retrying", "rejected"))))
    app = flask.Flask("submissions-fuzz")

    @app.route("/<path:path>", methods=["GET"])
    def entry(path):  # noqa: ARG001
        body, status, headers = handle(flask.request, services)
        return flask.Response(body, status=status, headers=headers)

    schema = schemathesis.openapi.from_wsgi("/api/v1/reports/openapi.json", app)
    auth = {"Authorization": f"Bearer {token(idp, hotel)}"}
    checks = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
              schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]
    operations = [op for op in (r.ok() for r in schema.get_all_operations())
                  if op.path.startswith(SUBMISSIONS) and op.method.upper() == "GET"]  # reads over real rows
    assert len(operations) == 2
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.headers = {**(case.headers or {}), **auth}
            case.call_and_validate(checks=checks)

        fuzz()


def post(services, path, body, *, token):
    with APP.test_request_context(path, method="POST", data=json.dumps(body),
                                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}):
        out, status, _ = handle(flask.request, services)
    return status, json.loads(out)


def form_c_submission(api, hotel, clock, cutoff) -> Submission:
    submission = Submission.create(
        submission_id=str(uuid.uuid4()), tenant_id=hotel.tenant_id, property_id=hotel.property_id,
        run_id=regulatory_run(api, hotel), adapter=Adapter.IN_FORM_C, subject_kind=SubjectKind.GUEST_STAY,
        subject_ref=f"stay-{uuid.uuid4().hex[:8]}", cutoff_at=cutoff, now=clock.now())
    with api.deps.uow(hotel.tenant_id) as uow:
        uow.submissions.add(submission)
        uow.commit()
    return submission


def test_an_operator_confirms_a_form_c_filed_on_the_portal(api, make_hotel, idp, clock):
    hotel = make_hotel(api)
    submission = form_c_submission(api, hotel, clock, clock.now() + timedelta(hours=20))
    path = f"{SUBMISSIONS}/{submission.submission_id}:confirm"
    status, body = post(api, path, {"authority_reference": "FRRO-DEL-889911"}, token=token(idp, hotel, "viewer"))
    assert status == 403  # a viewer cannot
    status, body = post(api, path, {"authority_reference": "FRRO-DEL-889911"}, token=token(idp, hotel, "operator"))
    assert status == 200 and body["state"] == "accepted" and body["authority_reference"] == "FRRO-DEL-889911"
    assert_documented(body, "Submission")
    again, _ = post(api, path, {"authority_reference": "FRRO-DEL-889911"}, token=token(idp, hotel, "operator"))
    other, err = post(api, path, {"authority_reference": "FRRO-DEL-000000"}, token=token(idp, hotel, "operator"))
    assert again == 200 and other == 409 and err["error"]["code"] == "MELMASTOON.REPORTING.CONFLICT"
    bad, err = post(api, path, {"authority_reference": "has spaces in it"}, token=token(idp, hotel, "operator"))
    assert bad == 422


def test_a_confirmation_after_the_cutoff_is_refused_and_other_adapters_are_not_confirmed_by_hand(api, make_hotel,
                                                                                                 idp, clock):
    hotel = make_hotel(api)
    late = form_c_submission(api, hotel, clock, clock.now() + timedelta(minutes=1))
    clock.advance(minutes=2)
    status, body = post(api, f"{SUBMISSIONS}/{late.submission_id}:confirm", {"authority_reference": "FRRO-1"},
                        token=token(idp, hotel, "operator"))
    assert status == 409 and "cutoff" in body["error"]["message"]
    police = Submission.create(
        submission_id=str(uuid.uuid4()), tenant_id=hotel.tenant_id, property_id=hotel.property_id,
        run_id=regulatory_run(api, hotel), adapter=Adapter.AF_POLICE, subject_kind=SubjectKind.BUSINESS_DATE,
        subject_ref="2026-11-23", cutoff_at=clock.now() + timedelta(hours=5), now=clock.now())
    with api.deps.uow(hotel.tenant_id) as uow:
        uow.submissions.add(police)
        uow.commit()
    status, _ = post(api, f"{SUBMISSIONS}/{police.submission_id}:confirm", {"authority_reference": "X-1"},
                     token=token(idp, hotel, "operator"))
    assert status == 409
