"""Migration runner against a real Postgres: ordering, idempotence, edits, rollback, concurrency, lint gate."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from reporting.adapters.postgres.connection import ConnInfo, Connection, connect, fetch_all
from reporting.db.migrate import (
    MigrateReport,
    MigrationEdited,
    MigrationFailed,
    MigrationLintFailed,
    main,
    migrate,
)

pytestmark = pytest.mark.integration

# `empty_database` (tests/conftest.py): a brand-new database owned by reporting_owner, as its ConnInfo.


@pytest.fixture
def factory(empty_database: ConnInfo) -> Callable[[], Connection]:
    return lambda: connect(empty_database)


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql, encoding="utf-8")


def rows(factory: Callable[[], Connection], sql: str) -> list[dict[str, Any]]:
    conn = factory()
    try:
        return fetch_all(conn, sql)
    finally:
        conn.close()


def records(factory: Callable[[], Connection]) -> list[dict[str, Any]]:
    return rows(factory, "SELECT filename, version, checksum, repeatable, execution_ms FROM reporting.schema_migrations ORDER BY filename")


def table_exists(factory: Callable[[], Connection], qualified: str) -> bool:
    return rows(factory, f"SELECT to_regclass('{qualified}') IS NOT NULL AS ok")[0]["ok"]


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """Three small migrations: a tenant table with RLS, a function (multi-statement, dollar-quoted), a seed."""
    d = tmp_path / "migrations"
    d.mkdir()
    write(d, "0001_init.sql", """\
-- The schema exists already (the runner creates it); IF NOT EXISTS keeps this file self-contained.
CREATE SCHEMA IF NOT EXISTS reporting;
CREATE TABLE reporting.locales (code text PRIMARY KEY, note text);
CREATE TABLE reporting.report_runs (
    run_id    uuid PRIMARY KEY,
    tenant_id uuid NOT NULL
);
ALTER TABLE reporting.report_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.report_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.report_runs
    USING (tenant_id = current_setting('app.tenant_id')::uuid);
""")
    write(d, "0002_functions.sql", """\
SET search_path = reporting;  -- must not leak into the next file
CREATE FUNCTION reporting.answer() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN 42;  -- a semicolon inside a dollar quote
END
$$;
COMMENT ON FUNCTION reporting.answer() IS 'not :a param; 50% sure';
""")
    write(d, "0003_seed_locales.sql", """\
-- Platform locales.
-- repeatable: true
INSERT INTO reporting.locales (code) VALUES ('en'), ('fa'), ('ar')
ON CONFLICT (code) DO NOTHING;
""")
    return d


def test_applies_in_order_and_records_each_file(factory: Callable[[], Connection], migrations: Path) -> None:
    events: list[dict[str, Any]] = []
    report = migrate(factory, migrations, log=events.append)

    assert report == MigrateReport(applied=["0001_init.sql", "0002_functions.sql", "0003_seed_locales.sql"], reapplied=[], skipped=0)
    recs = records(factory)
    assert [(r["filename"], r["version"], r["repeatable"]) for r in recs] == [
        ("0001_init.sql", 1, False),
        ("0002_functions.sql", 2, False),
        ("0003_seed_locales.sql", 3, True),
    ]
    assert all(len(r["checksum"]) == 64 and r["execution_ms"] >= 0 for r in recs)
    assert rows(factory, "SELECT reporting.answer() AS a")[0]["a"] == 42
    assert [r["code"] for r in rows(factory, "SELECT code FROM reporting.locales ORDER BY code")] == ["ar", "en", "fa"]
    rls = rows(factory, "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'reporting.report_runs'::regclass")
    assert rls == [{"relrowsecurity": True, "relforcerowsecurity": True}]
    applied_events = [e["filename"] for e in events if e["event"] == "migration.applied"]
    assert applied_events == report.applied


def test_second_run_applies_nothing(factory: Callable[[], Connection], migrations: Path) -> None:
    migrate(factory, migrations)
    before = records(factory)
    report = migrate(factory, migrations)
    assert report == MigrateReport(applied=[], reapplied=[], skipped=3)
    assert records(factory) == before


def test_edited_versioned_file_is_refused_and_nothing_else_applied(factory: Callable[[], Connection], migrations: Path) -> None:
    migrate(factory, migrations)
    (migrations / "0002_functions.sql").write_text("SELECT 1;\n", encoding="utf-8")
    write(migrations, "0004_more.sql", "CREATE TABLE reporting.more (a int);\n")

    with pytest.raises(MigrationEdited) as info:
        migrate(factory, migrations)

    assert info.value.filename == "0002_functions.sql"
    assert "add a new migration" in str(info.value)
    assert not table_exists(factory, "reporting.more")
    assert [r["filename"] for r in records(factory)] == ["0001_init.sql", "0002_functions.sql", "0003_seed_locales.sql"]


def test_edited_repeatable_file_is_reapplied(factory: Callable[[], Connection], migrations: Path) -> None:
    migrate(factory, migrations)
    old = {r["filename"]: r["checksum"] for r in records(factory)}
    seed = migrations / "0003_seed_locales.sql"
    seed.write_text(seed.read_text(encoding="utf-8").replace("('ar')", "('ar'), ('hi')"), encoding="utf-8")

    report = migrate(factory, migrations)

    assert report == MigrateReport(applied=[], reapplied=["0003_seed_locales.sql"], skipped=2)
    new = {r["filename"]: r["checksum"] for r in records(factory)}
    assert new["0003_seed_locales.sql"] != old["0003_seed_locales.sql"]
    assert {k: v for k, v in new.items() if k != "0003_seed_locales.sql"} == {
        k: v for k, v in old.items() if k != "0003_seed_locales.sql"
    }
    assert "hi" in [r["code"] for r in rows(factory, "SELECT code FROM reporting.locales")]


def test_failing_file_is_rolled_back_and_earlier_files_kept(factory: Callable[[], Connection], migrations: Path) -> None:
    write(migrations, "0004_broken.sql", """\
CREATE TABLE reporting.half_done (a int);
INSERT INTO reporting.half_done VALUES (1);

INSERT INTO reporting.no_such_table VALUES (1);
""")
    write(migrations, "0005_after.sql", "CREATE TABLE reporting.after_broken (a int);\n")

    with pytest.raises(MigrationFailed) as info:
        migrate(factory, migrations)

    assert info.value.filename == "0004_broken.sql"
    assert info.value.line == 4
    assert "no_such_table" in info.value.pg_message
    assert not table_exists(factory, "reporting.half_done")
    assert not table_exists(factory, "reporting.after_broken")
    assert [r["filename"] for r in records(factory)] == ["0001_init.sql", "0002_functions.sql", "0003_seed_locales.sql"]

    # Fixing the file (it was never recorded, so editing it is fine) lets the run finish.
    write(migrations, "0004_broken.sql", "CREATE TABLE reporting.half_done (a int);\n")
    assert migrate(factory, migrations).applied == ["0004_broken.sql", "0005_after.sql"]


def test_failure_without_position_points_at_the_statement(factory: Callable[[], Connection], migrations: Path) -> None:
    write(migrations, "0004_dup.sql", "SELECT 1;\n\nCREATE TABLE reporting.locales (code text);\n")
    with pytest.raises(MigrationFailed) as info:
        migrate(factory, migrations)
    assert (info.value.line, info.value.sqlstate) == (3, "42P07")


def test_two_runners_at_once_apply_each_file_exactly_once(factory: Callable[[], Connection], migrations: Path) -> None:
    write(migrations, "0004_slow.sql", "SELECT pg_sleep(0.5);\nCREATE TABLE reporting.slow (a int);\n")
    results: list[MigrateReport] = []
    errors: list[BaseException] = []
    events: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            results.append(migrate(factory, migrations, log=events.append))
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(results) == 2
    expected = ["0001_init.sql", "0002_functions.sql", "0003_seed_locales.sql", "0004_slow.sql"]
    assert sorted(results[0].applied + results[1].applied) == expected
    assert sorted(len(r.applied) for r in results) == [0, 4]  # one runner did everything, the other waited and skipped
    assert sorted(r.skipped for r in results) == [0, 4]
    assert [r["filename"] for r in records(factory)] == expected
    # They really overlapped: the runner holding the lock sleeps 0.5 s, the other one had to wait.
    assert [e["event"] for e in events].count("migration.lock_wait") == 1


def test_lint_findings_apply_nothing(factory: Callable[[], Connection], migrations: Path) -> None:
    write(migrations, "0004_no_rls.sql", "CREATE TABLE reporting.leaky (id int, tenant_id uuid);\n")
    with pytest.raises(MigrationLintFailed) as info:
        migrate(factory, migrations)
    assert len(info.value.findings) == 3
    assert not table_exists(factory, "reporting.locales")
    assert not table_exists(factory, "reporting.schema_migrations")


def test_settings_do_not_leak_between_files(factory: Callable[[], Connection], migrations: Path) -> None:
    # 0002 sets search_path = reporting; an unqualified name in a later file must not resolve through it.
    write(migrations, "0004_unqualified.sql", "CREATE TABLE answer_probe AS SELECT answer() AS a;\n")
    with pytest.raises(MigrationFailed) as info:
        migrate(factory, migrations)
    assert info.value.filename == "0004_unqualified.sql"
    assert "answer()" in info.value.pg_message


def test_the_lock_is_released(factory: Callable[[], Connection], migrations: Path) -> None:
    migrate(factory, migrations)
    conn = factory()
    try:
        held = fetch_all(conn, "SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = current_database()")[0]["n"]
    finally:
        conn.close()
    assert held == 0


def test_the_real_migrations_apply_to_an_empty_database_and_rerun_as_a_no_op(factory: Callable[[], Connection]) -> None:
    # Default directory: the migrations packaged with `reporting` (the repository's migrations/).
    first = migrate(factory)
    assert first.applied == [r["filename"] for r in records(factory)]
    assert migrate(factory) == MigrateReport(applied=[], reapplied=[], skipped=len(first.applied))


def test_main_prints_one_json_line_per_event_and_exits_1_on_error(
    factory: Callable[[], Connection], migrations: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(migrations)], factory) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["filename"] for e in events if e["event"] == "migration.applied"] == [
        "0001_init.sql", "0002_functions.sql", "0003_seed_locales.sql"
    ]
    assert events[-1] == {"event": "migration.done", "applied": 3, "reapplied": 0, "skipped": 0}

    (migrations / "0001_init.sql").write_text("SELECT 1;\n", encoding="utf-8")
    assert main(["--dir", str(migrations)], factory) == 1
    assert "0001_init.sql was edited after it was applied" in capsys.readouterr().err
