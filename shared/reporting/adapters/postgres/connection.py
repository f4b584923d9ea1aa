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


# Statements queued on a connection (see `queue`), sent ahead of its next statement.
_QUEUE = "_reporting_queue"


class Later:
    """A queued statement's result: filled by the connection's next round trip (or on first read)."""

    __slots__ = ("_conn", "context")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.context: Any = None

    def rows(self) -> list[dict[str, Any]]:
        if self.context is None:
            flush(self._conn)
        return _rows(self.context)

    def one(self) -> dict[str, Any] | None:
        rows = self.rows()
        return rows[0] if rows else None


def queue(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> Later:
    """Queue a statement to travel with the connection's next one: one network round trip for both.

    Pipelining, for statements whose result is not needed before the next statement is
    written (BEGIN and the tenant setting, an advisory lock, the outbox rows before
    COMMIT). The server still runs them in order, each with its own snapshot, and stops
    at the first error: that error is raised by the statement that sends the queue.
    """
    statement, vals = _cached_convert_paramstyle("named", sql, dict(params or {}))
    later = Later(conn)
    conn.__dict__.setdefault(_QUEUE, []).append((statement, vals, later))
    return later


def queued(conn: Connection) -> bool:
    return bool(conn.__dict__.get(_QUEUE))


def discard_queue(conn: Connection) -> None:
    """Forget statements never sent (a unit of work that ends before talking to the server)."""
    conn.__dict__.pop(_QUEUE, None)


def flush(conn: Connection) -> None:
    """Send the queued statements now (nothing else to send with them)."""
    if queued(conn):
        _round_trip(conn, None)


def _round_trip(conn: Connection, final: tuple[str, tuple] | None) -> Any:
    """The queue plus `final` as Parse, Bind, Describe, Execute each and one Sync: one flight, one wait.

    pg8000's own unnamed execution waits for the server three times per statement
    (Parse, then Describe+Bind, then Execute); with a dozen statements per API call
    that was most of its latency. This uses pg8000's protocol primitives (pinned <2,
    covered by every integration test) and the same parameter conversion. Returns the
    context of `final` (or of the last queued statement).
    """
    from pg8000 import core

    items: list[tuple[str, tuple, Later | None]] = conn.__dict__.pop(_QUEUE, [])
    if final is not None:
        items.append((final[0], final[1], None))
    if not conn._in_transaction and not conn.autocommit and not (items and items[0][0] == "BEGIN"):
        items.insert(0, ("BEGIN", (), None))  # what pg8000's cursor does: DB-API implicit transactions
    contexts = [core.Context(statement) for statement, _, _ in items]
    for statement, vals, _ in items:
        conn.send_PARSE(core.NULL_BYTE, statement, ())
        conn.send_BIND(core.NULL_BYTE, core.make_params(conn.py_types, vals))
        conn._send_message(core.DESCRIBE, core.PORTAL + core.NULL_BYTE)
        conn.send_EXECUTE()
    core._write(conn._sock, core.SYNC_MSG)
    core._flush(conn._sock)
    # Read every answer up to ReadyForQuery, each statement's into its own context: a
    # statement's answers end with CommandComplete; after an error the server skips the
    # rest until Sync, so the error lands on the statement that failed.
    done, last, code = 0, len(contexts) - 1, None
    while code != core.READY_FOR_QUERY:
        code, data_len = core.ci_unpack(core._read(conn._sock, 5))
        conn.message_types[code](core._read(conn._sock, data_len - 4), contexts[min(done, last)])
        if code in (core.COMMAND_COMPLETE, core.EMPTY_QUERY_RESPONSE):
            done += 1
    for context, (_, _, later) in zip(contexts, items):
        if later is not None:
            later.context = context
    for context in contexts:
        if context.error is not None:
            raise context.error
    return contexts[-1]


def _one_round_trip(conn: Connection, sql: str, params: Mapping[str, Any]) -> Any:
    return _round_trip(conn, _cached_convert_paramstyle("named", sql, params))


def _simple(conn: Connection, sql: str) -> Any:
    """No parameters: the simple protocol, as pg8000's cursor does (it also runs multi-statement scripts)."""
    flush(conn)
    if not conn._in_transaction and not conn.autocommit:
        conn.execute_simple("begin transaction")
    return conn.execute_simple(sql)


def _rows(context: Any) -> list[dict[str, Any]]:
    if context.columns is None or context.rows is None:
        return []
    names = [c["name"] for c in context.columns]
    return [dict(zip(names, row)) for row in context.rows]


def commit(conn: Connection) -> None:
    """COMMIT, sent with whatever is queued; nothing at all if no statement ever reached the server."""
    if not conn._in_transaction and all(statement in ("BEGIN", _SET_TENANT)
                                        for statement, _, _ in conn.__dict__.get(_QUEUE, [])):
        discard_queue(conn)
        return
    _round_trip(conn, ("COMMIT", ()))


def rollback(conn: Connection) -> None:
    """ROLLBACK in one round trip (pg8000's own takes two); statements never sent are forgotten."""
    discard_queue(conn)
    if conn._in_transaction:
        conn.execute_simple("ROLLBACK")


_SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"


def begin_for_tenant(conn: Connection, tenant_id: str) -> None:
    """Queue BEGIN and the transaction-local tenant setting: they travel with the first statement.

    Transaction-local: the setting vanishes at COMMIT/ROLLBACK, so a pooled connection
    can never leak one tenant's scope into the next unit of work.
    """
    queue(conn, "BEGIN")
    conn.__dict__[_QUEUE].append((_SET_TENANT, (tenant_id,), None))


def fetch_all(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run one statement and return its rows as dicts."""
    context = _one_round_trip(conn, sql, dict(params)) if params else _simple(conn, sql)
    return _rows(context)


def fetch_one(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def execute(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> int:
    """Run one statement; return its row count."""
    if not params:
        return _simple(conn, sql).row_count
    return _one_round_trip(conn, sql, dict(params)).row_count
