"""Forward-only migration runner: lint, lock, apply each pending file in its own transaction, record it.

Safe to run twice (applied files are skipped by checksum) and from two processes at
once (a session-level advisory lock serialises them, and the second one reads the
bookkeeping only after it holds the lock, so it finds the first one's work done).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Callable, Sequence

import pg8000.exceptions

from reporting.adapters.postgres.connection import Connection, execute, fetch_all
from reporting.db.lint import (
    FILENAME_RE,
    Finding,
    lint_directory,
    migration_entries,
    packaged_migrations_dir,
    parse_header,
    split_statements,
)

__all__ = [
    "MIGRATION_LOCK_KEY",
    "MigrateReport",
    "MigrationEdited",
    "MigrationError",
    "MigrationFailed",
    "MigrationLintFailed",
    "main",
    "migrate",
]

logger = logging.getLogger(__name__)

# Fixed pg_advisory_lock key (int8) shared by every runner of this service: ASCII "rptmigr".
# Advisory locks are per database, so one key per service database is enough.
MIGRATION_LOCK_KEY = 0x72_70_74_6D_69_67_72

LogSink = Callable[[dict[str, Any]], None] | logging.Logger | None

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS reporting;
CREATE TABLE IF NOT EXISTS reporting.schema_migrations (
    filename     text PRIMARY KEY,
    version      integer NOT NULL,
    checksum     text NOT NULL,
    repeatable   boolean NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms integer NOT NULL
)
"""


class MigrationError(Exception):
    """Base class of every migration runner error."""


class MigrationLintFailed(MigrationError):
    """The lint found problems; nothing was applied."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"migration lint failed with {len(self.findings)} finding(s); nothing applied:\n{lines}")


class MigrationEdited(MigrationError):
    """An applied, non-repeatable file changed after it was applied; nothing was applied."""

    def __init__(self, filename: str, recorded: str = "", current: str = "") -> None:
        self.filename = filename
        self.recorded_checksum = recorded
        self.current_checksum = current
        super().__init__(
            f"{filename} was edited after it was applied (checksum {recorded[:12]} -> {current[:12]}); "
            "applied migrations are immutable: restore the file and add a new migration instead. "
            "Nothing was applied."
        )


class MigrationFailed(MigrationError):
    """A file failed; its transaction was rolled back, earlier files stay applied."""

    def __init__(self, filename: str, line: int | None, pg_message: str, sqlstate: str | None = None) -> None:
        self.filename = filename
        self.line = line
        self.pg_message = pg_message
        self.sqlstate = sqlstate
        where = f"{filename}:{line}" if line else filename
        code = f" [{sqlstate}]" if sqlstate else ""
        super().__init__(f"{where}: {pg_message}{code} (rolled back; later files not applied)")


@dataclass
class MigrateReport:
    """What one run did."""

    applied: list[str] = field(default_factory=list)
    reapplied: list[str] = field(default_factory=list)
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _File:
    name: str
    version: int
    text: str
    checksum: str
    repeatable: bool


def _emit(log: LogSink, event: str, **fields: Any) -> None:
    """Send one structured event to a callable, a Logger, or this module's logger."""
    record = {"event": event, **fields}
    if callable(log) and not isinstance(log, logging.Logger):
        log(record)
    else:
        (log or logger).info("%s", json.dumps(record, default=str))


def _load(directory: Path | Traversable) -> list[_File]:
    """Read every migration in name order; the checksum covers the exact bytes on disk."""
    files = []
    for entry in migration_entries(directory):
        data = entry.read_bytes()
        text = data.decode("utf-8")
        m = FILENAME_RE.match(entry.name)
        assert m, entry.name  # the lint already rejected bad names
        files.append(_File(entry.name, int(m.group(1)), text, hashlib.sha256(data).hexdigest(), parse_header(text).repeatable))
    return files


def _pg_error(exc: Exception) -> tuple[str, str | None, int | None]:
    """Message, SQLSTATE and 1-based character position from a pg8000 error."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    message = info.get("M") or str(exc)
    if info.get("D"):
        message = f"{message} ({info['D']})"
    position = info.get("P")
    return message, info.get("C"), int(position) if position and str(position).isdigit() else None


def _apply(conn: Connection, f: _File, *, update: bool) -> int:
    """Run one file and write its bookkeeping row in one transaction; return execution ms."""
    cur = conn.cursor()
    try:
        cur.execute("BEGIN")
        started = time.monotonic()
        # Statement by statement, each with the simple protocol (no parameters), so any
        # statement Postgres accepts works, and a failure points at its own line.
        for stmt in split_statements(f.text):
            try:
                cur.execute(stmt.text)
            except pg8000.exceptions.DatabaseError as exc:
                message, code, pos = _pg_error(exc)
                line = stmt.line if pos is None else stmt.line + stmt.text.count("\n", 0, pos - 1)
                raise MigrationFailed(f.name, line, message, code) from exc
        elapsed = int((time.monotonic() - started) * 1000)
        params = {"f": f.name, "v": f.version, "c": f.checksum, "r": f.repeatable, "ms": elapsed}
        if update:
            cur.execute(
                "UPDATE reporting.schema_migrations SET version = :v, checksum = :c, repeatable = :r,"
                " applied_at = now(), execution_ms = :ms WHERE filename = :f",
                params,
            )
        else:
            cur.execute(
                "INSERT INTO reporting.schema_migrations (filename, version, checksum, repeatable, execution_ms)"
                " VALUES (:f, :v, :c, :r, :ms)",
                params,
            )
        cur.execute("COMMIT")
        return elapsed
    except BaseException as exc:
        try:
            cur.execute("ROLLBACK")
        except Exception:  # the connection may be gone; closing it rolls back anyway
            pass
        if isinstance(exc, pg8000.exceptions.DatabaseError):
            message, code, _ = _pg_error(exc)
            raise MigrationFailed(f.name, None, message, code) from exc
        raise
    finally:
        try:
            # Every file starts from the session defaults: a SET in one file must not leak into the next.
            cur.execute("RESET ALL")
        except Exception:
            pass
        cur.close()


def _lock(conn: Connection, log: LogSink) -> None:
    """Take the session-level advisory lock, saying so when another runner holds it."""
    got = fetch_all(conn, "SELECT pg_try_advisory_lock(:k) AS ok", {"k": MIGRATION_LOCK_KEY})[0]["ok"]
    if not got:
        _emit(log, "migration.lock_wait", lock_key=MIGRATION_LOCK_KEY)
        fetch_all(conn, "SELECT pg_advisory_lock(:k)", {"k": MIGRATION_LOCK_KEY})


def migrate(
    conn_factory: Callable[[], Connection],
    migrations_dir: Path | Traversable | None = None,
    *,
    log: LogSink = None,
) -> MigrateReport:
    """Apply pending migrations from `migrations_dir` (default: the packaged ones) as the schema owner."""
    directory = migrations_dir if migrations_dir is not None else packaged_migrations_dir()
    if not directory.is_dir():
        raise MigrationError(f"no migrations directory at {directory}")
    # Lint before touching the database: a bad file means nothing is applied.
    findings = lint_directory(directory)
    if findings:
        raise MigrationLintFailed(findings)
    files = _load(directory)

    report = MigrateReport()
    conn = conn_factory()
    try:
        # Explicit BEGIN/COMMIT per file; no implicit transaction around the lock or the reads.
        conn.autocommit = True
        _lock(conn, log)
        try:
            execute(conn, _BOOKKEEPING)
            # Read only after the lock: a runner that waited sees what the other one applied.
            recorded = {
                r["filename"]: r["checksum"]
                for r in fetch_all(conn, "SELECT filename, checksum FROM reporting.schema_migrations")
            }
            plan = _plan(files, recorded, report, log)
            for f, update in plan:
                ms = _apply(conn, f, update=update)
                (report.reapplied if update else report.applied).append(f.name)
                _emit(
                    log,
                    "migration.reapplied" if update else "migration.applied",
                    filename=f.name,
                    version=f.version,
                    checksum=f.checksum,
                    execution_ms=ms,
                )
        finally:
            try:
                fetch_all(conn, "SELECT pg_advisory_unlock(:k)", {"k": MIGRATION_LOCK_KEY})
            except Exception:  # a dead connection has released its session locks already
                pass
    finally:
        try:
            conn.close()
        except Exception:
            pass
    _emit(log, "migration.done", applied=len(report.applied), reapplied=len(report.reapplied), skipped=report.skipped)
    return report


def _plan(files: list[_File], recorded: dict[str, str], report: MigrateReport, log: LogSink) -> list[tuple[_File, bool]]:
    """Decide per file: apply, re-apply or skip; refuse up front if an applied file was edited."""
    plan: list[tuple[_File, bool]] = []
    newest_applied = max((f.version for f in files if f.name in recorded), default=0)
    for f in files:
        checksum = recorded.get(f.name)
        if checksum is None:
            if f.version < newest_applied:
                # Allowed (a branch merged late), but a fresh database applies it in another order.
                _emit(log, "migration.out_of_order", filename=f.name, newest_applied_version=newest_applied)
            plan.append((f, False))
        elif checksum == f.checksum:
            report.skipped += 1
        elif f.repeatable:
            plan.append((f, True))
        else:
            raise MigrationEdited(f.name, checksum, f.checksum)
    known = {f.name for f in files}
    for name in sorted(set(recorded) - known):
        _emit(log, "migration.missing_file", filename=name)
    return plan


def main(argv: Sequence[str] | None, conn_factory: Callable[[], Connection]) -> int:
    """`reporting db migrate [--dir DIR]`: one JSON line per event on stdout, errors on stderr; exit 0/1."""
    parser = argparse.ArgumentParser(prog="reporting db migrate", description="Apply pending SQL migrations.")
    parser.add_argument("--dir", type=Path, default=None, help="migrations directory (default: the packaged one)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    def emit(record: dict[str, Any]) -> None:
        print(json.dumps(record, default=str), flush=True)

    try:
        migrate(conn_factory, args.dir, log=emit)
    except MigrationError as exc:
        print(f"reporting db migrate: {exc}", file=sys.stderr)
        return 1
    return 0
