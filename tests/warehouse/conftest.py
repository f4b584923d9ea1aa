"""One BigQuery emulator per test session, loaded with the same synthetic hotels as a local DuckDB warehouse."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from reporting.adapters.warehouse.bigquery import BigQueryWarehouse
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.devenv import bq_emulator
from reporting.devenv.synthetic_hotels import HotelSpec, generate, load_into
from tests.warehouse.bq_tables import create_warehouse, load_tables, table_counts
from tests.warehouse.hotels import END, HOTELS, LOCATION, START
from tests.warehouse.wire import WireTap

_figures: dict[str, float] = {}


@dataclasses.dataclass(frozen=True)
class LoadedWarehouses:
    """The same synthetic rows in a local DuckDB warehouse and in the emulator's `dw` dataset."""

    duck: DuckDBWarehouse
    hotels: tuple[HotelSpec, ...]
    counts: dict[str, int]  # rows per table, summed over the hotels


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bq_emulator.BigQueryEmulator]:
    """The emulator from its own virtualenv (built on first use); the session fails if it cannot start."""
    try:
        running = bq_emulator.start(tmp_path_factory.mktemp("bqemulator"))
    except bq_emulator.EmulatorUnavailable as exc:
        pytest.fail(f"BigQuery emulator unavailable: {exc}", pytrace=False)
    _figures.update(venv_seconds=running.venv_seconds, start_seconds=running.start_seconds)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def admin_client(emulator: bq_emulator.BigQueryEmulator) -> bigquery.Client:
    """A client straight to the emulator, for loading data and reading it back (not the adapter under test)."""
    return emulator.client()


@pytest.fixture(scope="session")
def loaded(emulator: bq_emulator.BigQueryEmulator, admin_client: bigquery.Client) -> Iterator[LoadedWarehouses]:
    """Every hotel generated once, loaded into DuckDB (load_into) and the emulator (NDJSON loads)."""
    create_warehouse(admin_client, "dw", LOCATION)
    duck = DuckDBWarehouse()
    counts: dict[str, int] = {}
    for spec in HOTELS:
        data = generate(spec, START, END)
        load_into(duck, data)
        for table, n in load_tables(admin_client, "dw", data.tables()).items():
            counts[table] = counts.get(table, 0) + n
    # A load that silently dropped rows would make every comparison below meaningless.
    assert table_counts(admin_client, "dw", list(counts)) == counts
    yield LoadedWarehouses(duck, HOTELS, counts)
    duck.close()


@pytest.fixture(scope="session")
def session_tap(emulator: bq_emulator.BigQueryEmulator) -> Iterator[WireTap]:
    tap = WireTap(emulator.endpoint)
    yield tap
    tap.close()


@pytest.fixture
def tap(session_tap: WireTap) -> Iterator[WireTap]:
    """The wire between the adapter and the emulator, empty and unaltered at the start of each test."""
    session_tap.reset()
    yield session_tap
    session_tap.reset()


def client_via(endpoint: str, project: str) -> bigquery.Client:
    """A real client, anonymous, talking to `endpoint` (the tap's, so every request goes through it)."""
    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=endpoint))


@pytest.fixture
def make_bq(emulator: bq_emulator.BigQueryEmulator, tap: WireTap):
    """Build a BigQueryWarehouse on the emulator, through the tap; keyword arguments go to the constructor."""

    def build(**kwargs: object) -> BigQueryWarehouse:
        options: dict[str, object] = {"location": LOCATION, "retry_seconds": 2.0, "timeout_seconds": 60.0}
        options.update(kwargs)
        return BigQueryWarehouse(emulator.project, client_factory=lambda: client_via(tap.endpoint, emulator.project),
                                 **options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def bq(make_bq) -> BigQueryWarehouse:
    return make_bq()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report the emulator's set-up cost, so a slow first run is explained rather than a mystery."""
    if _figures:
        terminalreporter.write_line(
            f"bqemulator: virtualenv {_figures['venv_seconds']:.1f} s (0 when it already existed), "
            f"start to ready {_figures['start_seconds']:.2f} s")
