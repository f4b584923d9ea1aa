"""The event catalog: one JSON Schema per subject and version (package data), and validate_or_throw()."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from reporting.events.envelope import Envelope

BASE_URI = "https://schemas.melmastoon.example/reporting/"


class EventValidationError(Exception):
    """The event does not match its schema; `reason` names where (never the offending value: it may be guest data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@lru_cache(maxsize=1)
def _schemas() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in files("reporting.events").joinpath("schemas").iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return found


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in _schemas().values()
    )


def event_types() -> list[str]:
    """Every versioned subject the catalog knows (e.g. 'report_run.requested.v1')."""
    return sorted(name for name in _schemas() if name != "envelope")


def schema_for(event_type: str) -> dict[str, Any]:
    try:
        return _schemas()[event_type]
    except KeyError:
        raise EventValidationError(f"unknown event type {event_type}") from None


@lru_cache(maxsize=None)
def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(schema_for(event_type), registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def _describe(error: Any) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(root)"
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing field: it comes from the schema, never from the event's values.
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            field = f"{path}.{missing[0]}" if path != "(root)" else missing[0]
            return f"{field}: is required"
    return f"{path}: fails '{error.validator}'"


def validate_or_throw(raw: dict[str, Any]) -> Envelope:
    """Validate a decoded event against its envelope and subject schema; return the typed envelope."""
    if not isinstance(raw, dict):
        raise EventValidationError("(root): not a JSON object")
    subject, version = raw.get("subject"), raw.get("version")
    event_type = f"{subject}.v{version}" if isinstance(subject, str) and type(version) is int else None
    if event_type is None or event_type not in _schemas():
        _raise_envelope_errors(raw)
        raise EventValidationError(f"unknown event type {event_type}")
    # The subject schema includes the envelope ($ref): one pass on the happy path (the relay
    # validates every event it publishes); the envelope alone only to word a failure well.
    errors = sorted(_validator(event_type).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        _raise_envelope_errors(raw)
        raise EventValidationError(f"{event_type} " + _describe(errors[0]))
    return Envelope.from_dict(raw)


def _raise_envelope_errors(raw: dict[str, Any]) -> None:
    envelope_errors = sorted(_validator("envelope").iter_errors(raw), key=lambda e: list(e.path))
    if envelope_errors:
        raise EventValidationError("envelope " + _describe(envelope_errors[0]))
