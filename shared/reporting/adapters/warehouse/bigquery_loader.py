"""History loader on BigQuery: staging tables filled by NDJSON load jobs, then one multi-statement transaction.

1. Each table's rows (stamped with tenant_id and property_id) are loaded into a staging table next to
   it, `_history_<token>_<table>`, created with the target's schema and an expiry (a crashed run's
   staging disappears by itself). A load job, not streaming inserts: streamed rows cannot be changed by
   DML for a while, and loads are free. `<token>` is new for every run, so two runs of one import (a
   retry overlapping a slow first attempt) never read each other's staging; the manifest digest is on
   every job as the `import` label.
2. One script replaces the range: DELETE the range's nights, reservations and statuses, MERGE rooms and
   guests by id (the files' columns only), INSERT the rest, between BEGIN and COMMIT TRANSACTION. A
   failing statement fails the script and BigQuery rolls the transaction back: nothing half-loads.
3. The staging tables are dropped.

The scope (tenant, property, first and last date) reaches the script as data — a one-row staging table
read into script variables — not as query parameters: BigQuery binds parameters in scripts, but the
bqemulator the tests run against binds them only in single statements, and a value spliced into the
text is what this design never does. Identifiers in the text are this module's constants or columns
the target table's schema reports, checked against a strict pattern.
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from reporting.adapters.warehouse.bigquery import LazyClient, job_labels
from reporting.adapters.warehouse.duckdb_loader import HISTORY_TABLES, KEYS, UPSERTED, check_replace_request
from reporting.domain.errors import WarehouseUnavailable
from reporting.logs import get_logger
from reporting.service_layer.ports import WarehouseLoader

__all__ = ["BigQueryWarehouseLoader", "transaction_script", "staging_table_name"]

log = get_logger(__name__)

_SCOPE = ("tenant_id", "property_id")
_SCOPE_SCHEMA = [bigquery.SchemaField("tenant_id", "STRING", mode="REQUIRED"),
                 bigquery.SchemaField("property_id", "STRING", mode="REQUIRED"),
                 bigquery.SchemaField("first_date", "DATE", mode="REQUIRED"),
                 bigquery.SchemaField("last_date", "DATE", mode="REQUIRED")]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9.:-]{2,98}[a-z0-9]$")


def staging_table_name(token: str, table: str) -> str:
    """The staging table of one import's table (`scope` for the import's scope row)."""
    return f"_history_{token}_{table}"


def _quoted(*parts: str) -> str:
    """`project`.`dataset`.`table` after checking each part (nothing from a file reaches the SQL text)."""
    for part in parts[1:]:
        if not _IDENTIFIER.match(part):
            raise ValueError(f"not a plain BigQuery identifier: {part!r}")
    if not _PROJECT.match(parts[0]):
        raise ValueError(f"not a BigQuery project id: {parts[0]!r}")
    return ".".join(f"`{p}`" for p in parts)


def transaction_script(project: str, dataset: str, token: str, columns: Mapping[str, Sequence[str]]) -> str:
    """The script replacing one property's range: `columns` lists, per staged table, the columns to write
    (tenant_id and property_id first); tables absent from it have no rows (their range is still cleared)."""
    def target(table: str) -> str:
        return _quoted(project, dataset, table)

    def staged(table: str) -> str:
        return _quoted(project, dataset, staging_table_name(token, table))

    scope = staged("scope")
    in_scope = "tenant_id = import_tenant_id AND property_id = import_property_id"
    replaced_ids = (f" OR reservation_id IN (SELECT reservation_id FROM {staged('reservations')})"
                    if "reservations" in columns else "")
    lines = [
        f"DECLARE import_tenant_id STRING DEFAULT (SELECT tenant_id FROM {scope});",
        f"DECLARE import_property_id STRING DEFAULT (SELECT property_id FROM {scope});",
        f"DECLARE import_first DATE DEFAULT (SELECT first_date FROM {scope});",
        f"DECLARE import_last DATE DEFAULT (SELECT last_date FROM {scope});",
        "BEGIN TRANSACTION;",
    ]
    lines += [
        # The nights first: they include every night of a reservation the next statement replaces.
        f"DELETE FROM {target('room_nights')} WHERE {in_scope} AND (stay_date BETWEEN import_first AND import_last"
        f"{replaced_ids} OR reservation_id IN (SELECT r.reservation_id FROM {target('reservations')} AS r"
        " WHERE r.tenant_id = import_tenant_id AND r.property_id = import_property_id"
        " AND r.arrival_date BETWEEN import_first AND import_last));",
        f"DELETE FROM {target('reservations')} WHERE {in_scope}"
        f" AND (arrival_date BETWEEN import_first AND import_last{replaced_ids});",
        f"DELETE FROM {target('room_status_daily')} WHERE {in_scope}"
        " AND business_date BETWEEN import_first AND import_last;",
    ]
    for table in HISTORY_TABLES:
        if table not in columns:
            continue
        cols = list(columns[table])
        for c in cols:
            if not _IDENTIFIER.match(c):
                raise ValueError(f"not a plain BigQuery identifier: {c!r}")
        col_list = ", ".join(f"`{c}`" for c in cols)
        if table in UPSERTED:
            key = [*_SCOPE, *KEYS[table]]
            on = " AND ".join(f"t.`{c}` = s.`{c}`" for c in key)
            update = [c for c in cols if c not in key]
            matched = (" WHEN MATCHED THEN UPDATE SET " + ", ".join(f"`{c}` = s.`{c}`" for c in update)
                       if update else "")
            lines.append(f"MERGE {target(table)} AS t USING {staged(table)} AS s ON {on}{matched}"
                         f" WHEN NOT MATCHED THEN INSERT ({col_list}) VALUES ("
                         + ", ".join(f"s.`{c}`" for c in cols) + ");")
        else:
            lines.append(f"INSERT INTO {target(table)} ({col_list}) SELECT {col_list} FROM {staged(table)};")
    lines.append("COMMIT TRANSACTION;")
    return "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    """A value as BigQuery's NDJSON load reads it (NUMERIC and dates as strings)."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _ndjson(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False) + "\n"
                   for row in rows).encode("utf-8")


class BigQueryWarehouseLoader(WarehouseLoader):
    """WarehouseLoader on BigQuery: NDJSON load jobs into staging, then one transaction (see the module)."""

    def __init__(self, project: str, *, location: str, dataset: str = "dw",
                 client_factory: Callable[[], bigquery.Client] | None = None,
                 staging_ttl: dt.timedelta = dt.timedelta(hours=24), timeout_seconds: float = 900.0,
                 labels: Mapping[str, str] | None = None) -> None:
        """Remember where the warehouse lives; the client is created on first use."""
        _quoted(project, dataset)  # refuse an id that could not be a plain identifier, at start-up
        labels = job_labels("history-import", labels)
        self._project = project
        self._location = location
        self._dataset = dataset
        self._bq = LazyClient(project, location, client_factory)
        self._staging_ttl = staging_ttl
        self._timeout = timeout_seconds
        self._labels = labels

    def _ref(self, table: str) -> bigquery.TableReference:
        return bigquery.TableReference(bigquery.DatasetReference(self._project, self._dataset), table)

    def replace_history(self, tenant_id: str, property_id: str, date_range: tuple[dt.date, dt.date],
                        tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                        import_id: str | None = None) -> dict[str, int]:
        """Stage every table, replace the range in one transaction, drop the staging (see the module)."""
        first, last = check_replace_request(date_range, tables)
        scope = {"tenant_id": str(tenant_id), "property_id": str(property_id)}
        token = uuid.uuid4().hex[:16]
        labels = {**self._labels, "import": _label(import_id or token)}
        client = self._bq()
        staged: list[str] = []
        job_id: str | None = None
        try:
            self._stage(client, token, "scope", _SCOPE_SCHEMA,
                        [{**scope, "first_date": first, "last_date": last}], staged, labels)
            columns: dict[str, list[str]] = {}
            for table in HISTORY_TABLES:
                rows = tables.get(table) or ()
                if not rows:
                    continue
                names = list(rows[0].keys())
                if any(n in _SCOPE for n in names):
                    raise ValueError(f"dw.{table}: rows must not carry tenant_id / property_id; the loader stamps them")
                if any(list(r.keys()) != names for r in rows):
                    raise ValueError(f"dw.{table}: every row must have the same columns")
                schema = client.get_table(self._ref(table), timeout=self._timeout).schema
                unknown_cols = sorted(set(names) - {f.name for f in schema})
                if unknown_cols:
                    raise ValueError(f"dw.{table}: unknown columns {unknown_cols}")
                self._stage(client, token, table, list(schema), [{**scope, **row} for row in rows], staged, labels)
                columns[table] = [*_SCOPE, *names]
            script = self._script(token, columns)
            job = client.query(script, job_config=bigquery.QueryJobConfig(labels=labels, use_legacy_sql=False),
                location=self._location, job_id_prefix="history_import_", timeout=self._timeout)
            job_id = job.job_id
            job.result(timeout=self._timeout)
        except (gexc.GoogleAPIError, TimeoutError) as exc:
            reason = _reason(exc)
            if isinstance(exc, TimeoutError) and job_id is not None:
                # Still running: it may yet commit. Ask BigQuery to stop it; either way a re-run is safe.
                _cancel(client, job_id, self._location)
                outcome = "it did not finish in time and was cancelled; it may still have committed"
            else:
                outcome = "nothing was replaced"
            # The message is not logged: a load or DML error can quote a row's value (guest data).
            log.warning(f"history load failed; {outcome}", extra={
                "import": labels["import"], "job_id": job_id, "reason": reason, "error_type": type(exc).__name__})
            raise WarehouseUnavailable(f"BigQuery history load failed ({reason or type(exc).__name__}): {outcome}; "
                                       "running the import again is safe", job_id=job_id, reason=reason) from exc
        finally:
            self._drop(client, staged)
        counts = {table: len(tables.get(table) or ()) for table in HISTORY_TABLES}
        log.info("history replaced in BigQuery", extra={
            "tenant_id": scope["tenant_id"], "property_id": scope["property_id"], "first_date": first.isoformat(),
            "last_date": last.isoformat(), "rows": counts, "import": labels["import"], "job_id": job_id})
        return counts

    def _script(self, token: str, columns: Mapping[str, Sequence[str]]) -> str:
        """The transaction script for this warehouse's dataset."""
        return transaction_script(self._project, self._dataset, token, columns)

    def _stage(self, client: bigquery.Client, token: str, table: str, schema: list[bigquery.SchemaField],
               rows: Sequence[Mapping[str, Any]], staged: list[str], labels: Mapping[str, str]) -> None:
        """Create (or keep) the staging table with an expiry, then load the rows over its contents."""
        name = staging_table_name(token, table)
        definition = bigquery.Table(self._ref(name), schema=schema)
        definition.expires = dt.datetime.now(dt.timezone.utc) + self._staging_ttl
        client.create_table(definition, exists_ok=True, timeout=self._timeout)
        staged.append(name)
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
                                        schema=schema, labels=dict(labels))
        job = client.load_table_from_file(io.BytesIO(_ndjson(rows)), self._ref(name), job_config=config,
                                          location=self._location, timeout=self._timeout)
        job.result(timeout=self._timeout)

    def _drop(self, client: bigquery.Client, staged: list[str]) -> None:
        """Delete the staging tables; one left behind expires on its own."""
        for name in staged:
            try:
                client.delete_table(self._ref(name), not_found_ok=True, timeout=self._timeout)
            except gexc.GoogleAPIError as exc:
                log.warning("staging table not dropped; it expires by itself",
                            extra={"table": name, "error_type": type(exc).__name__})


def _cancel(client: bigquery.Client, job_id: str, location: str) -> None:
    """Best effort: a job that cannot be cancelled finishes (or fails) on its own."""
    try:
        client.cancel_job(job_id, location=location)
    except gexc.GoogleAPIError as exc:
        log.warning("history load job not cancelled", extra={"job_id": job_id, "error_type": type(exc).__name__})


def _label(import_id: str) -> str:
    """The import's id as a label value (the manifest digest's first 32 hex digits)."""
    value = re.sub(r"[^a-z0-9_-]", "-", import_id.lower())[:32]
    return value or "none"


def _reason(exc: BaseException) -> str | None:
    """BigQuery's machine-readable reason (errors[0].reason), if any."""
    errors = getattr(exc, "errors", None) or []
    try:
        return str(errors[0]["reason"])
    except (IndexError, KeyError, TypeError):
        return None
