"""Contract: every catalog dataset gives the same rows, of the same Python types, on DuckDB and on BigQuery.

The same dataset SQL file and the same synthetic hotels run through the local
adapter (DuckDB via sqlglot) and the BigQuery adapter (the real client against
bqemulator). Templates come from the catalog itself, so a dataset added later is
covered without touching this file; its parameters are built the way the render
use case builds them (run date, tenant, property, the property's setting, and the
template's own params from their JSON Schema defaults or examples, as JSON).
"""
from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest

from reporting.catalog.platform import PlatformTemplate, platform_templates
from reporting.devenv.synthetic_hotels import HotelSpec
from tests.warehouse.bq_tables import bigquery_type, warehouse_schema
from tests.warehouse.hotels import END, QUOTED_HOTEL, START

TEMPLATES = {t.key: t for t in platform_templates()}
# What the render use case binds from the run and its property (render_report_run.dataset_params).
FROM_THE_RUN = ("tenant_id", "property_id", "run_date", "deduct_out_of_order")


def run_dates(index: int) -> list[date]:
    """A mid-window date per hotel, and the last business date (guests in house) for the first."""
    middle = START + timedelta(days=7 + 3 * index)
    return [middle, END] if index == 0 else [middle]


def dataset_params(template: PlatformTemplate, names: frozenset[str], hotel: HotelSpec,
                   run_date: date) -> dict[str, Any]:
    """The parameters a run of `template` for `hotel` on `run_date` binds (JSON values for template params)."""
    params: dict[str, Any] = {"tenant_id": hotel.tenant_id, "property_id": hotel.property_id, "run_date": run_date,
                              "deduct_out_of_order": hotel.deduct_out_of_order}
    schema = template.params_schema.get("properties", {})
    for name in sorted(names - set(FROM_THE_RUN)):
        spec = schema.get(name)
        if spec is None:
            pytest.fail(f"{template.key}: dataset parameter @{name} is neither bound from the run nor a template "
                        f"parameter in params_schema, so no run could ever supply it")
        if "default" in spec:
            params[name] = spec["default"]
        elif spec.get("examples"):
            params[name] = spec["examples"][0]
        else:
            pytest.fail(f"{template.key}: give template parameter {name!r} a default or examples in "
                        f"params_schema so the contract test can bind it")
    return params


def assert_same_rows(expected: list[dict[str, Any]], actual: list[dict[str, Any]], where: str) -> None:
    """Same columns in the same order, same row order, same Python types, same values (floats to 1e-12)."""
    assert len(actual) == len(expected), f"{where}: {len(actual)} rows on BigQuery, {len(expected)} on DuckDB"
    for i, (want, got) in enumerate(zip(expected, actual)):
        assert list(got) == list(want), f"{where} row {i}: columns differ"
        for column, value in want.items():
            other = got[column]
            assert type(other) is type(value), (
                f"{where} row {i} {column}: {type(other).__name__} on BigQuery, {type(value).__name__} on DuckDB")
            if isinstance(value, float):
                assert math.isclose(other, value, rel_tol=1e-12, abs_tol=1e-12), (
                    f"{where} row {i} {column}: {other!r} on BigQuery, {value!r} on DuckDB")
            else:
                assert other == value, f"{where} row {i} {column}: {other!r} on BigQuery, {value!r} on DuckDB"


def test_the_catalog_has_datasets_to_compare() -> None:
    assert "daily_occupancy" in TEMPLATES


def test_the_emulator_holds_every_warehouse_table_with_its_bigquery_types(loaded, admin_client) -> None:
    expected = warehouse_schema()
    assert set(expected) == set(loaded.counts)
    for table, fields in expected.items():
        stored = admin_client.get_table(f"{admin_client.project}.dw.{table}").schema
        assert [(f.name, f.field_type, f.mode) for f in stored] == [(f.name, f.field_type, f.mode) for f in fields]


@pytest.mark.parametrize(("duckdb_type", "bigquery"), [
    ("VARCHAR", ("STRING", "NULLABLE")), ("DECIMAL(38,9)", ("NUMERIC", "NULLABLE")),
    ("TIMESTAMP WITH TIME ZONE", ("TIMESTAMP", "NULLABLE")), ("TIMESTAMP", ("DATETIME", "NULLABLE")),
    ("BIGINT[]", ("INT64", "REPEATED")),
])
def test_schema_types_map_to_bigquery(duckdb_type: str, bigquery: tuple[str, str]) -> None:
    assert bigquery_type(duckdb_type) == bigquery


def test_a_schema_type_without_a_bigquery_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="no BigQuery mapping"):
        bigquery_type("DECIMAL(38,12)")  # NUMERIC holds only 9 decimal places


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_dataset_gives_the_same_rows_on_duckdb_and_bigquery(key: str, loaded, bq) -> None:
    template = TEMPLATES[key]
    names = loaded.duck.dataset_parameters(template.dataset_sql)
    assert bq.dataset_parameters(template.dataset_sql) == names
    compared = 0
    for index, hotel in enumerate(loaded.hotels):
        for run_date in run_dates(index):
            params = dataset_params(template, names, hotel, run_date)
            expected = loaded.duck.query(template.dataset_sql, params)
            actual = bq.query(template.dataset_sql, params)
            assert_same_rows(expected, actual, f"{key} / {hotel.name} / {run_date}")
            compared += len(expected)
    # The comparison must have compared something: a dataset returning nothing everywhere proves little.
    assert compared > 0, f"{key}: no rows for any hotel on any date"


def test_a_tenant_id_with_quotes_is_only_data(loaded, bq, tap) -> None:
    """The quoted hotel's rows come back; its ids travel as parameter values, the SQL text is the file's."""
    template = TEMPLATES["daily_occupancy"]
    params = dataset_params(template, loaded.duck.dataset_parameters(template.dataset_sql), QUOTED_HOTEL,
                            START + timedelta(days=5))
    rows = bq.query(template.dataset_sql, params)
    assert rows and rows[-1]["is_total"] and rows[-1]["rooms_total"] == QUOTED_HOTEL.room_count
    for config in tap.job_configurations():
        query = config["query"]
        assert query["query"] == template.dataset_sql
        bound = {p["name"]: p["parameterValue"]["value"] for p in query["queryParameters"]}
        assert bound["tenant_id"] == QUOTED_HOTEL.tenant_id and bound["property_id"] == QUOTED_HOTEL.property_id


def test_every_hotel_sees_only_its_own_rows(loaded, bq) -> None:
    """Two hotels loaded side by side: the totals of one never include the other's rooms."""
    template = TEMPLATES["daily_occupancy"]
    names = loaded.duck.dataset_parameters(template.dataset_sql)
    for hotel in loaded.hotels:
        rows = bq.query(template.dataset_sql, dataset_params(template, names, hotel, START))
        assert rows[-1]["rooms_total"] == hotel.room_count, hotel.name

