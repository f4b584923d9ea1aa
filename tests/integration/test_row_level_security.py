"""Row-level security, proven as reporting_app on every tenant-scoped table (SPEC §4)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pg8000.dbapi
import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_all, fetch_one
from reporting.devenv import demo
from reporting.devenv.synthetic_hotels import DEMO_HOTELS
from reporting.domain.submission import Adapter, SubjectKind, Submission
from reporting.domain.tenant import Residency
from reporting.service_layer.fairness import admit_request
from reporting.service_layer.commands import PublishTemplateVersion, RequestReportRun
from reporting.service_layer.report_runs import request_report_run
from reporting.service_layer.schedules import CreateSchedule, create_schedule
from reporting.service_layer.templates import publish_template_version

pytestmark = pytest.mark.integration

LAYOUT = "<html><body><h1>{{ property.name }}</h1>{% for r in rows %}<p>{{ r.rooms_sold }}</p>{% endfor %}</body></html>"


def tenant_tables(conn) -> list[str]:
    rows = fetch_all(conn, """
        SELECT c.table_name FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'reporting' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
         ORDER BY 1""")
    return [r["table_name"] for r in rows]


def populate(services, make_hotel, bus_for):
    """A tenant with a row in every tenant-scoped table, made through the use cases."""
    hotel = make_hotel(services)
    dataset = next(t for t in __import__("reporting.catalog.platform", fromlist=["x"]).platform_templates()
                   if t.key == "daily_occupancy").dataset_sql
    publish_template_version(PublishTemplateVersion(
        tenant_id=hotel.tenant_id, template_key="own_occupancy", name="Own", layout=LAYOUT, dataset_sql=dataset,
        params_schema={"type": "object"}, published_by="admin@test"), services.deps)
    run = request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                              requested_by="op@test", template_key="own_occupancy",
                                              idempotency_key="k1"), services.deps).run
    admit_request(hotel.tenant_id, "POST", services.deps)  # a rate-limit window row
    create_schedule(CreateSchedule(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                   created_by="admin@test", cron="0 6 * * *", template_key="own_occupancy"),
                    services.deps)
    now = services.deps.clock.now()
    with services.deps.uow(hotel.tenant_id) as uow:  # no create use case yet (issue 6): the repository
        uow.submissions.add(Submission.create(
            submission_id=str(uuid.uuid4()), tenant_id=hotel.tenant_id, property_id=hotel.property_id,
            run_id=run.run_id, adapter=Adapter.FAKE, subject_kind=SubjectKind.BUSINESS_DATE,
            subject_ref=hotel.yesterday.isoformat(), cutoff_at=now + timedelta(hours=4), now=now))
        uow.commit()
    with services.deps.uow(hotel.tenant_id) as uow:  # a residency move's record (an aborted one: still active)
        uow.moves.start(str(uuid.uuid4()), hotel.tenant_id, "source", Residency.AF, Residency.IN, "aborted")
        uow.commit()
    from reporting.db.data_backfills import store as data_backfills  # a schema-backfill checkpoint row

    with services.deps.uow(hotel.tenant_id) as uow:
        data_backfills.claim(uow.connection, "d0001_deduct_out_of_order", hotel.tenant_id)
        uow.commit()
    from reporting.adapters.postgres.zatca_store import PostgresZatcaStore  # a ZATCA chain head and document
    from tests.zatca_store_contract import NOW, Unit, draft, signer

    with services.deps.uow(hotel.tenant_id) as uow:
        row = fetch_one(uow.connection, "SELECT submission_id FROM reporting.submissions")
    submission_id = str(row["submission_id"])
    PostgresZatcaStore(services.uow).append(draft(Unit(hotel.tenant_id, hotel.property_id, str), submission_id),
                                            signer(), now=NOW)
    bus_for(services).sweep()
    return hotel


@pytest.fixture
def two_tenants(services, make_hotel, bus_for):
    return populate(services, make_hotel, bus_for), populate(services, make_hotel, bus_for)


def scoped(conn, tenant_id: str | None) -> None:
    conn.rollback()
    fetch_all(conn, "SELECT set_config('app.tenant_id', :t, true) AS t", {"t": tenant_id or ""})


def test_every_tenant_table_has_rls_enabled_and_forced(migrated):
    conn = connect(migrated.app)
    try:
        tables = tenant_tables(conn)
        flags = fetch_all(conn, """
            SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
             WHERE relnamespace = 'reporting'::regnamespace AND relkind = 'r'""")
    finally:
        conn.close()
    assert {"tenants", "properties", "templates", "template_versions", "report_runs", "artifacts", "outbox",
            "inbox", "audit_log", "schedules", "rate_limits", "submissions"} <= set(tables)
    by_name = {f["relname"]: f for f in flags}
    for table in tables:
        assert by_name[table]["relrowsecurity"] and by_name[table]["relforcerowsecurity"], table


def test_tenant_sees_none_of_another_tenants_rows_in_any_table(migrated, two_tenants):
    a, b = two_tenants
    conn = connect(migrated.app)
    try:
        for table in tenant_tables(conn):
            scoped(conn, b.tenant_id)
            own = fetch_one(conn, f"SELECT count(*) AS n FROM reporting.{table} WHERE tenant_id = :t::uuid",
                            {"t": b.tenant_id})["n"]
            assert own > 0, f"{table}: the fixture must give tenant B rows to hide"
            scoped(conn, a.tenant_id)
            leaked = fetch_one(conn, f"SELECT count(*) AS n FROM reporting.{table} WHERE tenant_id = :t::uuid",
                               {"t": b.tenant_id})["n"]
            assert leaked == 0, f"{table}: tenant A sees {leaked} rows of tenant B"
            others = fetch_one(conn, f"""SELECT count(*) AS n FROM reporting.{table}
                                         WHERE tenant_id IS DISTINCT FROM :t::uuid AND tenant_id IS NOT NULL""",
                               {"t": a.tenant_id})["n"]
            assert others == 0, f"{table}: tenant A sees other tenants' rows"
    finally:
        conn.close()


def test_session_without_tenant_sees_nothing(migrated, two_tenants):
    conn = connect(migrated.app)
    try:
        for table in tenant_tables(conn):
            scoped(conn, None)
            n = fetch_one(conn, f"SELECT count(*) AS n FROM reporting.{table} WHERE tenant_id IS NOT NULL")["n"]
            assert n == 0, table
            conn.rollback()
            # And with the setting never touched in this session at all:
            fresh = connect(migrated.app)
            try:
                assert fetch_one(fresh, f"SELECT count(*) AS n FROM reporting.{table} WHERE tenant_id IS NOT NULL")["n"] == 0
            finally:
                fresh.close()
    finally:
        conn.close()


def test_inserting_a_row_for_another_tenant_is_refused(migrated, two_tenants):
    a, b = two_tenants
    conn = connect(migrated.app)
    try:
        for table in tenant_tables(conn):
            scoped(conn, a.tenant_id)
            key = fetch_one(conn, """
                SELECT a.attname FROM pg_index i JOIN pg_attribute a
                  ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = ('reporting.' || :t)::regclass AND i.indisprimary LIMIT 1""", {"t": table})["attname"]
            fresh_key = "gen_random_uuid()" if key != "audit_id" else "(1e15 + random() * 1e12)::bigint"
            # Copy one of A's own rows, re-labelled as B's: only RLS stands in the way.
            sql = f"""
                INSERT INTO reporting.{table} OVERRIDING SYSTEM VALUE
                SELECT (jsonb_populate_record(NULL::reporting.{table},
                        to_jsonb(x) || jsonb_build_object('tenant_id', CAST(:b AS text), '{key}', {fresh_key}))).*
                  FROM reporting.{table} x WHERE x.tenant_id = :a::uuid LIMIT 1"""
            if key == "tenant_id":
                sql = sql.replace(f", '{key}', {fresh_key}", "")
            with pytest.raises(pg8000.dbapi.DatabaseError) as refused:
                execute(conn, sql, {"a": a.tenant_id, "b": b.tenant_id})
            assert "row-level security" in str(refused.value), (table, str(refused.value)[:200])
            conn.rollback()
    finally:
        conn.close()


def test_app_role_cannot_claim_rows_except_through_owner_functions(migrated, two_tenants):
    a, _ = two_tenants
    conn = connect(migrated.app)
    try:
        scoped(conn, a.tenant_id)
        with pytest.raises(pg8000.dbapi.DatabaseError, match="permission denied"):
            execute(conn, "UPDATE reporting.outbox SET published_at = now()")
        conn.rollback()
        with pytest.raises(pg8000.dbapi.DatabaseError, match="permission denied"):
            execute(conn, "SELECT * FROM reporting.cross_tenant_access_log")
        conn.rollback()
        with pytest.raises(pg8000.dbapi.DatabaseError, match="permission denied"):
            execute(conn, "DELETE FROM reporting.audit_log")
        conn.rollback()
        # Turning row security off does not lift it for a NOBYPASSRLS role: the query is refused.
        with pytest.raises(pg8000.dbapi.DatabaseError, match="would be affected by row-level security"):
            execute(conn, "SET row_security = off; SELECT 1 FROM reporting.tenants")
        conn.rollback()
        with pytest.raises(pg8000.dbapi.DatabaseError, match="must be owner"):
            execute(conn, "ALTER TABLE reporting.tenants NO FORCE ROW LEVEL SECURITY")
        conn.rollback()
    finally:
        conn.close()


def test_definer_calls_are_audited(migrated, services, make_hotel, bus_for):
    populate(services, make_hotel, bus_for)
    conn = connect(migrated.owner)
    try:
        rows = fetch_all(conn, "SELECT function, sum(row_count) AS n FROM reporting.cross_tenant_access_log GROUP BY 1")
    finally:
        conn.close()
    counts = {r["function"]: r["n"] for r in rows}
    assert counts.get("claim_outbox", 0) >= 2 and counts.get("mark_outbox_published", 0) >= 2


def role_of(conn) -> dict:
    return fetch_one(conn, """SELECT current_user AS role, r.rolsuper, r.rolbypassrls
                                FROM pg_roles r WHERE r.rolname = current_user""")


def test_bus_and_demo_connect_as_reporting_app_without_bypassrls(migrated, services, bus_for, tmp_path):
    bus_for(services)  # the relay and every use case share the Services' pool
    conn = services.pool.get()
    try:
        bus_role = role_of(conn)
    finally:
        services.pool.put(conn)
    assert bus_role == {"role": "reporting_app", "rolsuper": False, "rolbypassrls": False}

    demo_services = demo._services_for(DEMO_HOTELS[0], migrated.app, tmp_path, tmp_path / "out")
    try:
        conn = demo_services.pool.get()
        try:
            assert role_of(conn) == {"role": "reporting_app", "rolsuper": False, "rolbypassrls": False}
        finally:
            demo_services.pool.put(conn)
    finally:
        demo_services.close()
    # create_database hands the demo exactly that role for its app connections:
    assert migrated.app.user == "reporting_app"


def test_the_zatca_chain_tables_are_tenant_tables_with_rls_enabled_and_forced(migrated):
    """Migration 0017's tables are in the set every test above walks (populate gives each tenant rows in them)."""
    conn = connect(migrated.app)
    try:
        tables = set(tenant_tables(conn))
        flags = fetch_all(conn, """
            SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
             WHERE relnamespace = 'reporting'::regnamespace AND relname IN ('zatca_chain_heads', 'zatca_invoices')""")
    finally:
        conn.close()
    assert {"zatca_chain_heads", "zatca_invoices"} <= tables
    assert len(flags) == 2 and all(f["relrowsecurity"] and f["relforcerowsecurity"] for f in flags)
