"""The evolution gate (SPEC §5, plan §3): inside a version a schema may only grow; breaking = v2 + a transition."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest

from reporting.events.evolution import (DEFAULT_CATALOG_DIR, DEFAULT_RECORD_PATH, EvolutionError, Violation,
                                        build_record, check_repository, current_schemas, write_record)

TODAY = date(2027, 6, 1)
Schema = dict[str, Any]


class Repo:
    """A temporary copy of the catalog with its record, so each test can break it its own way."""

    def __init__(self, root: Path) -> None:
        self.catalog = root / "schemas"
        self.record = root / "schemas.lock.json"
        self.transitions = root / "transitions.json"
        shutil.copytree(DEFAULT_CATALOG_DIR, self.catalog)
        self.record.write_text(json.dumps(build_record(current_schemas(self.catalog)), indent=2), encoding="utf-8")
        self.set_transitions([])

    def edit(self, event_type: str, change: Callable[[Schema], None]) -> None:
        path = self.catalog / f"{event_type}.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
        change(schema)
        path.write_text(json.dumps(schema, indent=2), encoding="utf-8")

    def delete(self, event_type: str) -> None:
        (self.catalog / f"{event_type}.json").unlink()

    def add_v2(self, subject: str = "report_run.completed") -> None:
        v2 = json.loads((self.catalog / f"{subject}.v1.json").read_text(encoding="utf-8"))
        v2["$id"] = v2["$id"].replace(".v1.json", ".v2.json")
        v2["title"] = f"{subject}.v2"
        v2["properties"]["version"]["const"] = 2
        for example in v2["examples"]:
            example["version"] = 2
        (self.catalog / f"{subject}.v2.json").write_text(json.dumps(v2, indent=2), encoding="utf-8")

    def set_transitions(self, transitions: list[dict[str, Any]]) -> None:
        self.transitions.write_text(json.dumps({"transitions": transitions}), encoding="utf-8")

    def check(self, today: date = TODAY) -> list[Violation]:
        return check_repository(today, catalog_dir=self.catalog, record_path=self.record,
                                transitions_path=self.transitions)

    def write_record(self, today: date = TODAY) -> Path:
        return write_record(self.record, self.catalog, transitions_path=self.transitions, today=today)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def data_of(schema: Schema) -> Schema:
    return schema["properties"]["data"]


def rules(violations: list[Violation]) -> set[tuple[str, str, str]]:
    return {(v.event_type, v.field, v.rule) for v in violations}


def transition(started_on: str, retire_on: str | None = None) -> dict[str, Any]:
    return {"subject": "report_run.completed", "from_version": 1, "to_version": 2,
            "started_on": started_on, "retire_on": retire_on}


# --- the repository as committed ------------------------------------------------------------


def test_committed_record_matches_the_catalog_and_passes() -> None:
    assert check_repository() == []


def test_committed_record_is_the_generated_one_byte_for_byte() -> None:
    expected = json.dumps(build_record(current_schemas()), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert DEFAULT_RECORD_PATH.read_text(encoding="utf-8") == expected


def test_record_holds_only_the_contract_and_the_envelope() -> None:
    record = json.loads(DEFAULT_RECORD_PATH.read_text(encoding="utf-8"))
    assert "envelope" in record and "report_run.requested.v1" in record
    text = json.dumps(record)
    assert '"examples"' not in text and '"title"' not in text and '"description"' not in text


def test_an_untouched_copy_passes(repo: Repo) -> None:
    assert repo.check() == []


# --- breaking changes inside a version ---------------------------------------------------------


def test_removing_a_field_names_it_and_says_to_add_a_new_version(repo: Repo) -> None:
    def drop_due_by(s: Schema) -> None:
        del data_of(s)["properties"]["due_by"]
        data_of(s)["required"].remove("due_by")

    repo.edit("report_run.requested.v1", drop_due_by)
    [violation] = repo.check()
    assert (violation.event_type, violation.field, violation.rule) == ("report_run.requested.v1", "data.due_by",
                                                                       "removed")
    assert "data.due_by" in violation.message and "report_run.requested.v2" in violation.message


def test_renaming_a_field_is_a_removal_plus_a_new_required_field(repo: Repo) -> None:
    def rename(s: Schema) -> None:
        data_of(s)["properties"]["due_at"] = data_of(s)["properties"].pop("due_by")
        data_of(s)["required"] = [("due_at" if r == "due_by" else r) for r in data_of(s)["required"]]

    repo.edit("report_run.requested.v1", rename)
    assert rules(repo.check()) == {("report_run.requested.v1", "data.due_by", "removed"),
                                   ("report_run.requested.v1", "data.due_at", "newly_required")}


def test_removing_a_nested_object_reports_its_top_only(repo: Repo) -> None:
    def drop(s: Schema) -> None:
        del data_of(s)["properties"]["artifacts"]
        data_of(s)["required"].remove("artifacts")

    repo.edit("report_run.completed.v1", drop)
    assert rules(repo.check()) == {("report_run.completed.v1", "data.artifacts", "removed")}


def test_changing_a_type_is_refused(repo: Repo) -> None:
    repo.edit("report_run.completed.v1", lambda s: data_of(s)["properties"]["on_time"].update(type="string"))
    assert ("report_run.completed.v1", "data.on_time", "type_changed") in rules(repo.check())


def test_widening_a_type_is_additive(repo: Repo) -> None:
    repo.edit("template.published.v1", lambda s: data_of(s)["properties"]["version"].update(type="number"))
    assert rules(repo.check()) == {("template.published.v1", "(schema)", "record_outdated")}


def test_making_an_optional_field_required_is_refused(repo: Repo) -> None:
    repo.edit("template.archived.v1", lambda s: data_of(s)["required"].append("reason"))
    assert rules(repo.check()) == {("template.archived.v1", "data.reason", "newly_required")}


def test_a_new_required_field_is_refused(repo: Repo) -> None:
    def add(s: Schema) -> None:
        data_of(s)["properties"]["priority"] = {"type": "integer"}
        data_of(s)["required"].append("priority")

    repo.edit("report_run.requested.v1", add)
    assert rules(repo.check()) == {("report_run.requested.v1", "data.priority", "newly_required")}


def test_narrowing_an_enum_is_refused(repo: Repo) -> None:
    repo.edit("report_run.requested.v1", lambda s: data_of(s)["properties"]["locale"]["enum"].remove("hi"))
    assert rules(repo.check()) == {("report_run.requested.v1", "data.locale", "enum_narrowed")}


def test_narrowing_an_enum_inside_an_array_names_the_items(repo: Repo) -> None:
    repo.edit("report_run.requested.v1",
              lambda s: data_of(s)["properties"]["formats"]["items"]["enum"].remove("html"))
    assert rules(repo.check()) == {("report_run.requested.v1", "data.formats[]", "enum_narrowed")}


def test_tightening_a_max_length_is_refused(repo: Repo) -> None:
    repo.edit("report_run.cancelled.v1", lambda s: data_of(s)["properties"]["reason"].update(maxLength=100))
    [violation] = repo.check()
    assert (violation.field, violation.rule) == ("data.reason", "constraint_tightened")
    assert "maxLength" in violation.message


def test_changing_a_pattern_is_refused(repo: Repo) -> None:
    repo.edit("report_run.failed.v1",
              lambda s: data_of(s)["properties"]["error_code"].update(pattern="^MELMASTOON\\.[A-Z]+$"))
    assert rules(repo.check()) == {("report_run.failed.v1", "data.error_code", "constraint_tightened")}


def test_closing_additional_properties_is_refused(repo: Repo) -> None:
    repo.edit("report_run.requested.v1", lambda s: data_of(s).update(additionalProperties=False))
    assert rules(repo.check()) == {("report_run.requested.v1", "data", "closed")}


def test_changing_a_const_is_refused(repo: Repo) -> None:
    repo.edit("template.published.v1", lambda s: s["properties"]["subject"].update(const="template.released"))
    assert ("template.published.v1", "subject", "const_changed") in rules(repo.check())


def test_a_breaking_envelope_change_is_seen_in_every_subject(repo: Repo) -> None:
    repo.edit("envelope", lambda s: s["properties"]["residency"]["enum"].remove("KSA"))
    found = rules(repo.check())
    assert ("envelope", "residency", "enum_narrowed") in found
    assert ("report_run.requested.v1", "residency", "enum_narrowed") in found
    assert ("tenant.region_changed.v1", "residency", "enum_narrowed") in found


def test_dropping_null_from_a_one_of_is_a_type_change(repo: Repo) -> None:
    repo.edit("envelope", lambda s: s["properties"]["causation_id"]["oneOf"].pop())
    assert ("envelope", "causation_id", "type_changed") in rules(repo.check())


# --- additive changes: the record follows ------------------------------------------------------


def test_adding_an_optional_field_only_asks_to_update_the_record(repo: Repo) -> None:
    repo.edit("report_run.requested.v1",
              lambda s: data_of(s)["properties"].update(requested_via={"enum": ["api", "ui", "schedule"]}))
    [violation] = repo.check()
    assert (violation.field, violation.rule, violation.breaking) == ("data.requested_via", "record_outdated", False)
    assert "reporting events record" in violation.message


def test_widening_an_enum_only_asks_to_update_the_record(repo: Repo) -> None:
    repo.edit("report_run.requested.v1", lambda s: data_of(s)["properties"]["locale"]["enum"].append("ur"))
    assert rules(repo.check()) == {("report_run.requested.v1", "(schema)", "record_outdated")}


def test_editing_a_description_needs_no_new_record(repo: Repo) -> None:
    repo.edit("report_run.requested.v1", lambda s: s.update(description="reworded", examples=[]))
    assert repo.check() == []


def test_a_new_schema_is_unrecorded_until_recorded(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    assert rules(repo.check()) == {("report_run.completed.v2", "(schema)", "unrecorded"),
                                   ("report_run.completed.v1->v2", "(schema)", "record_outdated")}
    repo.write_record()
    assert repo.check() == []


def test_a_new_version_beside_the_old_one_needs_a_transition(repo: Repo) -> None:
    repo.add_v2()
    found = rules(repo.check())
    assert ("report_run.completed.v2", "(schema)", "transition_invalid") in found
    with pytest.raises(EvolutionError):
        repo.write_record()


def test_a_recorded_transition_can_neither_vanish_nor_be_backdated(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    repo.write_record()
    repo.set_transitions([transition("2026-10-01", retire_on="2027-01-20")])  # backdated to retire early
    assert ("report_run.completed.v1->v2", "(schema)", "retired_early") in rules(repo.check(today=date(2027, 2, 1)))
    repo.set_transitions([])  # "forget" the transition, then drop v1
    repo.delete("report_run.completed.v1")
    found = {v.rule for v in repo.check(today=date(2027, 2, 1))}
    assert {"transition_invalid", "schema_removed"} <= found


def test_dropping_a_fields_definition_while_it_stays_required_is_a_removal(repo: Repo) -> None:
    repo.edit("report_run.completed.v1", lambda s: data_of(s)["properties"].pop("run_id"))
    assert ("report_run.completed.v1", "data.run_id", "removed") in rules(repo.check())


def test_replacing_an_enum_by_a_bare_type_is_a_type_change(repo: Repo) -> None:
    repo.edit("report_run.requested.v1",
              lambda s: data_of(s)["properties"].update(origin={"type": ["string", "integer"]}))
    assert ("report_run.requested.v1", "data.origin", "type_changed") in rules(repo.check())


def test_record_moves_forward_additively(repo: Repo) -> None:
    repo.edit("report_run.cancelled.v1", lambda s: data_of(s)["properties"]["reason"].update(maxLength=400))
    repo.write_record()
    assert repo.check() == []
    assert json.loads(repo.record.read_text(encoding="utf-8"))["report_run.cancelled.v1"]["properties"]["data"][
        "properties"]["reason"]["maxLength"] == 400


def test_record_refuses_to_hide_a_breaking_change(repo: Repo) -> None:
    before = repo.record.read_text(encoding="utf-8")
    repo.edit("report_run.cancelled.v1", lambda s: data_of(s)["properties"]["reason"].update(maxLength=100))
    with pytest.raises(EvolutionError) as err:
        repo.write_record()
    assert [(v.field, v.rule) for v in err.value.violations] == [("data.reason", "constraint_tightened")]
    assert repo.record.read_text(encoding="utf-8") == before


def test_a_missing_record_file_means_everything_is_unrecorded(repo: Repo) -> None:
    repo.record.unlink()
    found = repo.check()
    assert found and {v.rule for v in found} == {"unrecorded"}
    assert "envelope" in {v.event_type for v in found}
    repo.write_record()
    assert repo.check() == []


# --- versions, transitions and retirement -------------------------------------------------------


def test_deleting_a_version_without_a_transition_is_refused(repo: Repo) -> None:
    repo.delete("report_run.completed.v1")
    assert rules(repo.check()) == {("report_run.completed.v1", "(schema)", "schema_removed")}


def test_retiring_after_two_months_is_refused_and_names_the_earliest_date(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    repo.write_record()
    repo.set_transitions([transition("2027-01-15", retire_on="2027-03-15")])
    [violation] = repo.check(today=date(2027, 2, 1))
    assert (violation.event_type, violation.rule) == ("report_run.completed.v1", "retired_early")
    assert "report_run.completed" in violation.message and "2027-04-15" in violation.message


def test_an_early_retirement_does_not_allow_deleting_the_old_version(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    repo.write_record()
    repo.set_transitions([transition("2027-01-15", retire_on="2027-03-15")])
    repo.delete("report_run.completed.v1")
    assert {v.rule for v in repo.check(today=date(2027, 3, 20))} == {"retired_early", "schema_removed"}


def test_after_a_quarter_the_old_version_may_be_deleted(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    repo.write_record()
    repo.set_transitions([transition("2027-01-15", retire_on="2027-04-15")])
    assert repo.check(today=date(2027, 4, 20)) == []
    repo.delete("report_run.completed.v1")
    assert repo.check(today=date(2027, 4, 20)) == []
    repo.write_record(today=date(2027, 4, 20))
    assert "report_run.completed.v1" not in json.loads(repo.record.read_text(encoding="utf-8"))


def test_the_old_version_stays_until_its_retirement_day(repo: Repo) -> None:
    repo.add_v2()
    repo.set_transitions([transition("2027-01-15")])
    repo.write_record()
    repo.set_transitions([transition("2027-01-15", retire_on="2027-04-15")])
    repo.delete("report_run.completed.v1")
    found = rules(repo.check(today=date(2027, 4, 14)))
    assert ("report_run.completed.v1", "(schema)", "schema_removed") in found
    assert ("report_run.completed.v1", "(schema)", "transition_invalid") in found


def test_a_transition_needs_the_new_version_in_the_catalog(repo: Repo) -> None:
    repo.set_transitions([transition("2027-01-15")])
    [violation] = [v for v in repo.check() if v.breaking]
    assert (violation.event_type, violation.rule) == ("report_run.completed.v2", "transition_invalid")
