"""`db migrate` as the cloud runs it: an IAM-style login that is a member of reporting_owner, acting as it
(SET ROLE), then granting reporting_app to the runtime IAM users — on a real Postgres."""
from __future__ import annotations

import uuid

import pytest

from reporting.adapters.postgres.connection import connect, execute, fetch_all, local_connection_factory
from reporting.db.cloud import as_role, grant_app_role
from reporting.db.migrate import migrate
from reporting.devenv import postgres as pg

pytestmark = pytest.mark.integration


def test_the_migrate_job_user_migrates_as_the_owner_and_grants_the_app_role(pg_server):
    suffix = uuid.uuid4().hex[:6]
    job_user, runtime = f"rpt-migrate-{suffix}@proj-12345.iam", [f"rpt-render-{suffix}@proj-12345.iam",
                                                                  f"rpt-request-{suffix}@proj-12345.iam"]
    name = f"rs_cloud_{suffix}"
    owner, _ = pg.create_database(pg_server.admin, name)
    admin = connect(pg_server.admin)
    try:
        admin.autocommit = True
        for user in [job_user, *runtime]:  # what Cloud SQL creates for IAM database users
            execute(admin, f'CREATE ROLE "{user}" LOGIN')
        execute(admin, f'GRANT reporting_owner TO "{job_user}"')  # the one-time bootstrap (terraform/README.md)
        execute(admin, "GRANT reporting_app TO reporting_owner WITH ADMIN OPTION")
        job = owner.as_user(job_user)
        report = migrate(as_role(local_connection_factory(job), "reporting_owner"), log=lambda e: None)
        assert report.applied, "nothing applied"
        db = connect(pg_server.admin.with_database(name))
        try:
            owners = {r["tableowner"] for r in fetch_all(db, "SELECT tableowner FROM pg_tables "
                                                             "WHERE schemaname = 'reporting'")}
        finally:
            db.close()
        assert owners == {"reporting_owner"}  # nothing owned by the job's own login

        conn = as_role(local_connection_factory(job), "reporting_owner")()
        try:
            conn.autocommit = True
            assert grant_app_role(conn, runtime) == runtime
            assert grant_app_role(conn, runtime) == []  # the next deploy: nothing to do
            with pytest.raises(ValueError):
                grant_app_role(conn, ['x"; DROP TABLE reporting.tenants; --'])
        finally:
            conn.close()
        members = {r["m"] for r in fetch_all(admin, """
            SELECT m.rolname AS m FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
              JOIN pg_roles m ON m.oid = a.member WHERE r.rolname = 'reporting_app'""")}
        assert set(runtime) <= members
    finally:
        pg.drop_database(pg_server.admin, name)
        for user in [job_user, *runtime]:
            execute(admin, f'DROP ROLE IF EXISTS "{user}"')
        admin.close()
