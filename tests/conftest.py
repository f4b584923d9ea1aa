"""One PostgreSQL server per test session (started by us when the machine has none)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from reporting.adapters.postgres.connection import ConnInfo
from reporting.devenv import postgres as pg

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pg.ProvidedServer]:
    """DATABASE_URL, else the machine's 127.0.0.1:5432, else a throwaway cluster stopped at the end.

    REPORTING_TEST_POSTGRES=own skips the machine's server (proves the fresh-machine path).
    """
    own = os.environ.get("REPORTING_TEST_POSTGRES") == "own"
    server = pg.provide_server(tmp_path_factory.mktemp("pg"), use_machine_server=not own)
    pg.ensure_roles(server.admin)
    yield server
    server.stop()


def _db_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def empty_database(pg_server: pg.ProvidedServer) -> Iterator[ConnInfo]:
    """A brand-new empty database owned by reporting_owner; yields the owner's ConnInfo."""
    name = _db_name("rs_empty")
    owner, _app = pg.create_database(pg_server.admin, name)
    yield owner
    pg.drop_database(pg_server.admin, name)


# ---- a migrated database shared by the session; tests isolate by creating their own tenants ----

import dataclasses  # noqa: E402

from reporting.adapters.postgres.connection import local_connection_factory  # noqa: E402
from reporting.db.migrate import migrate  # noqa: E402


@dataclasses.dataclass(frozen=True)
class MigratedDatabase:
    name: str
    admin: ConnInfo
    owner: ConnInfo
    app: ConnInfo


@pytest.fixture(scope="session")
def migrated_for(pg_server: pg.ProvidedServer) -> Iterator[Callable[[str], MigratedDatabase]]:
    """One migrated database per residency per test session, as in production (one deployment each)."""
    made: dict[str, MigratedDatabase] = {}

    def get(residency: str) -> MigratedDatabase:
        if residency not in made:
            name = _db_name(f"rs_test_{residency.lower()}")
            owner, app = pg.create_database(pg_server.admin, name)
            migrate(local_connection_factory(owner), log=lambda event: None)
            made[residency] = MigratedDatabase(name, pg_server.admin.with_database(name), owner, app)
        return made[residency]

    yield get
    for db in made.values():
        pg.drop_database(pg_server.admin, db.name)


@pytest.fixture(scope="session")
def migrated(migrated_for: Callable[[str], MigratedDatabase]) -> MigratedDatabase:
    return migrated_for("AF")


# ---- one Pub/Sub emulator per test session (never skipped: its absence is a failure) ----

from reporting.devenv import pubsub_emulator  # noqa: E402


@pytest.fixture(scope="session")
def pubsub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pubsub_emulator.PubSubEmulator]:
    """The real emulator; PUBSUB_EMULATOR_HOST points the real client libraries (and child processes) at it."""
    from reporting.adapters.pubsub.client import reset_clients

    emulator = pubsub_emulator.start(tmp_path_factory.mktemp("pubsub"))
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    reset_clients()
    yield emulator
    reset_clients()
    if previous is None:
        os.environ.pop("PUBSUB_EMULATOR_HOST", None)
    else:
        os.environ["PUBSUB_EMULATOR_HOST"] = previous
    emulator.stop()


# ---- a local OIDC identity provider (real RSA keys, JWKS served on localhost) ----

from reporting.devenv.tokens import DevIdentityProvider, JwksServer  # noqa: E402

API_AUDIENCE = "reporting-api"


@pytest.fixture(scope="session")
def idp() -> Iterator[JwksServer]:
    with DevIdentityProvider().serve() as server:
        yield server


SCHEDULER_EMAIL = "reporting-scheduler@melmastoon-af.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def scheduler_idp() -> Iterator[JwksServer]:
    """Stands in for Google's issuer of Cloud Scheduler's OIDC tokens (`issue_scheduler(SCHEDULER_EMAIL, …)`)."""
    with DevIdentityProvider().serve() as server:
        yield server


@pytest.fixture(scope="session")
def oidc_env(idp, scheduler_idp) -> dict[str, str]:
    import json

    return {"REPORTING_OIDC_ISSUERS": json.dumps([
        {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri, "audiences": [API_AUDIENCE]},
        {"issuer": scheduler_idp.issuer, "jwks_uri": scheduler_idp.jwks_uri, "audiences": [API_AUDIENCE],
         "kind": "scheduler", "allowed_emails": [SCHEDULER_EMAIL]}])}
