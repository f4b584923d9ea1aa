"""Local warehouse: runs the curated BigQuery-dialect dataset SQL on DuckDB via sqlglot."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from reporting.domain.errors import RenderFailed
from reporting.service_layer.ports import Warehouse


class DatasetError(RenderFailed):
    """A dataset SQL file is unusable (unparsable, not one query, not tenant/property bound)."""


class DatasetParameterError(DatasetError):
    """The caller did not supply a parameter the dataset SQL names."""


__all__ = [
    "REQUIRED_PARAMETERS",
    "DatasetError",
    "DatasetParameterError",
    "DuckDBWarehouse",
    "CompiledDataset",
    "compile_dataset",
]

# Every dataset must be scoped by both; this is what keeps one tenant's rows out of another's report.
REQUIRED_PARAMETERS: frozenset[str] = frozenset({"tenant_id", "property_id"})

_SCHEMA_RESOURCE = "schema.sql"
_FILE_CATALOG = "reporting_local_dw"


@dataclass(frozen=True, slots=True)
class CompiledDataset:
    """A dataset's DuckDB SQL and the named parameters it binds."""

    duckdb_sql: str
    parameters: frozenset[str]


@lru_cache(maxsize=256)
def compile_dataset(dataset_sql: str) -> CompiledDataset:
    """Validate BigQuery dataset SQL and transpile it to DuckDB (cached per text)."""
    try:
        statements = [s for s in sqlglot.parse(dataset_sql, read="bigquery") if s is not None]
    except SqlglotError as err:
        raise DatasetError(f"dataset SQL does not parse as BigQuery: {err}") from err
    if len(statements) != 1:
        raise DatasetError(f"dataset SQL must be exactly one statement, got {len(statements)}")
    tree = statements[0]
    # Datasets are read-only by contract; refusing DML/DDL here keeps a bad template from writing.
    if not isinstance(tree, exp.Query):
        raise DatasetError(f"dataset SQL must be a query, got {tree.key.upper()}")
    if any(True for _ in tree.find_all(exp.Placeholder)):
        raise DatasetError("dataset SQL must use named @parameters, not positional '?'")
    names = frozenset(p.name for p in tree.find_all(exp.Parameter))
    missing_scope = REQUIRED_PARAMETERS - names
    if missing_scope:
        raise DatasetError(
            "dataset SQL must bind @tenant_id and @property_id; missing: " + ", ".join(sorted(missing_scope)),
            missing=sorted(missing_scope),
        )
    tree = tree.transform(_bigquery_semantics)
    # sqlglot renders BigQuery's @name as DuckDB's $name, so binding stays parameterised.
    duck_sql = tree.sql(dialect="duckdb")
    return CompiledDataset(duckdb_sql=duck_sql, parameters=names)


def _bigquery_semantics(node: exp.Expression) -> exp.Expression:
    """Patch the spots where sqlglot's DuckDB output would behave unlike BigQuery."""
    # Bare NUMERIC is DECIMAL(38, 9) in BigQuery but DECIMAL(18, 3) in DuckDB (silent rounding).
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb")
    # BigQuery COUNTIF over no rows is 0; DuckDB's COUNT_IF is NULL. COUNT(CASE ...) is 0 in both.
    if isinstance(node, exp.CountIf):
        return exp.Count(this=exp.If(this=node.this.copy(), true=exp.Literal.number(1)))
    return node


def _bind_value(value: Any) -> Any:
    """Convert a parameter value to what DuckDB binds like the BigQuery type."""
    # Ids are STRING columns in the warehouse; a UUID object would bind as DuckDB UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class DuckDBWarehouse(Warehouse):
    """Warehouse port on a local DuckDB file (or in-memory) with the `dw` schema."""

    def dataset_parameters(self, dataset_sql: str) -> frozenset[str]:
        return compile_dataset(dataset_sql).parameters

    def __init__(self, path: str | Path | None = None) -> None:
        """Remember where the database lives; the connection is opened on first use."""
        self._path = ":memory:" if path is None else str(path)
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    # -- connection -------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """Open the database and create the `dw` schema once."""
        with self._lock:
            if self._conn is None:
                conn = duckdb.connect()
                if self._path != ":memory:":
                    # DuckDB names a file's catalog after its stem; a file called dw.duckdb would make
                    # `dw.<table>` ambiguous, so files are attached under a fixed catalog name.
                    conn.execute(f"ATTACH $path AS {_FILE_CATALOG}", {"path": self._path})
                    conn.execute(f"USE {_FILE_CATALOG}")
                conn.execute(resources.files(__package__).joinpath(_SCHEMA_RESOURCE).read_text("utf-8"))
                self._conn = conn
            return self._conn

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A per-call cursor: DuckDB cursors are independent connections to the same database."""
        cur = self._connection().cursor()
        if self._path != ":memory:":
            cur.execute(f"USE {_FILE_CATALOG}")  # USE is per connection; cursors start in `memory`
        return cur

    def close(self) -> None:
        """Close the connection (an in-memory database is discarded)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> DuckDBWarehouse:
        """Use as a context manager that closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on exit."""
        self.close()

    # -- port -------------------------------------------------------------------------

    def query(
        self,
        dataset_sql: str,
        params: Mapping[str, Any],
        *,
        max_bytes_billed: int | None = None,
    ) -> list[dict[str, Any]]:
        """Run one dataset with named parameters and return rows as plain dicts."""
        # DuckDB bills nothing; still reject nonsense so callers fail here as they would on BigQuery.
        if max_bytes_billed is not None and max_bytes_billed <= 0:
            raise ValueError("max_bytes_billed must be positive")
        compiled = compile_dataset(dataset_sql)
        missing = sorted(compiled.parameters - params.keys())
        if missing:
            raise DatasetParameterError("missing dataset parameters: " + ", ".join(missing), missing=missing)
        # Only the names the SQL uses: DuckDB refuses unused named parameters, and run params
        # may carry extra keys that are not dataset inputs.
        bound = {name: _bind_value(params[name]) for name in compiled.parameters}
        cur = self._cursor()
        try:
            try:
                cur.execute(compiled.duckdb_sql, bound)
            except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as err:
                # The dataset names something that does not exist: retrying the same SQL cannot help.
                raise DatasetError(f"dataset SQL failed to bind: {err}") from err
            columns = [d[0] for d in cur.description or ()]
            return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()

    # -- loading (local/dev only) ------------------------------------------------------

    def _table_columns(self, cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        """Columns of dw.<table>, in order; refuses unknown tables."""
        rows = cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_catalog = current_database() AND table_schema = 'dw' AND table_name = ?"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if not rows:
            raise ValueError(f"unknown warehouse table dw.{table}")
        return [r[0] for r in rows]

    def load_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append rows (dicts keyed by column) to dw.<table>; returns the count."""
        return self.load_tables({table: rows})[table]

    def load_tables(self, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
        """Append rows to several dw tables in one transaction; returns counts per table."""
        counts: dict[str, int] = {}
        with self.transaction() as cur:
            for table, rows in tables.items():
                counts[table] = self._insert(cur, table, rows)
        return counts

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor (the `dw` catalog selected) in one transaction: committed on leaving, rolled back on any error."""
        cur = self._cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        finally:
            cur.close()

    def _insert(self, cur: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows column-wise: one statement binding each column as a list (executemany is ~100x slower)."""
        columns = self._table_columns(cur, table)
        if not rows:
            return 0
        extra = rows[0].keys() - set(columns)
        if extra:
            raise ValueError(f"dw.{table}: unknown columns {sorted(extra)}")
        # Columns missing from the rows take their defaults (NULL), as in a BigQuery load.
        used = [c for c in columns if c in rows[0]]
        for i, row in enumerate(rows):
            if row.keys() != rows[0].keys():
                raise ValueError(f"dw.{table} row {i}: columns differ from the first row")
        # Identifiers come from information_schema (never from the caller), values are bound.
        col_sql = ", ".join(f'"{c}"' for c in used)
        sel_sql = ", ".join(f"UNNEST(${i + 1})" for i in range(len(used)))
        values = [[_bind_value(r[c]) for r in rows] for c in used]
        cur.execute(f'INSERT INTO dw."{table}" ({col_sql}) SELECT {sel_sql}', values)
        return len(rows)

    def delete_property(self, tenant_id: str, property_id: str, tables: Iterable[str] | None = None) -> None:
        """Delete one property's rows from the dw tables (re-seeding a demo hotel)."""
        cur = self._cursor()
        try:
            names = list(tables) if tables is not None else [
                r[0]
                for r in cur.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_catalog = current_database() AND table_schema = 'dw' ORDER BY 1"
                ).fetchall()
            ]
            cur.execute("BEGIN TRANSACTION")
            try:
                for name in names:
                    self._table_columns(cur, name)  # refuses unknown names before they reach SQL text
                    cur.execute(
                        f'DELETE FROM dw."{name}" WHERE tenant_id = ? AND property_id = ?',
                        [str(tenant_id), str(property_id)],
                    )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        finally:
            cur.close()
