"""The `dw` warehouse tables in BigQuery, typed from the one schema file (schema.sql) the local DuckDB uses.

The DDL is applied to a scratch DuckDB and its information_schema read back, so a
table or column another change adds to schema.sql reaches the emulator unchanged.
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import re
from importlib import resources
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from google.cloud import bigquery


# DuckDB type (information_schema.columns.data_type) → BigQuery type; the list mirrors schema.sql's header.
_SCALARS: dict[str, str] = {
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "BOOLEAN": "BOOL",
    "DATE": "DATE",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP": "DATETIME",
    "TIME": "TIME",
    "BLOB": "BYTES",
    "JSON": "JSON",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def bigquery_type(duckdb_type: str) -> tuple[str, str]:
    """(BigQuery type, mode) for a DuckDB column type; refuses a type it has no mapping for."""
    mode = "NULLABLE"
    if duckdb_type.endswith("[]"):
        duckdb_type, mode = duckdb_type[:-2], "REPEATED"
    if duckdb_type in _SCALARS:
        return _SCALARS[duckdb_type], mode
    m = _DECIMAL.match(duckdb_type)
    if m and int(m.group(1)) <= 38 and int(m.group(2)) <= 9:
        return "NUMERIC", mode  # NUMERIC holds any DECIMAL(p <= 38, s <= 9) exactly
    raise ValueError(f"schema.sql: no BigQuery mapping for DuckDB type {duckdb_type!r}; add it to bq_tables.py")


def warehouse_schema() -> dict[str, list[bigquery.SchemaField]]:
    """Every dw table of schema.sql as BigQuery schema fields, columns in order."""
    conn = duckdb.connect()  # the schema as DuckDB actually creates it, from the file the local adapter runs
    try:
        conn.execute(resources.files("reporting.adapters.warehouse").joinpath("schema.sql").read_text("utf-8"))
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'dw' ORDER BY table_name, ordinal_position").fetchall()
    finally:
        conn.close()
    tables: dict[str, list[bigquery.SchemaField]] = {}
    for table, column, data_type, nullable in rows:
        type_, mode = bigquery_type(data_type)
        if mode == "NULLABLE" and nullable == "NO":
            mode = "REQUIRED"
        tables.setdefault(table, []).append(bigquery.SchemaField(column, type_, mode=mode))
    return tables


def create_warehouse(client: bigquery.Client, dataset: str, location: str) -> dict[str, list[bigquery.SchemaField]]:
    """Create the dataset and its dw tables (empty); returns the schema used."""
    ref = bigquery.Dataset(bigquery.DatasetReference(client.project, dataset))
    ref.location = location
    client.create_dataset(ref, exists_ok=True)
    schema = warehouse_schema()
    for table, fields in schema.items():
        client.create_table(bigquery.Table(bigquery.TableReference(ref.reference, table), schema=fields),
                            exists_ok=True)
    return schema


def _json_value(value: Any) -> Any:
    """A row value as BigQuery's JSON load format spells it."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def load_tables(client: bigquery.Client, dataset: str,
                tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    """Append rows per table with one NDJSON load job each (the emulator's load_table_from_json is broken)."""
    counts: dict[str, int] = {}
    for table, rows in tables.items():
        counts[table] = len(rows)
        if not rows:
            continue
        body = "".join(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n" for row in rows)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                        write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        job = client.load_table_from_file(io.BytesIO(body.encode("utf-8")),
                                          bigquery.TableReference(bigquery.DatasetReference(client.project, dataset),
                                                                  table), job_config=config)
        job.result(timeout=120)  # job.output_rows is not used: the emulator reports the table's total
    return counts


def table_counts(client: bigquery.Client, dataset: str, tables: Sequence[str]) -> dict[str, int]:
    """Rows per table as the emulator answers a query (proves a load landed whole)."""
    return {t: next(iter(client.query(f"SELECT COUNT(*) AS n FROM `{client.project}.{dataset}.{t}`").result())).n
            for t in tables}
