"""The BigQuery warehouse adapter against the emulator, observed on the wire: budget, typing, errors."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from google.cloud import bigquery

from reporting.adapters.warehouse.bigquery import BigQueryWarehouse, declared_parameter_types, query_parameter
from reporting.adapters.warehouse.duckdb_local import DatasetError, DatasetParameterError
from reporting.domain.errors import WarehouseBudgetExceeded, WarehouseUnavailable
from reporting.devenv.bq_emulator import free_port
from reporting.devenv.synthetic_hotels import generate
from reporting.service_layer.ports import Warehouse
from tests.warehouse.bq_tables import create_warehouse, load_tables
from tests.warehouse.conftest import client_via
from tests.warehouse.hotels import DEMO_HOTELS, END, LOCATION, START
from tests.warehouse.wire import WireTap

OCCUPANCY_SQL = resources.files("reporting.catalog").joinpath("daily_occupancy/dataset.sql").read_text("utf-8")
KABUL = DEMO_HOTELS[0]
PARAMS: dict[str, Any] = {"tenant_id": KABUL.tenant_id, "property_id": KABUL.property_id,
                          "run_date": START + dt.timedelta(days=3), "deduct_out_of_order": True}
# Every parameter type the adapter maps, selected back so the emulator's answer shows how it was bound.
TYPED_SQL = """
SELECT @s AS s, @b AS b, @i AS i, @f AS f, @n AS n, @d AS d, @ts AS ts, @names AS names, @amounts AS amounts
FROM dw.rooms
WHERE tenant_id = @tenant_id AND property_id = @property_id
LIMIT 1
"""


def sent_parameters(tap: WireTap) -> dict[str, dict[str, Any]]:
    """The query parameters of the last job, as the client put them on the wire."""
    return {p["name"]: p for p in tap.job_configurations()[-1]["query"]["queryParameters"]}


# -- every job is capped ------------------------------------------------------------------


def test_every_job_carries_maximum_bytes_billed(loaded, bq, tap) -> None:
    bq.query(OCCUPANCY_SQL, PARAMS, max_bytes_billed=123_456_789)
    configs = tap.job_configurations()
    assert [bool(c.get("dryRun")) for c in configs] == [True, False]  # the estimate first, then the query
    assert all(c["query"]["maximumBytesBilled"] == "123456789" for c in configs)


def test_without_a_per_call_budget_the_adapter_default_caps_the_job(loaded, make_bq, tap) -> None:
    make_bq(max_bytes_billed=5 * 2**30).query(OCCUPANCY_SQL, PARAMS)
    assert {c["query"]["maximumBytesBilled"] for c in tap.job_configurations()} == {str(5 * 2**30)}


def test_the_sql_runs_unchanged_with_dw_as_the_default_dataset(loaded, bq, tap, emulator) -> None:
    bq.query(OCCUPANCY_SQL, PARAMS)
    for config in tap.job_configurations():
        assert config["query"]["query"] == OCCUPANCY_SQL
        assert config["query"]["useLegacySql"] is False
        assert config["query"]["defaultDataset"] == {"projectId": emulator.project, "datasetId": "dw"}


def test_labels_name_the_dataset_by_hash_and_carry_no_tenant_data(loaded, make_bq, tap) -> None:
    make_bq(labels={"residency": "af"}).query(OCCUPANCY_SQL, PARAMS)
    for config in tap.job_configurations():
        labels = config["labels"]
        assert labels["residency"] == "af" and labels["service"] == "reporting"
        assert len(labels["dataset_sql"]) == 16
        assert not any(KABUL.tenant_id in v or KABUL.property_id in v for v in labels.values())


def test_labels_bigquery_would_refuse_are_refused_at_construction(emulator) -> None:
    with pytest.raises(ValueError, match="labels"):
        BigQueryWarehouse(emulator.project, location=LOCATION, labels={"Tenant": "Acme Hotels"})


# -- the dry-run budget -------------------------------------------------------------------


def test_a_dry_run_estimate_above_the_budget_is_refused_and_nothing_runs(loaded, bq, tap) -> None:
    tap.dry_run_bytes = 2_000_000_001
    with pytest.raises(WarehouseBudgetExceeded) as refused:
        bq.query(OCCUPANCY_SQL, PARAMS, max_bytes_billed=2_000_000_000)
    error = refused.value
    assert error.code == "MELMASTOON.REPORTING.WAREHOUSE_BUDGET_EXCEEDED" and error.permanent
    assert error.details == {"estimated_bytes": 2_000_000_001, "max_bytes_billed": 2_000_000_000}
    assert "2000000001" in error.message and "2000000000" in error.message
    assert [bool(c.get("dryRun")) for c in tap.job_configurations()] == [True]  # no query job was sent


def test_an_estimate_equal_to_the_budget_runs(loaded, bq, tap) -> None:
    tap.dry_run_bytes = 10_000_000
    rows = bq.query(OCCUPANCY_SQL, PARAMS, max_bytes_billed=10_000_000)
    assert rows[-1]["is_total"]
    assert [bool(c.get("dryRun")) for c in tap.job_configurations()] == [True, False]


def test_estimate_bytes_is_the_dry_run_figure(loaded, bq, tap) -> None:
    tap.dry_run_bytes = 987_654
    assert bq.estimate_bytes(OCCUPANCY_SQL, PARAMS) == 987_654
    assert [bool(c.get("dryRun")) for c in tap.job_configurations()] == [True]


def test_the_local_warehouse_estimates_nothing(loaded) -> None:
    """DuckDB bills nothing: the port's default estimate is 0, so the budget never refuses locally."""
    assert type(loaded.duck).estimate_bytes is Warehouse.estimate_bytes
    assert loaded.duck.estimate_bytes(OCCUPANCY_SQL, PARAMS) == 0


def test_bigquery_refusing_the_job_over_its_cap_is_the_same_budget_error(loaded, bq, tap) -> None:
    """The dry run can underestimate; BigQuery then fails the capped job with bytesBilledLimitExceeded."""
    tap.fail_jobs(400, "bytesBilledLimitExceeded", dry_run=False)
    with pytest.raises(WarehouseBudgetExceeded) as refused:
        bq.query(OCCUPANCY_SQL, PARAMS, max_bytes_billed=50_000_000)
    assert refused.value.permanent and refused.value.details["max_bytes_billed"] == 50_000_000


def test_a_non_positive_budget_is_a_programming_error(loaded, bq, tap) -> None:
    with pytest.raises(ValueError):
        bq.query(OCCUPANCY_SQL, PARAMS, max_bytes_billed=0)
    assert tap.requests == []


# -- parameter typing ---------------------------------------------------------------------


def test_parameters_are_typed_from_python_values_and_come_back_as_such(loaded, bq, tap) -> None:
    ts = dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    params = {"tenant_id": uuid.UUID(KABUL.tenant_id), "property_id": KABUL.property_id, "s": "Kabul's",
              "b": True, "i": 7, "f": 0.25, "n": Decimal("1234.567890123"), "d": dt.date(2025, 2, 3), "ts": ts,
              "names": ["STD", "DLX"], "amounts": [Decimal("1.50"), Decimal("2")], "unused": "not bound"}
    [row] = bq.query(TYPED_SQL, params)
    sent = sent_parameters(tap)
    assert {name: p["parameterType"]["type"] for name, p in sent.items()} == {
        "tenant_id": "STRING", "property_id": "STRING", "s": "STRING", "b": "BOOL", "i": "INT64", "f": "FLOAT64",
        "n": "NUMERIC", "d": "DATE", "ts": "TIMESTAMP", "names": "ARRAY", "amounts": "ARRAY"}
    assert sent["names"]["parameterType"]["arrayType"] == {"type": "STRING"}
    assert sent["amounts"]["parameterType"]["arrayType"] == {"type": "NUMERIC"}
    assert sent["n"]["parameterValue"]["value"] == "1234.567890123"
    assert sent["d"]["parameterValue"]["value"] == "2025-02-03"
    assert sent["tenant_id"]["parameterValue"]["value"] == KABUL.tenant_id
    assert row == {"s": "Kabul's", "b": True, "i": 7, "f": 0.25, "n": Decimal("1234.567890123"),
                   "d": dt.date(2025, 2, 3), "ts": ts, "names": ["STD", "DLX"],
                   "amounts": [Decimal("1.500000000"), Decimal("2.000000000")]}
    assert str(row["amounts"][0]) == "1.500000000"  # NUMERIC at scale 9, as DuckDB's DECIMAL(38, 9) prints


def test_declared_types_convert_json_run_params_and_type_a_null(loaded, bq, tap) -> None:
    """Run params arrive as JSON: '2025-02-04' for a DATE the dataset declares; None takes the declared BOOL."""
    rows = bq.query(OCCUPANCY_SQL, {**PARAMS, "run_date": "2025-02-04", "deduct_out_of_order": None})
    sent = sent_parameters(tap)
    assert sent["run_date"]["parameterType"]["type"] == "DATE"
    assert sent["deduct_out_of_order"]["parameterType"]["type"] == "BOOL"
    assert sent["deduct_out_of_order"]["parameterValue"].get("value") is None  # a typed NULL
    assert rows[0]["business_date"] == dt.date(2025, 2, 4)


def test_the_dataset_header_declares_its_parameter_types() -> None:
    assert dict(declared_parameter_types(OCCUPANCY_SQL)) == {
        "tenant_id": "STRING", "property_id": "STRING", "run_date": "DATE", "deduct_out_of_order": "BOOL"}


@pytest.mark.parametrize(("value", "declared", "problem"), [
    (None, None, "declares no type"),
    ([], None, "empty list needs a declared type"),
    ([1, "a"], None, "mixed types"),
    ([None], None, "cannot hold NULL"),
    (dt.datetime(2025, 2, 3, 4, 5), None, "without a time zone"),
    (object(), None, "no BigQuery type"),
    ("yesterday", "DATE", "not a DATE value"),
    (3, "STRING", "declares STRING, got a INT64"),
    (["a"], "STRING", "got a list"),
    ("a", "ARRAY<STRING>", "got a scalar"),
])
def test_a_parameter_without_a_sound_bigquery_type_is_refused(value: Any, declared: str | None,
                                                               problem: str) -> None:
    with pytest.raises(DatasetParameterError, match=problem) as refused:
        query_parameter("p", value, declared)
    assert refused.value.permanent


def test_an_empty_list_takes_its_declared_array_type() -> None:
    param = query_parameter("statuses", [], "ARRAY<STRING>")
    assert isinstance(param, bigquery.ArrayQueryParameter) and param.array_type == "STRING"


def test_a_missing_parameter_is_refused_before_any_job(loaded, bq, tap) -> None:
    with pytest.raises(DatasetParameterError, match="run_date") as refused:
        bq.query(OCCUPANCY_SQL, {k: v for k, v in PARAMS.items() if k != "run_date"})
    assert refused.value.details == {"missing": ["run_date"]}
    assert tap.requests == []


# -- failures: permanent or transient -----------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [
    (503, "backendError"), (500, "internalError"), (403, "rateLimitExceeded"), (429, "rateLimitExceeded"),
    (403, "quotaExceeded"),
])
def test_transient_bigquery_errors_raise_warehouse_unavailable(loaded, make_bq, tap, status: int,
                                                               reason: str) -> None:
    bq = make_bq(retry_seconds=0.5)
    tap.fail_jobs(status, reason)
    with pytest.raises(WarehouseUnavailable) as failed:
        bq.query(OCCUPANCY_SQL, PARAMS)
    assert not failed.value.permanent and failed.value.code == "MELMASTOON.REPORTING.WAREHOUSE_UNAVAILABLE"


def test_a_transient_error_is_retried_by_the_client_within_its_deadline(loaded, make_bq, tap) -> None:
    bq = make_bq(retry_seconds=10)
    tap.fail_jobs(503, "backendError", count=1)
    assert bq.query(OCCUPANCY_SQL, PARAMS)[-1]["is_total"]
    assert len([c for c in tap.job_configurations() if c.get("dryRun")]) == 2  # failed once, then answered


def test_an_unreachable_warehouse_is_transient(emulator) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on
    bq = BigQueryWarehouse(emulator.project, location=LOCATION, retry_seconds=0.5,
                           client_factory=lambda: client_via(nobody, emulator.project))
    with pytest.raises(WarehouseUnavailable):
        bq.query(OCCUPANCY_SQL, PARAMS)


@pytest.mark.parametrize(("sql", "reason"), [
    ("SELECT * FROM dw.no_such_table WHERE tenant_id = @tenant_id AND property_id = @property_id", "notFound"),
    ("SELECT no_such_column FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id",
     "invalidQuery"),
])
def test_bad_sql_is_a_permanent_dataset_error_from_the_dry_run(loaded, bq, tap, sql: str, reason: str) -> None:
    with pytest.raises(DatasetError) as failed:
        bq.query(sql, PARAMS)
    assert failed.value.permanent and failed.value.details["reason"] == reason
    assert "no_such" in failed.value.message  # the dry run read no rows: its message names only SQL
    assert [bool(c.get("dryRun")) for c in tap.job_configurations()] == [True]


def test_a_failing_query_job_keeps_bigquerys_message_out_of_the_error(loaded, bq, tap) -> None:
    """A running query's message can quote a value (guest data): only the reason and the job id are kept."""
    tap.fail_jobs(400, "invalidQuery", dry_run=False)
    with pytest.raises(DatasetError) as failed:
        bq.query(OCCUPANCY_SQL, PARAMS)
    assert "injected" not in failed.value.message and failed.value.details["reason"] == "invalidQuery"


def test_sql_that_is_not_one_tenant_scoped_query_never_reaches_bigquery(bq, tap) -> None:
    for sql in ("SELECT 1", "DELETE FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id"):
        with pytest.raises(DatasetError):
            bq.query(sql, PARAMS)
    assert tap.requests == []


# -- construction and the warehouse dataset -----------------------------------------------


def test_the_client_is_created_on_first_use_only(emulator) -> None:
    made: list[int] = []

    def factory() -> bigquery.Client:
        made.append(1)
        return emulator.client()

    bq = BigQueryWarehouse(emulator.project, location=LOCATION, client_factory=factory)
    assert bq.dataset_parameters(OCCUPANCY_SQL) == {"tenant_id", "property_id", "run_date", "deduct_out_of_order"}
    assert made == []
    bq.query(OCCUPANCY_SQL, PARAMS)
    bq.query(OCCUPANCY_SQL, PARAMS)
    assert made == [1]


def test_a_warehouse_dataset_not_named_dw_gets_the_dw_qualifiers_rewritten(loaded, admin_client, make_bq,
                                                                           tap, emulator) -> None:
    """BigQuery's default dataset never applies to `dw.rooms`, so the qualifier itself is pointed elsewhere."""
    create_warehouse(admin_client, "tenant_wh", LOCATION)
    load_tables(admin_client, "tenant_wh", generate(KABUL, START, END).tables())  # the rows dw holds for Kabul
    rows = make_bq(dataset="tenant_wh").query(OCCUPANCY_SQL, PARAMS)
    assert rows == loaded.duck.query(OCCUPANCY_SQL, PARAMS)
    sent = tap.job_configurations()[-1]["query"]
    assert f"`{emulator.project}`.`tenant_wh`.rooms" in sent["query"]
    # Only the qualifiers changed: the rest of the text, comments included, is the file's.
    assert sent["query"].replace(f"`{emulator.project}`.`tenant_wh`.", "dw.") == OCCUPANCY_SQL
