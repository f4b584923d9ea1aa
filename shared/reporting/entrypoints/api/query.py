"""Query-string parameters: known names only, typed, with SPEC §6 validation errors (never echoing values)."""
from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from reporting.domain.errors import ValidationFailed

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _bad(name: str, rule: str) -> ValidationFailed:
    return ValidationFailed("query parameter is invalid", status=400, errors=[{"path": f"?{name}", "rule": rule}])


class Query:
    def __init__(self, args: Mapping[str, Any], *, allowed: Iterable[str]) -> None:
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise ValidationFailed("unknown query parameters", status=400, unknown_fields=unknown[:10])
        self._args = args

    def text(self, name: str, max_length: int = 500) -> str | None:
        value = self._args.get(name)
        if value is None or value == "":
            return None
        if len(value) > max_length:
            raise _bad(name, "maxLength")
        return value

    def uuid(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not UUID_RE.match(value):
            raise _bad(name, "format:uuid")
        return value.lower() if value else None

    def date(self, name: str) -> date | None:
        value = self.text(name)
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            raise _bad(name, "format:date") from None

    def choice(self, name: str, options: list[str]) -> str | None:
        value = self.text(name)
        if value is not None and value not in options:
            raise _bad(name, "enum")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or not minimum <= int(value) <= maximum:
            raise _bad(name, f"integer {minimum}..{maximum}")
        return int(value)


def encode_cursor(position: tuple[datetime, str]) -> str:
    raw = json.dumps({"at": position[0].isoformat(), "id": position[1]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, run_id = datetime.fromisoformat(raw["at"]), str(raw["id"])
        if at.tzinfo is None or not UUID_RE.match(run_id):
            raise ValueError
        return at, run_id
    except (binascii.Error, ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise _bad("cursor", "opaque cursor from a previous page") from None
