"""The WarehouseLoader contract, written once and run against DuckDB and against BigQuery (the bqemulator).

The BigQuery loader runs for real here: NDJSON load jobs into staging tables, then its multi-statement
transaction, on the emulator from reporting.devenv.bq_emulator (its own virtualenv), with the dw tables
typed from schema.sql by tests/warehouse/bq_tables.py. Then the daily occupancy dataset runs on both
warehouses through their Warehouse adapters and must give the same figures.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from reporting.adapters.warehouse.bigquery import BigQueryWarehouse
from reporting.adapters.warehouse.bigquery_loader import BigQueryWarehouseLoader
from reporting.adapters.warehouse.duckdb_loader import DuckDBWarehouseLoader
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.devenv import bq_emulator
from reporting.service_layer.history_import import ImportContext, read_history_files, validate_history
from reporting.service_layer.ports import WarehouseLoader
from tests.warehouse.bq_tables import create_warehouse, load_tables

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples" / "history"
DATASET_SQL = resources.files("reporting.catalog").joinpath("daily_occupancy/dataset.sql").read_text("utf-8")
LOCATION = "asia-south1"
TABLES = ("rooms", "guests", "reservations", "room_nights", "room_status_daily")
SAMPLE_COUNTS = {"rooms": 6, "guests": 8, "reservations": 8, "room_nights": 11, "room_status_daily": 3}
RANGE = (date(2025, 3, 1), date(2025, 3, 4))


def sample_tables() -> dict[str, list[dict[str, Any]]]:
    """The sample's rows exactly as the use case hands them to a loader."""
    checked = validate_history(read_history_files(str(SAMPLE_DIR)), ImportContext("t", "p", "AFN", date(2025, 3, 31)))
    assert checked.history is not None
    return checked.history.tables


def _scope() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


class LoaderContract:
    """What every WarehouseLoader does; a subclass supplies the warehouse behind it."""

    def loader(self) -> WarehouseLoader:
        raise NotImplementedError

    def replace_failing(self, tenant: str, prop: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Run a replace that fails inside its transaction, after the deletes (must raise)."""
        raise NotImplementedError

    def seed(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Rows written by someone else (the live feed, an earlier import), tenant and property included."""
        raise NotImplementedError

    def rows(self, table: str, tenant: str, prop: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def staging_left(self) -> list[str]:
        """Staging objects the loader left behind (none for DuckDB)."""
        return []

    def counts(self, tenant: str, prop: str) -> dict[str, int]:
        return {t: len(self.rows(t, tenant, prop)) for t in TABLES}

    def snapshot(self, tenant: str, prop: str) -> dict[str, list[dict[str, Any]]]:
        return {t: sorted(self.rows(t, tenant, prop), key=lambda r: sorted((k, str(v)) for k, v in r.items()))
                for t in TABLES}

    # -- the contract -------------------------------------------------------------------------------------

    def test_a_load_lands_every_row(self) -> None:
        tenant, prop = _scope()

        counts = self.loader().replace_history(tenant, prop, RANGE, sample_tables(), import_id="sample")

        assert counts == SAMPLE_COUNTS == self.counts(tenant, prop)
        assert self.staging_left() == []

    def test_loading_the_same_rows_twice_leaves_the_same_state(self) -> None:
        tenant, prop = _scope()
        self.loader().replace_history(tenant, prop, RANGE, sample_tables(), import_id="sample")
        first = self.snapshot(tenant, prop)

        self.loader().replace_history(tenant, prop, RANGE, sample_tables(), import_id="sample")

        assert self.snapshot(tenant, prop) == first

    def test_the_range_belongs_to_the_files(self) -> None:
        tenant, prop = _scope()
        scope = {"tenant_id": tenant, "property_id": prop}
        stay = {**scope, "guest_id": "g-001", "status": "checked_out", "is_complimentary": False,
                "is_house_use": False, "adults": 1, "children": 0}
        self.seed("reservations", [
            {**stay, "reservation_id": "gone-1", "arrival_date": date(2025, 3, 4), "departure_date": date(2025, 3, 7)},
            {**stay, "reservation_id": "feb-1", "arrival_date": date(2025, 2, 27), "departure_date": date(2025, 3, 2)}])
        night = {**scope, "room_id": "rm-101", "room_revenue": Decimal("1.00"), "currency": "AFN"}
        self.seed("room_nights", [
            {**night, "reservation_id": "gone-1", "stay_date": date(2025, 3, 6)},  # after the range, still its stay
            {**night, "reservation_id": "feb-1", "stay_date": date(2025, 2, 28)},  # before the range: kept
            {**night, "reservation_id": "feb-1", "stay_date": date(2025, 3, 1)}])  # inside it: the files decide

        self.loader().replace_history(tenant, prop, RANGE, sample_tables())

        reservations = {r["reservation_id"] for r in self.rows("reservations", tenant, prop)}
        nights = {(r["reservation_id"], r["stay_date"]) for r in self.rows("room_nights", tenant, prop)}
        assert "gone-1" not in reservations and "feb-1" in reservations
        assert ("feb-1", date(2025, 2, 28)) in nights
        assert not {n for n in nights if n[0] in ("gone-1",) or n == ("feb-1", date(2025, 3, 1))}
        assert len(nights) == SAMPLE_COUNTS["room_nights"] + 1

    def test_rooms_and_guests_are_upserted_keeping_what_the_files_do_not_carry(self) -> None:
        tenant, prop = _scope()
        scope = {"tenant_id": tenant, "property_id": prop}
        self.seed("guests", [{**scope, "guest_id": "g-001", "display_name": "OLD NAME", "document_number": "D-1"}])
        self.seed("rooms", [{**scope, "room_id": "rm-999", "room_number": "999", "room_type": "STD"},
                            {**scope, "room_id": "rm-101", "room_number": "101", "room_type": "OLD"}])

        self.loader().replace_history(tenant, prop, RANGE, sample_tables())

        guest = next(g for g in self.rows("guests", tenant, prop) if g["guest_id"] == "g-001")
        rooms = {r["room_id"]: r["room_type"] for r in self.rows("rooms", tenant, prop)}
        assert (guest["display_name"], guest["document_number"]) == ("SAMPLE Alpha Testguest", "D-1")
        assert rooms["rm-999"] == "STD" and rooms["rm-101"] == "STD" and len(rooms) == 7

    def test_another_tenant_with_the_same_ids_is_untouched(self) -> None:
        tenant, prop = _scope()
        other = str(uuid.uuid4())
        self.loader().replace_history(other, prop, RANGE, sample_tables())
        before = self.snapshot(other, prop)

        self.loader().replace_history(tenant, prop, RANGE, sample_tables())
        self.loader().replace_history(tenant, prop, RANGE, {**sample_tables(), "room_status_daily": []})

        assert self.snapshot(other, prop) == before
        assert self.counts(tenant, prop)["room_status_daily"] == 0

    def test_a_failure_inside_the_transaction_changes_nothing(self) -> None:
        tenant, prop = _scope()
        self.loader().replace_history(tenant, prop, RANGE, sample_tables())
        before = self.snapshot(tenant, prop)
        tables = sample_tables()
        tables["room_nights"] = [{**n, "room_revenue": Decimal("1.00")} for n in tables["room_nights"]]

        self.replace_failing(tenant, prop, tables)

        assert self.snapshot(tenant, prop) == before
        assert self.staging_left() == []

    def test_rows_that_carry_a_tenant_are_refused(self) -> None:
        tenant, prop = _scope()
        tables = sample_tables()
        tables["rooms"] = [{"tenant_id": "someone-else", **r} for r in tables["rooms"]]

        with pytest.raises(ValueError, match="must not carry tenant_id"):
            self.loader().replace_history(tenant, prop, RANGE, tables)
        assert self.counts(tenant, prop) == dict.fromkeys(TABLES, 0)


# -- DuckDB ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duck() -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse() as wh:
        yield wh


class TestDuckDBLoader(LoaderContract):
    @pytest.fixture(autouse=True)
    def _warehouse(self, duck: DuckDBWarehouse) -> None:
        self.wh = duck

    def loader(self) -> WarehouseLoader:
        return DuckDBWarehouseLoader(self.wh)

    def replace_failing(self, tenant: str, prop: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        # The last insert breaks the table's CHECK (validation would have refused it; the loader is called directly).
        import duckdb

        from reporting.domain.errors import WarehouseUnavailable

        broken = {**tables, "room_status_daily": [{**r, "status": "broken"} for r in tables["room_status_daily"]]}
        with pytest.raises(WarehouseUnavailable, match="nothing was replaced") as refused:
            self.loader().replace_history(tenant, prop, RANGE, broken)
        assert isinstance(refused.value.__cause__, duckdb.ConstraintException)
        assert "broken" not in str(refused.value)  # the row's value stays in the cause, out of the message

    def seed(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.wh.load_rows(table, rows)

    def rows(self, table: str, tenant: str, prop: str) -> list[dict[str, Any]]:
        cur = self.wh._cursor()
        try:
            cur.execute(f"SELECT * FROM dw.{table} WHERE tenant_id = ? AND property_id = ?", [tenant, prop])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            cur.close()


# -- BigQuery (bqemulator) ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bq_emulator.BigQueryEmulator]:
    """The BigQuery emulator (tests/warehouse's launcher) with the dw tables of schema.sql."""
    try:
        running = bq_emulator.start(tmp_path_factory.mktemp("bqemulator-history"))
    except bq_emulator.EmulatorUnavailable as exc:
        pytest.fail(f"BigQuery emulator unavailable: {exc}", pytrace=False)
    create_warehouse(running.client(), "dw", LOCATION)
    yield running
    running.stop()


class _FailsBeforeCommit(BigQueryWarehouseLoader):
    """The real loader with one statement slipped in before COMMIT that fails, as a conflicting DML would."""

    def _script(self, token: str, columns: Mapping[str, Sequence[str]]) -> str:
        return super()._script(token, columns).replace(
            "COMMIT TRANSACTION;", "SELECT ERROR('injected failure before commit');\nCOMMIT TRANSACTION;")


class TestBigQueryLoader(LoaderContract):
    @pytest.fixture(autouse=True)
    def _emulator(self, emulator: bq_emulator.BigQueryEmulator) -> None:
        self.emu = emulator
        self.client = emulator.client()

    def loader(self) -> WarehouseLoader:
        return BigQueryWarehouseLoader(self.emu.project, location=LOCATION, client_factory=self.emu.client,
                                       timeout_seconds=120.0)

    def replace_failing(self, tenant: str, prop: str, tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        from reporting.domain.errors import WarehouseUnavailable

        failing = _FailsBeforeCommit(self.emu.project, location=LOCATION, client_factory=self.emu.client,
                                     timeout_seconds=120.0)
        with pytest.raises(WarehouseUnavailable, match="nothing was replaced"):
            failing.replace_history(tenant, prop, RANGE, tables)

    def seed(self, table: str, rows: list[dict[str, Any]]) -> None:
        load_tables(self.client, "dw", {table: rows})

    def rows(self, table: str, tenant: str, prop: str) -> list[dict[str, Any]]:
        job = self.client.query(
            f"SELECT * FROM `{self.emu.project}.dw.{table}` WHERE tenant_id = @t AND property_id = @p",
            job_config=bigquery.QueryJobConfig(query_parameters=[
                bigquery.ScalarQueryParameter("t", "STRING", tenant),
                bigquery.ScalarQueryParameter("p", "STRING", prop)]))
        return [dict(row.items()) for row in job.result()]

    def staging_left(self) -> list[str]:
        return [t.table_id for t in self.client.list_tables(f"{self.emu.project}.dw")
                if t.table_id.startswith("_history_")]

    def test_the_daily_occupancy_report_matches_duckdb_after_the_same_import(self, duck: DuckDBWarehouse) -> None:
        tenant, prop = _scope()
        self.loader().replace_history(tenant, prop, RANGE, sample_tables())
        DuckDBWarehouseLoader(duck).replace_history(tenant, prop, RANGE, sample_tables())
        bq = BigQueryWarehouse(self.emu.project, location=LOCATION, client_factory=self.emu.client)

        for offset in range(4):
            params = {"tenant_id": tenant, "property_id": prop, "run_date": RANGE[0] + timedelta(days=offset),
                      "deduct_out_of_order": True}
            on_bigquery, on_duckdb = bq.query(DATASET_SQL, params), duck.query(DATASET_SQL, params)
            assert len(on_bigquery) == len(on_duckdb) == 3  # STD, STE, total
            for got, want in zip(on_bigquery, on_duckdb, strict=True):
                assert got == {**want, "occupancy": pytest.approx(want["occupancy"])}
        total = bq.query(DATASET_SQL, {"tenant_id": tenant, "property_id": prop, "run_date": RANGE[0],
                                       "deduct_out_of_order": True})[-1]
        assert (total["rooms_sold"], total["rooms_revenue"], total["revpar"]) == (3, Decimal("21500"), Decimal("4300"))
