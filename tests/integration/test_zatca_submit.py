"""The live KSA VAT adapter end to end on real Postgres, as reporting_app: a KSA hotel's regulatory run is rendered,
its invoices become submissions, and the submit use case files each through ZatcaReportingAdapter against the local
ZATCA simulator (which checks hashes, signatures, QR tags and the chain for real)."""
from __future__ import annotations

import argparse
import base64
import io
import json
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography import x509

from reporting.adapters.postgres.connection import connect, fetch_all, fetch_one
from reporting.adapters.regulatory.zatca import generate_test_credentials, verify_chain
from reporting.adapters.regulatory.zatca.adapter import ZatcaReportingAdapter
from reporting.adapters.regulatory.zatca.credentials import PropertyCredentials
from reporting.adapters.regulatory.zatca.inspect import ZATCA_QR_FIELDS
from reporting.adapters.regulatory.zatca.simulator import ZatcaSimulator
from reporting.adapters.regulatory.zatca.store import DocumentRole, Verdict
from reporting.domain.submission import SubmissionState
from reporting.domain.tenant import Residency
from reporting.entrypoints import zatca_cli
from reporting.entrypoints.consumers import consume
from reporting.service_layer.commands import RequestReportRun, RerenderReportRun
from reporting.service_layer.report_runs import request_report_run, rerender_report_run
from reporting.service_layer.submit import ATTEMPT_TIMEOUT, attempt
from reporting.service_layer.tenants import sync_property
from tests.integration.helpers import completed_envelope, json_event

pytestmark = pytest.mark.integration

# Half past midnight in Riyadh: yesterday's invoices are all within their 24-hour reporting window.
FILING_TIME = datetime(2026, 11, 23, 21, 30, tzinfo=timezone.utc)
KEY, CERT = generate_test_credentials(organization="Al Murabba Suites")


class Crash(BaseException):
    """The process dies (not an Exception: nothing on the way may catch it)."""


@pytest.fixture
def simulator():
    with ZatcaSimulator() as running:
        yield running


@pytest.fixture
def ksa(make_services, simulator):
    return make_services(Residency.KSA, env={"REPORTING_ZATCA_ENDPOINT": simulator.base_url,
                                             "REPORTING_FAKE_REGULATORY_SCRIPT": json.dumps({"fail_first": 1})})


def switch_on(services, hotel, egs: Path, simulator, *, live: bool = True) -> None:
    """The hotel's e-invoicing unit: key and CSID as file secrets named in its settings; the adapter on (and live)."""
    csid = simulator.onboard(CERT)
    egs.mkdir(exist_ok=True)
    (egs / "key.pem").write_bytes(KEY)
    (egs / "csid").write_text(csid.binary_security_token)
    (egs / "secret").write_text(csid.secret)
    with services.uow(hotel.tenant_id) as uow:
        prop = uow.properties.get(hotel.property_id)
    settings = {**prop.settings, "regulatory_live": ["ksa_zatca"] if live else [],
                "zatca": {"private_key": f"file:{egs}/key.pem", "csid": f"file:{egs}/csid",
                          "api_secret": f"file:{egs}/secret"}}
    sync_property(replace(prop, settings=settings, adapters=["ksa_zatca"]), services.deps)


@pytest.fixture
def hotel(ksa, make_hotel, clock, simulator, tmp_path):
    clock.set(FILING_TIME)
    made = make_hotel(ksa)
    switch_on(ksa, made, tmp_path / "egs", simulator)
    return made


def file_day(services, hotel, key: str = "zatca-day"):
    run = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, requested_by="op", template_key="ksa_vat_invoices",
        run_date=hotel.yesterday, formats=("csv",), idempotency_key=key), services.deps).run
    services.relay.sweep()  # render → report_run.completed.v1 → submit → the live adapter → the simulator
    return run


def submissions(services, hotel) -> list:
    with services.uow(hotel.tenant_id) as uow:
        return uow.submissions.list(limit=10_000, adapter="ksa_zatca", property_ids=[hotel.property_id])


def chain(services, hotel):
    return services.zatca_store.chain(hotel.tenant_id, hotel.property_id)


def settle(services, hotel, clock) -> list[str]:
    """The submissions watchdog's step for this hotel only (watch_submissions works across tenants, and other
    tests' leftovers in the session's database are not ours to file): every open submission, attempted."""
    return [attempt(hotel.tenant_id, s.submission_id, services.deps, services.deps.regulatory)
            for s in submissions(services, hotel) if not s.is_final]


def cli(action, services, **args) -> tuple[int, str]:
    out = io.StringIO()
    defaults = {"cert": None, "all": False, "date": None, "png": None}
    return action(argparse.Namespace(**{**defaults, **args}), services, out=out), out.getvalue()


def invoice_of(post: bytes) -> tuple[str, bytes]:
    body = json.loads(post)
    return body["uuid"], base64.b64decode(body["invoice"])


def test_a_days_invoices_are_signed_chained_reported_and_the_chain_verifies(ksa, hotel, simulator, tmp_path):
    file_day(ksa, hotel)
    opened = submissions(ksa, hotel)
    docs = chain(ksa, hotel)
    assert opened and all(s.state is SubmissionState.ACCEPTED for s in opened)
    assert len(docs) == len(opened) and [d.icv for d in docs] == list(range(1, len(docs) + 1))
    assert {s.authority_reference for s in opened} == {d.invoice_uuid for d in docs}
    assert {d.verdict for d in docs} == {Verdict.REPORTED} and {d.type_code for d in docs} <= {"388", "381"}
    csid = simulator.onboard(CERT)
    assert [icv for icv, _, _ in simulator.chain_of(csid)] == [d.icv for d in docs]
    report = verify_chain([d.xml for d in docs], public_key=x509.load_pem_x509_certificate(CERT).public_key())
    assert report.ok and report.head.icv == len(docs)
    # The operator's view: the day's chain, and a QR decoded tag by tag with ZATCA's names.
    status, text = cli(zatca_cli.chain, ksa, tenant=hotel.tenant_id, property=hotel.property_id,
                       date=hotel.yesterday.isoformat())
    assert status == 0 and "OK: one unbroken chain from the genesis PIH" in text, text
    status, text = cli(zatca_cli.qr, ksa, tenant=hotel.tenant_id, submission=opened[0].submission_id,
                       png=str(tmp_path / "qr.png"))
    assert status == 0 and all(name in text for name in ZATCA_QR_FIELDS.values()) and " NO" not in text
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
    status, text = cli(zatca_cli.export, ksa, tenant=hotel.tenant_id, property=hotel.property_id,
                       date=hotel.yesterday.isoformat(), out=str(tmp_path / "export"))
    assert status == 0 and len(list((tmp_path / "export").glob("*.xml"))) == len(docs)


def test_the_triggering_event_delivered_three_times_opens_one_submission_and_one_link(ksa, hotel, simulator,
                                                                                        migrated_for):
    run = file_day(ksa, hotel)
    before = (len(submissions(ksa, hotel)), len(chain(ksa, hotel)), len(simulator.posts))
    assert before[0] == before[1] == before[2] > 0
    envelope = completed_envelope(migrated_for("KSA"), run.run_id)
    for _ in range(3):
        assert consume("submit", json_event(envelope), ksa).status == "processed"
    assert (len(submissions(ksa, hotel)), len(chain(ksa, hotel)), len(simulator.posts)) == before


def test_concurrent_attempts_on_different_invoices_of_one_property_take_consecutive_counters(
        ksa, make_hotel, clock, simulator, tmp_path):
    clock.set(FILING_TIME)
    hotel = make_hotel(ksa)
    switch_on(ksa, hotel, tmp_path / "egs", simulator, live=False)
    file_day(ksa, hotel)  # the fake's first attempt fails (fail_first): every invoice waits to be retried
    opened = submissions(ksa, hotel)
    assert {s.state for s in opened} == {SubmissionState.RETRYING} and chain(ksa, hotel) == []
    switch_on(ksa, hotel, tmp_path / "egs", simulator, live=True)  # the cut-over: a setting, not a deploy
    clock.advance(minutes=2)  # past every planned retry
    ids = [s.submission_id for s in opened][:8]
    start = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def worker(mine: list[str]) -> None:
        try:
            start.wait()
            for submission_id in mine:
                outcomes.append(attempt(hotel.tenant_id, submission_id, ksa.deps, ksa.deps.regulatory))
        except BaseException as error:  # noqa: BLE001 (asserted below)
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(ids[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and outcomes.count("accepted") == len(ids)
    docs = chain(ksa, hotel)
    assert sorted(d.icv for d in docs) == list(range(1, len(ids) + 1))
    assert len({d.previous_hash for d in docs}) == len(ids)  # no fork
    assert {d.submission_id for d in docs} == set(ids)
    assert verify_chain([d.xml for d in docs]).ok
    clock.advance(minutes=30)
    assert set(settle(ksa, hotel, clock)) == {"accepted"}  # the rest follow, each the next link
    assert [d.icv for d in chain(ksa, hotel)] == list(range(1, len(opened) + 1))
    assert verify_chain([d.xml for d in chain(ksa, hotel)]).ok


def test_a_transient_failure_then_the_retry_reports_the_same_xml_under_the_same_icv(ksa, hotel, simulator, clock):
    simulator.fail_next(1, status=503)
    file_day(ksa, hotel)
    retrying = [s for s in submissions(ksa, hotel) if s.state is SubmissionState.RETRYING]
    assert len(retrying) == 1 and retrying[0].last_error_code == "ZATCA_HTTP_503"
    (doc,) = ksa.zatca_store.for_submission(hotel.tenant_id, retrying[0].submission_id)
    assert doc.verdict is None and doc.icv == 1  # chained before the call: the counter is taken
    clock.advance(minutes=5)
    assert settle(ksa, hotel, clock) == ["accepted"]
    (again,) = ksa.zatca_store.for_submission(hotel.tenant_id, retrying[0].submission_id)
    assert (again.icv, again.xml, again.verdict, again.report_attempts) == (1, doc.xml, Verdict.REPORTED, 2)
    sent = [xml for doc_uuid, xml in map(invoice_of, simulator.posts) if doc_uuid == doc.invoice_uuid]
    assert sent == [doc.xml, doc.xml]  # byte for byte
    assert all(s.state is SubmissionState.ACCEPTED for s in submissions(ksa, hotel))
    assert verify_chain([d.xml for d in chain(ksa, hotel)]).ok


def test_a_crash_after_the_link_is_stored_and_before_reporting_converges_on_the_retry(ksa, hotel, simulator, clock,
                                                                                     monkeypatch):
    def crash(config, signed):
        raise Crash

    honest = ksa._zatca
    monkeypatch.setattr(ksa, "_zatca", ZatcaReportingAdapter(
        ksa.zatca_store, PropertyCredentials(lambda t, p: _settings(ksa, hotel), base_url=simulator.base_url),
        now=clock.now, reporter=crash))
    with pytest.raises(Crash):
        file_day(ksa, hotel)
    (stored,) = chain(ksa, hotel)
    crashed = next(s for s in submissions(ksa, hotel) if s.submission_id == stored.submission_id)
    assert crashed.state is SubmissionState.SUBMITTING and stored.verdict is None and simulator.posts == []
    monkeypatch.setattr(ksa, "_zatca", honest)  # the process restarts
    clock.advance(seconds=ATTEMPT_TIMEOUT.total_seconds() + 60)
    settle(ksa, hotel, clock)  # the watchdog's step: takes back the lost attempt, files the ones never tried
    assert all(s.state is SubmissionState.ACCEPTED for s in submissions(ksa, hotel))
    (after,) = ksa.zatca_store.for_submission(hotel.tenant_id, stored.submission_id)
    assert (after.document_id, after.icv, after.xml) == (stored.document_id, 1, stored.xml)
    assert [xml for doc_uuid, xml in map(invoice_of, simulator.posts) if doc_uuid == stored.invoice_uuid] == [
        stored.xml]
    assert verify_chain([d.xml for d in chain(ksa, hotel)]).ok
    time.sleep(1.2)  # the crashed delivery's outbox lease (1 s in tests) runs out: it is delivered again, harmlessly
    ksa.relay.sweep()
    assert len(chain(ksa, hotel)) == len(submissions(ksa, hotel))


def _settings(services, hotel) -> dict:
    with services.uow(hotel.tenant_id) as uow:
        return dict(uow.properties.get(hotel.property_id).settings)


def test_a_rerender_after_the_data_changed_files_a_credit_note_and_the_replacement(ksa, hotel, simulator, clock,
                                                                                   warehouse):
    run = file_day(ksa, hotel)
    docs = chain(ksa, hotel)
    target = next(d for d in docs if d.type_code == "388")
    # The PMS corrects a charge on one invoice: 10.00 more on its first line (and the invoice's totals).
    cur = warehouse._cursor()
    line = cur.execute("SELECT line_id FROM dw.folio_lines WHERE invoice_id = ? AND line_type <> 'tax' "
                       "ORDER BY posted_at, line_id LIMIT 1", [target.invoice_uuid]).fetchone()[0]
    cur.execute("UPDATE dw.folio_lines SET amount = amount + 10 WHERE line_id = ?", [line])
    cur.execute("""UPDATE dw.invoices SET net_amount = net_amount + 10,
                   vat_amount = round((net_amount + 10) * 0.15, 2),
                   total_amount = (net_amount + 10) + round((net_amount + 10) * 0.15, 2)
                   WHERE invoice_id = ?""", [target.invoice_uuid])
    clock.advance(minutes=30)
    rerender_report_run(RerenderReportRun(tenant_id=hotel.tenant_id, run_id=run.run_id, requested_by="op",
                                          idempotency_key="fix-1"), ksa.deps)
    ksa.relay.sweep()
    after = chain(ksa, hotel)
    new = after[len(docs):]
    assert [(d.role, d.type_code) for d in new] == [(DocumentRole.CREDIT_NOTE, "381"),
                                                    (DocumentRole.REPLACEMENT, "388")]
    note, replacement = new
    assert note.billing_reference == target.invoice_number and note.invoice_number == f"{target.invoice_number}-C1"
    assert replacement.invoice_number == f"{target.invoice_number}-R1"
    correction = next(s for s in submissions(ksa, hotel) if s.corrects is not None and
                      s.subject_ref == target.subject_ref)
    assert correction.state is SubmissionState.ACCEPTED and correction.authority_reference == replacement.invoice_uuid
    # every other invoice's correction changed nothing at ZATCA
    assert len(after) == len(docs) + 2 and verify_chain([d.xml for d in after]).ok
    assert {d.verdict for d in new} == {Verdict.REPORTED}
    corrections = [s for s in submissions(ksa, hotel) if s.corrects is not None]
    assert len(corrections) == len(docs) and {s.state for s in corrections} == {SubmissionState.ACCEPTED}


def test_another_tenant_cannot_see_the_chain(ksa, hotel, make_hotel, migrated_for):
    file_day(ksa, hotel)
    other = make_hotel(ksa)
    store = ksa.zatca_store
    assert store.chain(other.tenant_id, hotel.property_id) == []
    assert store.head(other.tenant_id, hotel.property_id) is None
    assert store.head(hotel.tenant_id, hotel.property_id) is not None
    status, _ = cli(zatca_cli.chain, ksa, tenant=other.tenant_id, property=hotel.property_id, all=True)
    assert status == 2
    conn = connect(migrated_for("KSA").app)
    try:
        fetch_one(conn, "SELECT set_config('app.tenant_id', :t, false) AS t", {"t": other.tenant_id})
        for table in ("zatca_invoices", "zatca_chain_heads"):
            rows = fetch_all(conn, f"SELECT 1 AS x FROM reporting.{table} WHERE property_id = :p::uuid",
                             {"p": hotel.property_id})
            assert rows == [], table
    finally:
        conn.close()
