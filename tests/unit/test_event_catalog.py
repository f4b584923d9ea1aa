"""The event catalog (SPEC §5): schemas, examples, validate_or_throw's reasons; and the generated seed (SPEC §7)."""
from __future__ import annotations

import copy
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from reporting import cli
from reporting.catalog.platform import SEED_FILE, platform_templates, seed_sql
from reporting.events.catalog import BASE_URI, EventValidationError, event_types, schema_for, validate_or_throw
from reporting.events.envelope import Envelope

REPO = Path(__file__).resolve().parents[2]
NAME_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*ed\.v[1-9][0-9]*$")  # aggregate.verb_past_tense.vN
SECRET = "P1234567X"  # looks like a passport number: must never reach a dead-letter reason or a log
GUEST_FIELDS = {"guest_name", "name", "first_name", "last_name", "passport", "passport_number", "nationality",
                "date_of_birth", "email", "phone"}
NEW_IN_SPEC_5 = ["template.archived.v1", "regulatory_submission.accepted.v1", "regulatory_submission.rejected.v1",
                 "regulatory_submission.cutoff_missed.v1", "tenant.region_changed.v1"]
SCHEMA_FILES = sorted(p.name for p in files("reporting.events").joinpath("schemas").iterdir()
                      if p.name.endswith(".json"))


def example(event_type: str = "report_run.requested.v1") -> dict[str, Any]:
    return copy.deepcopy(schema_for(event_type)["examples"][0])


def reason_of(raw: Any) -> str:
    with pytest.raises(EventValidationError) as err:
        validate_or_throw(raw)
    assert str(err.value) == err.value.reason
    return err.value.reason


# --- the catalog itself ----------------------------------------------------------------


def test_catalog_knows_the_events_the_domain_emits_and_consumes() -> None:
    assert {"report_run.requested.v1", "report_run.completed.v1", "report_run.failed.v1",
            "report_run.cancelled.v1", "template.published.v1", "template.archived.v1",
            "regulatory_submission.accepted.v1", "regulatory_submission.rejected.v1",
            "regulatory_submission.cutoff_missed.v1", "tenant.region_changed.v1"} <= set(event_types())
    assert "envelope" not in event_types()


@pytest.mark.parametrize("event_type", event_types())
def test_event_names_are_aggregate_verb_past_tense_version(event_type: str) -> None:
    assert NAME_RE.match(event_type), event_type


@pytest.mark.parametrize("file_name", SCHEMA_FILES)
def test_every_schema_file_has_id_and_title(file_name: str) -> None:
    schema = json.loads(files("reporting.events").joinpath("schemas", file_name).read_text(encoding="utf-8"))
    assert schema.get("$id") == BASE_URI + file_name
    assert isinstance(schema.get("title"), str) and schema["title"]
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("event_type", event_types())
def test_every_event_schema_is_titled_by_its_name_and_has_examples(event_type: str) -> None:
    schema = schema_for(event_type)
    assert schema["title"] == event_type
    assert isinstance(schema.get("examples"), list) and schema["examples"]
    assert {"$ref": "envelope.json"} in schema.get("allOf", []), "every event schema builds on the envelope"


@pytest.mark.parametrize("event_type", event_types())
def test_every_example_validates_against_its_own_schema(event_type: str) -> None:
    for raw in schema_for(event_type)["examples"]:
        envelope = validate_or_throw(copy.deepcopy(raw))
        assert isinstance(envelope, Envelope)
        assert envelope.event_type == event_type, "an example must be an example of the schema it sits in"
        assert envelope.data == raw["data"]


@pytest.mark.parametrize("event_type", event_types())
def test_every_example_data_declares_all_its_fields(event_type: str) -> None:
    declared = set(schema_for(event_type)["properties"]["data"]["properties"])
    required = set(schema_for(event_type)["properties"]["data"].get("required", []))
    assert required <= declared
    for raw in schema_for(event_type)["examples"]:
        assert set(raw["data"]) <= declared


@pytest.mark.parametrize("event_type", event_types())
def test_no_schema_declares_a_guest_data_field(event_type: str) -> None:
    """Payloads carry ids, counts, codes and references; guest data stays in the tenant's database."""
    def names(node: Any) -> set[str]:
        if isinstance(node, dict):
            own = set(node.get("properties", {}))
            return own.union(*(names(v) for k, v in node.items() if k != "examples"))
        if isinstance(node, list):
            return set().union(*(names(v) for v in node))
        return set()

    assert not names(schema_for(event_type)) & GUEST_FIELDS


@pytest.mark.parametrize("event_type", [t for t in event_types() if t.startswith("regulatory_submission.")])
def test_submission_events_are_keyed_by_the_submission(event_type: str) -> None:
    for raw in schema_for(event_type)["examples"]:
        assert raw["aggregate_id"] == raw["data"]["submission_id"]


def test_template_archived_is_keyed_by_the_template() -> None:
    for raw in schema_for("template.archived.v1")["examples"]:
        assert raw["aggregate_id"] == raw["data"]["template_id"]


def test_region_changed_envelope_carries_the_source_residency() -> None:
    for raw in schema_for("tenant.region_changed.v1")["examples"]:
        assert raw["residency"] == raw["data"]["from_residency"] != raw["data"]["to_residency"]
        assert raw["aggregate_id"] == raw["data"]["tenant_id"]


def test_unknown_event_type_is_refused() -> None:
    raw = example()
    raw["subject"] = "report_run.exploded"
    assert "report_run.exploded.v1" in reason_of(raw)


def test_schema_for_unknown_type_raises_validation_error() -> None:
    with pytest.raises(EventValidationError):
        schema_for("report_run.exploded.v9")


# --- reasons name the path, never the value ------------------------------------------------


def test_missing_required_data_field_is_refused() -> None:
    raw = example()
    del raw["data"]["run_id"]
    reason = reason_of(raw)
    assert reason.startswith("report_run.requested.v1 ")
    assert "data" in reason and "required" in reason


@pytest.mark.parametrize("event_type", NEW_IN_SPEC_5)
def test_every_required_data_field_of_the_new_events_is_enforced(event_type: str) -> None:
    for name in schema_for(event_type)["properties"]["data"]["required"]:
        raw = example(event_type)
        del raw["data"][name]
        reason = reason_of(raw)
        assert reason.startswith(f"{event_type} ") and "data" in reason and "required" in reason, name


@pytest.mark.parametrize(("event_type", "name", "bad"), [
    ("template.archived.v1", "template_version_ids", []),
    ("template.archived.v1", "archived_by", f"Jane {SECRET}"),  # an actor id, never a person's name
    ("regulatory_submission.accepted.v1", "attempts", 0),
    ("regulatory_submission.accepted.v1", "subject_ref", f"Ahmad Khan {SECRET}"),
    ("regulatory_submission.accepted.v1", "adapter", SECRET),
    ("regulatory_submission.rejected.v1", "rejection_message", SECRET * 60),
    ("regulatory_submission.rejected.v1", "permanent", SECRET),
    ("regulatory_submission.cutoff_missed.v1", "attempts", -1),
    ("regulatory_submission.cutoff_missed.v1", "last_state", SECRET),
    ("regulatory_submission.cutoff_missed.v1", "subject_kind", SECRET),
    ("tenant.region_changed.v1", "to_residency", SECRET),
    ("tenant.region_changed.v1", "move_id", SECRET),
    ("tenant.region_changed.v1", "to_region", SECRET),
])
def test_wrong_value_in_a_new_event_names_the_field_not_the_value(event_type: str, name: str, bad: Any) -> None:
    raw = example(event_type)
    raw["data"][name] = bad
    reason = reason_of(raw)
    assert reason.startswith(f"{event_type} ") and f"data.{name}" in reason
    assert SECRET not in reason


def test_missing_envelope_field_is_refused() -> None:
    raw = example()
    del raw["correlation_id"]
    reason = reason_of(raw)
    assert reason.startswith("envelope ") and "required" in reason


def test_wrong_type_names_the_path_not_the_value() -> None:
    raw = example()
    raw["data"]["formats"] = SECRET
    reason = reason_of(raw)
    assert "data.formats" in reason and "type" in reason
    assert SECRET not in reason


def test_wrong_enum_value_inside_data_names_the_path_not_the_value() -> None:
    raw = example()
    raw["data"]["locale"] = SECRET
    reason = reason_of(raw)
    assert "data.locale" in reason
    assert SECRET not in reason


def test_bad_item_in_a_list_names_its_index_not_the_value() -> None:
    raw = example("report_run.completed.v1")
    raw["data"]["artifacts"] = [{"format": "pdf", "uri": "gs://b/o", "sha256": SECRET, "size_bytes": 1}]
    reason = reason_of(raw)
    assert "data.artifacts.0.sha256" in reason
    assert SECRET not in reason


def test_unknown_residency_names_the_path_not_the_value() -> None:
    raw = example()
    raw["residency"] = SECRET
    reason = reason_of(raw)
    assert "residency" in reason
    assert SECRET not in reason


def test_non_object_data_names_the_path_not_the_value() -> None:
    raw = example()
    raw["data"] = SECRET
    reason = reason_of(raw)
    assert "data" in reason and "type" in reason
    assert SECRET not in reason


@pytest.mark.parametrize("payload", [SECRET, [SECRET], 42, None])
def test_non_object_event_is_refused_without_echoing_it(payload: Any) -> None:
    reason = reason_of(payload)
    assert "(root)" in reason
    assert SECRET not in reason


def test_wrong_version_type_is_refused() -> None:
    raw = example()
    raw["version"] = "1"
    assert "version" in reason_of(raw)


def test_subject_const_mismatch_with_valid_data_is_refused() -> None:
    """An event claiming to be 'requested' must carry a requested payload."""
    raw = example("report_run.cancelled.v1")
    raw["subject"] = "report_run.requested"
    assert reason_of(raw).startswith("report_run.requested.v1 ")


# --- the platform template seed ---------------------------------------------------------------


def test_committed_seed_migration_is_the_generated_one() -> None:
    committed = (REPO / "migrations" / SEED_FILE).read_text(encoding="utf-8")
    assert committed == seed_sql(), (
        f"migrations/{SEED_FILE} is stale: the catalog under shared/reporting/catalog/ changed. "
        "Run `make seed` (reporting catalog seed) and commit the result."
    )


def test_seed_is_deterministic_and_pins_every_platform_template() -> None:
    sql = seed_sql()
    assert sql == seed_sql()
    templates = list(platform_templates())
    assert templates, "the platform catalog is empty"
    for t in templates:
        assert f"'{t.template_version_id}'" in sql
        assert f"'{t.snapshot_hash}'" in sql
        assert f"-- {t.key} v{t.version}" in sql


def test_stale_seed_is_reported_with_the_command_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / SEED_FILE).write_text(seed_sql() + "-- hand edit\n", encoding="utf-8")
    assert cli.main(["catalog", "seed", "--migrations", str(tmp_path), "--check"]) == 1
    assert "make seed" in capsys.readouterr().err


def test_seed_check_passes_after_regenerating(tmp_path: Path) -> None:
    assert cli.main(["catalog", "seed", "--migrations", str(tmp_path)]) == 0
    assert (tmp_path / SEED_FILE).read_text(encoding="utf-8") == seed_sql()
    assert cli.main(["catalog", "seed", "--migrations", str(tmp_path), "--check"]) == 0
