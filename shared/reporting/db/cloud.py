"""`db migrate` in the cloud: the migrate job's IAM user through the Cloud SQL connector, acting as the owner role.

Cloud SQL IAM users cannot be the database owner themselves, so the job's user is a
member of `reporting_owner` (terraform/README.md, one-time bootstrap) and every
migration runs after `SET ROLE reporting_owner`: what it creates is owned by that role.
Afterwards the runtime IAM users (the functions' and jobs' service accounts) get
`reporting_app`, idempotently, so a new function's account works after the next deploy.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping, Sequence

from reporting.adapters.postgres.connection import (CloudSqlConnectionFactory, CloudSqlTarget, Connection,
                                                    execute, fetch_all)

ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Cloud SQL's IAM user name for a service account: its e-mail without ".gserviceaccount.com".
IAM_USER = re.compile(r"^[a-z][a-z0-9-]{0,62}@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam$")


def as_role(factory: Callable[[], Connection], role: str) -> Callable[[], Connection]:
    """Connections that act as `role` (SET ROLE, session-wide) before anything else runs."""
    if not ROLE.match(role):
        raise ValueError(f"not a role name: {role!r}")

    def connect() -> Connection:
        conn = factory()
        conn.autocommit = True
        execute(conn, f'SET ROLE "{role}"')
        conn.autocommit = False
        return conn

    return connect


def grant_app_role(conn: Connection, users: Sequence[str], app_role: str = "reporting_app") -> list[str]:
    """GRANT the app role to each IAM user not holding it yet; returns those granted now."""
    bad = [u for u in users if not IAM_USER.match(u)]
    if bad or not ROLE.match(app_role):
        raise ValueError(f"not IAM database users: {bad}")
    holders = {r["member"] for r in fetch_all(conn, """
        SELECT m.rolname AS member FROM pg_auth_members a
          JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
         WHERE r.rolname = :role""", {"role": app_role})}
    granted = []
    for user in users:
        if user not in holders:
            execute(conn, f'GRANT "{app_role}" TO "{user}"')
            granted.append(user)
    return granted


def cloud_migration(argv: list[str], env: Mapping[str, str]) -> int:
    from reporting.db import migrate

    role = env.get("REPORTING_MIGRATE_ROLE", "reporting_owner")
    factory = as_role(CloudSqlConnectionFactory(CloudSqlTarget(
        instance_connection_name=env["CLOUD_SQL_INSTANCE"], database=env.get("CLOUD_SQL_DATABASE", "reporting"),
        iam_user=env["CLOUD_SQL_IAM_USER"])), role)
    status = migrate.main(argv, factory)
    if status != 0:
        return status
    users: list[Any] = json.loads(env.get("REPORTING_APP_IAM_USERS", "[]"))
    conn = factory()
    try:
        conn.autocommit = True
        granted = grant_app_role(conn, [str(u) for u in users])
    finally:
        conn.close()
    print(json.dumps({"granted_reporting_app": granted}))
    return 0
