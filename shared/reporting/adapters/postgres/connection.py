"""Postgres connections: pg8000 locally, the Cloud SQL Python Connector (IAM auth) in the cloud."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.dbapi

# Every query in this code base is written with :named parameters. pg8000 reads
# its paramstyle from this module global at execute time.
pg8000.dbapi.paramstyle = "named"


class _Names(dict):
    """Hands back each placeholder's own name: lets pg8000's scanner report the order of :params."""

    def __missing__(self, key: str) -> str:
        return key


@lru_cache(maxsize=2048)
def _named_plan(query: str) -> tuple[str, tuple[str, ...]]:
    statement, names = _scan_paramstyle("named", query, _Names())
    return statement, tuple(names)


def _cached_convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
    # pg8000 scans every query character by character on every execute (~0.3 ms for ours,
    # a dozen per API request); our statements are constants, so scan each once.
    if style != "named" or not isinstance(args, Mapping):
        return _scan_paramstyle(style, query, args)
    statement, names = _named_plan(query)
    return statement, tuple(args[name] for name in names)


_scan_paramstyle = pg8000.dbapi.convert_paramstyle
pg8000.dbapi.convert_paramstyle = _cached_convert_paramstyle

Connection = pg8000.dbapi.Connection


@dataclass(frozen=True)
class ConnInfo:
    """Where and as whom to connect; `unix_sock` wins over host/port when set."""

    database: str
    user: str
    host: str = "127.0.0.1"
    port: int = 5432
    password: str | None = None
    unix_sock: str | None = None

    def as_user(self, user: str, password: str | None = None) -> "ConnInfo":
        return replace(self, user=user, password=password)

    def with_database(self, database: str) -> "ConnInfo":
        return replace(self, database=database)

    def url(self) -> str:
        """A URL for humans and env vars (the password is never included)."""
        if self.unix_sock:
            # The port names the socket file (.s.PGSQL.<port>): dropping it would point elsewhere.
            port = f":{self.port}" if self.port != 5432 else ""
            return f"postgresql://{self.user}@{port}/{self.database}?host={self.unix_sock}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @classmethod
    def from_url(cls, url: str) -> "ConnInfo":
        parsed = urlparse(url)
        if parsed.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a postgres URL: scheme {parsed.scheme!r}")
        query = parse_qs(parsed.query)
        sock = query.get("host", [None])[0]
        return cls(
            database=(parsed.path or "/postgres").lstrip("/") or "postgres",
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            unix_sock=sock if sock and sock.startswith("/") else None,
        )


def connect(info: ConnInfo) -> Connection:
    """Open a pg8000 connection (TCP, or the server's Unix socket)."""
    kwargs: dict[str, Any] = {"user": info.user, "database": info.database, "password": info.password}
    if info.unix_sock:
        sock = info.unix_sock
        if not sock.endswith(".s.PGSQL." + str(info.port)) and "/.s.PGSQL." not in sock:
            sock = f"{sock.rstrip('/')}/.s.PGSQL.{info.port}"
        kwargs["unix_sock"] = sock
    else:
        kwargs["host"] = info.host
        kwargs["port"] = info.port
    conn = pg8000.dbapi.connect(**kwargs)
    conn.autocommit = False
    return conn


@dataclass(frozen=True)
class CloudSqlTarget:
    """A Cloud SQL instance reached through the connector with IAM database auth."""

    instance_connection_name: str  # project:region:instance
    database: str
    iam_user: str  # service account e-mail without ".gserviceaccount.com"
    private_ip: bool = True


class CloudSqlConnectionFactory:
    """Lazily builds one Connector per process (cold start matters) and opens IAM-authenticated connections."""

    def __init__(self, target: CloudSqlTarget) -> None:
        self._target = target
        self._connector: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Connection:
        with self._lock:
            if self._connector is None:
                from google.cloud.sql.connector import Connector, IPTypes  # heavy: import on first use

                self._connector = Connector(
                    ip_type=IPTypes.PRIVATE if self._target.private_ip else IPTypes.PUBLIC,
                    enable_iam_auth=True,
                    refresh_strategy="lazy",
                )
        conn = self._connector.connect(
            self._target.instance_connection_name,
            "pg8000",
            user=self._target.iam_user,
            db=self._target.database,
        )
        conn.autocommit = False
        return conn


ConnectionFactory = Callable[[], Connection]


def local_connection_factory(info: ConnInfo) -> ConnectionFactory:
    return lambda: connect(info)


def _one_round_trip(conn: Connection, sql: str, params: Mapping[str, Any]) -> Any:
    """Parse, Bind, Describe, Execute and Sync in one flight: one network round trip per statement.

    pg8000's own unnamed execution waits for the server three times per statement
    (Parse, then Describe+Bind, then Execute); with a dozen statements per API call
    that was most of its latency. This uses pg8000's protocol primitives (pinned <2,
    covered by every integration test) and the same parameter conversion.
    """
    from pg8000 import core

    if not conn._in_transaction and not conn.autocommit:
        conn.execute_simple("begin transaction")  # what pg8000's cursor does: DB-API implicit transactions
    statement, vals = _cached_convert_paramstyle("named", sql, params)
    context = core.Context(statement)
    conn.send_PARSE(core.NULL_BYTE, statement, ())
    conn.send_BIND(core.NULL_BYTE, core.make_params(conn.py_types, vals))
    conn._send_message(core.DESCRIBE, core.PORTAL + core.NULL_BYTE)
    conn.send_EXECUTE()
    core._write(conn._sock, core.SYNC_MSG)
    core._flush(conn._sock)
    conn.handle_messages(context)
    return context


def _simple(conn: Connection, sql: str) -> Any:
    """No parameters: the simple protocol, as pg8000's cursor does (it also runs multi-statement scripts)."""
    if not conn._in_transaction and not conn.autocommit:
        conn.execute_simple("begin transaction")
    return conn.execute_simple(sql)


def fetch_all(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement and return its rows as dicts."""
    context = _one_round_trip(conn, sql, dict(params)) if params else _simple(conn, sql)
    if context.columns is None or context.rows is None:
        return []
    names = [c["name"] for c in context.columns]
    return [dict(zip(names, row)) for row in context.rows]


def fetch_one(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def execute(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> int:
    """Run one statement; return its row count."""
    if not params:
        return _simple(conn, sql).row_count
    return _one_round_trip(conn, sql, dict(params)).row_count
