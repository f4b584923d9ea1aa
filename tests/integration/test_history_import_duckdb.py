"""History import end to end on real Postgres and DuckDB: import → daily occupancy figures, twice, corrected, CLI, job."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from reporting.adapters.postgres.connection import fetch_all
from reporting.adapters.warehouse.duckdb_loader import DuckDBWarehouseLoader
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.bootstrap import Services
from reporting.cli import main as cli
from reporting.devenv import gcs_emulator
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.service_layer.history_import import ImportHistory, import_history, read_history_files
from reporting.service_layer.tenants import sync_property, sync_tenant

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO / "docs" / "samples" / "history"
DATASET_SQL = resources.files("reporting.catalog").joinpath("daily_occupancy/dataset.sql").read_text("utf-8")
DATES = [date(2025, 3, 1) + timedelta(days=i) for i in range(4)]
TABLES = ("rooms", "guests", "reservations", "room_nights", "room_status_daily")
SAMPLE_COUNTS = {"rooms": 6, "guests": 8, "reservations": 8, "room_nights": 11, "room_status_daily": 3}
NUMERIC = Decimal("1e-9")

# The total rows docs/history-import.md shows for the sample (deduct_out_of_order on):
# date: (available, sold, complimentary, house use, out of order, out of service, revenue, ADR, RevPAR)
DOCUMENTED = {
    date(2025, 3, 1): (5, 3, 0, 0, 1, 0, "21500", "7166.666666667", "4300"),
    date(2025, 3, 2): (5, 2, 1, 0, 1, 1, "17000", "8500", "3400"),
    date(2025, 3, 3): (6, 2, 1, 0, 0, 0, "17200", "8600", "2866.666666667"),
    date(2025, 3, 4): (6, 1, 0, 1, 0, 0, "5200", "5200", "866.666666667"),
}


@dataclass(frozen=True)
class Pilot:
    tenant_id: str
    property_id: str


def _pilot(services: Services, currency: str = "AFN") -> Pilot:
    """A new pilot tenant and property in the mirror (nothing in the warehouse yet)."""
    pilot = Pilot(str(uuid.uuid4()), str(uuid.uuid4()))
    sync_tenant(Tenant(pilot.tenant_id, "Pilot group", Residency.AF, services.settings.region,
                       features={"reporting_v1": True}), services.deps)
    sync_property(Property(pilot.property_id, pilot.tenant_id, "Sample Pilot Guesthouse", "Asia/Kabul", currency,
                           "AF", "en", 6, settings={"deduct_out_of_order": True}), services.deps)
    return pilot


def _counts(warehouse: DuckDBWarehouse, pilot: Pilot) -> dict[str, int]:
    cur = warehouse._cursor()
    try:
        return {t: cur.execute(f"SELECT COUNT(*) FROM dw.{t} WHERE tenant_id = ? AND property_id = ?",
                               [pilot.tenant_id, pilot.property_id]).fetchone()[0] for t in TABLES}
    finally:
        cur.close()


def _occupancy(warehouse: DuckDBWarehouse, pilot: Pilot, day: date) -> list[dict[str, Any]]:
    return warehouse.query(DATASET_SQL, {"tenant_id": pilot.tenant_id, "property_id": pilot.property_id,
                                         "run_date": day, "deduct_out_of_order": True})


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    [total] = [r for r in rows if r["is_total"]]
    return total


def _read(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((folder / name).read_text("utf-8"))))


def implied_by_csv(folder: Path, day: date) -> dict[str | None, dict[str, Any]]:
    """Daily occupancy recomputed from the CSV files alone (USALI, out-of-order deducted); None is the total."""
    room_type = {r["room_id"]: r["room_type"] for r in _read(folder, "rooms.csv")}
    status_path = folder / "room_status_daily.csv"
    status = {r["room_id"]: r["status"] for r in (_read(folder, "room_status_daily.csv") if status_path.exists()
                                                   else []) if r["business_date"] == day.isoformat()}
    stays = {r["reservation_id"]: r for r in _read(folder, "reservations.csv")}
    figures: dict[str | None, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for room, kind in room_type.items():
        for key in (kind, None):
            figures[key]["rooms_total"] += 1
            figures[key]["rooms_out_of_order"] += status.get(room) == "out_of_order"
    for night in _read(folder, "room_nights.csv"):
        stay = stays[night["reservation_id"]]
        if night["stay_date"] != day.isoformat() or stay["status"] not in ("checked_out", "in_house"):
            continue
        for key in (room_type[night["room_id"]], None):
            if stay["is_house_use"] == "true":
                figures[key]["house_use_rooms"] += 1
            elif stay["is_complimentary"] == "true":
                figures[key]["complimentary_rooms"] += 1
            else:
                figures[key]["rooms_sold"] += 1
                figures[key]["rooms_revenue"] += Decimal(night["room_revenue"])
    for f in figures.values():
        f["rooms_available"] = f["rooms_total"] - f["rooms_out_of_order"]
        f["rooms_revenue"] = Decimal(f["rooms_revenue"])
        f["adr"] = (f["rooms_revenue"] / f["rooms_sold"]).quantize(NUMERIC) if f["rooms_sold"] else None
        f["revpar"] = (f["rooms_revenue"] / f["rooms_available"]).quantize(NUMERIC) if f["rooms_available"] else None
    return figures


def assert_report_matches_csv(warehouse: DuckDBWarehouse, pilot: Pilot, folder: Path) -> None:
    """Every row of the daily occupancy report, every imported date, equals what the CSV implies."""
    for day in DATES:
        expected = implied_by_csv(folder, day)
        rows = _occupancy(warehouse, pilot, day)
        assert {r["room_type"] for r in rows} == set(expected), day
        for row in rows:
            want = expected[row["room_type"]]
            for column in ("rooms_total", "rooms_out_of_order", "rooms_available", "rooms_sold",
                           "complimentary_rooms", "house_use_rooms", "rooms_revenue", "adr", "revpar"):
                assert row[column] == want[column], (day, row["room_type"], column)


@pytest.fixture
def services(make_services) -> Services:
    return make_services(Residency.AF)


def _import(services: Services, warehouse: DuckDBWarehouse, pilot: Pilot, folder: Path, **kwargs: Any) -> Any:
    return import_history(ImportHistory(pilot.tenant_id, pilot.property_id, **kwargs), read_history_files(str(folder)),
                          services.deps, DuckDBWarehouseLoader(warehouse))


def _copy_sample(tmp_path: Path) -> Path:
    folder = tmp_path / "history"
    shutil.copytree(SAMPLE_DIR, folder)
    (folder / "manifest.json").unlink()  # the tests edit files; the manifest would refuse them
    return folder


def _rewrite(folder: Path, name: str, keep: Any = lambda row: True, change: Any = lambda row: row) -> None:
    rows = _read(folder, name)
    with (folder / name).open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(change(dict(r)) for r in rows if keep(r))


# -- the use case on the session's Postgres and DuckDB -------------------------------------------------------


def test_imported_dates_give_the_daily_occupancy_the_csv_implies(services: Services,
                                                                 warehouse: DuckDBWarehouse) -> None:
    pilot = _pilot(services)

    outcome = _import(services, warehouse, pilot, SAMPLE_DIR)

    assert outcome.loaded and outcome.rows == SAMPLE_COUNTS
    assert_report_matches_csv(warehouse, pilot, SAMPLE_DIR)
    for day, (available, sold, comp, house, ooo, oos, revenue, adr, revpar) in DOCUMENTED.items():
        total = _total(_occupancy(warehouse, pilot, day))
        assert (total["rooms_available"], total["rooms_sold"], total["complimentary_rooms"],
                total["house_use_rooms"], total["rooms_out_of_order"], total["rooms_out_of_service"]) == \
            (available, sold, comp, house, ooo, oos), day
        assert (total["rooms_revenue"], total["adr"], total["revpar"]) == \
            (Decimal(revenue), Decimal(adr), Decimal(revpar)), day
        assert total["occupancy"] == pytest.approx(sold / available)


def test_running_the_same_import_twice_leaves_the_same_rows(services: Services, warehouse: DuckDBWarehouse) -> None:
    pilot = _pilot(services)

    _import(services, warehouse, pilot, SAMPLE_DIR)
    first = _counts(warehouse, pilot)
    report = [_occupancy(warehouse, pilot, d) for d in DATES]
    _import(services, warehouse, pilot, SAMPLE_DIR)

    assert first == _counts(warehouse, pilot) == SAMPLE_COUNTS
    assert report == [_occupancy(warehouse, pilot, d) for d in DATES]


def test_a_corrected_file_replaces_the_first_import(services: Services, warehouse: DuckDBWarehouse,
                                                   tmp_path: Path) -> None:
    pilot = _pilot(services)
    _import(services, warehouse, pilot, SAMPLE_DIR)
    corrected = _copy_sample(tmp_path)
    # The pilot's correction: res-002 paid 4800, and res-004 (complimentary) never happened.
    _rewrite(corrected, "room_nights.csv", keep=lambda r: r["reservation_id"] != "res-004",
             change=lambda r: {**r, "room_revenue": "4800.00"} if r["reservation_id"] == "res-002" else r)
    _rewrite(corrected, "reservations.csv", keep=lambda r: r["reservation_id"] != "res-004")

    outcome = _import(services, warehouse, pilot, corrected)

    assert outcome.loaded
    assert _counts(warehouse, pilot) == {**SAMPLE_COUNTS, "reservations": 7, "room_nights": 9}
    assert_report_matches_csv(warehouse, pilot, corrected)
    assert _total(_occupancy(warehouse, pilot, date(2025, 3, 1)))["rooms_revenue"] == Decimal("21800")
    assert _total(_occupancy(warehouse, pilot, date(2025, 3, 2)))["complimentary_rooms"] == 0


def test_an_import_touches_no_other_property(services: Services, warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    pilot, neighbour = _pilot(services), _pilot(services)
    _import(services, warehouse, neighbour, SAMPLE_DIR)
    before = [_occupancy(warehouse, neighbour, d) for d in DATES]
    corrected = _copy_sample(tmp_path)
    _rewrite(corrected, "room_status_daily.csv", keep=lambda r: False)

    _import(services, warehouse, pilot, SAMPLE_DIR)
    _import(services, warehouse, pilot, corrected)

    assert _counts(warehouse, neighbour) == SAMPLE_COUNTS
    assert [_occupancy(warehouse, neighbour, d) for d in DATES] == before
    assert _counts(warehouse, pilot)["room_status_daily"] == 0


def test_one_bad_row_leaves_the_warehouse_as_it_was(services: Services, warehouse: DuckDBWarehouse,
                                                    tmp_path: Path) -> None:
    pilot = _pilot(services)
    _import(services, warehouse, pilot, SAMPLE_DIR)
    broken = _copy_sample(tmp_path)
    _rewrite(broken, "reservations.csv", keep=lambda r: r["reservation_id"] != "res-004",
             change=lambda r: {**r, "adults": "several"} if r["reservation_id"] == "res-008" else r)

    outcome = _import(services, warehouse, pilot, broken)

    assert not outcome.loaded
    assert [(e.file, e.line, e.column) for e in outcome.errors] == [
        ("reservations.csv", 8, "adults"),  # res-008 moved up a line when res-004 went
        ("room_nights.csv", 8, "reservation_id"), ("room_nights.csv", 9, "reservation_id")]
    assert _counts(warehouse, pilot) == SAMPLE_COUNTS


def test_the_import_is_audited_with_its_manifest(services: Services, warehouse: DuckDBWarehouse) -> None:
    pilot = _pilot(services)

    outcome = _import(services, warehouse, pilot, SAMPLE_DIR)

    with services.uow(pilot.tenant_id) as uow:
        entries = fetch_all(uow.connection, "SELECT actor, action, target_id, details FROM reporting.audit_log"
                                            " WHERE target_id = :p", {"p": pilot.property_id})
    assert entries == [{"actor": "history-import", "action": "history.imported", "target_id": pilot.property_id,
                        "details": {"manifest_sha256": outcome.manifest.digest, "first_date": "2025-03-01",
                                    "last_date": "2025-03-04", "rows": SAMPLE_COUNTS}}]
    assert outcome.manifest.digest == json.loads((SAMPLE_DIR / "manifest.json").read_text())["sha256"]


def test_a_property_in_another_currency_refuses_the_sample(services: Services, warehouse: DuckDBWarehouse) -> None:
    pilot = _pilot(services, currency="SAR")

    outcome = _import(services, warehouse, pilot, SAMPLE_DIR)

    assert not outcome.loaded and {e.reason for e in outcome.errors} == {"not the property's currency"}
    assert _counts(warehouse, pilot) == dict.fromkeys(TABLES, 0)


# -- the command line and the job --------------------------------------------------------------------------


@pytest.fixture
def cli_env(migrated_for, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment a local run of the job gets: the session's AF database, a DuckDB warehouse file."""
    env = {"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": migrated_for("AF").app.url(),
           "REPORTING_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
           "REPORTING_ARTIFACT_DIR": str(tmp_path / "artifacts"),
           "REPORTING_DEAD_LETTER_DIR": str(tmp_path / "dead-letters")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_the_command_dry_runs_then_loads_the_sample(services: Services, cli_env: dict[str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pilot = _pilot(services)
    args = ("import-history", "--tenant", pilot.tenant_id, "--property", pilot.property_id, "--dir", str(SAMPLE_DIR))

    dry_code, dry = _cli_json(capsys, *args, "--dry-run")
    with DuckDBWarehouse(cli_env["REPORTING_WAREHOUSE_PATH"]) as wh:
        assert _counts(wh, pilot) == dict.fromkeys(TABLES, 0)
    code, summary = _cli_json(capsys, *args)

    assert (dry_code, dry["dry_run"], dry["loaded"], dry["rows"]) == (0, True, False, SAMPLE_COUNTS)
    assert (code, summary["loaded"], summary["rows"]) == (0, True, SAMPLE_COUNTS)
    assert summary["date_range"] == {"first": "2025-03-01", "last": "2025-03-04"}
    with DuckDBWarehouse(cli_env["REPORTING_WAREHOUSE_PATH"]) as wh:
        assert _counts(wh, pilot) == SAMPLE_COUNTS
        assert_report_matches_csv(wh, pilot, SAMPLE_DIR)


def test_the_command_prints_every_error_and_exits_1(services: Services, cli_env: dict[str, str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pilot = _pilot(services)
    broken = _copy_sample(tmp_path)
    _rewrite(broken, "room_nights.csv", change=lambda r: {**r, "stay_date": "2025-02-30"}
             if r["reservation_id"] == "res-002" else r)
    _rewrite(broken, "guests.csv", change=lambda r: {**r, "display_name": "SAMPLE " + "x" * 300}
             if r["guest_id"] == "g-004" else r)

    code, out = _cli_json(capsys, "import-history", "--tenant", pilot.tenant_id, "--property", pilot.property_id,
                          "--dir", str(broken))

    assert code == 1 and out["loaded"] is False and out["error_count"] == 2
    assert out["errors"] == [
        {"file": "guests.csv", "line": 5, "column": "display_name", "reason": "longer than 200 characters"},
        {"file": "room_nights.csv", "line": 4, "column": "stay_date", "reason": "not a date (YYYY-MM-DD)"}]
    with DuckDBWarehouse(cli_env["REPORTING_WAREHOUSE_PATH"]) as wh:
        assert _counts(wh, pilot) == dict.fromkeys(TABLES, 0)


def test_the_command_refuses_a_tenant_without_reporting(services: Services, cli_env: dict[str, str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    stranger = str(uuid.uuid4())

    code = cli(["import-history", "--tenant", stranger, "--property", str(uuid.uuid4()), "--dir", str(SAMPLE_DIR)])

    assert code == 2
    assert "reporting is not enabled for this tenant" in capsys.readouterr().err


def test_the_cloud_run_job_entry_point_loads_the_sample(services: Services, cli_env: dict[str, str]) -> None:
    pilot = _pilot(services)

    done = subprocess.run([sys.executable, str(REPO / "jobs" / "import_history" / "main.py"), "--tenant",
                           pilot.tenant_id, "--property", pilot.property_id, "--dir", str(SAMPLE_DIR)],
                          env={**os.environ, **cli_env}, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == SAMPLE_COUNTS
    with DuckDBWarehouse(cli_env["REPORTING_WAREHOUSE_PATH"]) as wh:
        assert _counts(wh, pilot) == SAMPLE_COUNTS


# -- files from the transfer bucket (gs://) on the GCS emulator --------------------------------------------


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcs_emulator.GcsEmulator]:
    emulator = gcs_emulator.start(tmp_path_factory.mktemp("gcs-history"))
    yield emulator
    emulator.stop()


def test_files_are_read_from_the_transfer_bucket(services: Services, cli_env: dict[str, str],
                                                 gcs: gcs_emulator.GcsEmulator, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.host)
    pilot = _pilot(services)
    bucket = storage.Client().create_bucket(f"transfer-{uuid.uuid4().hex[:12]}")
    prefix = f"history/{pilot.tenant_id}/{pilot.property_id}/"
    for path in SAMPLE_DIR.iterdir():
        bucket.blob(prefix + path.name).upload_from_filename(str(path))
    bucket.blob(prefix + "2024/rooms.csv").upload_from_string(b"an older export, one level down: not read\n")
    bucket.blob(prefix + "README.txt").upload_from_string(b"not a history file\n")
    location = f"gs://{bucket.name}/{prefix}"

    assert read_history_files(location) == read_history_files(str(SAMPLE_DIR))
    code, summary = _cli_json(capsys, "import-history", "--tenant", pilot.tenant_id, "--property", pilot.property_id,
                              "--dir", location)
    assert (code, summary["rows"]) == (0, SAMPLE_COUNTS)
