"""Cloud warehouse: the curated BigQuery-dialect dataset SQL on BigQuery, with named query parameters.

Every query is two jobs: a dry run whose estimate is checked against the
bytes-billed budget (above it: WarehouseBudgetExceeded, and nothing runs), then
the query itself, also capped with `maximum_bytes_billed` so BigQuery enforces
the budget even where the estimate was low. Parameters are always bound as
typed query parameters, never spliced into the text: a tenant id with a quote
in it is just data. Rows come back as dicts with the Python types the local
DuckDB adapter returns (Decimal with scale 9 for NUMERIC, date, aware datetime).

The dataset SQL names tables `dw.<table>`. BigQuery's default dataset covers
unqualified table names only, never a dataset-qualified one, so when the tenant's
warehouse dataset is called something other than `dw` the `dw` qualifiers (and
only they: located by sqlglot, the rest of the text is kept byte for byte) are
replaced by `project`.`dataset`.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import decimal
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import sqlglot
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY
from sqlglot import exp

from reporting.adapters.warehouse.duckdb_local import DatasetError, DatasetParameterError, compile_dataset
from reporting.domain.errors import DomainError, WarehouseBudgetExceeded, WarehouseUnavailable
from reporting.logs import get_logger
from reporting.service_layer.ports import Warehouse

__all__ = ["BigQueryWarehouse", "DEFAULT_MAX_BYTES_BILLED", "query_parameter", "declared_parameter_types"]

log = get_logger(__name__)

# 10 GiB: a report over one property's nights scans megabytes; anything near this is a broken query.
DEFAULT_MAX_BYTES_BILLED = 10 * 2**30
_DATASET_IN_SQL = "dw"
_NUMERIC_SCALE = decimal.Decimal("1e-9")  # BigQuery NUMERIC is exactly scale 9, like DuckDB's DECIMAL(38, 9)
_LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
_SCALAR_TYPES = frozenset({"STRING", "BOOL", "INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC", "DATE", "DATETIME",
                           "TIMESTAMP", "TIME", "BYTES"})
# "@run_date DATE", "@statuses ARRAY<STRING>" in a dataset's comment header (the catalog's convention).
_DECLARED = re.compile(r"@(\w+)\s+(ARRAY\s*<\s*[A-Z0-9]+\s*>|[A-Z][A-Z0-9]*)\b")
# Error reasons (BigQuery's errors[].reason) a later attempt can get past.
_TRANSIENT_REASONS = frozenset({"backendError", "internalError", "rateLimitExceeded", "quotaExceeded", "badGateway",
                                "jobBackendError", "jobInternalError", "tableUnavailable", "accessDenied"})
# Reasons that say the query itself is wrong (or too big to answer): the same query fails the same way.
_PERMANENT_REASONS = frozenset({"invalidQuery", "invalid", "notFound", "responseTooLarge", "resourcesExceeded"})
_BUDGET_REASON = "bytesBilledLimitExceeded"


# -- parameters ----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def declared_parameter_types(dataset_sql: str) -> Mapping[str, str]:
    """Parameter types a dataset declares in its comments (`@name TYPE`, `@names ARRAY<STRING>`)."""
    declared: dict[str, str] = {}
    for line in dataset_sql.splitlines():
        comment = line.partition("--")[2]
        for name, type_ in _DECLARED.findall(comment):
            type_ = re.sub(r"\s+", "", type_)
            element = type_[6:-1] if type_.startswith("ARRAY<") else type_
            if element in _SCALAR_TYPES:
                declared.setdefault(name, type_)
    return MappingProxyType(declared)  # cached: callers must not be able to change it


def _scalar_type(name: str, value: Any) -> str:
    """The BigQuery type of one Python value (bool before int: True is an int in Python)."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, (str, uuid.UUID)):
        return "STRING"
    if isinstance(value, dt.datetime):  # before date: a datetime is a date in Python
        if value.tzinfo is None or value.utcoffset() is None:
            raise DatasetParameterError(f"parameter @{name}: a datetime without a time zone is ambiguous; "
                                        "pass an aware datetime (TIMESTAMP)", parameter=name)
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    raise DatasetParameterError(f"parameter @{name}: no BigQuery type for a {type(value).__name__}", parameter=name)


def _scalar_value(value: Any) -> Any:
    """The value as the client serialises it for its type (ids are STRING columns in the warehouse)."""
    return str(value) if isinstance(value, uuid.UUID) else value


def _as_declared(name: str, value: Any, declared: str) -> Any:
    """`value` converted to the dataset's declared scalar type; run params arrive as JSON (dates as strings)."""
    try:
        if declared == "DATE" and isinstance(value, str):
            return dt.date.fromisoformat(value)
        if declared == "TIMESTAMP" and isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if declared in ("NUMERIC", "BIGNUMERIC") and isinstance(value, (int, float, str)) \
                and not isinstance(value, bool):
            return decimal.Decimal(str(value))
        if declared == "FLOAT64" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    except (ValueError, decimal.InvalidOperation) as err:
        raise DatasetParameterError(f"parameter @{name}: not a {declared} value", parameter=name) from err
    actual = _scalar_type(name, value)
    if actual != declared and not (declared == "BIGNUMERIC" and actual == "NUMERIC"):
        raise DatasetParameterError(f"parameter @{name}: the dataset declares {declared}, got a {actual} value",
                                    parameter=name)
    return value


def query_parameter(name: str, value: Any,
                    declared: str | None = None) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """A typed named query parameter: STRING, BOOL, INT64, FLOAT64, NUMERIC, DATE, TIMESTAMP, or ARRAY of one.

    The type follows the Python value. Where the dataset declares the parameter (`@name TYPE` in
    its header) the declared type wins: JSON run params are converted to it (an ISO date string to
    DATE), a None or an empty list takes it, and a value of another type is refused."""
    element_declared = declared[6:-1] if declared and declared.startswith("ARRAY<") else None
    if isinstance(value, (list, tuple, set, frozenset)):
        if declared is not None and element_declared is None:
            raise DatasetParameterError(f"parameter @{name}: the dataset declares {declared}, got a list",
                                        parameter=name)
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if any(item is None for item in items):
            raise DatasetParameterError(f"parameter @{name}: BigQuery arrays cannot hold NULL", parameter=name)
        if element_declared is not None:
            items = [_as_declared(name, item, element_declared) for item in items]
            types = {element_declared}
        elif not items:
            raise DatasetParameterError(f"parameter @{name}: an empty list needs a declared type "
                                        f"('@{name} ARRAY<STRING>' in the dataset header)", parameter=name)
        else:
            types = {_scalar_type(name, item) for item in items}
        if len(types) != 1:
            raise DatasetParameterError(f"parameter @{name}: array elements of mixed types {sorted(types)}",
                                        parameter=name)
        return bigquery.ArrayQueryParameter(name, types.pop(), [_scalar_value(i) for i in items])
    if element_declared is not None:
        raise DatasetParameterError(f"parameter @{name}: the dataset declares {declared}, got a scalar",
                                    parameter=name)
    if value is None:
        if declared is None:
            raise DatasetParameterError(f"parameter @{name} is None and the dataset declares no type for it "
                                        f"('@{name} TYPE' in the dataset header)", parameter=name)
        return bigquery.ScalarQueryParameter(name, declared, None)
    if declared is not None:
        value = _as_declared(name, value, declared)
        return bigquery.ScalarQueryParameter(name, declared, _scalar_value(value))
    return bigquery.ScalarQueryParameter(name, _scalar_type(name, value), _scalar_value(value))


# -- SQL text ------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _requalified(dataset_sql: str, project: str, dataset: str) -> str:
    """The SQL with each `dw.<table>` qualifier replaced by `project`.`dataset`; every other byte kept."""
    tree = sqlglot.parse_one(dataset_sql, read="bigquery")
    spans: list[tuple[int, int]] = []
    for table in tree.find_all(exp.Table):
        db = table.args.get("db")
        if not isinstance(db, exp.Identifier) or db.name != _DATASET_IN_SQL or table.args.get("catalog"):
            continue
        start, end = db.meta.get("start"), db.meta.get("end")
        if start is None or end is None:
            raise DatasetError("dataset SQL: cannot locate a dw qualifier to point it at the warehouse dataset")
        spans.append((start, end + 1))
    out, last = [], 0
    for start, end in sorted(spans):
        out += [dataset_sql[last:start], f"`{project}`.`{dataset}`"]
        last = end
    return "".join(out) + dataset_sql[last:]


def _sql_label(dataset_sql: str) -> str:
    """A label value naming the dataset SQL without its text (BigQuery labels are billing metadata)."""
    return hashlib.sha256(dataset_sql.encode("utf-8")).hexdigest()[:16]


# -- rows ----------------------------------------------------------------------------------


def _python_value(field: bigquery.SchemaField, value: Any) -> Any:
    """A result value as the DuckDB adapter returns it (NUMERIC at scale 9, recursively in arrays and structs)."""
    if value is None:
        return None
    if field.mode == "REPEATED":
        item = bigquery.SchemaField(field.name, field.field_type, mode="NULLABLE", fields=field.fields)
        return [_python_value(item, v) for v in value]
    if field.field_type in ("NUMERIC", "DECIMAL"):
        return value.quantize(_NUMERIC_SCALE)
    if field.field_type in ("RECORD", "STRUCT"):
        return {f.name: _python_value(f, value.get(f.name)) for f in field.fields}
    return value


# -- errors --------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str | None:
    """BigQuery's machine-readable reason (errors[0].reason), if the error carries one."""
    errors = getattr(exc, "errors", None) or []
    try:
        return str(errors[0]["reason"])
    except (IndexError, KeyError, TypeError):
        return None


def _translate(exc: Exception, *, phase: str, budget: int, job_id: str | None) -> DomainError:
    """Map a client error to a typed domain error: permanent (bad SQL, budget) or transient (everything else).

    BigQuery's own message is kept only for the dry run: it has read no rows, so its message
    names SQL and schema, never data; a running query's message may quote a value (guest data)."""
    if isinstance(exc, gexc.RetryError):
        return WarehouseUnavailable(f"BigQuery {phase}: retries ran out", phase=phase, job_id=job_id)
    if isinstance(exc, concurrent.futures.TimeoutError):
        return WarehouseUnavailable(f"BigQuery {phase}: no result in time", phase=phase, job_id=job_id)
    reason = _reason(exc)
    if reason == _BUDGET_REASON:
        return WarehouseBudgetExceeded(f"BigQuery refused the query: it would bill more than {budget} bytes",
                                       estimated_bytes=None, max_bytes_billed=budget, job_id=job_id)
    status = getattr(exc, "code", None)
    client_error = isinstance(exc, gexc.GoogleAPICallError) and isinstance(status, int) and 400 <= status < 500 \
        and status not in (401, 403, 408, 429)
    if reason not in _PERMANENT_REASONS and (reason in _TRANSIENT_REASONS or not client_error):
        # Unknown failures are retried too: redelivery ends in the subscription's dead-letter policy,
        # whereas a permanent failure would fail a report (or miss a cutoff) for a passing fault.
        return WarehouseUnavailable(f"BigQuery {phase} failed ({reason or type(exc).__name__}); will retry",
                                    phase=phase, reason=reason, job_id=job_id)
    detail = f": {getattr(exc, 'message', exc)}" if phase == "dry run" else (f"; see job {job_id}" if job_id else "")
    return DatasetError(f"BigQuery refused the dataset query ({reason or status}){detail}",
                        phase=phase, reason=reason, job_id=job_id)


# -- adapter -------------------------------------------------------------------------------


def job_labels(component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels every job of a component carries (billing and audit by residency), checked at start-up."""
    labels = {"service": "reporting", "component": component, **(extra or {})}
    bad = [k for k, v in labels.items() if not (k and _LABEL.match(k) and _LABEL.match(v))]
    if bad:
        raise ValueError(f"BigQuery labels must be lowercase letters, digits, '_' or '-': {bad}")
    return labels


class LazyClient:
    """A BigQuery client made on first call, once, whichever thread calls first (cold start: credentials
    are looked up only when a query needs them)."""

    def __init__(self, project: str, location: str, factory: Callable[[], bigquery.Client] | None = None) -> None:
        self._factory = factory or (lambda: bigquery.Client(project=project, location=location))
        self._client: bigquery.Client | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bigquery.Client:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client


class BigQueryWarehouse(Warehouse):
    """Warehouse port on BigQuery: dry-run budget check, capped query, typed named parameters."""

    def __init__(
        self,
        project: str,
        *,
        location: str,
        dataset: str = _DATASET_IN_SQL,
        max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED,
        labels: Mapping[str, str] | None = None,
        client_factory: Callable[[], bigquery.Client] | None = None,
        timeout_seconds: float = 300.0,
        retry_seconds: float = 120.0,
    ) -> None:
        """Remember where the warehouse lives; the client is created on first use."""
        if not project or not location or not dataset:
            raise ValueError("BigQueryWarehouse needs a project, a location and a dataset")
        if max_bytes_billed <= 0:
            raise ValueError("max_bytes_billed must be positive")
        labels = job_labels("warehouse", labels)
        self._project = project
        self._location = location
        self._dataset = dataset
        self._max_bytes_billed = max_bytes_billed
        self._labels = labels
        self._bq = LazyClient(project, location, client_factory)
        self._timeout = timeout_seconds
        self._retry = DEFAULT_RETRY.with_timeout(retry_seconds)
        self._job_retry = DEFAULT_JOB_RETRY.with_timeout(retry_seconds)

    # -- port -------------------------------------------------------------------------------

    def dataset_parameters(self, dataset_sql: str) -> frozenset[str]:
        return compile_dataset(dataset_sql).parameters

    def estimate_bytes(self, dataset_sql: str, params: Mapping[str, Any]) -> int:
        """Bytes BigQuery would process for this query, from a dry run (nothing is billed)."""
        sql, bound = self._prepare(dataset_sql, params)
        return self._dry_run(sql, bound, self._max_bytes_billed, _sql_label(dataset_sql))

    def query(
        self,
        dataset_sql: str,
        params: Mapping[str, Any],
        *,
        max_bytes_billed: int | None = None,
    ) -> list[dict[str, Any]]:
        """Dry-run, refuse above the budget, then run capped; rows as plain dicts."""
        budget = self._max_bytes_billed if max_bytes_billed is None else max_bytes_billed
        if budget <= 0:
            raise ValueError("max_bytes_billed must be positive")
        sql, bound = self._prepare(dataset_sql, params)
        label = _sql_label(dataset_sql)
        estimate = self._dry_run(sql, bound, budget, label)
        if estimate > budget:
            log.warning("warehouse query refused: over budget",
                        extra={"estimated_bytes": estimate, "max_bytes_billed": budget, "dataset_sql": label})
            raise WarehouseBudgetExceeded(
                f"the dataset query would process {estimate} bytes, above the budget of {budget} bytes",
                estimated_bytes=estimate, max_bytes_billed=budget)
        config = self._config(bound, budget, label)
        job_id = None
        try:
            job = self._bq().query(sql, job_config=config, location=self._location, job_id_prefix="reporting_",
                                   retry=self._retry, job_retry=self._job_retry, timeout=self._timeout)
            job_id = job.job_id
            result = job.result(timeout=self._timeout, retry=self._retry, job_retry=self._job_retry)
            fields = list(result.schema)
            rows = [{f.name: _python_value(f, row[i]) for i, f in enumerate(fields)} for row in result]
        except (gexc.GoogleAPIError, concurrent.futures.TimeoutError, OSError) as exc:
            raise _translate(exc, phase="query", budget=budget, job_id=job_id) from exc
        log.info("warehouse query", extra={"job_id": job_id, "estimated_bytes": estimate, "rows": len(rows),
                                           "bytes_billed": job.total_bytes_billed, "max_bytes_billed": budget,
                                           "dataset_sql": label})
        return rows

    # -- jobs -------------------------------------------------------------------------------

    def _prepare(self, dataset_sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """Validate the dataset, type its parameters (only the names it uses) and point it at the dataset."""
        names = compile_dataset(dataset_sql).parameters
        missing = sorted(names - params.keys())
        if missing:
            raise DatasetParameterError("missing dataset parameters: " + ", ".join(missing), missing=missing)
        declared = declared_parameter_types(dataset_sql)
        bound = [query_parameter(name, params[name], declared.get(name)) for name in sorted(names)]
        sql = dataset_sql if self._dataset == _DATASET_IN_SQL else _requalified(dataset_sql, self._project,
                                                                                 self._dataset)
        return sql, bound

    def _config(self, bound: Sequence[Any], budget: int, label: str, *,
                dry_run: bool = False) -> bigquery.QueryJobConfig:
        """One job's configuration: parameters, the cap, the default dataset, labels."""
        return bigquery.QueryJobConfig(
            query_parameters=list(bound),
            maximum_bytes_billed=budget,
            default_dataset=bigquery.DatasetReference(self._project, self._dataset),
            labels={**self._labels, "dataset_sql": label},
            dry_run=dry_run,
            # A dry run on the cache would estimate 0 for a repeated query and wave through a costly one.
            use_query_cache=not dry_run,
            use_legacy_sql=False,
        )

    def _dry_run(self, sql: str, bound: Sequence[Any], budget: int, label: str) -> int:
        """The dry run's estimate of bytes processed."""
        try:
            job = self._bq().query(sql, job_config=self._config(bound, budget, label, dry_run=True),
                                   location=self._location, retry=self._retry, job_retry=None,
                                   timeout=self._timeout)
        except (gexc.GoogleAPIError, OSError) as exc:
            raise _translate(exc, phase="dry run", budget=budget, job_id=None) from exc
        return int(job.total_bytes_processed or 0)
