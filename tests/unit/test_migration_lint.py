"""Migration lint: the RLS CI gate (plan §2, SPEC §9) and the forward-only rules, without a database."""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from reporting.db import lint
from reporting.db.lint import Finding, Header, lint_files, lint_sql, parse_header, split_statements

RLS_OK = """\
CREATE TABLE reporting.report_runs (
    run_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL
);
ALTER TABLE reporting.report_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.report_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON reporting.report_runs
    USING (tenant_id = current_setting('app.tenant_id')::uuid);
"""


def reasons(findings: list[Finding]) -> list[str]:
    return [f.reason for f in findings]


def without(sql: str, needle: str) -> str:
    """Drop the one statement containing `needle` (test inputs keep one statement per line group)."""
    assert needle in sql
    return "\n".join(line for line in sql.splitlines() if needle not in line) + "\n"


# --- RLS gate -------------------------------------------------------------


def test_tenant_table_with_enable_force_and_policy_is_clean() -> None:
    assert lint_sql("0003_report_runs.sql", RLS_OK) == []


def test_tenant_table_without_policy_is_a_finding() -> None:
    sql = RLS_OK.split("CREATE POLICY")[0]
    findings = lint_sql("0003_report_runs.sql", sql)
    assert len(findings) == 1
    assert findings[0].line == 1
    assert "reporting.report_runs" in findings[0].reason and "CREATE POLICY" in findings[0].reason


def test_tenant_table_without_force_is_a_finding() -> None:
    findings = lint_sql("0003_report_runs.sql", without(RLS_OK, "FORCE ROW"))
    assert [str(f) for f in findings] == [
        "0003_report_runs.sql:1: table reporting.report_runs has tenant_id but row level security is not FORCEd in this file"
    ]


def test_tenant_table_without_enable_is_a_finding() -> None:
    findings = lint_sql("0003_report_runs.sql", without(RLS_OK, "ENABLE ROW"))
    assert reasons(findings) == [
        "table reporting.report_runs has tenant_id but row level security is not ENABLEd in this file"
    ]


def test_each_missing_piece_is_its_own_finding() -> None:
    sql = "SELECT 1;\n\nCREATE TABLE t (id int, tenant_id uuid);\n"
    findings = lint_sql("0003_t.sql", sql)
    assert len(findings) == 3
    assert {f.line for f in findings} == {3}


def test_table_without_tenant_id_needs_no_rls() -> None:
    assert lint_sql("0001_platform.sql", "CREATE TABLE reporting.locales (code text PRIMARY KEY);") == []


def test_unqualified_names_match_qualified_ones_via_search_path() -> None:
    sql = """\
SET search_path = reporting;
CREATE TABLE reporting.schedules (id int, tenant_id uuid);
ALTER TABLE schedules ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON schedules USING (tenant_id = current_setting('app.tenant_id')::uuid);
"""
    assert lint_sql("0004_schedules.sql", sql) == []


def test_rls_on_a_table_in_another_schema_does_not_count() -> None:
    sql = RLS_OK.replace("ALTER TABLE reporting.report_runs FORCE", "ALTER TABLE audit.report_runs FORCE")
    assert reasons(lint_sql("0003_report_runs.sql", sql)) == [
        "table reporting.report_runs has tenant_id but row level security is not FORCEd in this file"
    ]


def test_statements_in_comments_and_strings_do_not_count() -> None:
    sql = """\
CREATE TABLE reporting.outbox (id bigint, tenant_id uuid);
ALTER TABLE reporting.outbox ENABLE ROW LEVEL SECURITY;
-- ALTER TABLE reporting.outbox FORCE ROW LEVEL SECURITY;
/* CREATE POLICY p ON reporting.outbox USING (true); */
SELECT 'ALTER TABLE reporting.outbox FORCE ROW LEVEL SECURITY';
SELECT $body$ CREATE POLICY p ON reporting.outbox USING (true); $body$;
COMMENT ON TABLE reporting.outbox IS 'CREATE POLICY p ON reporting.outbox';
"""
    assert reasons(lint_sql("0006_outbox.sql", sql)) == [
        "table reporting.outbox has tenant_id but no CREATE POLICY ... ON reporting.outbox in this file",
        "table reporting.outbox has tenant_id but row level security is not FORCEd in this file",
    ]


def test_tenant_id_mentioned_only_in_a_comment_or_string_is_not_a_tenant_table() -> None:
    sql = "CREATE TABLE reporting.locales (code text /* , tenant_id uuid */, note text DEFAULT 'tenant_id');"
    assert lint_sql("0002_locales.sql", sql) == []


def test_adding_tenant_id_to_an_existing_table_needs_rls_in_the_same_file() -> None:
    sql = "ALTER TABLE reporting.templates ADD COLUMN tenant_id uuid;\n"
    assert len(lint_sql("0007_templates_tenant.sql", sql)) == 3
    sql += (
        "ALTER TABLE reporting.templates ENABLE ROW LEVEL SECURITY;\n"
        "ALTER TABLE reporting.templates FORCE ROW LEVEL SECURITY;\n"
        "CREATE POLICY p ON reporting.templates USING (tenant_id IS NULL);\n"
    )
    assert lint_sql("0007_templates_tenant.sql", sql) == []


def test_disabling_or_unforcing_rls_is_a_finding_anywhere() -> None:
    sql = (
        "ALTER TABLE reporting.report_runs DISABLE ROW LEVEL SECURITY;\n"
        "ALTER TABLE reporting.report_runs NO FORCE ROW LEVEL SECURITY;\n"
    )
    findings = lint_sql("0008_oops.sql", sql)
    assert [f.line for f in findings] == [1, 2]
    assert "disables row level security" in findings[0].reason
    assert "un-forces row level security" in findings[1].reason


def test_temporary_table_with_tenant_id_needs_no_rls() -> None:
    assert lint_sql("0009_scratch.sql", "CREATE TEMP TABLE scratch (tenant_id uuid);") == []


def test_create_schema_with_embedded_table_is_checked() -> None:
    findings = lint_sql("0001_init.sql", "CREATE SCHEMA audit CREATE TABLE events (tenant_id uuid);")
    assert len(findings) == 3 and all("audit.events" in r for r in reasons(findings))


# --- forward-only -----------------------------------------------------------


def test_rename_column_is_always_a_finding() -> None:
    sql = "-- contract: completes 0001_init.sql\nALTER TABLE reporting.schedules RENAME COLUMN cron TO cron_expr;\n"
    findings = lint_sql("0005_rename.sql", sql, siblings={"0001_init.sql", "0005_rename.sql"})
    assert len(findings) == 1
    assert findings[0].line == 2
    assert "never rename a column in one migration" in findings[0].reason


def test_rename_table_is_a_finding() -> None:
    findings = lint_sql("0005_rename.sql", "ALTER TABLE reporting.schedules RENAME TO plans;")
    assert len(findings) == 1 and "renames table reporting.schedules" in findings[0].reason


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE reporting.schedules DROP COLUMN legacy_cron",
        "DROP TABLE reporting.legacy_runs",
        "DROP SCHEMA legacy",
        "DROP TYPE reporting.old_state",
        "ALTER TABLE reporting.schedules ALTER COLUMN cron TYPE varchar(200)",
    ],
)
def test_contract_operations_need_a_contract_header(statement: str) -> None:
    findings = lint_sql("0006_contract.sql", f"-- drop the old column\n{statement};\n", siblings={"0002_expand.sql"})
    assert len(findings) == 1
    assert findings[0].line == 2
    assert "contract: completes" in findings[0].reason


def test_contract_header_naming_an_existing_earlier_file_allows_drops() -> None:
    sql = (
        "-- Finish moving schedules.cron to schedules.cron_expr.\n"
        "-- Contract: completes 0002_schedules_cron_expr.sql\n"
        "\n"
        "ALTER TABLE reporting.schedules DROP COLUMN cron;\n"
        "DROP TABLE reporting.legacy_runs;\n"
    )
    siblings = {"0001_init.sql", "0002_schedules_cron_expr.sql", "0006_contract_cron.sql"}
    assert lint_sql("0006_contract_cron.sql", sql, siblings=siblings) == []
    assert parse_header(sql) == Header(repeatable=False, contract_completes="0002_schedules_cron_expr.sql", contract_line=2)


def test_contract_header_naming_a_missing_file_is_a_finding() -> None:
    sql = "-- contract: completes 0002_nope.sql\nALTER TABLE reporting.schedules DROP COLUMN cron;\n"
    findings = lint_sql("0006_contract_cron.sql", sql, siblings={"0001_init.sql", "0006_contract_cron.sql"})
    assert [str(f) for f in findings] == [
        "0006_contract_cron.sql:1: contract header names 0002_nope.sql, which does not exist in this directory"
    ]


def test_contract_header_naming_a_later_file_is_a_finding() -> None:
    sql = "-- contract: completes 0009_later.sql\nALTER TABLE reporting.schedules DROP COLUMN cron;\n"
    findings = lint_sql("0006_contract_cron.sql", sql, siblings={"0009_later.sql", "0006_contract_cron.sql"})
    assert len(findings) == 1 and "not earlier than this file" in findings[0].reason


def test_contract_header_must_be_in_the_leading_comment_block() -> None:
    sql = "SELECT 1;\n-- contract: completes 0001_init.sql\nDROP TABLE reporting.legacy;\n"
    findings = lint_sql("0006_contract.sql", sql, siblings={"0001_init.sql"})
    assert len(findings) == 1 and findings[0].line == 3


def test_malformed_directive_is_a_finding() -> None:
    findings = lint_sql("0006_contract.sql", "-- contract: 0001_init.sql\nSELECT 1;\n")
    assert len(findings) == 1 and "malformed header directive" in findings[0].reason


def test_dropping_a_table_created_earlier_in_the_same_file_is_fine() -> None:
    sql = "CREATE TABLE reporting.tmp_map (a int);\nDROP TABLE reporting.tmp_map;\n"
    assert lint_sql("0007_scratch.sql", sql) == []


def test_replaceable_objects_may_be_dropped_freely() -> None:
    sql = (
        "DROP FUNCTION IF EXISTS reporting.claim_outbox(int);\n"
        "DROP POLICY IF EXISTS p ON reporting.report_runs;\n"
        "DROP TRIGGER IF EXISTS t ON reporting.report_runs;\n"
        "DROP INDEX IF EXISTS reporting.report_runs_due_idx;\n"
        "DROP VIEW IF EXISTS reporting.v;\n"
    )
    assert lint_sql("0008_replace.sql", sql) == []


def test_transaction_control_and_concurrent_index_are_findings() -> None:
    sql = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON reporting.t (a);\nCOMMIT;\n"
    assert [f.line for f in lint_sql("0009_idx.sql", sql)] == [1, 2, 3]


# --- names, parsing, headers -------------------------------------------------


@pytest.mark.parametrize("name", ["3_init.sql", "0003-init.sql", "0003_Init.sql", "0003_init.SQL", "00003_init.sql", "0003_.sql"])
def test_bad_file_name_is_a_finding(name: str) -> None:
    findings = lint_sql(name, "SELECT 1;")
    assert len(findings) == 1 and "does not match NNNN_name.sql" in findings[0].reason


def test_parse_error_is_a_finding_with_its_line() -> None:
    sql = "-- header\nSELECT 'é';\n\nCREATE TABEL reporting.x (a int);\n"
    findings = lint_sql("0003_broken.sql", sql)
    assert len(findings) == 1
    assert findings[0].line == 4
    assert findings[0].reason.startswith("does not parse: syntax error at or near")


def test_repeatable_header() -> None:
    assert parse_header("-- Seed platform templates.\n-- REPEATABLE: true\nINSERT INTO t VALUES (1);").repeatable
    assert not parse_header("-- repeatable: false\nSELECT 1;").repeatable
    assert not parse_header("SELECT 1;\n-- repeatable: true\n").repeatable
    assert parse_header("SELECT 1;") == Header()


def test_split_statements_handles_dollar_quotes_and_lines() -> None:
    sql = "-- h\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n\nSELECT ';' ;\nSELECT 3"
    stmts = split_statements(sql)
    assert [s.line for s in stmts] == [2, 4, 5]
    assert stmts[0].text.endswith("$$") and stmts[2].text == "SELECT 3"


def test_finding_str() -> None:
    assert str(Finding("0003_x.sql", 12, "boom")) == "0003_x.sql:12: boom"


# --- files, directories, main ---------------------------------------------------


def write(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_text(sql, encoding="utf-8")
    return path


def test_duplicate_numbers_are_findings(tmp_path: Path) -> None:
    a = write(tmp_path, "0001_init.sql", "SELECT 1;")
    b = write(tmp_path, "0001_other.sql", "SELECT 2;")
    c = write(tmp_path, "0002_fine.sql", "SELECT 3;")
    findings = lint_files([a, b, c])
    assert sorted(f.file for f in findings) == sorted([str(a), str(b)])
    assert all("migration number 0001 is also used by" in f.reason for f in findings)


def test_lint_files_checks_contract_targets_against_the_directory(tmp_path: Path) -> None:
    write(tmp_path, "0001_expand.sql", "ALTER TABLE reporting.s ADD COLUMN b int;")
    good = write(tmp_path, "0002_contract.sql", "-- contract: completes 0001_expand.sql\nALTER TABLE reporting.s DROP COLUMN a;")
    bad = write(tmp_path, "0003_contract.sql", "-- contract: completes 0000_gone.sql\nALTER TABLE reporting.s DROP COLUMN c;")
    assert lint_files([good]) == []
    assert len(lint_files([bad])) == 1


def test_main_exit_codes_and_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write(tmp_path, "0001_clean.sql", "CREATE TABLE reporting.locales (code text);")
    assert lint.main([str(clean)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "1 file(s) clean" in err

    dirty = write(tmp_path, "0002_dirty.sql", "SELECT 1;\nALTER TABLE reporting.locales RENAME COLUMN code TO tag;\n")
    assert lint.main([str(clean), str(dirty)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{dirty}:2: renames column code of reporting.locales to tag")
    assert "1 finding(s)" in err

    assert lint.main([str(tmp_path)]) == 1  # a directory means its *.sql files
    capsys.readouterr()


def test_main_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint.main([str(tmp_path / "0001_missing.sql")]) == 1
    assert "file not found" in capsys.readouterr().out


# --- the real migrations ---------------------------------------------------------


def test_packaged_migrations_directory_exists() -> None:
    directory = importlib.resources.files("reporting") / "migrations"
    assert directory.is_dir(), "shared/reporting/migrations must link to the top-level migrations/"


def test_every_real_migration_lints_clean() -> None:
    directory = Path(str(importlib.resources.files("reporting") / "migrations"))
    files = sorted(directory.glob("*.sql"))
    findings = lint_files(files)
    assert findings == [], "\n".join(map(str, findings))
    # Meaningful even while the directory fills up: whatever is there parses into statements.
    for path in files:
        assert split_statements(path.read_text(encoding="utf-8")), f"{path.name} has no statements"


def test_main_without_arguments_lints_the_packaged_migrations(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint.main([]) == 0
    assert "clean" in capsys.readouterr().err
