"""History import validation: every bad row named by file, line, column and reason; nothing loaded on one error."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from reporting.adapters.warehouse.bigquery_loader import transaction_script
from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse
from reporting.domain.errors import NotFound, TenantLocked, ValidationFailed
from reporting.domain.tenant import Property, Residency, Tenant, TenantStatus
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.history_import import (FILES, MANIFEST_FILE, ImportContext, ImportHistory, RowError,
                                                    import_history, validate_history)
from reporting.service_layer.ports import WarehouseLoader
from tests.fakes import MutableClock

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples" / "history"
TENANT = "6f1c2a3e-8b4d-4e2f-9a61-3c7d5e0b9f12"
PROPERTY = "9d1e0c4a-7b2f-4c38-a5d6-1e2f3a4b5c6d"
CONTEXT = ImportContext(TENANT, PROPERTY, "AFN", date(2025, 3, 31))


def sample(with_manifest: bool = False) -> dict[str, bytes]:
    """The documented sample pilot files (valid), as the job reads them."""
    return {p.name: p.read_bytes() for p in sorted(SAMPLE_DIR.iterdir())
            if p.suffix == ".csv" or (with_manifest and p.name == MANIFEST_FILE)}


def _rows(files: Mapping[str, bytes], name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(files[name].decode("utf-8"))))


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def edit(files: Mapping[str, bytes], name: str, line: int, column: str, value: str) -> dict[str, bytes]:
    """The files with one cell changed (line 1 is the header)."""
    rows = _rows(files, name)
    rows[line - 1][rows[0].index(column)] = value
    return {**files, name: _csv(rows)}


def drop_line(files: Mapping[str, bytes], name: str, line: int) -> dict[str, bytes]:
    rows = _rows(files, name)
    del rows[line - 1]
    return {**files, name: _csv(rows)}


def append(files: Mapping[str, bytes], name: str, **values: str) -> dict[str, bytes]:
    """The files with one more data row; columns not given are empty."""
    rows = _rows(files, name)
    rows.append([values.get(c, "") for c in rows[0]])
    return {**files, name: _csv(rows)}


def errors_of(files: Mapping[str, bytes], context: ImportContext = CONTEXT) -> list[RowError]:
    result = validate_history(files, context)
    assert (result.history is None) == bool(result.errors)
    return result.errors


def only(errors: list[RowError]) -> RowError:
    assert len(errors) == 1, errors
    return errors[0]


# -- the sample --------------------------------------------------------------------------------------------


def test_the_documented_sample_is_valid_and_covers_four_business_days() -> None:
    result = validate_history(sample(with_manifest=True), CONTEXT)

    assert result.errors == []
    assert result.history is not None
    assert result.history.date_range == (date(2025, 3, 1), date(2025, 3, 4))
    assert result.history.counts() == {"rooms": 6, "guests": 8, "reservations": 8, "room_nights": 11,
                                       "room_status_daily": 3}


def test_rows_are_typed_and_never_carry_tenant_or_property() -> None:
    history = validate_history(sample(), CONTEXT).history
    assert history is not None

    night = history.tables["room_nights"][0]
    stay = history.tables["reservations"][0]
    assert night == {"reservation_id": "res-001", "room_id": "rm-101", "stay_date": date(2025, 3, 1),
                     "room_revenue": pytest.approx(5000), "currency": "AFN"}
    assert stay["checked_in_at"] == datetime(2025, 3, 1, 14, 5)
    assert stay["is_complimentary"] is False and stay["adults"] == 1
    assert all("tenant_id" not in row and "property_id" not in row
               for rows in history.tables.values() for row in rows)


def test_the_range_follows_the_files_not_a_fixed_window() -> None:
    files = append(sample(), "room_status_daily.csv", business_date="2025-02-20", room_id="rm-101",
                   status="out_of_service")

    history = validate_history(files, CONTEXT).history

    assert history is not None and history.date_range == (date(2025, 2, 20), date(2025, 3, 4))


def test_an_absent_room_status_file_means_no_statuses_in_the_range() -> None:
    files = {k: v for k, v in sample().items() if k != "room_status_daily.csv"}

    history = validate_history(files, CONTEXT).history

    assert history is not None and history.tables["room_status_daily"] == []


# -- cells: every kind of bad value, with its file, line, column and reason -----------------------------------

BAD_CELLS = [
    ("reservations.csv", 2, "arrival_date", "2025-13-01", "not a date (YYYY-MM-DD)"),
    ("reservations.csv", 2, "arrival_date", "01/03/2025", "not a date (YYYY-MM-DD)"),
    ("reservations.csv", 3, "adults", "two", "not a whole number"),
    ("reservations.csv", 3, "adults", "-1", "below the minimum of 0"),
    ("reservations.csv", 3, "children", "100", "above the maximum of 99"),
    ("rooms.csv", 2, "floor", "1.5", "not a whole number"),
    ("room_nights.csv", 2, "room_revenue", "5000.125", "more than 2 decimal places"),
    ("room_nights.csv", 2, "room_revenue", "5,000.00", "not a decimal number (digits, optional '.' and decimals; "
                                                       "no thousands separators)"),
    ("room_nights.csv", 2, "room_revenue", "-5000.00", "below the minimum of 0"),
    ("reservations.csv", 4, "status", "checked-out",
     "not one of: checked_out, in_house, reserved, cancelled, no_show"),
    ("room_status_daily.csv", 2, "status", "broken", "not one of: out_of_order, out_of_service"),
    ("reservations.csv", 2, "is_complimentary", "yes", "not true or false"),
    ("reservations.csv", 2, "currency", "afn", "not an ISO 4217 currency code (three capitals)"),
    ("guests.csv", 3, "nationality", "Pakistan", "not an ISO 3166-1 alpha-2 country code (two capitals)"),
    ("guests.csv", 3, "display_name", "N" * 201, "longer than 200 characters"),
    ("reservations.csv", 2, "checked_in_at", "2025-03-01T14:05+04:30",
     "not a local date and time (YYYY-MM-DDTHH:MM[:SS], no time zone)"),
    ("reservations.csv", 2, "reservation_id", "", "required: the cell is empty"),
    ("rooms.csv", 3, "room_type", "  ", "required: the cell is empty"),
]


@pytest.mark.parametrize(("file", "line", "column", "value", "reason"), BAD_CELLS,
                         ids=[f"{c[0]}:{c[2]}:{c[4][:24]}" for c in BAD_CELLS])
def test_a_bad_cell_is_reported_with_file_line_column_and_reason(file: str, line: int, column: str, value: str,
                                                                 reason: str) -> None:
    errors = errors_of(edit(sample(), file, line, column, value))

    assert RowError(file, line, column, reason) in errors


# -- rules within a file and across files ------------------------------------------------------------------


def test_departure_must_be_after_arrival() -> None:
    files = edit(sample(), "reservations.csv", 7, "departure_date", "2025-03-02")  # res-006 arrives 03-02

    assert only(errors_of(files)) == RowError("reservations.csv", 7, "departure_date", "not after arrival_date")


def test_a_repeated_key_names_the_line_it_repeats() -> None:
    files = edit(sample(), "guests.csv", 4, "guest_id", "g-001")

    assert RowError("guests.csv", 4, "guest_id", "guest_id repeats line 2") in errors_of(files)


def test_a_night_outside_its_stay_is_refused() -> None:
    files = edit(sample(), "room_nights.csv", 3, "stay_date", "2025-03-03")  # res-001 leaves on 03-03

    assert RowError("room_nights.csv", 3, "stay_date",
                    "outside the stay of its reservation (reservations.csv line 2: from arrival_date to the day "
                    "before departure_date)") in errors_of(files)


def test_a_night_in_an_unknown_room_or_for_an_unknown_reservation_is_refused() -> None:
    files = edit(edit(sample(), "room_nights.csv", 2, "room_id", "rm-999"), "room_nights.csv", 4, "reservation_id",
                 "res-999")

    errors = errors_of(files)

    assert RowError("room_nights.csv", 2, "room_id", "no room with this room_id in rooms.csv") in errors
    assert RowError("room_nights.csv", 4, "reservation_id",
                    "no reservation with this reservation_id in reservations.csv") in errors


def test_a_reservation_needs_a_known_guest_and_room() -> None:
    files = edit(edit(sample(), "reservations.csv", 2, "guest_id", "g-999"), "reservations.csv", 3, "room_id",
                 "rm-999")

    errors = errors_of(files)

    assert RowError("reservations.csv", 2, "guest_id", "no guest with this guest_id in guests.csv") in errors
    assert RowError("reservations.csv", 3, "room_id", "no room with this room_id in rooms.csv") in errors


def test_a_room_holds_one_stay_per_night() -> None:
    # res-002's only night moved into rm-101, where res-001 sleeps that night.
    files = edit(sample(), "room_nights.csv", 4, "room_id", "rm-101")

    assert RowError("room_nights.csv", 4, "stay_date",
                    "room_id and stay_date (the room is already occupied) repeats line 2") in errors_of(files)


def test_a_checked_out_stay_needs_a_night_for_each_date() -> None:
    files = drop_line(sample(), "room_nights.csv", 6)  # res-003's night of 03-02

    assert only(errors_of(files)) == RowError("reservations.csv", 4, "status",
                                              "checked_out, but room_nights.csv lacks 1 of its 3 nights")


def test_a_cancelled_stay_has_no_nights() -> None:
    files = append(sample(), "room_nights.csv", reservation_id="res-006", room_id="rm-102", stay_date="2025-03-02",
                   room_revenue="5000.00", currency="AFN")

    assert only(errors_of(files)) == RowError(
        "room_nights.csv", 13, "reservation_id",
        "its reservation is not checked_out or in_house: cancelled, no-show and future stays have no room nights")


def test_a_complimentary_night_carries_no_revenue() -> None:
    files = edit(sample(), "room_nights.csv", 8, "room_revenue", "4000.00")  # res-004 is complimentary

    assert only(errors_of(files)) == RowError("room_nights.csv", 8, "room_revenue",
                                              "not 0 on a complimentary or house-use stay")


def test_money_is_in_the_property_currency() -> None:
    errors = errors_of(sample(), ImportContext(TENANT, PROPERTY, "SAR", date(2025, 3, 31)))

    assert RowError("room_nights.csv", 2, "currency", "not the property's currency") in errors
    assert RowError("reservations.csv", 2, "currency", "not the property's currency") in errors


def test_history_ends_at_the_last_closed_business_date() -> None:
    errors = errors_of(sample(), ImportContext(TENANT, PROPERTY, "AFN", date(2025, 3, 3)))

    assert RowError("room_nights.csv", 11, "stay_date",
                    "after the property's last closed business date (history ends yesterday)") in errors
    assert RowError("reservations.csv", 8, "arrival_date",
                    "after the property's last closed business date (history ends yesterday)") in errors


def test_only_a_cancelled_reservation_has_a_cancellation_date() -> None:
    files = edit(sample(), "reservations.csv", 2, "cancelled_on", "2025-02-11")

    assert only(errors_of(files)) == RowError("reservations.csv", 2, "cancelled_on",
                                              "only a cancelled reservation has one")


def test_a_room_status_names_a_known_room() -> None:
    files = edit(sample(), "room_status_daily.csv", 2, "room_id", "rm-999")

    assert only(errors_of(files)) == RowError("room_status_daily.csv", 2, "room_id",
                                              "no room with this room_id in rooms.csv")


# -- headers and the file set -------------------------------------------------------------------------------


def test_tenant_and_property_never_come_from_a_file() -> None:
    rows = _rows(sample(), "rooms.csv")
    files = {**sample(), "rooms.csv": _csv([["tenant_id", *rows[0]], *[["someone-else", *r] for r in rows[1:]]])}

    assert only(errors_of(files)) == RowError("rooms.csv", 1, "tenant_id",
                                              "comes from the job's --tenant / --property, never from the file")


def test_identity_documents_are_refused_with_a_reason() -> None:
    rows = _rows(sample(), "guests.csv")
    files = {**sample(), "guests.csv": _csv([[*rows[0], "document_number"], *[[*r, "P1234567"] for r in rows[1:]]])}

    error = only(errors_of(files))

    assert (error.file, error.line, error.column) == ("guests.csv", 1, "document_number")
    assert error.reason.startswith("not imported: guest identity and document data")


def test_an_unknown_or_missing_column_is_a_header_error() -> None:
    rows = _rows(sample(), "rooms.csv")
    renamed = [["room_id", "number", "room_type", "floor"], *rows[1:]]

    errors = errors_of({**sample(), "rooms.csv": _csv(renamed)})

    assert errors[:2] == [RowError("rooms.csv", 1, "number", "not a column history import loads into dw.rooms"),
                          RowError("rooms.csv", 1, "room_number", "required column missing from the header")]


def test_a_broken_header_skips_the_checks_that_would_read_that_file() -> None:
    rows = _rows(sample(), "rooms.csv")
    files = {**sample(), "rooms.csv": _csv([["room_id", "room_number", "room_type", "flor"], *rows[1:]])}

    # Only the header error: no "no room with this room_id" for every night that names a room.
    assert only(errors_of(files)).file == "rooms.csv"


def test_a_required_file_missing_and_an_unknown_file_are_both_reported() -> None:
    files = {k: v for k, v in sample().items() if k != "guests.csv"}
    files["folios.csv"] = b"folio_id\nf-1\n"

    errors = errors_of(files)

    assert RowError("guests.csv", None, None, "missing: the import needs this file") in errors
    assert RowError("folios.csv", None, None, "not a history file; expected guests.csv, reservations.csv, "
                                              "room_nights.csv, room_status_daily.csv, rooms.csv") in errors


def test_a_row_with_the_wrong_number_of_cells() -> None:
    files = {**sample(), "rooms.csv": sample()["rooms.csv"] + b"rm-301,301,STD\n"}

    assert only(errors_of(files)) == RowError("rooms.csv", 8, None, "has 3 cells; the header has 4")


def test_an_unbalanced_quote_is_reported_at_its_line() -> None:
    files = {**sample(), "rooms.csv": sample()["rooms.csv"] + b'rm-301,"301,STD,3\n'}

    assert only(errors_of(files)) == RowError(
        "rooms.csv", 8, None, "not valid CSV from this line on (an unbalanced quote, or a cell over 128 KiB?)")


def test_all_empty_rows_from_a_spreadsheet_are_skipped() -> None:
    files = {**sample(), "rooms.csv": sample()["rooms.csv"] + b",,,\n ,,, \n"}

    assert errors_of(files) == []


def test_a_file_that_is_not_utf8_is_reported_at_the_first_bad_line() -> None:
    data = sample()["guests.csv"].replace(b"SAMPLE Charlie", b"SAMPLE Ch\xe4rlie")

    assert only(errors_of({**sample(), "guests.csv": data})) == RowError(
        "guests.csv", 4, None, "not UTF-8 text (save the file as CSV UTF-8)")


def test_a_spreadsheet_byte_order_mark_and_crlf_lines_are_accepted() -> None:
    files = {name: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n") for name, data in sample().items()}

    assert errors_of(files) == []


def test_line_numbers_count_physical_lines_when_a_quoted_cell_spans_two() -> None:
    files = edit(sample(), "guests.csv", 2, "display_name", "SAMPLE Alpha\nTestguest")
    files = edit(files, "guests.csv", 4, "nationality", "??")

    errors = errors_of(files)

    assert errors == [RowError("guests.csv", 2, "display_name",
                               "contains control characters (tab, line break or similar)"),
                      RowError("guests.csv", 5, "nationality",
                               "not an ISO 3166-1 alpha-2 country code (two capitals)")]


def test_a_manifest_catches_a_changed_or_missing_file() -> None:
    files = edit(sample(with_manifest=True), "room_nights.csv", 2, "room_revenue", "5100.00")
    del files["room_status_daily.csv"]

    errors = errors_of(files)

    assert RowError("room_nights.csv", None, None,
                    "sha256 differs from manifest.json (changed or incomplete)") in errors
    assert RowError("room_status_daily.csv", None, None, "listed in manifest.json but not received") in errors


def test_every_error_is_collected_not_only_the_first() -> None:
    files = edit(sample(), "rooms.csv", 3, "floor", "one")
    files = edit(files, "reservations.csv", 5, "adults", "x")
    files = edit(files, "room_nights.csv", 12, "stay_date", "2025-3-4")

    errors = errors_of(files)

    assert [(e.file, e.line, e.column) for e in errors] == [
        ("rooms.csv", 3, "floor"), ("reservations.csv", 5, "adults"), ("room_nights.csv", 12, "stay_date")]


def test_empty_files_are_nothing_to_import() -> None:
    files = {name: data.split(b"\n", 1)[0] + b"\n" for name, data in sample().items()}

    assert RowError("reservations.csv", None, None,
                    "nothing to import: no reservation, room night or room status rows") in errors_of(files)


# -- personal data never appears in a reason ----------------------------------------------------------------

SECRET_NAME = "Zyxwvut Secretname-4711"
SECRET_DOCUMENT = "P99887766"


def test_reasons_never_contain_the_offending_personal_values() -> None:
    files = edit(sample(), "guests.csv", 2, "display_name", SECRET_NAME * 20)  # too long
    files = edit(files, "guests.csv", 3, "display_name", SECRET_NAME.replace(" ", "\t"))  # a control character
    files = edit(files, "guests.csv", 4, "guest_id", SECRET_NAME)  # res-003 now names an unknown guest
    files = edit(files, "guests.csv", 5, "nationality", SECRET_NAME)
    files = edit(files, "reservations.csv", 2, "confirmation_number", SECRET_DOCUMENT * 10)
    rows = _rows(files, "guests.csv")
    files["guests.csv"] = _csv([[*rows[0], "document_number"], *[[*r, SECRET_DOCUMENT] for r in rows[1:]]])

    errors = errors_of(files)
    text = json.dumps([e.as_dict() for e in errors])

    assert len(errors) >= 1
    assert SECRET_NAME not in text and "Secretname" not in text and SECRET_DOCUMENT not in text
    # With the header fixed, every cell problem is reported, still without its value.
    files["guests.csv"] = _csv([r[:-1] for r in _rows(files, "guests.csv")])
    errors = errors_of(files)
    text = json.dumps([e.as_dict() for e in errors])
    assert {(e.file, e.line, e.column) for e in errors} >= {
        ("guests.csv", 2, "display_name"), ("guests.csv", 3, "display_name"), ("guests.csv", 5, "nationality"),
        ("reservations.csv", 2, "confirmation_number"), ("reservations.csv", 4, "guest_id")}
    assert SECRET_NAME not in text and "Secretname" not in text and SECRET_DOCUMENT not in text


# -- the declared schema matches the warehouse ----------------------------------------------------------------

_DUCKDB_TYPES = {"id": "VARCHAR", "text": "VARCHAR", "enum": "VARCHAR", "country": "VARCHAR",
                 "currency": "VARCHAR", "date": "DATE", "datetime": "TIMESTAMP", "int": "BIGINT",
                 "decimal": "DECIMAL(38,9)", "bool": "BOOLEAN"}


def test_every_declared_column_is_a_warehouse_column_of_the_same_type() -> None:
    with DuckDBWarehouse() as wh:
        cur = wh._cursor()
        found = {(t, c): (ty, nullable) for t, c, ty, nullable in cur.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'dw'").fetchall()}
    for spec in FILES:
        table_columns = {c for (t, c) in found if t == spec.table}
        for col in spec.columns:
            assert found[(spec.table, col.name)][0] == _DUCKDB_TYPES[col.kind], (spec.table, col.name)
        for name in table_columns - {"tenant_id", "property_id"}:
            declared = spec.column(name)
            assert declared is not None or name in spec.not_imported, (
                f"dw.{spec.table}.{name} is new: declare it in history_import.py or list it as not imported")
            if found[(spec.table, name)][1] == "NO":
                assert declared is not None and declared.required, f"dw.{spec.table}.{name} is NOT NULL"


# -- the use case: nothing loaded unless every row is valid ------------------------------------------------


class RecordingLoader(WarehouseLoader):
    """Keeps every load it is given (an honest stand-in: the adapters are tested on DuckDB and BigQuery)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def replace_history(self, tenant_id: str, property_id: str, date_range: tuple[date, date],
                        tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                        import_id: str | None = None) -> dict[str, int]:
        self.calls.append({"tenant_id": tenant_id, "property_id": property_id, "date_range": date_range,
                           "tables": tables, "import_id": import_id})
        return {table: len(rows) for table, rows in tables.items()}


class _Store:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.properties: dict[str, Property] = {}
        self.audit: list[dict[str, Any]] = []


class FakeUow:
    """The slice of the unit of work the import uses; audit entries count only when committed."""

    def __init__(self, store: _Store, tenant_id: str | None) -> None:
        self._store = store
        self._tenant_id = tenant_id
        self._pending: list[dict[str, Any]] = []
        self.tenants = self
        self.properties = self
        self.audit = self

    def get(self, key: str) -> Any:
        if key in self._store.tenants:
            return self._store.tenants[key]
        prop = self._store.properties.get(key)
        return prop if prop is not None and prop.tenant_id == self._tenant_id else None  # RLS

    def append(self, **entry: Any) -> None:
        self._pending.append(entry)

    def commit(self) -> None:
        self._store.audit.extend(self._pending)
        self._pending = []

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pending = []


def _unused() -> Any:
    raise AssertionError("not used by the history import")


@pytest.fixture
def store() -> _Store:
    s = _Store()
    s.tenants[TENANT] = Tenant(TENANT, "Pilot group", Residency.AF, "local-af", features={"reporting_v1": True})
    s.properties[PROPERTY] = Property(PROPERTY, TENANT, "Sample Pilot Guesthouse", "Asia/Kabul", "AFN", "AF", "en", 6)
    return s


def _deps(store: _Store) -> Dependencies:
    return Dependencies(uow=lambda tenant_id, **_: FakeUow(store, tenant_id),
                        clock=MutableClock(datetime(2025, 4, 1, 6, 0, tzinfo=timezone.utc)), residency=Residency.AF,
                        warehouse=_unused, renderer=_unused, artifact_store=_unused)


def test_one_bad_row_loads_nothing(store: _Store) -> None:
    loader = RecordingLoader()
    files = edit(sample(), "room_nights.csv", 9, "room_revenue", "abc")

    outcome = import_history(ImportHistory(TENANT, PROPERTY), files, _deps(store), loader)

    assert loader.calls == [] and store.audit == []
    assert not outcome.loaded
    assert outcome.as_dict()["errors"] == [{"file": "room_nights.csv", "line": 9, "column": "room_revenue",
                                            "reason": "not a decimal number (digits, optional '.' and decimals; "
                                                      "no thousands separators)"}]


def test_valid_files_are_loaded_once_for_their_range_and_audited(store: _Store) -> None:
    loader = RecordingLoader()
    reported: list[tuple[int, int]] = []

    outcome = import_history(ImportHistory(TENANT, PROPERTY), sample(with_manifest=True), _deps(store), loader,
                             progress=lambda done, total: reported.append((done, total)))

    assert outcome.loaded and outcome.errors == []
    [call] = loader.calls
    assert (call["tenant_id"], call["property_id"]) == (TENANT, PROPERTY)
    assert call["date_range"] == (date(2025, 3, 1), date(2025, 3, 4))
    assert call["import_id"] == outcome.manifest.digest
    assert outcome.as_dict()["rows"] == {"rooms": 6, "guests": 8, "reservations": 8, "room_nights": 11,
                                         "room_status_daily": 3}
    assert reported[-1] == (36, 36)
    [entry] = store.audit
    assert entry["action"] == "history.imported" and entry["target_id"] == PROPERTY
    assert entry["details"]["manifest_sha256"] == outcome.manifest.digest


def test_a_dry_run_validates_and_loads_nothing(store: _Store) -> None:
    loader = RecordingLoader()

    outcome = import_history(ImportHistory(TENANT, PROPERTY, dry_run=True), sample(), _deps(store), loader)

    assert loader.calls == [] and store.audit == []
    assert outcome.as_dict()["date_range"] == {"first": "2025-03-01", "last": "2025-03-04"}
    assert outcome.dry_run and not outcome.loaded


def test_a_tenant_locked_for_a_residency_move_is_refused(store: _Store) -> None:
    store.tenants[TENANT].status = TenantStatus.LOCKED_READONLY

    with pytest.raises(TenantLocked):
        import_history(ImportHistory(TENANT, PROPERTY), sample(), _deps(store), RecordingLoader())


def test_another_tenants_property_is_not_found(store: _Store) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    store.tenants[other] = Tenant(other, "Other group", Residency.AF, "local-af", features={"reporting_v1": True})

    with pytest.raises(NotFound):
        import_history(ImportHistory(other, PROPERTY), sample(), _deps(store), RecordingLoader())


def test_ids_that_are_not_uuids_are_refused_before_any_lookup(store: _Store) -> None:
    with pytest.raises(ValidationFailed, match="--property must be a UUID"):
        import_history(ImportHistory(TENANT, "rooms'; --"), sample(), _deps(store), RecordingLoader())


# -- the BigQuery script's shape (it runs for real on the emulator in tests/integration) ---------------------


def test_the_bigquery_script_is_one_transaction_with_no_values_in_its_text() -> None:
    script = transaction_script("reporting-test", "dw", "0123abcd", {
        "rooms": ["tenant_id", "property_id", "room_id", "room_number"],
        "reservations": ["tenant_id", "property_id", "reservation_id", "arrival_date"]})
    statements = [s.split(" ", 1)[0] for s in script.strip().splitlines()]

    assert statements == ["DECLARE"] * 4 + ["BEGIN", "DELETE", "DELETE", "DELETE", "MERGE", "INSERT", "COMMIT"]
    assert "WHEN MATCHED THEN UPDATE SET `room_number` = s.`room_number`" in script
    assert "'" not in script  # no literal: the scope is read from the staged scope table


def test_the_bigquery_script_refuses_an_identifier_it_cannot_quote_safely() -> None:
    with pytest.raises(ValueError, match="not a plain BigQuery identifier"):
        transaction_script("reporting-test", "dw", "0123abcd", {"rooms": ["room_id`; DROP TABLE x; --"]})
