"""Schema backfills on real Postgres, walked through one two-phase change (SPEC §9, issue 7 item 3):
`settings.deduct_out_of_order` (jsonb key) → `properties.deduct_out_of_order` (boolean column).

A "staged" database is migrated the way production is: up to 0017 (the previous release's
schema, rows written by its statements), then the expand step 0018, the backfill, and only
then the contract step 0019. The shared `migrated` databases have every migration (0019
applies at once on an empty database): they run the current release's code.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from reporting.adapters.postgres.connection import ConnInfo, connect, execute, fetch_all, local_connection_factory
from reporting.bootstrap import Services
from reporting.config import Settings
from reporting.db.data_backfills import Script, find_script, scripts
from reporting.db.data_backfills.runner import RunnerNotInstalled, Shard, list_states, run_script
from reporting.db.lint import FILENAME_RE, parse_header
from reporting.db.migrate import MigrationFailed, migrate
from reporting.domain.tenant import Property, Residency, Tenant
from reporting.service_layer.tenants import sync_property, sync_tenant

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "migrations"
EXPAND = "0018_deduct_out_of_order_expand.sql"
CONTRACT = "0019_deduct_out_of_order_contract.sql"
D0001 = "d0001_deduct_out_of_order"

# ---- the previous release's statements, copied from git HEAD before the expand step (repositories.py) ----

OLD_PROPERTY_UPSERT = """
            INSERT INTO reporting.properties (property_id, tenant_id, name, timezone, currency, country, locale,
                                              room_count, settings, regulatory_ids, adapters)
            VALUES (:property_id::uuid, :tenant_id::uuid, :name, :timezone, :currency, :country, :locale,
                    :room_count, :settings::jsonb, :regulatory_ids::jsonb, :adapters)
            ON CONFLICT (property_id) DO UPDATE SET
              name = EXCLUDED.name, timezone = EXCLUDED.timezone, currency = EXCLUDED.currency,
              country = EXCLUDED.country, locale = EXCLUDED.locale, room_count = EXCLUDED.room_count,
              settings = EXCLUDED.settings, regulatory_ids = EXCLUDED.regulatory_ids, adapters = EXCLUDED.adapters,
              updated_at = now()"""
OLD_PROPERTY_SELECT = "SELECT * FROM reporting.properties WHERE property_id = :p::uuid"


def old_property(row: dict[str, Any]) -> Property:
    """The previous release's row mapping (PropertyRepository._property at HEAD)."""
    return Property(
        property_id=str(row["property_id"]), tenant_id=str(row["tenant_id"]), name=row["name"],
        timezone=row["timezone"], currency=row["currency"], country=row["country"], locale=row["locale"],
        room_count=row["room_count"], settings=row["settings"], regulatory_ids=row["regulatory_ids"],
        adapters=list(row["adapters"] or []),
    )


def old_params(prop: Property) -> dict[str, Any]:
    return {"property_id": prop.property_id, "tenant_id": prop.tenant_id, "name": prop.name,
            "timezone": prop.timezone, "currency": prop.currency, "country": prop.country, "locale": prop.locale,
            "room_count": prop.room_count, "settings": json.dumps(prop.settings),
            "regulatory_ids": json.dumps(prop.regulatory_ids), "adapters": list(prop.adapters)}


# What the previous release made of each stored value: Python truthiness, key absent = deduct.
SETTINGS_CASES: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"deduct_out_of_order": True}, True),
    ({"deduct_out_of_order": False}, False),
    ({"deduct_out_of_order": "false"}, True),  # the hazard the typed column removes
    ({"deduct_out_of_order": ""}, False),
    ({"deduct_out_of_order": None}, False),
    ({"deduct_out_of_order": 0}, False),
    ({"deduct_out_of_order": 2.5}, True),
    ({"deduct_out_of_order": []}, False),
    ({"deduct_out_of_order": {"a": 1}}, True),
    ({"other_setting": 1}, True),
]


def test_the_cases_are_what_the_previous_release_reads():
    for settings, expected in SETTINGS_CASES:
        assert _prop(str(uuid.uuid4()), settings).deduct_out_of_order is expected, settings


# ---- a database migrated step by step ----


def _prop(tenant_id: str, settings: dict[str, Any], property_id: str | None = None) -> Property:
    return Property(property_id=property_id or str(uuid.uuid4()), tenant_id=tenant_id, name="Hotel",
                    timezone="Asia/Kabul", currency="AFN", country="AF", locale="en", room_count=10,
                    settings=dict(settings))


@dataclasses.dataclass
class Staged:
    owner: ConnInfo
    app: ConnInfo
    services: Services
    tmp: Path

    def migrate_through(self, last: int | None) -> None:
        """Apply the packaged migrations numbered up to `last` (None: all of them, the contract included)."""
        if last is None:
            migrate(local_connection_factory(self.owner), log=lambda e: None)
            return
        directory = self.tmp / f"migrations_{last:04d}"
        directory.mkdir(exist_ok=True)
        for f in sorted(MIGRATIONS.glob("*.sql")):
            m = FILENAME_RE.match(f.name)
            if m and int(m.group(1)) <= last:
                shutil.copy(f, directory / f.name)
        migrate(local_connection_factory(self.owner), directory, log=lambda e: None)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """As the schema owner (sees every tenant)."""
        conn = connect(self.owner)
        try:
            rows = fetch_all(conn, sql, params)
            conn.commit()
            return rows
        finally:
            conn.close()

    def owner_execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        conn = connect(self.owner)
        try:
            execute(conn, sql, params)
            conn.commit()
        finally:
            conn.close()

    def old_write(self, prop: Property) -> None:
        """The previous release writing a property, as reporting_app in the tenant's transaction."""
        with self.services.deps.uow(prop.tenant_id) as uow:
            execute(uow.connection, OLD_PROPERTY_UPSERT, old_params(prop))
            uow.commit()

    def old_read(self, tenant_id: str, property_id: str) -> dict[str, Any]:
        with self.services.deps.uow(tenant_id) as uow:
            row = fetch_all(uow.connection, OLD_PROPERTY_SELECT, {"p": property_id})[0]
            uow.commit()
        return row

    def tenant(self, settings: list[dict[str, Any]]) -> tuple[str, list[str]]:
        """A tenant with one property per settings value, written by the previous release; (tenant, properties)."""
        tenant_id = str(uuid.uuid4())
        sync_tenant(Tenant(tenant_id=tenant_id, name="Group", residency=Residency.AF, stored_region="af-test",
                           features={"reporting_v1": True}), self.services.deps)
        props = [_prop(tenant_id, s) for s in settings]
        for p in props:
            self.old_write(p)
        return tenant_id, sorted(p.property_id for p in props)

    def column(self) -> dict[str, bool | None]:
        return {str(r["property_id"]): r["deduct_out_of_order"]
                for r in self.rows("SELECT property_id, deduct_out_of_order FROM reporting.properties")}

    def progress(self) -> dict[str, dict[str, Any]]:
        return {str(r["tenant_id"]): r for r in self.rows(
            "SELECT *, xmin::text AS version FROM reporting.data_backfill_progress WHERE script = :s", {"s": D0001})}


@pytest.fixture
def staged(empty_database: ConnInfo, warehouse, clock, tmp_path: Path) -> Iterator[Staged]:
    """A new database at the previous release's schema (every migration before the expand step)."""
    owner = empty_database
    app = owner.as_user("reporting_app")
    settings = Settings.from_env({
        "REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": app.url(),
        "REPORTING_ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "REPORTING_DEAD_LETTER_DIR": str(tmp_path / "dead-letters")})
    services = Services(settings, clock=clock, conn_factory=local_connection_factory(app), warehouse=warehouse)
    db = Staged(owner, app, services, tmp_path)
    db.migrate_through(17)
    yield db
    services.close()


def d0001_with(before: Callable[[Any, str], None] | None = None, after: Callable[[int], None] | None = None) -> Script:
    """d0001 with hooks inside each batch's transaction: `before(conn, tenant)`, and `after(batch number)`."""
    real = find_script("d0001")
    calls = [0]

    def run_batch(conn: Any, tenant_id: str, after_key: str | None, limit: int) -> tuple[int, str | None]:
        if before:
            before(conn, tenant_id)
        result = real.run_batch(conn, tenant_id, after_key, limit)
        calls[0] += 1
        if after:
            after(calls[0])
        return result

    return dataclasses.replace(real, run_batch=run_batch)


class Killed(BaseException):
    """A task dying mid-batch (not an Exception: the runner must not catch and carry on)."""


def count_touches(db: Staged) -> None:
    """Count, per property, every change of its column (a row processed twice would show 2)."""
    db.owner_execute("""
        CREATE TABLE reporting.test_touches (property_id uuid, at timestamptz DEFAULT clock_timestamp());
        CREATE FUNCTION reporting.test_touch() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
        BEGIN INSERT INTO reporting.test_touches (property_id) VALUES (NEW.property_id); RETURN NEW; END $$;
        CREATE TRIGGER test_touch AFTER UPDATE ON reporting.properties FOR EACH ROW
          WHEN (OLD.deduct_out_of_order IS DISTINCT FROM NEW.deduct_out_of_order)
          EXECUTE FUNCTION reporting.test_touch();""")


def touches(db: Staged) -> dict[str, int]:
    return {str(r["property_id"]): r["n"] for r in db.rows(
        "SELECT property_id, count(*) AS n FROM reporting.test_touches GROUP BY 1")}


# ---- expand: the previous release keeps working ----


def test_previous_release_statements_still_work_after_the_expand_step(staged):
    tenant_id, (first, second) = staged.tenant([{"deduct_out_of_order": True}, {}])
    before = {p: staged.old_read(tenant_id, p) for p in (first, second)}

    staged.migrate_through(18)

    # Its reads: same rows, same values, same domain objects (one more column it never looks at).
    for p in (first, second):
        row = staged.old_read(tenant_id, p)
        assert {k: v for k, v in row.items() if k != "deduct_out_of_order"} == before[p]
        assert old_property(row) == old_property(before[p])
    # Its writes: an insert and an update, both accepted; the sync trigger keeps the new column in step.
    third = _prop(tenant_id, {"deduct_out_of_order": False})
    staged.old_write(third)
    staged.old_write(dataclasses.replace(old_property(before[first]), settings={"deduct_out_of_order": False}))
    assert old_property(staged.old_read(tenant_id, third.property_id)).deduct_out_of_order is False
    assert old_property(staged.old_read(tenant_id, first)).deduct_out_of_order is False
    assert staged.column() == {first: False, second: None, third.property_id: False}  # second: the backfill's


def test_dual_write_on_the_expanded_schema_is_what_the_previous_release_reads(staged):
    staged.migrate_through(18)
    tenant_id, _ = staged.tenant([])
    for settings, expected in SETTINGS_CASES:
        prop = _prop(tenant_id, settings)
        sync_property(prop, staged.services.deps)  # this release's repository: dual-write
        row = staged.old_read(tenant_id, prop.property_id)
        assert row["deduct_out_of_order"] is expected, settings
        assert old_property(row).deduct_out_of_order is expected, settings  # the key says the same
        assert row["settings"]["deduct_out_of_order"] is expected  # normalised to a real boolean


def test_the_runner_refuses_before_the_expand_migration(staged):
    staged.tenant([{}])
    with pytest.raises(RunnerNotInstalled, match="0018"):
        run_script(find_script("d0001"), staged.services.deps)
    with pytest.raises(RunnerNotInstalled):
        list_states(staged.services.deps)


# ---- backfill ----


def test_backfill_fills_every_tenants_rows_under_row_level_security(staged):
    tenants = {}
    for _ in range(3):
        tenant_id, props = staged.tenant([s for s, _ in SETTINGS_CASES])
        tenants[tenant_id] = props
    expected = {}
    for tenant_id in tenants:
        rows = staged.rows("SELECT property_id, settings FROM reporting.properties WHERE tenant_id = :t::uuid",
                           {"t": tenant_id})
        expected.update({str(r["property_id"]): _prop(tenant_id, r["settings"]).deduct_out_of_order for r in rows})
    staged.migrate_through(18)
    assert set(staged.column().values()) == {None}

    seen: list[dict[str, Any]] = []

    def observe(conn: Any, tenant_id: str) -> None:
        row = fetch_all(conn, """
            SELECT current_user AS role, current_setting('app.tenant_id') AS setting,
                   (SELECT array_agg(DISTINCT tenant_id::text) FROM reporting.properties) AS visible,
                   (SELECT count(*) FROM reporting.properties) AS n""")[0]
        seen.append({"tenant": tenant_id, **row})

    report = run_script(d0001_with(before=observe), staged.services.deps, batch_size=4)

    assert staged.column() == expected
    assert sorted(report.finished) == sorted(tenants) and report.errors == []
    assert report.rows == 3 * len(SETTINGS_CASES) and report.batches == 3 * 3  # 11 rows in batches of 4
    for s in seen:  # every batch: the app role, its tenant set, only its tenant's rows visible
        assert (s["role"], s["setting"], s["visible"], s["n"]) == (
            "reporting_app", s["tenant"], [s["tenant"]], len(SETTINGS_CASES))
    progress = staged.progress()
    assert set(progress) == set(tenants)
    for row in progress.values():
        assert (row["rows_done"], row["batches"], row["last_key"]) == (len(SETTINGS_CASES), 3, None)
        assert row["finished_at"] is not None
    # The app role reads only its own tenant's checkpoint; the tenant list came through the audited function.
    a = next(iter(tenants))
    with staged.services.deps.uow(a) as uow:
        own = fetch_all(uow.connection, "SELECT tenant_id::text AS t FROM reporting.data_backfill_progress")
    assert [r["t"] for r in own] == [a]
    audited = staged.rows("SELECT row_count FROM reporting.cross_tenant_access_log "
                          "WHERE function = 'data_backfill_tenants'")
    assert [r["row_count"] for r in audited] == [3]


def test_a_killed_run_resumes_at_its_last_checkpoint_and_changes_no_row_twice(staged):
    x, x_props = staged.tenant([{}] * 7)
    y, y_props = staged.tenant([{"deduct_out_of_order": False}] * 5)
    staged.migrate_through(18)
    count_touches(staged)
    first = min(x, y)  # tenants are processed in id order
    first_props = x_props if first == x else y_props

    def kill(batch: int) -> None:
        if batch == 3:
            raise Killed()  # after the batch's UPDATE, before its checkpoint and COMMIT

    with pytest.raises(Killed):
        run_script(d0001_with(after=kill), staged.services.deps, batch_size=2)

    progress = staged.progress()
    assert set(progress) == {first}  # the other tenant was never started
    assert (progress[first]["rows_done"], progress[first]["batches"], progress[first]["finished_at"]) == (4, 2, None)
    assert progress[first]["last_key"] == first_props[3]  # the 4th property in key order
    assert touches(staged) == {p: 1 for p in first_props[:4]}  # the killed batch left nothing behind

    totals: list[tuple[int, int]] = []
    report = run_script(find_script("d0001"), staged.services.deps, batch_size=2,
                        progress=lambda done, total: totals.append((done, total)))

    assert sorted(report.finished) == sorted([x, y])
    remaining = len(first_props) - 4 + (len(y_props) if first == x else len(x_props))
    assert report.rows == remaining and totals[-1] == (remaining, remaining)
    progress = staged.progress()
    assert {t: (r["rows_done"], r["batches"]) for t, r in progress.items()} == {x: (7, 4), y: (5, 3)}
    assert touches(staged) == {p: 1 for p in x_props + y_props}  # every row changed exactly once
    assert staged.column() == {**{p: True for p in x_props}, **{p: False for p in y_props}}


def test_shards_cover_every_tenant_once_with_no_overlap(staged):
    tenants = [staged.tenant([{}, {"deduct_out_of_order": False}])[0] for _ in range(10)]
    staged.migrate_through(18)

    covered: dict[int, list[str]] = {}
    for index in (3, 1, 0, 2):  # any order: a shard's share depends on the tenant id alone
        report = run_script(find_script("d0001"), staged.services.deps, shard=Shard(index, 4))
        covered[index] = report.finished
        assert sorted(report.tenants) == sorted(report.finished)

    all_finished = [t for share in covered.values() for t in share]
    assert sorted(all_finished) == sorted(tenants)  # no gap, and (same length) no overlap
    for index, share in covered.items():
        assert all(Shard(index, 4).owns(t) for t in share)
    assert None not in staged.column().values()


def test_a_rerun_after_completion_does_nothing(staged):
    tenants = [staged.tenant([{}, {"deduct_out_of_order": None}, {}])[0] for _ in range(2)]
    staged.migrate_through(18)
    count_touches(staged)
    run_script(find_script("d0001"), staged.services.deps, batch_size=2)
    progress = staged.progress()
    versions = staged.rows("SELECT property_id, xmin::text AS v FROM reporting.properties ORDER BY 1")

    again = run_script(find_script("d0001"), staged.services.deps, batch_size=2)

    assert (again.finished, again.already_finished, again.batches, again.rows) == ([], 2, 0, 0)
    assert staged.progress() == progress  # not even rewritten: same row versions
    assert staged.rows("SELECT property_id, xmin::text AS v FROM reporting.properties ORDER BY 1") == versions
    assert sum(touches(staged).values()) == 2 * 3
    assert sorted(progress) == sorted(tenants)


# ---- reads switched ----


def test_a_property_not_backfilled_is_refused_never_guessed(staged):
    tenant_id, (prop,) = staged.tenant([{"deduct_out_of_order": False}])
    staged.migrate_through(18)
    with staged.services.deps.uow(tenant_id) as uow:
        with pytest.raises(RuntimeError, match="d0001"):
            uow.properties.get(prop)
    run_script(find_script("d0001"), staged.services.deps)
    with staged.services.deps.uow(tenant_id) as uow:
        assert uow.properties.get(prop).deduct_out_of_order is False


def test_reads_come_from_the_column(make_services, make_hotel, migrated_for):
    services = make_services(Residency.AF)
    hotel = make_hotel(services)
    owner = connect(migrated_for("AF").owner)
    try:  # the key gone (as after the contract step), the column false: only the column can say false
        execute(owner, """UPDATE reporting.properties SET deduct_out_of_order = false,
                                 settings = settings - 'deduct_out_of_order' WHERE property_id = :p::uuid""",
                {"p": hotel.property_id})
        owner.commit()
    finally:
        owner.close()
    with services.deps.uow(hotel.tenant_id) as uow:
        prop = uow.properties.get(hotel.property_id)
    assert prop.deduct_out_of_order is False


def test_dual_write_keeps_the_column_and_the_key_equal_for_new_writes(make_services, make_hotel, migrated_for):
    services = make_services(Residency.AF)
    hotel = make_hotel(services)
    for settings, expected in SETTINGS_CASES:
        with services.deps.uow(hotel.tenant_id) as uow:
            prop = uow.properties.get(hotel.property_id)
        sync_property(dataclasses.replace(prop, settings=settings), services.deps)
        owner = connect(migrated_for("AF").owner)
        try:
            row = fetch_all(owner, "SELECT settings, deduct_out_of_order FROM reporting.properties "
                                   "WHERE property_id = :p::uuid", {"p": hotel.property_id})[0]
        finally:
            owner.close()
        assert row["deduct_out_of_order"] is expected, settings
        assert row["settings"]["deduct_out_of_order"] is expected, settings
        assert {k: v for k, v in row["settings"].items() if k != "deduct_out_of_order"} == {
            k: v for k, v in settings.items() if k != "deduct_out_of_order"}


# ---- contract ----


def test_the_contract_refuses_while_rows_are_not_backfilled_and_applies_after(staged):
    tenants = {}
    for _ in range(2):
        tenant_id, _ = staged.tenant([s for s, _ in SETTINGS_CASES])
        tenants[tenant_id] = True
    expected = {str(r["property_id"]): _prop(str(r["tenant_id"]), r["settings"]).deduct_out_of_order
                for r in staged.rows("SELECT property_id, tenant_id, settings FROM reporting.properties")}
    staged.migrate_through(18)

    with pytest.raises(MigrationFailed) as refused:
        staged.migrate_through(None)
    assert refused.value.filename == CONTRACT and refused.value.sqlstate == "55000"
    assert f"{2 * len(SETTINGS_CASES)} properties of 2 tenants are not backfilled" in str(refused.value)
    assert "schema-backfill" in str(refused.value)  # the DETAIL tells the operator what to run
    recorded = {r["filename"] for r in staged.rows("SELECT filename FROM reporting.schema_migrations")}
    assert CONTRACT not in recorded
    assert not [f for f in recorded if f > CONTRACT]  # and every later file waits behind it
    assert staged.rows("SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'properties_deduct_out_of_order_sync'"
                       )[0]["n"] == 1  # rolled back whole

    run_script(find_script("d0001"), staged.services.deps)
    # A row that drifted after the backfill (a writer setting the column against its key) also blocks it.
    drifted = next(iter(expected))
    staged.owner_execute("UPDATE reporting.properties SET deduct_out_of_order = NOT deduct_out_of_order "
                         "WHERE property_id = :p::uuid", {"p": drifted})
    with pytest.raises(MigrationFailed, match="1 properties of 1 tenants"):
        staged.migrate_through(None)
    staged.owner_execute("UPDATE reporting.properties SET deduct_out_of_order = NOT deduct_out_of_order "
                         "WHERE property_id = :p::uuid", {"p": drifted})

    staged.migrate_through(None)

    assert staged.column() == expected  # every value kept
    assert staged.rows("SELECT count(*) AS n FROM reporting.properties WHERE settings ? 'deduct_out_of_order'"
                       )[0]["n"] == 0
    column = staged.rows("""SELECT is_nullable, column_default FROM information_schema.columns
                             WHERE table_schema = 'reporting' AND table_name = 'properties'
                               AND column_name = 'deduct_out_of_order'""")[0]
    assert (column["is_nullable"], column["column_default"]) == ("NO", "true")
    # Done: the script is retired and a run does nothing; the list says so.
    assert run_script(find_script("d0001"), staged.services.deps).status == "retired"
    state = next(s for s in list_states(staged.services.deps) if s.script == D0001)
    assert state.status == f"retired by {CONTRACT}" and state.finished == 2


def test_the_lint_accepts_the_expand_and_contract_migrations():
    done = subprocess.run([sys.executable, "-m", "reporting.cli", "db", "lint", str(MIGRATIONS / EXPAND),
                           str(MIGRATIONS / CONTRACT)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 file(s) clean" in done.stderr
    assert parse_header((MIGRATIONS / CONTRACT).read_text()).contract_completes == EXPAND


# ---- the job's command ----


def test_the_command_runs_scripts_and_lists_their_state(staged, monkeypatch, capsys):
    from reporting import logs
    from reporting.cli import main

    monkeypatch.setattr(logs, "_configured", True)  # keep pytest's log capture in place
    for key, value in {"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": staged.app.url(),
                       "REPORTING_ARTIFACT_DIR": str(staged.tmp / "artifacts"),
                       "REPORTING_DEAD_LETTER_DIR": str(staged.tmp / "dead-letters")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CLOUD_SQL_INSTANCE", raising=False)
    tenants: list[str] = []
    while len(tenants) < 4 or len({Shard(0, 2).owns(t) for t in tenants}) < 2:  # both shards get some
        tenants.append(staged.tenant([{}, {}, {}])[0])
    assert main(["schema-backfill", "--script", "d0001"]) == 2  # before its migration
    staged.migrate_through(18)
    capsys.readouterr()

    assert main(["schema-backfill", "--script", "d0001", "--shard", "0/2", "--batch-size", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    share = [t for t in tenants if Shard(0, 2).owns(t)]
    assert (summary["script"], summary["finished"], summary["rows"]) == (D0001, len(share), 3 * len(share))

    assert main(["schema-backfill", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split()[:2] == ["script", "status"]
    line = next(x for x in listed if x.startswith(D0001)).split()
    assert line == [D0001, "ready", str(len(tenants)), str(len(share)), "0", str(len(tenants) - len(share)),
                    str(3 * len(share))]

    assert main(["schema-backfill", "--script", "d9999"]) == 2
    assert main(["schema-backfill", "--batch-size", "0"]) == 2
    assert [s.name for s in scripts()] == [D0001]
