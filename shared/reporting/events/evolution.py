"""The evolution gate (SPEC §5, plan §3): inside a version, an event schema may only grow.

`schemas.lock.json` is the committed record of every published schema (contract
keywords only). `check()` compares it with the catalog field by field, on the
flattened view a consumer sees (envelope `$ref` resolved, `allOf` merged), and
with the version transitions; `write_record()` moves the record forward, but only
additively. A breaking change is a new version plus a transition, never an edit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field as dc_field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from reporting.events.envelope import split_event_type
from reporting.events.transitions import Transition, load_transitions

EVENTS_DIR = Path(__file__).resolve().parent
DEFAULT_CATALOG_DIR = EVENTS_DIR / "schemas"
DEFAULT_RECORD_PATH = EVENTS_DIR / "schemas.lock.json"
ENVELOPE = "envelope"
ROOT = "(schema)"

# Annotations only: changing them never breaks a consumer, so the record leaves them out.
ANNOTATIONS = frozenset({"title", "description", "examples", "$comment"})
# Keywords whose value maps names to subschemas (the names are data, not keywords: a field may be called "title").
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SCHEMA_VALUES = frozenset({"items", "additionalProperties", "unevaluatedProperties", "not", "if", "then", "else",
                           "contains", "propertyNames"})
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Not breaking: `record` fixes them. Everything else is.
NON_BREAKING = frozenset({"unrecorded", "record_outdated"})
RECORD_REMEDY = "run `reporting events record` and commit schemas.lock.json"


@dataclass(frozen=True)
class Violation:
    event_type: str
    field: str  # dotted path, arrays as "data.formats[]", "(schema)" for whole-schema issues
    rule: str
    message: str

    @property
    def breaking(self) -> bool:
        return self.rule not in NON_BREAKING

    def __str__(self) -> str:
        return f"{self.event_type} {self.field} [{self.rule}]: {self.message}"


class EvolutionError(Exception):
    """The record cannot move: the catalog holds a breaking change inside a version."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


# --- the record ----------------------------------------------------------------------------


def current_schemas(catalog_dir: Path | None = None) -> dict[str, dict]:
    """event_type (and "envelope") -> schema as loaded from the catalog directory."""
    directory = Path(catalog_dir) if catalog_dir else DEFAULT_CATALOG_DIR
    return {path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(directory.glob("*.json"))}


def _contract(schema: Any) -> Any:
    """The schema without annotations, walking only keyword positions (enum/const values stay untouched)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _contract(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_contract(sub) for sub in value]
        elif key in SCHEMA_VALUES:
            out[key] = _contract(value)
        else:
            out[key] = value
    return out


TRANSITIONS_KEY = "$transitions"


def _transition_key(t: Transition) -> str:
    return f"{t.subject}.v{t.from_version}->v{t.to_version}"


def build_record(schemas: dict[str, dict], transitions: list[Transition] | None = None) -> dict:
    """The lock content: every schema's contract, keyed like the catalog, and each transition's start
    (recorded so that a transition can neither vanish nor be backdated to retire its old version early)."""
    record: dict[str, Any] = {name: _contract(schema) for name, schema in sorted(schemas.items())}
    if transitions:
        record[TRANSITIONS_KEY] = {_transition_key(t): t.started_on.isoformat() for t in transitions}
    return record


def _dump(record: dict) -> str:
    return json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _load_record(record_path: Path) -> dict:
    # No record yet = nothing published yet: everything shows as "unrecorded".
    return json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}


# --- the flattened field map -------------------------------------------------------------------


@dataclass
class _Field:
    """What allOf-combined schema parts say about one path (allOf = all apply, so parts intersect)."""

    types: frozenset[str] | None = None  # None: any type
    required_names: set[str] = dc_field(default_factory=set)
    enum: frozenset[str] | None = None  # canonical JSON of each value; None: no enum
    const: str | None = None  # canonical JSON; None: no const
    patterns: set[str] = dc_field(default_factory=set)
    formats: set[str] = dc_field(default_factory=set)
    lower: dict[str, float] = dc_field(default_factory=dict)
    upper: dict[str, float] = dc_field(default_factory=dict)
    unique_items: bool = False
    closed: bool = False
    required: bool = False  # filled from the parent's required_names
    described: bool = False  # a schema node describes this path (not just a name in `required`)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _own_types(node: dict) -> frozenset[str] | None:
    """Types this node allows: `type`, else implied by enum/const, else a union of oneOf/anyOf branches."""
    if "type" in node:
        declared = node["type"]
        return frozenset([declared] if isinstance(declared, str) else declared)
    if "const" in node:
        return frozenset({_json_type(node["const"])})
    if "enum" in node:
        return frozenset(_json_type(v) for v in node["enum"])
    branches = node.get("oneOf", []) + node.get("anyOf", [])
    if branches:
        branch_types = [_own_types(b) if isinstance(b, dict) else None for b in branches]
        if all(t is not None for t in branch_types):
            return frozenset().union(*branch_types)  # type: ignore[arg-type]
    return None


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(node: Any, path: str, resolver: Any, in_branch: bool, depth: int = 0) -> Iterator[tuple[str, dict, bool]]:
    """Yield (path, schema part, whether its types count) for every part that speaks about a path."""
    if not isinstance(node, dict) or depth > 50:  # depth: a recursive $ref must not hang the gate
        return
    yield path, node, not in_branch
    if "$ref" in node:
        try:
            resolved = resolver.lookup(node["$ref"])
        except Unresolvable:
            resolved = None  # e.g. the envelope was deleted: its fields then show up as removed
        if resolved is not None:
            yield from _walk(resolved.contents, path, resolved.resolver, in_branch, depth + 1)
    for part in node.get("allOf", []):
        yield from _walk(part, path, resolver, in_branch, depth + 1)
    # A branch's constraints are compared like any others; its types are already in the parent's union.
    for part in node.get("oneOf", []) + node.get("anyOf", []):
        yield from _walk(part, path, resolver, True, depth + 1)
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, _child(path, name), resolver, False, depth + 1)
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]" if path else "[]", resolver, False, depth + 1)


def _parent(path: str) -> str:
    if path.endswith("[]"):
        return path[:-2] or ROOT
    return path.rsplit(".", 1)[0] if "." in path else ROOT


def _flatten(name: str, schemas: dict[str, dict]) -> dict[str, _Field]:
    """path -> _Field for one schema, its $refs resolved against the same set of schemas."""
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values() if isinstance(s, dict) and "$id" in s)
    schema = schemas[name]
    resolver = registry.resolver(base_uri=schema.get("$id", ""))
    fields: dict[str, _Field] = {}
    for path, node, counts_types in _walk(schema, "", resolver, False):
        f = fields.setdefault(path, _Field())
        f.described = True
        types = _own_types(node) if counts_types else None
        if types is not None:
            f.types = types if f.types is None else f.types & types
        f.required_names |= set(node.get("required", []))
        if "enum" in node:
            values = frozenset(_canonical(v) for v in node["enum"])
            f.enum = values if f.enum is None else f.enum & values
        if "const" in node:
            f.const = _canonical(node["const"])
        if "pattern" in node:
            f.patterns.add(node["pattern"])
        if "format" in node:
            f.formats.add(node["format"])
        for key in LOWER_BOUNDS:
            if key in node:
                f.lower[key] = max(f.lower.get(key, node[key]), node[key])
        for key in UPPER_BOUNDS:
            if key in node:
                f.upper[key] = min(f.upper.get(key, node[key]), node[key])
        f.unique_items |= node.get("uniqueItems") is True
        for key in ("additionalProperties", "unevaluatedProperties"):
            f.closed |= key in node and node[key] not in (True, {})
    # A name listed as required but not described is still a field a producer must now send.
    for path in list(fields):
        for name in fields[path].required_names:
            fields.setdefault(_child(path, name), _Field()).required = True
    return {(path or ROOT): f for path, f in fields.items()}


# --- comparing -------------------------------------------------------------------------------


def _covers(current: frozenset[str] | None, recorded: frozenset[str] | None) -> bool:
    """Every value the recorded types allowed is still allowed ("number" also covers "integer")."""
    if current is None:
        return True
    if recorded is None:
        return False
    return all(t in current or (t == "integer" and "number" in current) for t in recorded)


def _field_findings(old: _Field, new: _Field) -> Iterator[tuple[str, str]]:
    """(rule, what changed) for each breaking difference of one field."""
    if old.described and not new.described:
        yield "removed", "lost its definition (only its name is left in `required`)"
    elif old.types is not None and new.types is None:
        yield "type_changed", "lost its type (any value would now pass)"
    elif not _covers(new.types, old.types):
        yield "type_changed", "changed type"
    if (old.enum is not None or old.const is not None) and new.enum is None and new.const is None:
        yield "type_changed", "lost its enum/const (any value of its type would now pass)"
    if new.required and not old.required:
        yield "newly_required", "became required"
    if new.enum is not None and (old.enum is None or not old.enum <= new.enum):
        yield "enum_narrowed", "lost enum values"
    if new.const is not None and new.const != old.const:
        yield "const_changed", "changed its const"
    if not new.patterns <= old.patterns or not new.formats <= old.formats:
        yield "constraint_tightened", "changed pattern/format"
    for key in LOWER_BOUNDS:
        if key in new.lower and new.lower[key] > old.lower.get(key, float("-inf")):
            yield "constraint_tightened", f"raised {key}"
    for key in UPPER_BOUNDS:
        if key in new.upper and new.upper[key] < old.upper.get(key, float("inf")):
            yield "constraint_tightened", f"lowered {key}"
    if new.unique_items and not old.unique_items:
        yield "constraint_tightened", "now requires unique items"
    if new.closed and not old.closed:
        yield "closed", "no longer accepts additional properties"


def _remedy(event_type: str) -> str:
    if event_type == ENVELOPE:
        return "keep the envelope additive: a breaking change needs a new version of every subject"
    subject, version = split_event_type(event_type)
    return f"add {subject}.v{version + 1} and a transition instead"


def _compare(event_type: str, recorded: dict[str, dict], current: dict[str, dict]) -> list[Violation]:
    old, new = _flatten(event_type, recorded), _flatten(event_type, current)
    remedy = _remedy(event_type)
    # Only the top of a removed subtree: removing `data.artifacts` need not list every artifact field.
    found = [Violation(event_type, path, "removed",
                       f"{path} was removed (a rename is a removal too): restore it, or {remedy}")
             for path in old if path not in new and _parent(path) in new]
    for path, f in new.items():
        if path not in old:
            if f.required:
                found.append(Violation(event_type, path, "newly_required",
                                       f"{path} is a new required field: make it optional, or {remedy}"))
            continue
        found += [Violation(event_type, path, rule, f"{path} {what}: undo it, or {remedy}")
                  for rule, what in _field_findings(old[path], f)]
    if not found and current[event_type] != recorded[event_type]:
        # Additive only (new optional field, wider enum, relaxed bound, …): the record must follow.
        grown = [path for path in new if path not in old]
        where = grown[0] if len(grown) == 1 else ROOT
        found.append(Violation(event_type, where, "record_outdated",
                               f"{where} changed additively since the record: {RECORD_REMEDY}"))
    return found


def _retired(event_type: str, transitions: list[Transition], today: date) -> bool:
    return any(t.old_event_type == event_type and t.retire_on is not None
               and t.earliest_retirement <= t.retire_on <= today for t in transitions)


def _transition_findings(transitions: list[Transition], schemas: dict[str, dict], today: date) -> list[Violation]:
    found: list[Violation] = []
    for t in transitions:
        if t.retire_on is not None and t.retire_on < t.earliest_retirement:
            found.append(Violation(
                t.old_event_type, ROOT, "retired_early",
                f"{t.subject} v{t.from_version} retires on {t.retire_on}, before {t.earliest_retirement} "
                f"(one quarter after the transition started on {t.started_on}): retire it on "
                f"{t.earliest_retirement} or later"))
        if t.publishes_old_on(today):
            # Dual publish needs both schemas: the relay validates what it emits on both topics.
            for missing in (e for e in (t.old_event_type, t.new_event_type) if e not in schemas):
                found.append(Violation(
                    missing, ROOT, "transition_invalid",
                    f"the {t.subject} v{t.from_version}->v{t.to_version} transition still publishes both "
                    f"versions but {missing} is not in the catalog: add it, or retire the transition"))
    return found


def check(record: dict, schemas: dict[str, dict], transitions: list[Transition], today: date) -> list[Violation]:
    """Every difference between the record and the catalog, breaking or not, plus invalid transitions."""
    recorded_transitions = record.get(TRANSITIONS_KEY, {})
    record_set = {name: _contract(schema) for name, schema in record.items() if name != TRANSITIONS_KEY}
    current_set = {name: _contract(schema) for name, schema in schemas.items()}
    found: list[Violation] = []
    for name in sorted(record_set):
        if name in current_set:
            found += _compare(name, record_set, current_set)
        elif not _retired(name, transitions, today):
            found.append(Violation(name, ROOT, "schema_removed",
                                   f"{name} is recorded but gone from the catalog: restore it; a version may "
                                   "only go once a transition has retired it"))
    found += [Violation(name, ROOT, "unrecorded", f"{name} has no record yet: {RECORD_REMEDY}")
              for name in sorted(set(current_set) - set(record_set))]
    return (found + _transition_findings(transitions, schemas, today)
            + _recorded_transition_findings(recorded_transitions, transitions, schemas))


def _recorded_transition_findings(recorded: dict[str, str], transitions: list[Transition],
                                  schemas: dict[str, dict]) -> list[Violation]:
    found: list[Violation] = []
    current = {_transition_key(t): t for t in transitions}
    for key, started in sorted(recorded.items()):
        t = current.get(key)
        if t is None:
            found.append(Violation(key, ROOT, "transition_invalid",
                                   f"transition {key} is recorded but gone from transitions.json: keep it (with "
                                   "its retire_on) — it is what consumers were promised"))
        elif t.started_on.isoformat() != started:
            found.append(Violation(key, ROOT, "retired_early",
                                   f"transition {key} started on {started} (recorded); started_on may not move"))
    for key in sorted(set(current) - set(recorded)):
        found.append(Violation(key, ROOT, "record_outdated", f"transition {key} is not recorded: {RECORD_REMEDY}"))
    # A new version beside the old one is a breaking change in progress: it needs a transition.
    for name in sorted(schemas):
        if name == ENVELOPE:
            continue
        subject, version = split_event_type(name)
        newer = f"{subject}.v{version + 1}"
        if newer in schemas and not any(t.subject == subject and t.from_version == version for t in transitions):
            found.append(Violation(newer, ROOT, "transition_invalid",
                                   f"{newer} exists beside {name} without a transition: add one to "
                                   "transitions.json (both are then published for at least a quarter)"))
    return found


def _today() -> date:
    return datetime.now(timezone.utc).date()


def check_repository(today: date | None = None, *, catalog_dir: Path | None = None, record_path: Path | None = None,
                     transitions_path: Path | None = None) -> list[Violation]:
    """check() on the committed record, catalog and transitions (the CI gate)."""
    record = _load_record(Path(record_path) if record_path else DEFAULT_RECORD_PATH)
    return check(record, current_schemas(catalog_dir), load_transitions(transitions_path), today or _today())


def write_record(record_path: Path | None = None, catalog_dir: Path | None = None, *,
                 transitions_path: Path | None = None, today: date | None = None) -> Path:
    """Record the catalog as published; refuses (EvolutionError) if that would hide a breaking change."""
    target = Path(record_path) if record_path else DEFAULT_RECORD_PATH
    schemas = current_schemas(catalog_dir)
    breaking = [v for v in check(_load_record(target), schemas, load_transitions(transitions_path), today or _today())
                if v.breaking]
    if breaking:
        raise EvolutionError(breaking)
    target.write_text(_dump(build_record(schemas, load_transitions(transitions_path))), encoding="utf-8")
    return target
