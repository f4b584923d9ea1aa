"""A residency move between two local "regions" (two databases, two artifact stores, one transfer area): rows and
checksums match, regulatory artifacts stay and are indexed, writes are refused during the lock, a crash after
any step resumes to the same end state, and region_changed completes both sides once."""
from __future__ import annotations

import json
import uuid

import pytest

from reporting.adapters.local.transfer_area import LocalTransferArea
from reporting.adapters.postgres.connection import connect, fetch_all
from reporting.adapters.postgres.tenant_rows import TenantRows
from reporting.domain.artifact import Artifact, artifact_name, locked_until
from reporting.domain.errors import ResidencyMismatch, TenantLocked
from reporting.domain.tenant import Residency, TenantStatus
from reporting.entrypoints.consumers import consume
from reporting.service_layer.commands import RequestReportRun, RerenderReportRun
from reporting.service_layer.queries import get_report_run
from reporting.service_layer.report_runs import request_report_run, rerender_report_run
from reporting.service_layer.residency_move import (MOVED_TABLES, NOT_MOVED, MoveNotReady, MoveRefused,
                                                    abort_move, export_tenant, import_tenant, lock_for_move,
                                                    region_changed_event)
from reporting.service_layer.transfer import encode_csv, sha256
from tests.integration.helpers import json_event

pytestmark = pytest.mark.integration

TO_REGION = "asia-south1"


@pytest.fixture
def world(make_services, make_hotel, tmp_path):
    """AF (source) with one hotel that has history, IN (target) empty, a shared transfer area."""
    source, target = make_services(Residency.AF), make_services(Residency.IN)
    hotel = make_hotel(source)
    runs = []
    for days_back in range(3):
        runs.append(request_report_run(RequestReportRun(
            tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_key="daily_occupancy",
            run_date=hotel.yesterday.fromordinal(hotel.yesterday.toordinal() - days_back),
            idempotency_key=f"k{days_back}", requested_by="op"), source.deps).run)
    source.relay.sweep()  # rendered: operational artifacts
    rerender_report_run(RerenderReportRun(tenant_id=hotel.tenant_id, run_id=runs[0].run_id, idempotency_key="rr",
                                          requested_by="op"), source.deps)  # superseded_by points at a later row
    source.relay.sweep()
    regulatory = _regulatory_artifact(source, hotel)
    return source, target, hotel, LocalTransferArea(tmp_path / "transfer"), regulatory


def _regulatory_artifact(services, hotel) -> str:
    """A regulatory file of a run (its csv slot), stored under its locked retention class."""
    run = request_report_run(RequestReportRun(
        tenant_id=hotel.tenant_id, property_id=hotel.property_id, template_key="daily_occupancy",
        run_date=hotel.yesterday.fromordinal(hotel.yesterday.toordinal() - 5), formats=("pdf",),
        idempotency_key="reg", requested_by="op"), services.deps).run
    services.relay.sweep()
    name = artifact_name(hotel.tenant_id, run.run_id, "csv")
    obj = services.artifact_store.put_once(name, b"register;line\r\n", "regulatory-af-police")
    artifact_id = str(uuid.uuid4())
    with services.deps.uow(hotel.tenant_id) as uow:
        uow.artifacts.add(Artifact(artifact_id=artifact_id, tenant_id=hotel.tenant_id, run_id=run.run_id, format="csv",
                                   object_uri=obj.uri, generation=obj.generation, sha256=obj.sha256,
                                   size_bytes=obj.size_bytes, retention_class="regulatory-af-police",
                                   locked_until=locked_until("regulatory-af-police", services.clock.now()),
                                   region=services.settings.region))
        uow.commit()
    return artifact_id


def rows_as_owner(services, sql: str, **params):
    conn = connect(services_owner(services))
    try:
        return fetch_all(conn, sql, params)
    finally:
        conn.close()


def services_owner(services):
    from reporting.adapters.postgres.connection import ConnInfo

    app = ConnInfo.from_url(services.settings.database_url)
    return app.as_user("reporting_owner")


def move_all(world, *, crash: dict | None = None):
    source, target, hotel, transfer, _ = world
    move = lock_for_move(hotel.tenant_id, Residency.IN, source.deps).move_id
    export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
    import_tenant(move, target.deps, transfer, region=TO_REGION)
    return move


def finish(world, move_id: str, now) -> tuple:
    source, target, hotel, _, _ = world
    event = region_changed_event(move_id=move_id, tenant_id=hotel.tenant_id, from_residency=Residency.AF,
                                 to_residency=Residency.IN, to_region=TO_REGION, now=now)
    raw = json.loads(json.dumps(event.to_dict()))
    return (consume("region_changed", json_event(raw), target), consume("region_changed", json_event(raw), source))


def test_every_tenant_table_is_moved_or_left_behind_with_a_reason(services):
    with services.deps.uow(None) as uow:
        tables = TenantRows(uow.connection).tenant_tables()
    moved = {t.name for t in MOVED_TABLES}
    assert set(tables) - moved - set(NOT_MOVED) == set(), "a tenant table the move would silently leave behind"
    assert not moved & set(NOT_MOVED)


def test_a_move_copies_rows_and_files_keeps_regulatory_artifacts_and_completes_both_sides(world, clock):
    source, target, hotel, transfer, regulatory_id = world
    move = lock_for_move(hotel.tenant_id, Residency.IN, source.deps).move_id
    with pytest.raises(TenantLocked):  # writes refused during the lock
        request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                            template_key="daily_occupancy", idempotency_key="during",
                                            requested_by="op"), source.deps)
    exported = export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
    assert exported.tables["reporting.report_runs"] == 5 and exported.regulatory_objects == 1
    imported = import_tenant(move, target.deps, transfer, region=TO_REGION)
    assert imported.tables["reporting.report_runs"] == 5

    manifest = json.loads(transfer.read(f"moves/{move}/manifest.json"))
    with target.deps.uow(hotel.tenant_id) as uow:  # the same rows, byte for byte, where nothing is rewritten
        rows = TenantRows(uow.connection)
        for entry in manifest["tables"]:
            if entry["table"] in ("reporting.tenants", "reporting.artifacts", "reporting.audit_log"):
                continue
            key = next(t.key for t in MOVED_TABLES if t.name == entry["table"])
            page, _ = rows.page(entry["table"], entry["columns"], key, after=None, limit=100000)
            assert sha256(encode_csv(entry["columns"], page)) == entry["sha256"], entry["table"]
            assert rows.count(entry["table"]) == entry["rows"]
    assert not any(o["name"].endswith("report.csv") and "regulatory" in o.get("retention_class", "")
                   for o in manifest["objects"])  # regulatory files are not copied
    index = rows_as_owner(target, "SELECT * FROM reporting.artifacts WHERE artifact_id = :a::uuid", a=regulatory_id)[0]
    assert index["original_region"] == source.settings.region and index["object_uri"].startswith("file:")
    assert source.artifact_store.read(index["object_uri"].split("/artifacts/AF/", 1)[1]) == b"register;line\r\n"

    target_done, source_done = finish(world, move, clock.now())
    assert (target_done.status, target_done.result) == ("processed", "activated"), target_done.reason
    assert (source_done.status, source_done.result) == ("processed", "moved")
    with target.deps.uow(hotel.tenant_id) as uow:
        tenant = uow.tenants.get(hotel.tenant_id)
    assert (tenant.status, tenant.residency, tenant.stored_region) == (TenantStatus.ACTIVE, Residency.IN, TO_REGION)
    view = get_report_run(hotel.tenant_id, str(manifest["tables"][0]["rows"] and
                                                 rows_as_owner(target, "SELECT run_id FROM reporting.report_runs "
                                                               "WHERE tenant_id = :t::uuid AND state = 'succeeded' "
                                                               "LIMIT 1", t=hotel.tenant_id)[0]["run_id"]),
                          target.deps)
    pdf = next(a for a in view.artifacts if a.format == "pdf")
    assert pdf.region == TO_REGION and target.artifact_store.read(
        artifact_name(hotel.tenant_id, view.run.run_id, "pdf")).startswith(b"%PDF")
    with pytest.raises(ResidencyMismatch) as moved:  # the source's reads say where the tenant went
        get_report_run(hotel.tenant_id, view.run.run_id, source.deps)
    assert moved.value.details["moved_to"] == "IN"

    again = finish(world, move, clock.now())  # a replay (a new delivery of the same change) changes nothing
    assert [c.result for c in again] == ["already-active", "already-moved"]


def test_export_waits_for_the_outbox_and_a_crash_after_any_step_resumes_to_the_same_end(world, clock, monkeypatch):
    source, target, hotel, transfer, _ = world
    move = lock_for_move(hotel.tenant_id, Residency.IN, source.deps).move_id
    assert lock_for_move(hotel.tenant_id, Residency.IN, source.deps, move_id=move).state == "locked"  # rerun
    with source.deps.uow(hotel.tenant_id) as uow:  # an event not published yet
        uow.audit.append(tenant_id=hotel.tenant_id, actor="t", action="x", target_type="t", target_id="t")
        uow.outbox.add({"event_id": str(uuid.uuid4()), "tenant_id": hotel.tenant_id,
                        "subject": "template.published", "version": 1, "aggregate_id": "x"})
        uow.commit()
    with pytest.raises(MoveNotReady):
        export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
    conn = connect(services_owner(source))
    try:
        from reporting.adapters.postgres.connection import execute

        execute(conn, "UPDATE reporting.outbox SET published_at = now() WHERE tenant_id = :t::uuid",
                {"t": hotel.tenant_id})
        conn.commit()
    finally:
        conn.close()

    writes = {"n": 0}
    real_write = LocalTransferArea.write

    def crash_on_third_file(self, name, data):
        writes["n"] += 1
        if writes["n"] == 3:
            raise OSError("killed mid-export")
        return real_write(self, name, data)

    monkeypatch.setattr(LocalTransferArea, "write", crash_on_third_file)
    with pytest.raises(OSError):
        export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
    monkeypatch.setattr(LocalTransferArea, "write", real_write)
    export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)

    inserts = {"n": 0}
    real_insert = TenantRows.insert

    def crash_on_fourth_table(self, table, columns, rows):
        inserts["n"] += 1
        if inserts["n"] == 4:
            raise RuntimeError("killed mid-import")
        return real_insert(self, table, columns, rows)

    monkeypatch.setattr(TenantRows, "insert", crash_on_fourth_table)
    with pytest.raises(RuntimeError):
        import_tenant(move, target.deps, transfer, region=TO_REGION)
    monkeypatch.setattr(TenantRows, "insert", real_insert)
    resumed = import_tenant(move, target.deps, transfer, region=TO_REGION)
    assert "reporting.report_runs" in resumed.skipped and "reporting.artifacts" not in resumed.skipped
    assert import_tenant(move, target.deps, transfer, region=TO_REGION).state == "imported"  # rerun: nothing

    counts = {t: rows_as_owner(target, f"SELECT count(*) AS n FROM {t} WHERE tenant_id = :t::uuid",
                               t=hotel.tenant_id)[0]["n"] for t in ("reporting.report_runs", "reporting.artifacts",
                                                                    "reporting.audit_log")}
    manifest = json.loads(transfer.read(f"moves/{move}/manifest.json"))
    expected = {e["table"]: e["rows"] for e in manifest["tables"] if e["table"] in counts}
    expected["reporting.audit_log"] += 1  # the target's own "imported" entry
    assert counts == expected  # nothing lost, nothing doubled by the crash and the reruns
    assert [c.result for c in finish(world, move, clock.now())] == ["activated", "moved"]


def test_a_tampered_file_is_refused_before_anything_is_imported(world):
    source, target, hotel, transfer, _ = world
    move = lock_for_move(hotel.tenant_id, Residency.IN, source.deps).move_id
    export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
    path = f"moves/{move}/report_runs.csv"
    transfer.write(path, transfer.read(path).replace(b"succeeded", b"failed", 1))
    with pytest.raises(MoveRefused, match="checksum"):
        import_tenant(move, target.deps, transfer, region=TO_REGION)
    assert rows_as_owner(target, "SELECT 1 FROM reporting.tenants WHERE tenant_id = :t::uuid", t=hotel.tenant_id) == []


def test_an_aborted_move_unlocks_the_source_and_the_target_never_saw_the_tenant(world):
    source, target, hotel, transfer, _ = world
    move = lock_for_move(hotel.tenant_id, Residency.IN, source.deps).move_id
    abort_move(move, hotel.tenant_id, source.deps)
    request_report_run(RequestReportRun(tenant_id=hotel.tenant_id, property_id=hotel.property_id,
                                        template_key="daily_occupancy", idempotency_key="after-abort",
                                        requested_by="op"), source.deps)
    with pytest.raises(MoveRefused):
        export_tenant(move, hotel.tenant_id, source.deps, transfer, region=source.settings.region)
