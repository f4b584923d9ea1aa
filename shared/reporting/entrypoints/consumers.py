"""Pub/Sub consumers: decode → validate_or_throw at the inbox boundary → one use case.

The cloud's CloudEvent functions and the local bus both call `consume`. Raise =
redeliver (transient); return = ack. A message that can never be processed is
dead-lettered with its reason and acknowledged, so the stream keeps flowing.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable

from reporting.domain.errors import DomainError
from reporting.events.catalog import EventValidationError, validate_or_throw
from reporting.events.envelope import Envelope
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.render_report_run import render_report_run
from reporting.service_layer.residency_move import complete_move
from reporting.service_layer.submit import open_submissions

log = get_logger(__name__)

Handler = Callable[[Envelope, Dependencies], Any]

# consumer (function name) → event type → use case
HANDLERS: dict[str, dict[str, Handler]] = {
    "render": {"report_run.requested.v1": render_report_run},
    "submit": {"report_run.completed.v1": lambda envelope, deps: open_submissions(envelope, deps, deps.regulatory)},
    "region_changed": {"tenant.region_changed.v1": complete_move},
}


@dataclass(frozen=True)
class Consumed:
    status: str  # "processed" | "dead_lettered"
    reason: str | None = None
    result: Any = None


def _message(cloud_event: Any) -> tuple[bytes, dict[str, str]]:
    data = cloud_event.data if hasattr(cloud_event, "data") else cloud_event["data"]
    message = (data or {}).get("message") or {}
    attributes = dict(message.get("attributes") or {})
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    return raw, attributes


def _moving_here(envelope: Envelope, services: Any) -> bool:
    """A residency move's region_changed carries the source's residency; the target must take it too."""
    return (envelope.event_type == "tenant.region_changed.v1"
            and envelope.data.get("to_residency") == str(services.settings.residency))


def consume(consumer: str, cloud_event: Any, services: Any) -> Consumed:
    """Process one Pub/Sub CloudEvent for `consumer`; see the module docstring for ack semantics."""
    raw, attributes = _message(cloud_event)

    def dead(reason: str) -> Consumed:
        services.dead_letters.publish(consumer, raw, attributes, reason)
        log.info("event consumed", extra={"consumer": consumer, "event_id": attributes.get("event_id"),
                                          "status": "dead_lettered"})
        return Consumed("dead_lettered", reason)

    try:
        payload = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return dead("undecodable: message data is not UTF-8 JSON")
    try:
        envelope = validate_or_throw(payload)
    except EventValidationError as exc:
        return dead(f"invalid: {exc.reason}")
    if envelope.residency != str(services.settings.residency) and not _moving_here(envelope, services):
        return dead(f"residency mismatch: event for {envelope.residency} in a {services.settings.residency} deployment")
    handler = HANDLERS.get(consumer, {}).get(envelope.event_type)
    if handler is None:
        return dead(f"unhandled event type {envelope.event_type} for {consumer}")
    try:
        result = handler(envelope, services.deps)
    except DomainError as exc:
        if not exc.permanent:
            raise
        return dead(f"permanent: {exc.code}: {exc.message}")
    log.info("event consumed", extra={"consumer": consumer, "event_id": envelope.event_id,
                                      "event_type": envelope.event_type, "tenant_id": envelope.tenant_id,
                                      "status": "duplicate" if getattr(result, "duplicate", False) else "processed"})
    return Consumed("processed", result=result)
