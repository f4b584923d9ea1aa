"""Request bodies: bounded in size, JSON only, checked against a JSON Schema that rejects unknown fields."""
from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from reporting.domain.errors import PayloadTooLarge, ValidationFailed

MAX_BODY_BYTES = 64 * 1024
UUID = {"type": "string", "format": "uuid",
        "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}

REQUEST_RUN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["property_id"],
    "properties": {
        "property_id": UUID,
        "template_key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,62}$"},
        "template_id": UUID,
        "template_version_id": UUID,
        "run_date": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "params": {"type": "object", "maxProperties": 50},
        "locale": {"enum": ["en", "ps", "fa-AF", "ar", "hi"]},
        "formats": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True,
                    "items": {"enum": ["pdf", "csv", "html"]}},
    },
    # Exactly one way to name the template (SPEC §3: a template, or a version id).
    "oneOf": [{"required": ["template_key"]}, {"required": ["template_id"]}, {"required": ["template_version_id"]}],
}


CANCEL_RUN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
}


def read_optional_json(request: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """A body that may be absent (an empty POST means `{}`), else exactly as read_json."""
    if not request.get_data(cache=True) and not request.content_length:
        return {}
    return read_json(request, schema)


_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Body schemas are module constants: build each validator once, not per request."""
    found = _VALIDATORS.get(id(schema))
    if found is None or found.schema is not schema:
        found = _VALIDATORS[id(schema)] = Draft202012Validator(schema,
                                                               format_checker=Draft202012Validator.FORMAT_CHECKER)
    return found


def read_json(request: Any, schema: dict[str, Any], *, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge("request body too large", limit_bytes=limit)
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLarge("request body too large", limit_bytes=limit)
    if not (request.mimetype or "").endswith("json"):
        raise ValidationFailed("request body must be application/json", status=415)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed("request body is not valid JSON", status=400) from None
    errors = sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        # Paths and rule names only: values may be personal data and are never echoed back.
        raise ValidationFailed("request body does not match the schema", errors=[_describe(e) for e in errors[:20]])
    return body


def _describe(error: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"path": "/" + "/".join(map(str, error.absolute_path)), "rule": error.validator}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # Field names come from the client's keys, not its values: safe to name.
        out["unknown_fields"] = sorted(set(error.instance) - set(error.schema.get("properties", {})))[:10]
    if error.validator == "required" and isinstance(error.instance, dict):
        out["missing"] = [f for f in error.validator_value if f not in error.instance]
    return out
