"""Historical import (issue 7 item 2, plan §8): load a pilot property's occupancy history from CSV files.

**What a pilot's history looks like** (the decision): one CSV file per warehouse table the reports
read — rooms.csv, guests.csv, reservations.csv, room_nights.csv and room_status_daily.csv (this one
optional) — with a header line naming the table's columns. tenant_id and property_id are never in a
file: they come from the job's --tenant / --property, so a file cannot put rows into another tenant.
Why facts and not a "daily occupancy summary" CSV: the reports compute from facts at their grain
(a room night, a room's status on a date), so a summary would have to be landed either as invented
room nights (made-up rooms and rates that other reports — arrivals, revenue by segment, in-house —
would then present as real) or in a new aggregate table that no dataset reads. Facts let every report
apply the same USALI rules to imported dates as to live ones, and let this job check the history for
consistency (a night inside its stay, one guest per room and night) instead of trusting totals.

**Data minimisation.** Only the columns operational reports use are imported. Guest identity and
document data, and the travel data regulatory forms need, are refused with a reason: past regulatory
submissions are never redone from here (SPEC §3: backfilled runs create no submissions), so the
warehouse has no use for a pilot's passport numbers.

**Validation.** Every cell is checked against the declared column (type, required, length, enum,
decimal places, bounds), every row against its table's rules (departure after arrival, keys unique,
dates no later than the property's last closed business date) and across files (a night's
reservation and room exist, the night is inside the stay, a checked-out stay has a night for each
date, one currency: the property's). All errors are collected as (file, line, column, reason);
reasons name the rule and never echo a cell (a guest's name, a document number). One error and
nothing is loaded.

**Safe to run twice.** The import covers the business dates from the earliest to the latest arrival,
stay or status date in its files. The warehouse loader (ports.WarehouseLoader) replaces exactly the
tenant and property's reservations, nights and statuses of that range with the files' rows, and
upserts rooms and guests by id, in one atomic operation: a second run of the same files leaves the
same state, and a corrected file replaces the first one's rows. The manifest (each file's sha256,
size and rows) identifies the load in the job's summary, the BigQuery job labels and the audit log.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reporting.domain.errors import NotFound, ValidationFailed
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.ports import WarehouseLoader, business_yesterday
from reporting.service_layer.tenants import require_writable_tenant

log = get_logger(__name__)

__all__ = [
    "FILES", "MANIFEST_FILE", "Column", "FileSpec", "RowError", "ManifestEntry", "Manifest", "ImportContext",
    "ValidatedHistory", "ValidationResult", "ImportHistory", "ImportOutcome", "validate_history",
    "import_history", "read_history_files",
]

MANIFEST_FILE = "manifest.json"
AUDIT_ACTOR = "history-import"
EARLIEST_BUSINESS_DATE = date(2000, 1, 1)  # anything older is a unit or typing mistake, not hotel history
MAX_FILE_BYTES = 256 * 2**20  # a large hotel's two years of room nights is ~30 MB; more is not a history file
PROGRESS_EVERY_ROWS = 5000
STAYED = ("checked_out", "in_house")  # the statuses whose nights the night audit posted

# -- declared schema -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One importable column: its kind (id, text, date, datetime, int, decimal, bool, enum, country,
    currency) and the limits a cell must meet."""

    name: str
    kind: str
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    scale: int | None = None
    minimum: int | None = None
    maximum: int | None = None


def _id(name: str, required: bool = True) -> Column:
    return Column(name, "id", required, max_length=64)


def _text(name: str, max_length: int, required: bool = False) -> Column:
    return Column(name, "text", required, max_length=max_length)


def _enum(name: str, choices: tuple[str, ...], required: bool = False) -> Column:
    return Column(name, "enum", required, choices=choices)


def _money(name: str, required: bool = False) -> Column:
    # AFN, INR and SAR all have two minor units (ISO 4217); a third decimal is an export bug, not a price.
    return Column(name, "decimal", required, scale=2, minimum=0)


@dataclass(frozen=True)
class FileSpec:
    """One history file: the dw table it feeds, its columns, its key and the table columns it leaves out."""

    file: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    not_imported: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        """The declared column called `name`, if any."""
        return next((c for c in self.columns if c.name == name), None)


_IDENTITY = ("not imported: guest identity and document data stay in the pilot's own records "
             "(history feeds operational reports; past regulatory submissions are not redone)")
_TRAVEL = ("not imported: travel data for regulatory forms stays in the pilot's own records "
           "(past regulatory submissions are not redone)")

ROOMS = FileSpec("rooms.csv", "rooms", (
    _id("room_id"), Column("room_number", "id", True, max_length=16), _text("room_type", 32, True),
    Column("floor", "int", minimum=-10, maximum=300),
), key=("room_id",))
GUESTS = FileSpec("guests.csv", "guests", (
    _id("guest_id"), _text("display_name", 200), Column("nationality", "country"), Column("is_foreign", "bool"),
), key=("guest_id",), not_imported=dict.fromkeys((
    "family_name", "given_names", "gender", "date_of_birth", "home_address", "home_city", "home_country",
    "document_type", "document_number", "document_issuing_country", "document_issue_place",
    "document_issue_date", "document_expiry_date", "visa_number", "visa_type", "visa_issue_place",
    "visa_issue_date", "visa_expiry_date"), _IDENTITY))
RESERVATIONS = FileSpec("reservations.csv", "reservations", (
    _id("reservation_id"), _id("guest_id"),
    Column("arrival_date", "date", True), Column("departure_date", "date", True),
    _enum("status", ("checked_out", "in_house", "reserved", "cancelled", "no_show"), True),
    _enum("segment", ("transient", "corporate", "group", "government", "ota")),
    _enum("channel", ("direct", "ota", "walk_in", "corporate")),
    _text("rate_plan", 64), Column("is_complimentary", "bool", True), Column("is_house_use", "bool", True),
    Column("adults", "int", True, minimum=0, maximum=99), Column("children", "int", True, minimum=0, maximum=99),
    _id("group_code", False), _id("confirmation_number", False), _text("room_type", 32), _id("room_id", False),
    _money("nightly_rate"), Column("currency", "currency"), Column("booked_on", "date"),
    Column("cancelled_on", "date"), _text("cancellation_reason", 200), _money("penalty_amount"),
    Column("checked_in_at", "datetime"), Column("checked_out_at", "datetime"),
), key=("reservation_id",), not_imported=dict.fromkeys((
    "purpose_of_visit", "arrived_from_city", "arrived_from_country", "next_destination_city",
    "next_destination_country", "country_entry_date"), _TRAVEL))
ROOM_NIGHTS = FileSpec("room_nights.csv", "room_nights", (
    _id("reservation_id"), _id("room_id"), Column("stay_date", "date", True), _money("room_revenue", True),
    Column("currency", "currency", True),
), key=("reservation_id", "stay_date"))
ROOM_STATUS_DAILY = FileSpec("room_status_daily.csv", "room_status_daily", (
    Column("business_date", "date", True), _id("room_id"), _enum("status", ("out_of_order", "out_of_service"), True),
), key=("business_date", "room_id"), required=False)

# Order matters: rooms and guests first, so referential checks read them; errors are reported in this order.
FILES: tuple[FileSpec, ...] = (ROOMS, GUESTS, RESERVATIONS, ROOM_NIGHTS, ROOM_STATUS_DAILY)
_SCOPE_COLUMNS = ("tenant_id", "property_id")

# -- results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class RowError:
    """One problem: where (file, line — 1 is the header — and column) and which rule; never the cell's value."""

    file: str
    line: int | None
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"file": self.file, "line": self.line, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class ManifestEntry:
    """One file as received: sha256, size and data rows."""

    file: str
    sha256: str
    bytes: int
    rows: int


@dataclass(frozen=True)
class Manifest:
    """The files of one import; its digest names the load (same files, same digest)."""

    entries: tuple[ManifestEntry, ...]

    @property
    def digest(self) -> str:
        """sha256 over the files' names and sha256s (sorted)."""
        canonical = json.dumps(sorted([e.file, e.sha256] for e in self.entries), separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in the shape manifest.json takes."""
        return {"sha256": self.digest,
                "files": {e.file: {"sha256": e.sha256, "bytes": e.bytes, "rows": e.rows} for e in self.entries}}


@dataclass(frozen=True)
class ImportContext:
    """What validation needs to know about the property (from the tenant mirror, never from the files)."""

    tenant_id: str
    property_id: str
    currency: str
    last_closed_date: date  # the property's yesterday: history ends at a closed business date


@dataclass(frozen=True)
class ValidatedHistory:
    """Typed rows per dw table (without tenant_id / property_id) and the business dates they cover."""

    tables: dict[str, list[dict[str, Any]]]
    date_range: tuple[date, date]

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {table: len(rows) for table, rows in self.tables.items()}


@dataclass(frozen=True)
class ValidationResult:
    """Either a history to load or the errors that refuse it; the manifest either way."""

    manifest: Manifest
    history: ValidatedHistory | None
    errors: list[RowError]


# -- cells -----------------------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_DECIMAL = re.compile(r"^[+-]?(\d+)(?:\.(\d+))?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BOOLS = {"true": True, "false": False}
_NUMERIC_INTEGER_DIGITS = 29  # BigQuery NUMERIC: 38 digits, 9 of them after the point


def _cell(col: Column, raw: str) -> tuple[Any, str | None]:
    """The typed value of one non-empty cell, or the reason it is refused (which never quotes the cell)."""
    if col.kind in ("id", "text"):
        if col.max_length is not None and len(raw) > col.max_length:
            return None, f"longer than {col.max_length} characters"
        if _CONTROL.search(raw):
            return None, "contains control characters (tab, line break or similar)"
        return raw, None
    if col.kind == "date":
        try:
            if _DATE.match(raw):
                return date.fromisoformat(raw), None
        except ValueError:
            pass
        return None, "not a date (YYYY-MM-DD)"
    if col.kind == "datetime":
        try:
            if _DATETIME.match(raw):
                return datetime.fromisoformat(raw.replace(" ", "T")), None
        except ValueError:
            pass
        return None, "not a local date and time (YYYY-MM-DDTHH:MM[:SS], no time zone)"
    if col.kind == "int":
        if not _INT.match(raw):
            return None, "not a whole number"
        return _bounded(col, int(raw), int(raw))
    if col.kind == "decimal":
        m = _DECIMAL.match(raw)
        if not m:
            return None, "not a decimal number (digits, optional '.' and decimals; no thousands separators)"
        if col.scale is not None and len(m.group(2) or "") > col.scale:
            return None, f"more than {col.scale} decimal places"
        if len(m.group(1).lstrip("0")) > _NUMERIC_INTEGER_DIGITS:
            return None, f"more than {_NUMERIC_INTEGER_DIGITS} digits before the decimal point"
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            return None, "not a decimal number"
        return _bounded(col, value, value)
    if col.kind == "bool":
        value = _BOOLS.get(raw.lower())
        return (value, None) if value is not None else (None, "not true or false")
    if col.kind == "enum":
        return (raw, None) if raw in col.choices else (None, "not one of: " + ", ".join(col.choices))
    if col.kind == "country":
        return (raw, None) if _COUNTRY.match(raw) else (None, "not an ISO 3166-1 alpha-2 country code (two capitals)")
    if col.kind == "currency":
        return (raw, None) if _CURRENCY.match(raw) else (None, "not an ISO 4217 currency code (three capitals)")
    raise ValueError(f"column {col.name}: unknown kind {col.kind!r}")  # a bug in the declared schema


def _bounded(col: Column, value: Any, number: int | Decimal) -> tuple[Any, str | None]:
    """The value if within the column's bounds."""
    if col.minimum is not None and number < col.minimum:
        return None, f"below the minimum of {col.minimum}"
    if col.maximum is not None and number > col.maximum:
        return None, f"above the maximum of {col.maximum}"
    return value, None


# -- files -----------------------------------------------------------------------------------------------


@dataclass
class _Row:
    """A data row as parsed: its first physical line, typed values, and the columns whose cell was refused."""

    line: int
    values: dict[str, Any]
    bad: set[str]

    def ok(self, *columns: str) -> bool:
        """True when every named column holds a valid (possibly empty) value."""
        return not self.bad.intersection(columns)


@dataclass
class _ParsedFile:
    spec: FileSpec
    header: list[str]
    rows: list[_Row]
    usable: bool  # False: the header (or encoding) is broken, so its rows were not read


class _Errors:
    """Collects RowErrors for one file."""

    def __init__(self, sink: list[RowError], file: str) -> None:
        self._sink = sink
        self.file = file

    def add(self, line: int | None, column: str | None, reason: str) -> None:
        self._sink.append(RowError(self.file, line, column, reason))


class _Progress:
    """Feeds a (done, total) reporter every few thousand rows and at the end."""

    def __init__(self, report: Callable[[int, int], None] | None, total: int) -> None:
        self._report = report
        self._total = max(total, 0)
        self.done = 0

    def tick(self) -> None:
        self.done += 1
        if self._report is not None and self.done % PROGRESS_EVERY_ROWS == 0:
            self._report(min(self.done, self._total), self._total)

    def finish(self) -> None:
        if self._report is not None:
            self._report(self._total, self._total)


def _decode(data: bytes, errors: _Errors) -> str | None:
    """UTF-8 text (a leading byte-order mark, as spreadsheets write it, is dropped), or None with an error."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.add(data.count(b"\n", 0, exc.start) + 1, None, "not UTF-8 text (save the file as CSV UTF-8)")
        return None


def _check_header(spec: FileSpec, header: list[str], errors: _Errors) -> bool:
    """Report every header problem; True when the rows can be read."""
    ok = True
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.add(1, name, "appears twice in the header")
            ok = False
        seen.add(name)
        if name in _SCOPE_COLUMNS:
            errors.add(1, name, "comes from the job's --tenant / --property, never from the file")
            ok = False
        elif name in spec.not_imported:
            errors.add(1, name, spec.not_imported[name])
            ok = False
        elif spec.column(name) is None:
            errors.add(1, name or None, f"not a column history import loads into dw.{spec.table}")
            ok = False
    for col in spec.columns:
        if col.required and col.name not in seen:
            errors.add(1, col.name, "required column missing from the header")
            ok = False
    return ok


def _parse_file(spec: FileSpec, data: bytes, sink: list[RowError], progress: _Progress) -> _ParsedFile:
    """Read one file's header and rows; every cell problem goes to `sink`."""
    errors = _Errors(sink, spec.file)
    text = _decode(data, errors)
    if text is None:
        return _ParsedFile(spec, [], [], usable=False)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error:
        errors.add(1, None, "the header line is not valid CSV")
        return _ParsedFile(spec, [], [], usable=False)
    if not any(header):
        errors.add(1, None, "empty file: the first line must be the header")
        return _ParsedFile(spec, header, [], usable=False)
    if not _check_header(spec, header, errors):
        return _ParsedFile(spec, header, [], usable=False)
    columns = [spec.column(name) for name in header]
    rows: list[_Row] = []
    end_of_previous = reader.line_num
    while True:
        first_line = end_of_previous + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # Usually an unbalanced quote; the reader cannot resynchronise, so this is the file's last error.
            errors.add(first_line, None, "not valid CSV from this line on (an unbalanced quote, or a cell over "
                                         f"{csv.field_size_limit() // 1024} KiB?)")
            break
        end_of_previous = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines (a trailing one above all) and spreadsheets' all-empty ",,,," rows
        progress.tick()
        rows.append(_read_row(columns, record, first_line, errors))
    return _ParsedFile(spec, header, rows, usable=True)


def _read_row(columns: list[Column | None], record: list[str], line: int, errors: _Errors) -> _Row:
    """Type one record's cells against the header's columns."""
    row = _Row(line, {}, set())
    if len(record) != len(columns):
        errors.add(line, None, f"has {len(record)} cells; the header has {len(columns)}")
        row.bad.update(c.name for c in columns if c is not None)
        return row
    for col, raw in zip(columns, record, strict=True):
        assert col is not None  # the header check refused unknown names
        raw = raw.strip()
        if not raw:
            row.values[col.name] = None
            if col.required:
                errors.add(line, col.name, "required: the cell is empty")
                row.bad.add(col.name)
            continue
        value, reason = _cell(col, raw)
        if reason is not None:
            errors.add(line, col.name, reason)
            row.bad.add(col.name)
        row.values[col.name] = value
    return row


# -- rules within and across files ------------------------------------------------------------------------


def _unique(parsed: _ParsedFile, columns: tuple[str, ...], errors: _Errors, what: str) -> dict[tuple[Any, ...], _Row]:
    """Index rows by `columns`; a repeat is reported on its line, naming the first line (not the value)."""
    index: dict[tuple[Any, ...], _Row] = {}
    for row in parsed.rows:
        if not row.ok(*columns) or any(row.values.get(c) is None for c in columns):
            continue
        key = tuple(row.values[c] for c in columns)
        first = index.get(key)
        if first is not None:
            errors.add(row.line, columns[-1], f"{what} repeats line {first.line}")
        else:
            index[key] = row
    return index


def _in_history(row: _Row, column: str, context: ImportContext, errors: _Errors) -> None:
    """A business date must be a closed one at the property, and not absurdly old."""
    value = row.values.get(column)
    if value is None or not row.ok(column):
        return
    if value > context.last_closed_date:
        errors.add(row.line, column, "after the property's last closed business date (history ends yesterday)")
        row.bad.add(column)
    elif value < EARLIEST_BUSINESS_DATE:
        errors.add(row.line, column, f"before {EARLIEST_BUSINESS_DATE.isoformat()}")
        row.bad.add(column)


def _currency(row: _Row, context: ImportContext, errors: _Errors) -> None:
    """Money in the history is in the property's currency (reports sum it without converting)."""
    value = row.values.get("currency")
    if value is not None and row.ok("currency") and value != context.currency:
        errors.add(row.line, "currency", "not the property's currency")


def _check_rooms(parsed: _ParsedFile, sink: list[RowError]) -> dict[tuple[Any, ...], _Row]:
    errors = _Errors(sink, parsed.spec.file)
    rooms = _unique(parsed, ("room_id",), errors, "room_id")
    _unique(parsed, ("room_number",), errors, "room_number")
    return rooms


def _check_reservations(parsed: _ParsedFile, context: ImportContext, sink: list[RowError],
                        rooms: dict[tuple[Any, ...], _Row] | None,
                        guests: dict[tuple[Any, ...], _Row] | None) -> dict[tuple[Any, ...], _Row]:
    errors = _Errors(sink, parsed.spec.file)
    index = _unique(parsed, ("reservation_id",), errors, "reservation_id")
    for row in parsed.rows:
        v = row.values
        _in_history(row, "arrival_date", context, errors)
        _currency(row, context, errors)
        arrival, departure = v.get("arrival_date"), v.get("departure_date")
        if row.ok("arrival_date", "departure_date") and arrival and departure and departure <= arrival:
            errors.add(row.line, "departure_date", "not after arrival_date")
            row.bad.add("departure_date")
        if guests is not None and row.ok("guest_id") and v.get("guest_id") and (v["guest_id"],) not in guests:
            errors.add(row.line, "guest_id", "no guest with this guest_id in guests.csv")
        if rooms is not None and row.ok("room_id") and v.get("room_id") and (v["room_id"],) not in rooms:
            errors.add(row.line, "room_id", "no room with this room_id in rooms.csv")
        if v.get("status") != "cancelled" and row.ok("status"):
            for column in ("cancelled_on", "cancellation_reason"):
                if v.get(column) is not None:
                    errors.add(row.line, column, "only a cancelled reservation has one")
        booked, cancelled = v.get("booked_on"), v.get("cancelled_on")
        if booked and arrival and row.ok("booked_on", "arrival_date") and booked > arrival:
            errors.add(row.line, "booked_on", "after arrival_date")
        if booked and cancelled and row.ok("booked_on", "cancelled_on") and cancelled < booked:
            errors.add(row.line, "cancelled_on", "before booked_on")
        checked_in, checked_out = v.get("checked_in_at"), v.get("checked_out_at")
        if checked_in and checked_out and row.ok("checked_in_at", "checked_out_at") and checked_out < checked_in:
            errors.add(row.line, "checked_out_at", "before checked_in_at")
    return index


def _check_room_nights(parsed: _ParsedFile, context: ImportContext, sink: list[RowError],
                       rooms: dict[tuple[Any, ...], _Row] | None,
                       reservations: dict[tuple[Any, ...], _Row] | None) -> dict[str, set[date | None]]:
    """Per-night rules; returns the stay dates per reservation id (None: a night whose date is unreadable)."""
    errors = _Errors(sink, parsed.spec.file)
    _unique(parsed, ("reservation_id", "stay_date"), errors, "reservation_id and stay_date")
    # One room holds one stay per night: two would count the room as sold twice.
    _unique(parsed, ("room_id", "stay_date"), errors, "room_id and stay_date (the room is already occupied)")
    nights: dict[str, set[date]] = {}
    for row in parsed.rows:
        v = row.values
        _in_history(row, "stay_date", context, errors)
        _currency(row, context, errors)
        if rooms is not None and row.ok("room_id") and v.get("room_id") and (v["room_id"],) not in rooms:
            errors.add(row.line, "room_id", "no room with this room_id in rooms.csv")
        if reservations is None or not row.ok("reservation_id") or not v.get("reservation_id"):
            continue
        stay = reservations.get((v["reservation_id"],))
        if stay is None:
            errors.add(row.line, "reservation_id", "no reservation with this reservation_id in reservations.csv")
            continue
        s = stay.values
        if not row.ok("stay_date"):
            nights.setdefault(v["reservation_id"], set()).add(None)  # unreadable: no "missing night" on top
        elif v.get("stay_date"):
            nights.setdefault(v["reservation_id"], set()).add(v["stay_date"])
            if stay.ok("arrival_date", "departure_date") and s.get("arrival_date") and s.get("departure_date") \
                    and not s["arrival_date"] <= v["stay_date"] < s["departure_date"]:
                errors.add(row.line, "stay_date", f"outside the stay of its reservation (reservations.csv line "
                                                  f"{stay.line}: from arrival_date to the day before departure_date)")
        if stay.ok("status") and s.get("status") not in STAYED:
            errors.add(row.line, "reservation_id", "its reservation is not checked_out or in_house: "
                                                   "cancelled, no-show and future stays have no room nights")
        if row.ok("room_revenue") and v.get("room_revenue") and (s.get("is_complimentary") or s.get("is_house_use")):
            errors.add(row.line, "room_revenue", "not 0 on a complimentary or house-use stay")
        if s.get("currency") and v.get("currency") and stay.ok("currency") and row.ok("currency") \
                and s["currency"] != v["currency"]:
            errors.add(row.line, "currency", f"differs from its reservation's (reservations.csv line {stay.line})")
    return nights


def _check_stays_complete(parsed: _ParsedFile, nights: dict[str, set[date | None]], sink: list[RowError]) -> None:
    """A checked-out stay was audited every night: room_nights.csv has one row per date of it."""
    errors = _Errors(sink, parsed.spec.file)
    for row in parsed.rows:
        v = row.values
        if v.get("status") != "checked_out" or not row.ok("reservation_id", "arrival_date", "departure_date"):
            continue
        if not (v.get("reservation_id") and v.get("arrival_date") and v.get("departure_date")):
            continue
        expected = (v["departure_date"] - v["arrival_date"]).days
        have = nights.get(v["reservation_id"], set())
        if None in have:
            continue  # a night with an unreadable date is already reported; it may be the "missing" one
        missing = sum(1 for d in range(expected) if v["arrival_date"] + timedelta(days=d) not in have)
        if missing:
            errors.add(row.line, "status", f"checked_out, but room_nights.csv lacks {missing} of its {expected} nights")


def _check_room_status(parsed: _ParsedFile, context: ImportContext, sink: list[RowError],
                       rooms: dict[tuple[Any, ...], _Row] | None) -> None:
    errors = _Errors(sink, parsed.spec.file)
    _unique(parsed, ("business_date", "room_id"), errors, "business_date and room_id")
    for row in parsed.rows:
        _in_history(row, "business_date", context, errors)
        room_id = row.values.get("room_id")
        if rooms is not None and row.ok("room_id") and room_id and (room_id,) not in rooms:
            errors.add(row.line, "room_id", "no room with this room_id in rooms.csv")


# -- the file set and its manifest ---------------------------------------------------------------------------


def _check_file_set(files: Mapping[str, bytes], sink: list[RowError]) -> None:
    """Every required file present; no CSV file this import does not know (it would be silently ignored)."""
    known = {spec.file for spec in FILES}
    for spec in FILES:
        if spec.required and spec.file not in files:
            sink.append(RowError(spec.file, None, None, "missing: the import needs this file"))
    for name, data in files.items():
        if name.endswith(".csv") and name not in known:
            sink.append(RowError(name, None, None, "not a history file; expected " + ", ".join(sorted(known))))
        if len(data) > MAX_FILE_BYTES:
            sink.append(RowError(name, None, None, f"larger than {MAX_FILE_BYTES // 2**20} MiB"))


def _check_manifest(raw: bytes | None, manifest: Manifest, sink: list[RowError]) -> None:
    """When the sender shipped a manifest.json, every file must match it (a truncated transfer is refused)."""
    if raw is None:
        return
    try:
        declared = json.loads(raw.decode("utf-8-sig"))["files"]
        if not isinstance(declared, dict) or not all(isinstance(v, dict) for v in declared.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        sink.append(RowError(MANIFEST_FILE, None, None,
                             'not a manifest: expected {"files": {"<name>.csv": {"sha256": "...", "rows": N}}}'))
        return
    received = {e.file: e for e in manifest.entries}
    for name, entry in declared.items():
        got = received.get(name)
        if got is None:
            sink.append(RowError(name, None, None, "listed in manifest.json but not received"))
            continue
        if str(entry.get("sha256", "")).lower() != got.sha256:
            sink.append(RowError(name, None, None, "sha256 differs from manifest.json (changed or incomplete)"))
        if "rows" in entry and entry["rows"] != got.rows:
            sink.append(RowError(name, None, None, f"has {got.rows} data rows; manifest.json says {entry['rows']}"))
    for name in received.keys() - declared.keys():
        sink.append(RowError(name, None, None, "received but not listed in manifest.json"))


def _data_lines(data: bytes) -> int:
    """An upper bound of a file's data rows, for progress (quoted line breaks make it a little high)."""
    return max(data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1, 0)


# -- validation ------------------------------------------------------------------------------------------


def validate_history(files: Mapping[str, bytes], context: ImportContext,
                     progress: Callable[[int, int], None] | None = None) -> ValidationResult:
    """Parse and check every file and row; collect every error. Pure: no I/O, nothing loaded."""
    sink: list[RowError] = []
    _check_file_set(files, sink)
    counter = _Progress(progress, sum(_data_lines(files[s.file]) for s in FILES if s.file in files))
    parsed: dict[str, _ParsedFile] = {}
    for spec in FILES:
        if spec.file in files and len(files[spec.file]) <= MAX_FILE_BYTES:
            parsed[spec.table] = _parse_file(spec, files[spec.file], sink, counter)
    counter.finish()
    manifest = Manifest(tuple(
        ManifestEntry(spec.file, hashlib.sha256(files[spec.file]).hexdigest(), len(files[spec.file]),
                      len(parsed[spec.table].rows) if spec.table in parsed else 0)
        for spec in FILES if spec.file in files))
    _check_manifest(files.get(MANIFEST_FILE), manifest, sink)

    # A file whose header is broken is skipped by the checks that read it: no spurious "no such room".
    def usable(spec: FileSpec) -> _ParsedFile | None:
        p = parsed.get(spec.table)
        return p if p is not None and p.usable else None

    rooms_file, guests_file = usable(ROOMS), usable(GUESTS)
    res_file, nights_file, status_file = usable(RESERVATIONS), usable(ROOM_NIGHTS), usable(ROOM_STATUS_DAILY)
    rooms = _check_rooms(rooms_file, sink) if rooms_file else None
    guests = _unique(guests_file, ("guest_id",), _Errors(sink, GUESTS.file), "guest_id") if guests_file else None
    reservations = _check_reservations(res_file, context, sink, rooms, guests) if res_file else None
    nights = _check_room_nights(nights_file, context, sink, rooms, reservations) if nights_file else None
    if res_file and nights is not None:
        _check_stays_complete(res_file, nights, sink)
    if status_file:
        _check_room_status(status_file, context, sink, rooms)

    dated = [row.values[c] for p, c in ((res_file, "arrival_date"), (nights_file, "stay_date"),
                                         (status_file, "business_date")) if p
             for row in p.rows if row.values.get(c) is not None and row.ok(c)]
    if not sink and not dated:
        sink.append(RowError(RESERVATIONS.file, None, None,
                             "nothing to import: no reservation, room night or room status rows"))
    if sink:
        order = {spec.file: i for i, spec in enumerate(FILES)}
        sink.sort(key=lambda e: (order.get(e.file, len(order)), e.file, e.line or 0, e.column or ""))
        return ValidationResult(manifest, None, sink)
    # Every table, an absent optional file as no rows: the range's statuses are the files' (none = in service).
    tables = {spec.table: [row.values for row in parsed[spec.table].rows] if spec.table in parsed else []
              for spec in FILES}
    return ValidationResult(manifest, ValidatedHistory(tables, (min(dated), max(dated))), [])


# -- the use case ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportHistory:
    """Command: import the files for one tenant's property (or, with dry_run, only validate them)."""

    tenant_id: str
    property_id: str
    dry_run: bool = False


@dataclass(frozen=True)
class ImportOutcome:
    """What the job prints: the summary of a load (or of a dry run), or the errors that refused it."""

    tenant_id: str
    property_id: str
    manifest: Manifest
    dry_run: bool
    loaded: bool
    errors: list[RowError]
    date_range: tuple[date, date] | None = None
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {"tenant_id": self.tenant_id, "property_id": self.property_id,
                               "dry_run": self.dry_run, "loaded": self.loaded, "manifest": self.manifest.as_dict()}
        if self.errors:
            out.update(error_count=len(self.errors), errors=[e.as_dict() for e in self.errors])
        else:
            assert self.date_range is not None
            out.update(date_range={"first": self.date_range[0].isoformat(), "last": self.date_range[1].isoformat()},
                       rows=self.rows)
        return out


def _uuid(value: str, option: str) -> str:
    """Tenant and property ids are UUIDs in the mirror; refuse anything else before it reaches SQL."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationFailed(f"{option} must be a UUID") from None


def import_history(cmd: ImportHistory, files: Mapping[str, bytes], deps: Dependencies, loader: WarehouseLoader,
                   progress: Callable[[int, int], None] | None = None) -> ImportOutcome:
    """Validate the files for a writable tenant's property; unless refused or a dry run, replace their range."""
    tenant_id, property_id = _uuid(cmd.tenant_id, "--tenant"), _uuid(cmd.property_id, "--property")
    with deps.uow(tenant_id) as uow:
        require_writable_tenant(uow, tenant_id, deps.residency)  # flag on, served here, not locked for a move
        prop = uow.properties.get(property_id)
    if prop is None or prop.tenant_id != tenant_id:
        raise NotFound("no such property for this tenant", property_id=property_id)
    context = ImportContext(tenant_id, property_id, prop.currency,
                            business_yesterday(deps.clock.now(), prop.timezone))
    checked = validate_history(files, context, progress)
    manifest = checked.manifest
    if checked.history is None:
        by_file: dict[str, int] = {}
        for e in checked.errors:
            by_file[e.file] = by_file.get(e.file, 0) + 1
        log.warning("history import refused", extra={"tenant_id": tenant_id, "property_id": property_id,
                                                     "manifest_sha256": manifest.digest, "errors_by_file": by_file})
        return ImportOutcome(tenant_id, property_id, manifest, cmd.dry_run, False, checked.errors)
    history = checked.history
    if cmd.dry_run:
        return ImportOutcome(tenant_id, property_id, manifest, True, False, [], history.date_range, history.counts())
    rows = loader.replace_history(tenant_id, property_id, history.date_range, history.tables,
                                  import_id=manifest.digest)
    first, last = (d.isoformat() for d in history.date_range)
    with deps.uow(tenant_id) as uow:
        # After the load, not with it (two systems): a crash in between leaves the rows, and a re-run is idempotent.
        uow.audit.append(tenant_id=tenant_id, actor=AUDIT_ACTOR, action="history.imported", target_type="property",
                         target_id=property_id, details={"manifest_sha256": manifest.digest, "first_date": first,
                                                         "last_date": last, "rows": rows})
        uow.commit()
    log.info("history imported", extra={"tenant_id": tenant_id, "property_id": property_id, "rows": rows,
                                        "first_date": first, "last_date": last, "manifest_sha256": manifest.digest})
    return ImportOutcome(tenant_id, property_id, manifest, False, True, [], history.date_range, rows)


# -- reading the files (a local directory or a gs:// prefix) -------------------------------------------------


def _wanted(name: str) -> bool:
    return name.endswith(".csv") or name == MANIFEST_FILE


def read_history_files(location: str, *, storage_client: Callable[[], Any] | None = None) -> dict[str, bytes]:
    """The CSV files (and manifest.json) directly inside a local directory or a `gs://bucket/prefix/`."""
    if location.startswith("gs://"):
        return _read_gcs(location, storage_client)
    folder = Path(location)
    if not folder.is_dir():
        raise FileNotFoundError(f"{location}: not a directory")
    files: dict[str, bytes] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and _wanted(path.name):
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
            files[path.name] = path.read_bytes()
    return files


def _read_gcs(location: str, storage_client: Callable[[], Any] | None) -> dict[str, bytes]:
    """Download the prefix's direct children (the transfer bucket's history/<tenant>/<property>/)."""
    bucket_name, _, prefix = location[len("gs://"):].partition("/")
    if not bucket_name:
        raise ValueError(f"{location}: expected gs://BUCKET/PREFIX/")
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    if storage_client is None:
        from google.cloud import storage  # lazy: only a cloud run of the job reads from a bucket

        client = storage.Client()
    else:
        client = storage_client()
    files: dict[str, bytes] = {}
    for blob in _direct_children(client.list_blobs(bucket_name, prefix=prefix, delimiter="/"), prefix):
        name = blob.name[len(prefix):]
        if (blob.size or 0) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
        files[name] = blob.download_as_bytes()
    return files


def _direct_children(blobs: Iterable[Any], prefix: str) -> list[Any]:
    """Objects right under the prefix with a wanted name (the delimiter already hides deeper ones)."""
    return sorted((b for b in blobs if "/" not in b.name[len(prefix):] and _wanted(b.name[len(prefix):])),
                  key=lambda b: b.name)
