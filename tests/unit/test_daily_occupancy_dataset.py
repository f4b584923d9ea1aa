"""Daily occupancy dataset on the local DuckDB warehouse, checked against a plain-Python USALI recomputation."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from reporting.adapters.warehouse.duckdb_local import (
    DatasetError,
    DatasetParameterError,
    DuckDBWarehouse,
    compile_dataset,
)
from reporting.devenv.synthetic_hotels import (
    HotelSpec,
    RoomTypeSpec,
    SyntheticHotelData,
    generate,
    load_into,
)
from reporting.domain.errors import RenderFailed

DATASET_SQL = (
    resources.files("reporting.catalog").joinpath("daily_occupancy/dataset.sql").read_text("utf-8")
)
START = date(2025, 2, 1)
END = date(2025, 2, 28)
RUN_DATES = (START, date(2025, 2, 7), date(2025, 2, 14), date(2025, 2, 21), END)
MONEY_TOLERANCE = Decimal("0.000001")

OUTPUT_COLUMNS = [
    "business_date",
    "room_type",
    "is_total",
    "rooms_total",
    "rooms_out_of_order",
    "rooms_out_of_service",
    "rooms_available",
    "rooms_sold",
    "complimentary_rooms",
    "house_use_rooms",
    "rooms_occupied",
    "rooms_revenue",
    "occupancy",
    "adr",
    "revpar",
]

KABUL = HotelSpec(
    tenant_id="11111111-1111-4111-8111-111111111111",
    property_id="22222222-2222-4222-8222-222222222222",
    name="Test Kabul Inn",
    city="Kabul",
    country="AF",
    currency="AFN",
    timezone="Asia/Kabul",
    room_count=30,
    room_types=(
        RoomTypeSpec("STD", "Standard", Decimal("5000.00"), 3),
        RoomTypeSpec("STE", "Suite", Decimal("11000.00"), 1),
    ),
    seed=7,
)
RIYADH = HotelSpec(
    tenant_id="33333333-3333-4333-8333-333333333333",
    property_id="44444444-4444-4444-8444-444444444444",
    name="Test Riyadh Lodge",
    city="Riyadh",
    country="SA",
    currency="SAR",
    timezone="Asia/Riyadh",
    room_count=45,
    room_types=(
        RoomTypeSpec("STD", "Standard", Decimal("480.00"), 4),
        RoomTypeSpec("EXE", "Executive", Decimal("690.00"), 2),
        RoomTypeSpec("STE", "Suite", Decimal("1300.00"), 1),
    ),
    seed=11,
)
# Another tenant reusing Kabul's property id: isolation must hold on tenant_id, not only property_id.
KABUL_TWIN = replace(KABUL, tenant_id="55555555-5555-4555-8555-555555555555", name="Twin Tenant Inn", seed=99)


@pytest.fixture(scope="module")
def hotels() -> dict[str, SyntheticHotelData]:
    """Generated rows for the test hotels."""
    return {spec.name: generate(spec, START, END) for spec in (KABUL, RIYADH, KABUL_TWIN)}


@pytest.fixture(scope="module")
def warehouse(hotels: dict[str, SyntheticHotelData]) -> Iterator[DuckDBWarehouse]:
    """One in-memory warehouse holding all test hotels (several tenants side by side)."""
    wh = DuckDBWarehouse()
    for data in hotels.values():
        load_into(wh, data)
    yield wh
    wh.close()


def _params(spec: HotelSpec, run_date: date, deduct: bool) -> dict[str, Any]:
    """Dataset parameters for one hotel and date."""
    return {
        "tenant_id": spec.tenant_id,
        "property_id": spec.property_id,
        "run_date": run_date,
        "deduct_out_of_order": deduct,
    }


@dataclass
class _Expected:
    """USALI figures recomputed in Python for one room type or the total."""

    rooms_total: int = 0
    rooms_out_of_order: int = 0
    rooms_out_of_service: int = 0
    rooms_sold: int = 0
    complimentary_rooms: int = 0
    house_use_rooms: int = 0
    rooms_revenue: Decimal = Decimal(0)
    deduct: bool = True

    @property
    def rooms_available(self) -> int:
        """Total rooms minus out-of-order rooms when the setting deducts them."""
        return self.rooms_total - (self.rooms_out_of_order if self.deduct else 0)

    @property
    def occupancy(self) -> float | None:
        """Rooms sold / rooms available, None when nothing is available."""
        return self.rooms_sold / self.rooms_available if self.rooms_available else None

    @property
    def adr(self) -> Decimal | None:
        """Rooms revenue / rooms sold, None when nothing was sold."""
        return self.rooms_revenue / self.rooms_sold if self.rooms_sold else None

    @property
    def revpar(self) -> Decimal | None:
        """Rooms revenue / rooms available, None when nothing is available."""
        return self.rooms_revenue / self.rooms_available if self.rooms_available else None


def _recompute(data: SyntheticHotelData, run_date: date, deduct: bool) -> dict[str | None, _Expected]:
    """USALI occupancy, ADR and RevPAR straight from the generated rows (None key = total)."""
    out: dict[str | None, _Expected] = defaultdict(lambda: _Expected(deduct=deduct))
    type_of = {r["room_id"]: r["room_type"] for r in data.rooms}
    status = {s["room_id"]: s["status"] for s in data.room_status_daily if s["business_date"] == run_date}
    reservations = {r["reservation_id"]: r for r in data.reservations}
    for room_id, room_type in type_of.items():
        for key in (room_type, None):
            out[key].rooms_total += 1
            out[key].rooms_out_of_order += status.get(room_id) == "out_of_order"
            out[key].rooms_out_of_service += status.get(room_id) == "out_of_service"
    for night in data.room_nights:
        if night["stay_date"] != run_date:
            continue
        res = reservations[night["reservation_id"]]
        if res["status"] not in ("checked_out", "in_house"):
            continue
        for key in (type_of[night["room_id"]], None):
            e = out[key]
            if res["is_house_use"]:
                e.house_use_rooms += 1
            elif res["is_complimentary"]:
                e.complimentary_rooms += 1
            else:
                e.rooms_sold += 1
                e.rooms_revenue += night["room_revenue"]
    return dict(out)


def _assert_money(actual: Decimal | None, expected: Decimal | None) -> None:
    """Equal within a micro-unit, or both NULL."""
    if expected is None:
        assert actual is None
    else:
        assert actual is not None and abs(actual - expected) <= MONEY_TOLERANCE, (actual, expected)


def _assert_row(row: dict[str, Any], exp: _Expected) -> None:
    """Compare one dataset row with the recomputed figures."""
    assert row["rooms_total"] == exp.rooms_total
    assert row["rooms_out_of_order"] == exp.rooms_out_of_order
    assert row["rooms_out_of_service"] == exp.rooms_out_of_service
    assert row["rooms_available"] == exp.rooms_available
    assert row["rooms_sold"] == exp.rooms_sold
    assert row["complimentary_rooms"] == exp.complimentary_rooms
    assert row["house_use_rooms"] == exp.house_use_rooms
    assert row["rooms_occupied"] == exp.rooms_sold + exp.complimentary_rooms + exp.house_use_rooms
    _assert_money(row["rooms_revenue"], exp.rooms_revenue)
    if exp.occupancy is None:
        assert row["occupancy"] is None
    else:
        assert math.isclose(row["occupancy"], exp.occupancy, rel_tol=1e-12)
        assert 0.0 <= row["occupancy"] <= 1.0
    _assert_money(row["adr"], exp.adr)
    _assert_money(row["revpar"], exp.revpar)
    if exp.occupancy is not None and exp.adr is not None:
        # RevPAR = occupancy x ADR, the identity the report relies on.
        assert math.isclose(float(row["revpar"]), row["occupancy"] * float(row["adr"]), rel_tol=1e-9)


# -- the dataset against the recomputation -----------------------------------------------


@pytest.mark.parametrize("deduct", [True, False], ids=["deduct_ooo", "keep_ooo"])
@pytest.mark.parametrize("run_date", RUN_DATES, ids=str)
@pytest.mark.parametrize("spec", [KABUL, RIYADH, KABUL_TWIN], ids=lambda s: s.name)
def test_dataset_matches_python_recomputation(
    warehouse: DuckDBWarehouse,
    hotels: dict[str, SyntheticHotelData],
    spec: HotelSpec,
    run_date: date,
    deduct: bool,
) -> None:
    """Every room type row and the total row equal the USALI figures recomputed from the generated rows."""
    rows = warehouse.query(DATASET_SQL, _params(spec, run_date, deduct), max_bytes_billed=10**9)
    expected = _recompute(hotels[spec.name], run_date, deduct)

    assert [list(r) for r in rows] == [OUTPUT_COLUMNS] * len(rows)
    assert [r["room_type"] for r in rows] == sorted(k for k in expected if k is not None) + [None]
    assert [r["is_total"] for r in rows] == [False] * (len(rows) - 1) + [True]
    assert all(r["business_date"] == run_date for r in rows)
    for row in rows:
        _assert_row(row, expected[row["room_type"]])
    assert rows[-1]["rooms_total"] == spec.room_count


def test_the_comparison_is_not_vacuous(warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData]) -> None:
    """The sample covers OOO days, both settings differing, comps or house use, and real revenue."""
    ooo_dates = {
        s["business_date"]
        for s in hotels[RIYADH.name].room_status_daily
        if s["status"] == "out_of_order"
    }
    assert ooo_dates & set(RUN_DATES), "pick run dates with out-of-order rooms"
    run_date = min(ooo_dates & set(RUN_DATES))
    deducted = warehouse.query(DATASET_SQL, _params(RIYADH, run_date, True))[-1]
    kept = warehouse.query(DATASET_SQL, _params(RIYADH, run_date, False))[-1]
    assert deducted["rooms_available"] < kept["rooms_available"]
    assert deducted["occupancy"] > kept["occupancy"]
    assert kept["rooms_revenue"] > 0 and kept["adr"] is not None
    assert any(
        r["is_complimentary"] or r["is_house_use"] for d in hotels.values() for r in d.reservations
    )


def test_output_types_are_plain_python(warehouse: DuckDBWarehouse) -> None:
    """Counts are int, money Decimal, occupancy float, dates datetime.date."""
    total = warehouse.query(DATASET_SQL, _params(KABUL, START, True))[-1]
    assert isinstance(total["business_date"], date)
    assert all(type(total[c]) is int for c in OUTPUT_COLUMNS[3:11])
    assert all(isinstance(total[c], Decimal) for c in ("rooms_revenue", "adr", "revpar"))
    assert isinstance(total["occupancy"], float)
    assert type(total["is_total"]) is bool


# -- USALI edge cases on hand-made rows ------------------------------------------------


def _tiny_warehouse() -> DuckDBWarehouse:
    """Four rooms with known figures for one night: 2025-03-01."""
    t, p, d = "t-tiny", "p-tiny", date(2025, 3, 1)
    scope = {"tenant_id": t, "property_id": p}
    wh = DuckDBWarehouse()
    wh.load_rows(
        "rooms",
        [
            {**scope, "room_id": f"r{i}", "room_number": f"10{i}", "room_type": rt, "floor": 1}
            for i, rt in enumerate(["STD", "STD", "DLX", "DLX"], start=1)
        ],
    )
    wh.load_rows(
        "room_status_daily",
        [
            {**scope, "business_date": d, "room_id": "r3", "status": "out_of_order"},
            {**scope, "business_date": d, "room_id": "r4", "status": "out_of_service"},
            # Next day every room is out of order: nothing available.
            *({**scope, "business_date": d + timedelta(days=1), "room_id": f"r{i}", "status": "out_of_order"}
              for i in range(1, 5)),
        ],
    )

    def res(rid: str, status: str, comp: bool = False, house: bool = False) -> dict[str, Any]:
        return {
            **scope, "reservation_id": rid, "guest_id": "g1", "arrival_date": d,
            "departure_date": d + timedelta(days=1), "status": status, "segment": "transient",
            "channel": "direct", "rate_plan": "BAR", "is_complimentary": comp, "is_house_use": house,
            "adults": 1, "children": 0, "group_code": None,
        }

    wh.load_rows(
        "reservations",
        [res("paid", "checked_out"), res("comp", "checked_out", comp=True),
         res("gone", "cancelled"), res("house", "in_house", house=True)],
    )

    def night(rid: str, room: str, revenue: str) -> dict[str, Any]:
        return {**scope, "reservation_id": rid, "room_id": room, "stay_date": d,
                "room_revenue": Decimal(revenue), "currency": "AFN"}

    wh.load_rows(
        "room_nights",
        [
            night("paid", "r1", "100.00"),
            night("comp", "r2", "55.00"),  # wrongly posted revenue on a comp: must be ignored
            night("gone", "r4", "999.00"),  # a cancelled stay's stray night: must be ignored
        ],
    )
    return wh


def test_known_figures_follow_usali_rules() -> None:
    """Comps are not sold and earn nothing, cancelled nights are ignored, OOS is never deducted."""
    with _tiny_warehouse() as wh:
        params = {"tenant_id": "t-tiny", "property_id": "p-tiny", "run_date": date(2025, 3, 1)}
        total = wh.query(DATASET_SQL, {**params, "deduct_out_of_order": True})[-1]
        assert (total["rooms_total"], total["rooms_out_of_order"], total["rooms_out_of_service"]) == (4, 1, 1)
        assert (total["rooms_available"], total["rooms_sold"], total["complimentary_rooms"]) == (3, 1, 1)
        assert total["rooms_revenue"] == Decimal("100")
        assert total["occupancy"] == pytest.approx(1 / 3)
        assert total["adr"] == Decimal("100")
        assert total["revpar"] == Decimal("33.333333333")

        kept = wh.query(DATASET_SQL, {**params, "deduct_out_of_order": False})[-1]
        assert kept["rooms_available"] == 4 and kept["occupancy"] == 0.25
        assert kept["revpar"] == Decimal("25")

        # The setting's default is TRUE: a NULL (unset) value deducts.
        assert wh.query(DATASET_SQL, {**params, "deduct_out_of_order": None})[-1]["rooms_available"] == 3


def test_zero_available_rooms_gives_nulls_not_errors() -> None:
    """All rooms out of order with deduction on: available 0, ratios NULL."""
    with _tiny_warehouse() as wh:
        params = {"tenant_id": "t-tiny", "property_id": "p-tiny", "run_date": date(2025, 3, 2)}
        rows = wh.query(DATASET_SQL, {**params, "deduct_out_of_order": True})
        assert len(rows) == 3
        for row in rows:
            assert row["rooms_available"] == 0 and row["rooms_sold"] == 0
            assert row["occupancy"] is None and row["adr"] is None and row["revpar"] is None
        kept = wh.query(DATASET_SQL, {**params, "deduct_out_of_order": False})[-1]
        assert kept["occupancy"] == 0.0 and kept["adr"] is None and kept["revpar"] == 0


def test_property_without_rooms_returns_only_a_zero_total_row() -> None:
    """An unknown or empty property yields one total row with zero counts and NULL ratios."""
    with DuckDBWarehouse() as wh:
        rows = wh.query(DATASET_SQL, _params(KABUL, START, True))
    assert len(rows) == 1 and rows[0]["is_total"] is True
    assert rows[0]["rooms_total"] == rows[0]["rooms_sold"] == rows[0]["rooms_out_of_order"] == 0
    assert rows[0]["rooms_revenue"] == 0
    assert rows[0]["occupancy"] is None and rows[0]["adr"] is None and rows[0]["revpar"] is None


# -- tenant isolation ----------------------------------------------------------------------


def test_each_tenant_sees_only_its_own_rows(warehouse: DuckDBWarehouse, hotels: dict[str, SyntheticHotelData]) -> None:
    """Two tenants sharing a property id, and a third tenant, never see each other's rows."""
    probe = (
        "SELECT n.tenant_id, n.property_id, COUNT(*) AS nights FROM dw.room_nights AS n"
        " WHERE n.tenant_id = @tenant_id AND n.property_id = @property_id GROUP BY 1, 2"
    )
    for spec in (KABUL, KABUL_TWIN, RIYADH):
        rows = warehouse.query(probe, {"tenant_id": spec.tenant_id, "property_id": spec.property_id})
        assert rows == [
            {"tenant_id": spec.tenant_id, "property_id": spec.property_id,
             "nights": len(hotels[spec.name].room_nights)}
        ]
    a = warehouse.query(DATASET_SQL, _params(KABUL, START, True))[-1]
    b = warehouse.query(DATASET_SQL, _params(KABUL_TWIN, START, True))[-1]
    assert a["rooms_total"] == b["rooms_total"] == KABUL.room_count  # not 2x: no cross-tenant fan-out
    # Another tenant's id with this property id sees nothing.
    crossed = {**_params(RIYADH, START, True), "property_id": KABUL.property_id}
    assert warehouse.query(DATASET_SQL, crossed)[-1]["rooms_total"] == 0


# -- the warehouse adapter's contract ---------------------------------------------------------


def test_missing_parameter_raises_dataset_parameter_error(warehouse: DuckDBWarehouse) -> None:
    """Every parameter the SQL names must be supplied."""
    params = _params(KABUL, START, True)
    del params["run_date"]
    with pytest.raises(DatasetParameterError, match="run_date"):
        warehouse.query(DATASET_SQL, params)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) AS n FROM dw.rooms WHERE property_id = @property_id",
        "SELECT COUNT(*) AS n FROM dw.rooms WHERE tenant_id = @tenant_id",
        # Named in a comment or a string only: that binds nothing.
        "SELECT COUNT(*) AS n FROM dw.rooms WHERE property_id = @property_id -- @tenant_id\n AND '@tenant_id' = 'x'",
    ],
    ids=["no_tenant", "no_property", "tenant_only_in_comment"],
)
def test_dataset_not_binding_tenant_and_property_is_refused(warehouse: DuckDBWarehouse, sql: str) -> None:
    """A dataset that is not scoped by both tenant and property never runs."""
    with pytest.raises(DatasetError) as info:
        warehouse.query(sql, {"tenant_id": KABUL.tenant_id, "property_id": KABUL.property_id})
    assert not isinstance(info.value, DatasetParameterError)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id",
        "SELECT 1 AS a FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id; SELECT 2",
        "SELECT 1 FROM dw.rooms WHERE tenant_id = ? AND property_id = @property_id AND tenant_id = @tenant_id",
        "SELECT FROM WHERE (",
        "SELECT nope FROM dw.rooms WHERE tenant_id = @tenant_id AND property_id = @property_id",
        "SELECT 1 AS a FROM dw.no_such_table WHERE tenant_id = @tenant_id AND property_id = @property_id",
    ],
    ids=["dml", "two_statements", "positional", "garbage", "unknown_column", "unknown_table"],
)
def test_broken_datasets_are_refused_as_permanent_failures(warehouse: DuckDBWarehouse, sql: str) -> None:
    """Datasets are single read-only queries with named parameters; a broken one fails the run for good."""
    with pytest.raises(DatasetError) as info:
        warehouse.query(sql, {"tenant_id": KABUL.tenant_id, "property_id": KABUL.property_id})
    assert isinstance(info.value, RenderFailed) and info.value.permanent


def test_values_are_bound_not_spliced(warehouse: DuckDBWarehouse) -> None:
    """An injection-shaped tenant id is just a string that matches nothing."""
    params = {**_params(KABUL, START, True), "tenant_id": "x' OR '1'='1"}
    assert warehouse.query(DATASET_SQL, params)[-1]["rooms_total"] == 0


def test_extra_params_ignored_and_uuid_objects_accepted(warehouse: DuckDBWarehouse) -> None:
    """Run params may carry more keys; UUID objects bind like the STRING ids they are."""
    params = {
        **_params(KABUL, START, True),
        "tenant_id": uuid.UUID(KABUL.tenant_id),
        "locale": "fa-AF",
    }
    assert warehouse.query(DATASET_SQL, params)[-1]["rooms_total"] == KABUL.room_count


def test_max_bytes_billed_must_be_positive(warehouse: DuckDBWarehouse) -> None:
    """The cap is accepted (BigQuery enforces it) but nonsense is refused locally too."""
    with pytest.raises(ValueError):
        warehouse.query(DATASET_SQL, _params(KABUL, START, True), max_bytes_billed=0)


def test_concurrent_queries(warehouse: DuckDBWarehouse) -> None:
    """Several threads can query one warehouse at once."""
    def run(i: int) -> int:
        spec = (KABUL, RIYADH)[i % 2]
        return warehouse.query(DATASET_SQL, _params(spec, RUN_DATES[i % len(RUN_DATES)], True))[-1]["rooms_total"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        totals = list(pool.map(run, range(24)))
    assert totals == [(KABUL, RIYADH)[i % 2].room_count for i in range(24)]


def test_file_database_persists_and_reload_is_idempotent(tmp_path: Path) -> None:
    """A file-backed warehouse keeps its rows; loading a hotel twice replaces, not duplicates."""
    data = generate(KABUL, START, START + timedelta(days=3))
    path = tmp_path / "dw.duckdb"
    with DuckDBWarehouse(path) as wh:
        load_into(wh, data)
        load_into(wh, data)
    with DuckDBWarehouse(path) as wh:
        rows = wh.query(
            "SELECT COUNT(*) AS n FROM dw.room_nights WHERE tenant_id = @tenant_id AND property_id = @property_id",
            {"tenant_id": KABUL.tenant_id, "property_id": KABUL.property_id},
        )
    assert rows == [{"n": len(data.room_nights)}]


def test_load_rows_refuses_unknown_tables_and_columns() -> None:
    """Table and column names never come from the caller unchecked."""
    with DuckDBWarehouse() as wh:
        with pytest.raises(ValueError, match="unknown warehouse table"):
            wh.load_rows("rooms; DROP TABLE dw.rooms", [{"tenant_id": "t"}])
        with pytest.raises(ValueError, match="unknown columns"):
            wh.load_rows("rooms", [{"tenant_id": "t", "nope": 1}])


# -- the SQL file itself ---------------------------------------------------------------------


def test_sql_file_is_valid_bigquery_and_transpiles() -> None:
    """The curated file parses as BigQuery, round-trips, and names exactly its four parameters."""
    tree = sqlglot.parse_one(DATASET_SQL, read="bigquery")
    sqlglot.parse_one(tree.sql(dialect="bigquery"), read="bigquery")
    assert {p.name for p in tree.find_all(sqlglot.exp.Parameter)} == {
        "tenant_id",
        "property_id",
        "run_date",
        "deduct_out_of_order",
    }
    compiled = compile_dataset(DATASET_SQL)
    assert "$tenant_id" in compiled.duckdb_sql and "@tenant_id" not in compiled.duckdb_sql.split("*/")[-1]
    assert compile_dataset(DATASET_SQL) is compiled  # cached per text
    # Nothing DuckDB-only in the source file.
    for token in ("$", "::", "COUNT_IF", "BOOL_OR", "DECIMAL("):
        assert token not in DATASET_SQL.split("WITH", 1)[1]
