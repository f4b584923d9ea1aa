"""Migration lint: the plan §2 CI gate (RLS with every tenant-scoped table) and the forward-only rules.

Every rule works on pglast's parse tree, never on the SQL text, so statements inside
comments, string literals or dollar-quoted bodies are invisible to it, exactly as
they are to Postgres. Statements inside a `DO` block or a function body are not
inspected either: a tenant table must be created with a plain `CREATE TABLE`.
"""
from __future__ import annotations

import argparse
import importlib.resources
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Collection, Iterable, Sequence

import pglast
from pglast import ast
from pglast.enums import AlterTableType, ObjectType
from pglast.parser import ParseError

__all__ = [
    "FILENAME_RE",
    "Finding",
    "Header",
    "Statement",
    "lint_directory",
    "lint_files",
    "lint_sql",
    "main",
    "migration_entries",
    "packaged_migrations_dir",
    "parse_header",
    "split_statements",
]

FILENAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
TENANT_COLUMN = "tenant_id"

# Header directives. Each starts with a keyword; a line that starts with the keyword
# but does not match the full form is reported, so a typo cannot silently turn a
# contract step or a seed into something else.
_DIRECTIVE_START = re.compile(r"^--\s*(repeatable|contract)\s*:", re.IGNORECASE)
_REPEATABLE = re.compile(r"^--\s*repeatable\s*:\s*(true|false)\s*$", re.IGNORECASE)
_CONTRACT = re.compile(r"^--\s*contract\s*:\s*completes\s+(\S+)\s*$", re.IGNORECASE)

_FORWARD_ONLY = (
    "never rename a column in one migration: add the new column, backfill, "
    "switch reads, drop the old one in a contract step"
)
_CONTRACT_HOWTO = (
    "allowed only in a contract step, a file whose header has "
    "'-- contract: completes NNNN_name.sql' naming the earlier expand migration"
)


@dataclass(frozen=True)
class Finding:
    """One lint finding, printed as `file:line: reason`."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Header:
    """Directives from a migration's leading `--` comment block."""

    repeatable: bool = False
    contract_completes: str | None = None
    contract_line: int | None = None
    malformed: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a file: its text, 1-based line and character offset."""

    text: str
    line: int
    offset: int


# ---------------------------------------------------------------------------
# Header and statement splitting
# ---------------------------------------------------------------------------


def _header_lines(sql: str) -> Iterable[tuple[int, str]]:
    """Yield (line number, stripped text) of the `--` lines before the first statement."""
    for number, raw in enumerate(sql.splitlines(), start=1):
        text = raw.strip()
        if not text:
            continue
        if not text.startswith("--"):
            return
        yield number, text


def parse_header(sql: str) -> Header:
    """Read `-- repeatable: true` and `-- contract: completes NNNN_name.sql` from the leading comment block."""
    repeatable = False
    completes: str | None = None
    contract_line: int | None = None
    malformed: list[tuple[int, str]] = []
    for number, text in _header_lines(sql):
        if not _DIRECTIVE_START.match(text):
            continue  # ordinary prose comment
        if m := _REPEATABLE.match(text):
            repeatable = m.group(1).lower() == "true"
        elif m := _CONTRACT.match(text):
            completes, contract_line = m.group(1), number
        else:
            malformed.append((number, text))
    return Header(repeatable, completes, contract_line, tuple(malformed))


def _skip_space_and_comments(sql: str, pos: int) -> int:
    """Advance past whitespace and comments; older pglast versions put a statement's location before them."""
    n = len(sql)
    while pos < n:
        if sql[pos].isspace():
            pos += 1
        elif sql.startswith("--", pos):
            end = sql.find("\n", pos)
            pos = n if end < 0 else end + 1
        elif sql.startswith("/*", pos):
            depth, pos = 1, pos + 2  # Postgres block comments nest
            while pos < n and depth:
                if sql.startswith("/*", pos):
                    depth, pos = depth + 1, pos + 2
                elif sql.startswith("*/", pos):
                    depth, pos = depth - 1, pos + 2
                else:
                    pos += 1
        else:
            break
    return pos


def _line_at(sql: str, offset: int) -> int:
    return sql.count("\n", 0, max(0, offset)) + 1


def _parse(sql: str) -> list[tuple[ast.RawStmt, int, int]]:
    """Parse (raises ParseError); return each RawStmt with its start offset and 1-based line."""
    out = []
    for raw in pglast.parse_sql(sql):
        start = _skip_space_and_comments(sql, raw.stmt_location or 0)
        out.append((raw, start, _line_at(sql, start)))
    return out


def split_statements(sql: str) -> list[Statement]:
    """Split a file into its top-level statements using the Postgres parser (raises pglast ParseError)."""
    result = []
    parsed = pglast.parse_sql(sql)
    for raw in parsed:
        loc = raw.stmt_location or 0
        # stmt_len 0 means "to the end of the string" (the last statement without a semicolon).
        end = loc + raw.stmt_len if raw.stmt_len else len(sql)
        start = _skip_space_and_comments(sql, loc)
        result.append(Statement(sql[start:end], _line_at(sql, start), start))
    return result


# ---------------------------------------------------------------------------
# Relation names
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rel:
    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def matches(self, other: "_Rel") -> bool:
        # Unqualified names resolve through search_path, which the lint cannot know;
        # compare schemas only when both sides spell one out.
        if self.name != other.name:
            return False
        return self.schema is None or other.schema is None or self.schema == other.schema


def _rel(rv: ast.RangeVar, default_schema: str | None = None) -> _Rel:
    return _Rel(rv.schemaname or default_schema, rv.relname)


def _name_list(node: object) -> str:
    """Render a qualified-name list (tuple of String) or TypeName for messages."""
    if isinstance(node, ast.TypeName):
        node = node.names
    if isinstance(node, (list, tuple)):
        return ".".join(getattr(p, "sval", str(p)) for p in node)
    return getattr(node, "sval", str(node))


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------


@dataclass
class _State:
    """What one file does, collected in a single walk over its statements."""

    tenant_tables: list[tuple[_Rel, int, str]] = field(default_factory=list)  # rel, line, "creates"/"adds"
    enabled: list[_Rel] = field(default_factory=list)
    forced: list[_Rel] = field(default_factory=list)
    policies: list[_Rel] = field(default_factory=list)
    created: list[_Rel] = field(default_factory=list)  # every table created so far, for drop exemptions
    contract_ops: list[tuple[int, str]] = field(default_factory=list)
    findings: list[tuple[int, str]] = field(default_factory=list)


def _visit(stmt: ast.Node, line: int, st: _State, default_schema: str | None = None) -> None:
    """Record one statement's effect on the rules."""
    if isinstance(stmt, ast.CreateSchemaStmt):
        # CREATE SCHEMA s CREATE TABLE t (...) creates s.t.
        for elt in stmt.schemaElts or ():
            _visit(elt, line, st, stmt.schemaname)
    elif isinstance(stmt, ast.CreateStmt):
        rel = _rel(stmt.relation, default_schema)
        st.created.append(rel)
        columns = {e.colname for e in stmt.tableElts or () if isinstance(e, ast.ColumnDef)}
        # Temporary tables vanish with the migration's session; no tenant can ever read them.
        if TENANT_COLUMN in columns and stmt.relation.relpersistence != "t":
            st.tenant_tables.append((rel, line, "creates"))
    elif isinstance(stmt, ast.AlterTableStmt):
        _visit_alter_table(stmt, line, st)
    elif isinstance(stmt, ast.CreatePolicyStmt):
        st.policies.append(_rel(stmt.table))
    elif isinstance(stmt, ast.RenameStmt):
        _visit_rename(stmt, line, st)
    elif isinstance(stmt, ast.AlterObjectSchemaStmt) and stmt.objectType == ObjectType.OBJECT_TABLE:
        st.findings.append(
            (line, f"moves table {_rel(stmt.relation)} to schema {stmt.newschema}: a move is a rename; "
                   "create the new table, backfill, switch reads, drop the old one in a contract step")
        )
    elif isinstance(stmt, ast.DropStmt):
        _visit_drop(stmt, line, st)
    elif isinstance(stmt, ast.TransactionStmt):
        st.findings.append((line, "transaction control is not allowed: the runner wraps each file in one transaction"))
    elif isinstance(stmt, ast.IndexStmt) and stmt.concurrent:
        st.findings.append((line, "CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction"))
    elif isinstance(stmt, ast.VacuumStmt) and stmt.is_vacuumcmd:
        st.findings.append((line, "VACUUM cannot run inside the migration's transaction"))
    elif isinstance(stmt, (ast.CreatedbStmt, ast.DropdbStmt, ast.AlterSystemStmt)):
        st.findings.append((line, f"{type(stmt).__name__} cannot run inside the migration's transaction"))


def _visit_alter_table(stmt: ast.AlterTableStmt, line: int, st: _State) -> None:
    rel = _rel(stmt.relation)
    for cmd in stmt.cmds or ():
        sub = cmd.subtype
        if sub == AlterTableType.AT_EnableRowSecurity:
            st.enabled.append(rel)
        elif sub == AlterTableType.AT_ForceRowSecurity:
            st.forced.append(rel)
        elif sub == AlterTableType.AT_DisableRowSecurity:
            st.findings.append((line, f"disables row level security on {rel}; tenant isolation depends on it"))
        elif sub == AlterTableType.AT_NoForceRowSecurity:
            st.findings.append((line, f"un-forces row level security on {rel}; the table owner would bypass the policies"))
        elif sub == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef) and cmd.def_.colname == TENANT_COLUMN:
            st.tenant_tables.append((rel, line, "adds"))
        elif sub == AlterTableType.AT_DropColumn:
            st.contract_ops.append((line, f"drops column {cmd.name} of {rel}"))
        elif sub == AlterTableType.AT_AlterColumnType:
            st.contract_ops.append((line, f"changes the type of column {cmd.name} of {rel} in place"))


def _visit_rename(stmt: ast.RenameStmt, line: int, st: _State) -> None:
    if stmt.renameType == ObjectType.OBJECT_COLUMN:
        where = f" of {_rel(stmt.relation)}" if stmt.relation else ""
        st.findings.append((line, f"renames column {stmt.subname}{where} to {stmt.newname}: {_FORWARD_ONLY}"))
    elif stmt.renameType == ObjectType.OBJECT_TABLE:
        st.findings.append(
            (line, f"renames table {_rel(stmt.relation)} to {stmt.newname}: never rename a table in one migration: "
                   "create the new table, backfill, switch reads, drop the old one in a contract step")
        )


_CONTRACT_DROPS = {
    ObjectType.OBJECT_TABLE: "table",
    ObjectType.OBJECT_SCHEMA: "schema",
    ObjectType.OBJECT_TYPE: "type",
}


def _visit_drop(stmt: ast.DropStmt, line: int, st: _State) -> None:
    if stmt.concurrent:
        st.findings.append((line, "DROP INDEX CONCURRENTLY cannot run inside the migration's transaction"))
    kind = _CONTRACT_DROPS.get(stmt.removeType)
    if kind is None:
        return  # functions, policies, triggers, indexes, views: replaceable, not data
    for obj in stmt.objects or ():
        name = _name_list(obj)
        if kind == "table":
            parts = name.split(".")
            dropped = _Rel(parts[-2] if len(parts) > 1 else None, parts[-1])
            # A scratch table created earlier in this very file holds no data anyone relies on.
            if any(dropped.matches(c) for c in st.created):
                continue
        st.contract_ops.append((line, f"drops {kind} {name}"))


def _rls_findings(st: _State) -> list[tuple[int, str]]:
    out = []
    for rel, line, how in st.tenant_tables:
        verb = "has tenant_id" if how == "creates" else "gains tenant_id"
        if not any(rel.matches(r) for r in st.enabled):
            out.append((line, f"table {rel} {verb} but row level security is not ENABLEd in this file"))
        if not any(rel.matches(r) for r in st.forced):
            out.append((line, f"table {rel} {verb} but row level security is not FORCEd in this file"))
        if not any(rel.matches(r) for r in st.policies):
            out.append((line, f"table {rel} {verb} but no CREATE POLICY ... ON {rel} in this file"))
    return out


def _contract_findings(
    own_name: str, header: Header, ops: list[tuple[int, str]], siblings: Collection[str] | None
) -> list[tuple[int, str]]:
    """Check the contract header when the file has contract operations (or declares itself one)."""
    out: list[tuple[int, str]] = []
    target = header.contract_completes
    if target is not None:
        line = header.contract_line or 1
        own = FILENAME_RE.match(own_name)
        m = FILENAME_RE.match(target)
        if not m:
            out.append((line, f"contract header names {target!r}, which is not a migration file name (NNNN_name.sql)"))
            return out
        if own and int(m.group(1)) >= int(own.group(1)):
            out.append((line, f"contract header names {target}, which is not earlier than this file"))
        elif siblings is not None and target not in siblings:
            out.append((line, f"contract header names {target}, which does not exist in this directory"))
        return out
    for line, what in ops:
        out.append((line, f"{what}: {_CONTRACT_HOWTO}"))
    return out


def lint_sql(filename: str, sql: str, *, siblings: Collection[str] | None = None) -> list[Finding]:
    """Lint one migration's text; `siblings` (file names in its directory) lets contract headers be checked."""
    name = Path(filename).name
    if siblings is None:
        # A real file on disk: its directory is the sibling list. Otherwise existence is not checked.
        path = Path(filename)
        if path.is_file():
            siblings = {p.name for p in path.parent.glob("*.sql")}
    raw: list[tuple[int, str]] = []
    if not FILENAME_RE.match(name):
        raw.append((1, f"file name {name!r} does not match NNNN_name.sql (four digits, lower-case letters, digits, _)"))
    header = parse_header(sql)
    for line, text in header.malformed:
        raw.append((line, f"malformed header directive {text!r}: use '-- repeatable: true' or "
                          "'-- contract: completes NNNN_name.sql'"))
    try:
        parsed = _parse(sql)
    except ParseError as exc:
        message = exc.args[0] if exc.args else str(exc)
        index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        raw.append((_line_at(sql, index), f"does not parse: {message}"))
        return _sorted(filename, raw)
    if not parsed:
        raw.append((1, "contains no SQL statement"))
    st = _State()
    for rawstmt, _start, line in parsed:
        _visit(rawstmt.stmt, line, st)
    raw.extend(st.findings)
    raw.extend(_rls_findings(st))
    raw.extend(_contract_findings(name, header, st.contract_ops, siblings))
    return _sorted(filename, raw)


def _sorted(filename: str, raw: list[tuple[int, str]]) -> list[Finding]:
    return sorted((Finding(filename, line, reason) for line, reason in raw), key=lambda f: (f.line, f.reason))


# ---------------------------------------------------------------------------
# Files and directories
# ---------------------------------------------------------------------------


def _duplicate_findings(display: dict[str, str], all_names: Collection[str]) -> list[Finding]:
    """Report every linted file whose number another file in the directory also uses."""
    by_number: dict[str, list[str]] = defaultdict(list)
    for n in sorted(set(all_names)):
        if m := FILENAME_RE.match(n):
            by_number[m.group(1)].append(n)
    out = []
    for name, shown in display.items():
        m = FILENAME_RE.match(name)
        if not m:
            continue
        others = [o for o in by_number[m.group(1)] if o != name]
        if others:
            out.append(Finding(shown, 1, f"migration number {m.group(1)} is also used by {', '.join(others)}"))
    return out


def _read(entry: Path | Traversable, shown: str) -> tuple[str | None, Finding | None]:
    try:
        return entry.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return None, Finding(shown, 1, "file not found")
    except UnicodeDecodeError as exc:
        return None, Finding(shown, 1, f"not UTF-8: {exc.reason} at byte {exc.start}")


def lint_files(paths: Iterable[Path | str]) -> list[Finding]:
    """Lint files on disk, including duplicate numbers against the other migrations in each file's directory."""
    groups: dict[Path, list[Path]] = defaultdict(list)
    for p in paths:
        p = Path(p)
        groups[p.parent].append(p)
    findings: list[Finding] = []
    for directory, files in groups.items():
        siblings = {p.name for p in directory.glob("*.sql")} | {p.name for p in files if p.exists()}
        for path in files:
            text, problem = _read(path, str(path))
            if problem:
                findings.append(problem)
                continue
            assert text is not None
            findings.extend(lint_sql(str(path), text, siblings=siblings))
        findings.extend(_duplicate_findings({p.name: str(p) for p in files}, siblings))
    return sorted(findings, key=lambda f: (f.file, f.line, f.reason))


def migration_entries(directory: Path | Traversable) -> list[Path | Traversable]:
    """The `*.sql` files of a migrations directory, in name (= application) order."""
    return sorted((e for e in directory.iterdir() if e.name.endswith(".sql") and e.is_file()), key=lambda e: e.name)


def lint_directory(directory: Path | Traversable) -> list[Finding]:
    """Lint every `*.sql` file of a directory (a Path or an importlib.resources Traversable)."""
    entries = migration_entries(directory)
    if isinstance(directory, Path):
        return lint_files(Path(e) for e in entries)  # type: ignore[arg-type]
    siblings = {e.name for e in entries}
    findings: list[Finding] = []
    for entry in entries:
        text, problem = _read(entry, entry.name)
        if problem:
            findings.append(problem)
            continue
        assert text is not None
        findings.extend(lint_sql(entry.name, text, siblings=siblings))
    findings.extend(_duplicate_findings({n: n for n in siblings}, siblings))
    return sorted(findings, key=lambda f: (f.file, f.line, f.reason))


def packaged_migrations_dir() -> Traversable:
    """The migrations shipped inside the `reporting` package (a link to the repository's migrations/)."""
    return importlib.resources.files("reporting") / "migrations"


def main(argv: Sequence[str] | None = None) -> int:
    """`reporting db lint [FILES...]`: print findings, a summary on stderr; exit 1 when there are any."""
    parser = argparse.ArgumentParser(prog="reporting db lint", description="Lint SQL migrations.")
    parser.add_argument("files", nargs="*", help="migration files or directories (default: the packaged migrations)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.files:
        paths: list[Path] = []
        for f in map(Path, args.files):
            paths.extend(sorted(f.glob("*.sql")) if f.is_dir() else [f])
        count = len(paths)
        findings = lint_files(paths)
    else:
        directory = packaged_migrations_dir()
        if not directory.is_dir():
            print(f"reporting db lint: no migrations directory at {directory}", file=sys.stderr)
            return 2
        count = len(migration_entries(directory))
        # A real directory gives clickable paths; a zipped package only names.
        findings = lint_directory(Path(str(directory)) if Path(str(directory)).is_dir() else directory)
    for finding in findings:
        print(finding)
    files_with = len({f.file for f in findings})
    if findings:
        print(f"{len(findings)} finding(s) in {files_with} of {count} file(s)", file=sys.stderr)
        return 1
    print(f"{count} file(s) clean", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
