"""The transfer area of a residency move (a bucket in the target residency; a directory locally) and its CSV form.

CSV cells are Postgres' own text form of each value (`value::text`), so the target casts
them back with the column's type and gets the same value. SQL NULL is written `\\N`; a
text value that itself begins with a backslash gets one more, so the two never meet.
"""
from __future__ import annotations

import csv
import hashlib
import io
from abc import ABC, abstractmethod
from typing import Iterable, Sequence

NULL = "\\N"


class TransferArea(ABC):
    """Write-once-per-move files shared by the source's export and the target's import."""

    @abstractmethod
    def write(self, name: str, data: bytes) -> str:
        """Store `data` under `name` (replacing an earlier attempt's file); return its URI."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """The file's bytes (raises NotFound)."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...


def _cell(value: str | None) -> str:
    if value is None:
        return NULL
    return "\\" + value if value.startswith("\\") else value


def _value(cell: str) -> str | None:
    if cell == NULL:
        return None
    return cell[1:] if cell.startswith("\\") else cell


def encode_csv(columns: Sequence[str], rows: Iterable[Sequence[str | None]]) -> bytes:
    """RFC 4180 CSV (header row, CRLF) of text values, NULL as \\N."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


def decode_csv(data: bytes) -> tuple[list[str], list[list[str | None]]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [[_value(c) for c in row] for row in reader]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
