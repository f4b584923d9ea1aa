"""Where bqemulator is not BigQuery, pinned down: each test fails once the emulator changes, so its workaround can go.

- Dry runs estimate 0 bytes and `maximumBytesBilled` is neither enforced nor kept on
  the job: the budget tests set the estimate and inject the refusal on the wire
  (tests/warehouse/wire.py), and `maximumBytesBilled` is read from the requests.
- As published, it binds `@name` inside comments and rounds CAST(x AS NUMERIC) to 3
  places: the launcher (reporting.devenv.bq_emulator) patches both, and the last
  test here proves the running emulator is the patched one.
- `load_table_from_json` fails: the tests load NDJSON files instead.
"""
from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from reporting.devenv import bq_emulator
from tests.warehouse.hotels import DEMO_HOTELS


def in_emulator_venv(code: str, cwd: Path) -> object:
    """Run `code` with the emulator virtualenv's python (the published bqemulator, no launcher); its printed JSON."""
    python = bq_emulator.venv_path() / "bin" / "python"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_emulator_dry_runs_estimate_zero_bytes(loaded, admin_client) -> None:
    job = admin_client.query("SELECT * FROM dw.room_nights",
                             job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False))
    assert job.total_bytes_processed == 0  # BigQuery: the bytes of every column read


def test_emulator_neither_enforces_nor_keeps_maximum_bytes_billed(loaded, admin_client) -> None:
    job = admin_client.query("SELECT COUNT(*) AS n FROM dw.room_nights",
                             job_config=bigquery.QueryJobConfig(maximum_bytes_billed=1, labels={"k": "v"}))
    # BigQuery bills at least 10 MB per table read, so a 1-byte cap fails with bytesBilledLimitExceeded.
    assert next(iter(job.result())).n == loaded.counts["room_nights"]
    stored = admin_client.get_job(job.job_id)
    assert stored.maximum_bytes_billed is None and stored.labels == {}


def test_published_emulator_binds_parameters_inside_comments(emulator, tmp_path: Path) -> None:
    values = in_emulator_venv(
        "import json\n"
        "from bqemulator.sql.parameters import bind_parameters\n"
        "sql, values = bind_parameters('-- @run_date is the business date\\nSELECT $run_date',\n"
        "    [{'name': 'run_date', 'parameterType': {'type': 'DATE'}, 'parameterValue': {'value': '2025-02-01'}}])\n"
        "print(json.dumps([str(v) for v in values]))\n", tmp_path)
    assert values == ["2025-02-01", "2025-02-01"]  # two values for one parameter: "count mismatch" in DuckDB


def test_published_emulator_casts_numeric_to_duckdbs_decimal_18_3(emulator, tmp_path: Path) -> None:
    found = in_emulator_venv(
        "import json, duckdb, sqlglot\n"
        "from bqemulator.sql.translator import SQLTranslator\n"
        "duck = SQLTranslator().translate('SELECT CAST(2.0 / 3 AS NUMERIC) AS a').value\n"
        "dropped = sqlglot.parse_one('SELECT CAST(x AS NUMERIC(38, 9))', read='bigquery').sql('bigquery')\n"
        "print(json.dumps([str(duckdb.sql(duck).fetchall()[0][0]), dropped]))\n", tmp_path)
    assert found == ["0.667", "SELECT CAST(x AS NUMERIC)"]


def test_the_running_emulator_is_patched_for_comments_and_numeric_scale(emulator, admin_client) -> None:
    sql = "-- @run_date and @tenant_id are documented here, as the catalog's headers do\n" \
          "SELECT CAST(2.0 / 3 AS NUMERIC) AS third, @tenant_id AS tenant"
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("tenant_id", "STRING", DEMO_HOTELS[0].tenant_id)],
        default_dataset=f"{emulator.project}.dw")
    [row] = admin_client.query(sql, job_config=config).result()
    assert row.third == Decimal("0.666666667") and row.tenant == DEMO_HOTELS[0].tenant_id


def test_emulator_cannot_load_json_through_the_clients_multipart_upload(loaded, admin_client) -> None:
    with pytest.raises(gexc.BadRequest, match="Content-Type"):
        admin_client.load_table_from_json([{"a": 1}], f"{admin_client.project}.dw.quirk_json").result()
