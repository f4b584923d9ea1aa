"""The ZatcaStore contract against Postgres (migration 0017), as reporting_app under row-level security."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pg8000.dbapi
import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_one
from reporting.adapters.postgres.zatca_store import PostgresZatcaStore
from reporting.domain.submission import Adapter, SubjectKind, Submission
from reporting.domain.tenant import Residency
from reporting.service_layer.commands import RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from tests.zatca_store_contract import NOW, Unit, ZatcaStoreContract, draft, signer

pytestmark = pytest.mark.integration


def unit_of(services, hotel) -> Unit:
    """A tenant's property, with submissions opened on demand (they need a run to belong to)."""
    run = request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                              template_key="daily_occupancy", idempotency_key=f"zatca-{uuid.uuid4()}",
                                              requested_by="op@test"), services.deps).run

    def new_submission() -> str:
        now = services.deps.clock.now()
        submission = Submission.create(
            submission_id=str(uuid.uuid4()), tenant_id=hotel.tenant_id, property_id=hotel.property_id,
            run_id=run.run_id, adapter=Adapter.KSA_ZATCA, subject_kind=SubjectKind.INVOICE,
            subject_ref=f"SINV-{uuid.uuid4().hex[:10]}", cutoff_at=now + timedelta(hours=24), now=now)
        with services.deps.uow(hotel.tenant_id) as uow:
            assert uow.submissions.add(submission)
            uow.commit()
        return submission.submission_id

    return Unit(hotel.tenant_id, hotel.property_id, new_submission)


@pytest.fixture
def ksa(make_services):
    return make_services(Residency.KSA)


class TestPostgresZatcaStore(ZatcaStoreContract):
    @pytest.fixture
    def store(self, ksa) -> PostgresZatcaStore:
        return PostgresZatcaStore(ksa.uow)

    @pytest.fixture
    def unit(self, ksa, make_hotel) -> Unit:
        return unit_of(ksa, make_hotel(ksa))

    @pytest.fixture
    def other_unit(self, ksa, make_hotel) -> Unit:
        return unit_of(ksa, make_hotel(ksa))


def test_the_database_refuses_a_rewritten_document_a_second_verdict_a_gap_and_a_fork(ksa, make_hotel, migrated_for):
    unit = unit_of(ksa, make_hotel(ksa))
    store = PostgresZatcaStore(ksa.uow)
    first = store.append(draft(unit, unit.new_submission()), signer("SINV-1"), now=NOW)
    store.append(draft(unit, unit.new_submission()), signer("SINV-2"), now=NOW)
    conn = connect(migrated_for("KSA").app)
    try:
        def refused(sql: str, params: dict, match: str, *, before: str | None = None) -> None:
            conn.rollback()
            fetch_one(conn, "SELECT set_config('app.tenant_id', :t, true) AS t", {"t": unit.tenant_id})
            if before:
                assert execute(conn, before, params) == 1
            with pytest.raises(pg8000.dbapi.DatabaseError, match=match):
                execute(conn, sql, params)

        doc = {"d": first.document_id}
        refused("UPDATE reporting.zatca_invoices SET signed_xml = 'x'::bytea WHERE document_id = :d::uuid", doc,
                "immutable")
        refused("UPDATE reporting.zatca_invoices SET outcome = 'rejected' WHERE document_id = :d::uuid", doc,
                "already has ZATCA's verdict",
                before="UPDATE reporting.zatca_invoices SET outcome = 'reported', http_status = 200, "
                       "reported_at = now() WHERE document_id = :d::uuid")
        refused("DELETE FROM reporting.zatca_invoices WHERE document_id = :d::uuid", doc, "permission denied")
        refused("UPDATE reporting.zatca_chain_heads SET icv = icv + 2 WHERE property_id = :p::uuid",
                {"p": unit.property_id}, "one link forward")
        # A second document at ICV 1 (a fork) or carrying a used PIH: the unique keys refuse it.
        refused("""INSERT INTO reporting.zatca_invoices (document_id, tenant_id, property_id, submission_id, role,
                     subject_ref, icv, previous_hash, invoice_hash, invoice_uuid, invoice_number, type_code, issued_at,
                     signed_xml, qr)
                   SELECT gen_random_uuid(), tenant_id, property_id, :s::uuid, role, subject_ref, 3, previous_hash,
                          invoice_hash, gen_random_uuid(), invoice_number, type_code, issued_at, signed_xml, qr
                     FROM reporting.zatca_invoices WHERE document_id = :d::uuid""",
                {**doc, "s": unit.new_submission()}, "zatca_invoices_pih_key")
    finally:
        conn.close()
