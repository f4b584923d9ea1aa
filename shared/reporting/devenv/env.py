"""`reporting devenv env|stop`: the demo's local deployments as shell exports, for running any command (runbooks).

`make demo` leaves one database, warehouse and artifact folder per residency under
.local/ and out/. `env` starts the demo's Postgres cluster if it is not running (it
keeps running) and prints the environment of one residency's deployment; `stop` stops it.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from reporting.devenv import postgres as pg

RESIDENCIES = ("AF", "IN", "KSA")


def environment(residency: str, home: Path, out: Path) -> dict[str, str]:
    server = pg.provide_server(home, use_machine_server=False)  # reuses the running cluster if there is one
    owner, app = pg.create_database(server.admin, f"reporting_demo_{residency.lower()}", exist_ok=True)
    from reporting.adapters.postgres.connection import local_connection_factory
    from reporting.db.migrate import migrate

    migrate(local_connection_factory(owner), log=lambda event: None)  # a no-op after the demo
    return {
        "REPORTING_RESIDENCY": residency, "REPORTING_DATABASE_URL": app.url(),
        "REPORTING_REGION": f"local-{residency.lower()}",
        "REPORTING_ARTIFACT_DIR": str((out / residency.lower()).resolve()),
        "REPORTING_WAREHOUSE_PATH": str((home / f"warehouse-{residency.lower()}.duckdb").resolve()),
        "REPORTING_DEAD_LETTER_DIR": str((home / "dead-letters" / residency.lower()).resolve()),
        # one transfer area shared by every local "region", as a transfer bucket is reachable from both sides
        "REPORTING_TRANSFER_DIR": str((home / "transfer").resolve()),
        "REPORTING_MIGRATE_URL": owner.url(),
    }


def print_exports(residency: str, home: Path, out: Path) -> int:
    for name, value in environment(residency, home, out).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def stop(home: Path) -> int:
    server = pg.provide_server(home, use_machine_server=False)
    server.stop()
    print("stopped the local Postgres cluster")
    return 0
