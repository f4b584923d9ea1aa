"""Residency move (plan §6, SPEC §9; issue 7): a tenant's reporting data from one residency's deployment to another's.

Steps, each idempotent, resumable and logged; the source stays authoritative until the end:

1. `lock` (source): the tenant becomes `locked_readonly` — API writes get 423, the
   scheduler pauses its schedules (it only fires for `active` tenants).
2. `export` (source): once the tenant's outbox is drained, each moved table's rows go
   to the transfer area as CSV, operational artifact files beside them, and a manifest
   (tables, row counts, sha256 per file, objects) last. Regulatory artifacts do not
   move: they stay in the source under legal hold (the manifest lists them).
3. `import` (target): the manifest and every file are verified first (checksums, row
   counts, columns against the target's schema); then the tenant is created here as
   `importing`, and each table is imported in one transaction together with its
   progress mark, under the target's row-level security. Operational artifacts are
   stored in the target's store; regulatory ones become index entries pointing at the
   source's objects, carrying `original_region`. A rerun skips finished tables.
4. `tenant.region_changed.v1` (both sides, the region_changed function): the target
   rewrites the tenant's residency and stored region and makes it `active` (its
   schedules resume); the source marks it `moved` (reads answer where it went). A
   replay changes nothing.
`abort` (source, before completion) unlocks the tenant: the source simply carries on.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reporting.domain.artifact import artifact_name
from reporting.domain.errors import Conflict, NotFound
from reporting.domain.tenant import Residency, TenantStatus
from reporting.events.envelope import Envelope
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.transfer import TransferArea, decode_csv, encode_csv, sha256

log = get_logger(__name__)

ACTOR = "residency-move"
PAGE_ROWS = 5000


@dataclass(frozen=True)
class MovedTable:
    name: str
    key: str  # a unique column: keyset pagination of the export
    # self-references (a row may point at a later row): imported NULL, then set in a second pass
    deferred: tuple[str, ...] = ()


# In foreign-key order. Each tenant-scoped table is either here or in NOT_MOVED (a test
# holds every table of the schema with a tenant_id column to that).
MOVED_TABLES: tuple[MovedTable, ...] = (
    MovedTable("reporting.tenants", "tenant_id"),
    MovedTable("reporting.properties", "property_id"),
    MovedTable("reporting.templates", "template_id"),
    MovedTable("reporting.template_versions", "template_version_id"),
    MovedTable("reporting.schedules", "schedule_id"),
    MovedTable("reporting.report_runs", "run_id", deferred=("supersedes", "superseded_by")),
    MovedTable("reporting.artifacts", "artifact_id"),
    MovedTable("reporting.submissions", "submission_id", deferred=("corrects",)),
    MovedTable("reporting.zatca_chain_heads", "property_id"),
    MovedTable("reporting.zatca_invoices", "document_id"),
    MovedTable("reporting.audit_log", "audit_id"),
)
NOT_MOVED: dict[str, str] = {
    "reporting.outbox": "drained before the export (the export waits for it); events are not re-sent",
    "reporting.inbox": "deduplicates this deployment's own subscriptions; the target's start empty",
    "reporting.rate_limits": "per-minute counters of this deployment",
    "reporting.residency_moves": "each side keeps its own record of the move",
    "reporting.data_backfill_progress": "checkpoints of this deployment's schema-backfill jobs",
}


class MoveNotReady(Conflict):
    """A step's precondition is not met yet (events still to publish, the import not finished): retry later."""

    permanent = False


class MoveRefused(Conflict):
    """A step that must not run in the tenant's current state, or data that does not verify."""


@dataclass
class MoveReport:
    move_id: str
    step: str
    state: str
    tables: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    regulatory_objects: int = 0
    skipped: list[str] = field(default_factory=list)


def _files(move_id: str) -> str:
    return f"moves/{move_id}"


def _move_row(uow: Any, move_id: str, side: str) -> dict[str, Any] | None:
    return uow.moves.get(move_id, side)


# ---- 1. lock (source) ---------------------------------------------------------------------------------------

def lock_for_move(tenant_id: str, to_residency: Residency, deps: Dependencies, *, move_id: str | None = None) -> MoveReport:
    """Lock the tenant read-only in this (the source) deployment and record the move; returns its id."""
    move_id = move_id or str(uuid.uuid4())
    with deps.uow(tenant_id) as uow:
        tenant = uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("tenant not mirrored here")
        if to_residency is deps.residency:
            raise MoveRefused("the tenant is already served by this residency", to_residency=str(to_residency))
        existing = _move_row(uow, move_id, "source")
        if existing is not None:  # a rerun of this step
            return MoveReport(move_id, "lock", existing["state"])
        if uow.moves.open_move(tenant_id, "source") is not None:
            raise MoveRefused("the tenant already has a move in progress", tenant_id=tenant_id)
        tenant.check_served_by(deps.residency)
        if tenant.status is not TenantStatus.ACTIVE:
            raise MoveRefused("only an active tenant can be moved", status=str(tenant.status))
        uow.moves.set_tenant_status(tenant_id, TenantStatus.LOCKED_READONLY)
        uow.moves.start(move_id, tenant_id, "source", deps.residency, to_residency, "locked")
        uow.audit.append(tenant_id=tenant_id, actor=ACTOR, action="tenant.lock_for_move", target_type="tenant",
                         target_id=tenant_id, details={"move_id": move_id, "to_residency": str(to_residency)})
        uow.commit()
    log.info("residency move: tenant locked", extra={"move_id": move_id, "tenant_id": tenant_id,
                                                     "to_residency": str(to_residency)})
    return MoveReport(move_id, "lock", "locked")


# ---- 2. export (source) -------------------------------------------------------------------------------------

def export_tenant(move_id: str, tenant_id: str, deps: Dependencies, transfer: TransferArea, *,
                  region: str) -> MoveReport:
    """Write the tenant's rows, operational artifact files and the manifest to the transfer area."""
    with deps.uow(tenant_id) as uow:
        move = _move_row(uow, move_id, "source")
        if move is None or move["state"] not in ("locked", "exported"):
            raise MoveRefused("export needs a locked move", state=None if move is None else move["state"])
        pending = uow.rows.unpublished_events()
    if pending:
        raise MoveNotReady("the tenant's events are not all published yet; retry after the outbox sweeper ran",
                           unpublished=pending)
    report = MoveReport(move_id, "export", "exported")
    tables: list[dict[str, Any]] = []
    artifacts: list[dict[str, str | None]] = []
    for table in MOVED_TABLES:
        with deps.uow(tenant_id) as uow:
            columns = [name for name, _ in uow.rows.columns(table.name)]
            rows: list[list[str | None]] = []
            after: str | None = None
            while True:
                page, after = uow.rows.page(table.name, columns, table.key, after=after, limit=PAGE_ROWS)
                rows.extend(page)
                if after is None:
                    break
        data = encode_csv(columns, rows)
        file = f"{_files(move_id)}/{table.name.split('.')[1]}.csv"
        transfer.write(file, data)
        tables.append({"table": table.name, "file": file, "rows": len(rows), "sha256": sha256(data),
                       "columns": columns})
        report.tables[table.name] = len(rows)
        if table.name == "reporting.artifacts":
            artifacts = [dict(zip(columns, r)) for r in rows]
    objects, regulatory = _export_objects(move_id, artifacts, deps, transfer)
    report.objects, report.regulatory_objects = len(objects), len(regulatory)
    manifest = {"move_id": move_id, "tenant_id": tenant_id, "from_residency": str(deps.residency),
                "from_region": region, "exported_at": deps.clock.now().isoformat(), "tables": tables,
                "objects": objects, "regulatory_objects": regulatory}
    transfer.write(f"{_files(move_id)}/manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    with deps.uow(tenant_id) as uow:
        uow.moves.advance(move_id, "source", "exported", manifest={k: v for k, v in manifest.items()
                                                                   if k != "objects"})
        uow.audit.append(tenant_id=tenant_id, actor=ACTOR, action="tenant.export_for_move", target_type="tenant",
                         target_id=tenant_id, details={"move_id": move_id, "rows": report.tables,
                                                       "objects": report.objects,
                                                       "regulatory_objects": report.regulatory_objects})
        uow.commit()
    log.info("residency move: tenant exported", extra={"move_id": move_id, "tenant_id": tenant_id,
                                                       "rows": report.tables, "objects": report.objects,
                                                       "regulatory_objects": report.regulatory_objects})
    return report


def _export_objects(move_id: str, artifacts: list[dict[str, str | None]], deps: Dependencies,
                    transfer: TransferArea) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    store = deps.artifact_store()
    objects, regulatory = [], []
    for row in artifacts:
        name = artifact_name(str(row["tenant_id"]), str(row["run_id"]), str(row["format"]))
        if str(row["retention_class"]).startswith("regulatory"):
            # Stays here under legal hold (plan §6); the target indexes it by original_region.
            hold = getattr(store, "place_legal_hold", None)
            if hold is not None:
                hold(name)
            regulatory.append({"artifact_id": row["artifact_id"], "name": name, "uri": row["object_uri"],
                               "retention_class": row["retention_class"], "legal_hold": hold is not None})
            continue
        data = store.read(name)  # plaintext: the target seals it again with its own key
        file = f"{_files(move_id)}/objects/{name}"
        transfer.write(file, data)
        objects.append({"artifact_id": row["artifact_id"], "name": name, "file": file, "sha256": sha256(data),
                        "size_bytes": len(data)})
    return objects, regulatory


# ---- 3. import (target) -------------------------------------------------------------------------------------

def import_tenant(move_id: str, deps: Dependencies, transfer: TransferArea, *, region: str) -> MoveReport:
    """Verify everything, then import table by table (each with its progress mark); a rerun resumes."""
    manifest = json.loads(transfer.read(f"{_files(move_id)}/manifest.json"))
    tenant_id = manifest["tenant_id"]
    files = {t["table"]: _verified(transfer, t) for t in manifest["tables"]}
    for obj in manifest["objects"]:
        if sha256(transfer.read(obj["file"])) != obj["sha256"]:
            raise MoveRefused("an exported artifact does not match its checksum", file=obj["file"])
    report = MoveReport(move_id, "import", "imported")
    with deps.uow(tenant_id) as uow:
        for table in MOVED_TABLES:
            mine = [name for name, _ in uow.rows.columns(table.name)]
            theirs = next(t["columns"] for t in manifest["tables"] if t["table"] == table.name)
            if mine != theirs:
                raise MoveRefused("the two deployments' schemas differ: migrate both to the same release first",
                                  table=table.name, source_columns=theirs, target_columns=mine)
        move = _move_row(uow, move_id, "target")
        if move is None:
            _create_importing_tenant(uow, manifest, files["reporting.tenants"], deps)
            uow.moves.start(move_id, tenant_id, "target", Residency(manifest["from_residency"]), deps.residency,
                            "importing", manifest={"imported_tables": [], "from_region": manifest["from_region"]})
            uow.commit()
            done: list[str] = []
        elif move["state"] in ("imported", "completed"):
            return MoveReport(move_id, "import", move["state"])
        else:
            done = list((move["manifest"] or {}).get("imported_tables", []))
    stored = _import_objects(manifest, deps, transfer)
    for table in MOVED_TABLES[1:]:
        if table.name in done:
            report.skipped.append(table.name)
            continue
        columns, rows = files[table.name]
        if table.name == "reporting.artifacts":
            rows = _artifact_index(columns, rows, stored, manifest, deps, region)
        with deps.uow(tenant_id) as uow:
            types = dict(uow.rows.columns(table.name))
            report.tables[table.name] = _import_table(uow, table, columns, types, rows)
            done.append(table.name)
            uow.moves.advance(move_id, "target", "importing", manifest={"imported_tables": done,
                                                                        "from_region": manifest["from_region"]})
            uow.commit()
    with deps.uow(tenant_id) as uow:
        counts = {t.name: uow.rows.count(t.name) for t in MOVED_TABLES[1:]}
        expected = {t["table"]: t["rows"] for t in manifest["tables"] if t["table"] != "reporting.tenants"}
        if counts != expected:
            raise MoveRefused("imported row counts differ from the manifest", imported=counts, expected=expected)
        uow.moves.advance(move_id, "target", "imported", manifest={"imported_tables": done, "rows": counts,
                                                                   "from_region": manifest["from_region"]})
        uow.audit.append(tenant_id=tenant_id, actor=ACTOR, action="tenant.import_for_move", target_type="tenant",
                         target_id=tenant_id, details={"move_id": move_id, "rows": counts})
        uow.commit()
    report.regulatory_objects = len(manifest["regulatory_objects"])
    report.objects = len(manifest["objects"])
    log.info("residency move: tenant imported", extra={"move_id": move_id, "tenant_id": tenant_id, "rows": counts,
                                                       "objects": report.objects,
                                                       "regulatory_objects": report.regulatory_objects})
    return report


def _verified(transfer: TransferArea, entry: dict[str, Any]) -> tuple[list[str], list[list[str | None]]]:
    data = transfer.read(entry["file"])
    if sha256(data) != entry["sha256"]:
        raise MoveRefused("an exported table does not match its checksum", table=entry["table"])
    columns, rows = decode_csv(data)
    if len(rows) != entry["rows"] or columns != entry["columns"]:
        raise MoveRefused("an exported table does not match its manifest", table=entry["table"])
    return columns, rows


def _create_importing_tenant(uow: Any, manifest: dict[str, Any], tenant_file: tuple[list[str], list[Any]],
                             deps: Dependencies) -> None:
    columns, rows = tenant_file
    if len(rows) != 1:
        raise MoveRefused("the export holds no tenant row")
    row = dict(zip(columns, rows[0]))
    # Homed in the source until region_changed; `importing` is the one status this deployment serves anyway.
    row.update(status=str(TenantStatus.IMPORTING), moved_to_residency=None)
    types = dict(uow.rows.columns("reporting.tenants"))
    uow.rows.insert("reporting.tenants", [(c, types[c]) for c in columns], [[row[c] for c in columns]])
    tenant = uow.tenants.get(manifest["tenant_id"])
    if tenant is None or tenant.status is not TenantStatus.IMPORTING:
        raise MoveRefused("the tenant already exists in this deployment and is not being imported",
                          status=None if tenant is None else str(tenant.status))


def _import_table(uow: Any, table: MovedTable, columns: list[str], types: dict[str, str],
                  rows: list[list[str | None]]) -> int:
    deferred_at = [columns.index(c) for c in table.deferred]
    first_pass = [[None if i in deferred_at else v for i, v in enumerate(r)] for r in rows]
    typed = [(c, types[c]) for c in columns]
    inserted = 0
    for start in range(0, len(first_pass), PAGE_ROWS):
        inserted += uow.rows.insert(table.name, typed, first_pass[start:start + PAGE_ROWS])
    key_at = columns.index(table.key) if table.key in columns else None
    for column in table.deferred:
        at = columns.index(column)
        assert key_at is not None
        uow.rows.set_column(table.name, table.key, column, types[column],
                            [(r[key_at], r[at]) for r in rows if r[at] is not None])
    return inserted


def _import_objects(manifest: dict[str, Any], deps: Dependencies, transfer: TransferArea) -> dict[str, Any]:
    """Put each operational artifact into this deployment's store (write-once: a rerun finds it there)."""
    from reporting.domain.errors import ArtifactExists

    store = deps.artifact_store()
    stored: dict[str, Any] = {}
    for obj in manifest["objects"]:
        data = transfer.read(obj["file"])
        try:
            stored[obj["artifact_id"]] = store.put_once(obj["name"], data, "operational")
        except ArtifactExists:
            existing = store.stat(obj["name"])
            if existing is None or existing.sha256 != obj["sha256"]:
                raise MoveRefused("an artifact with that name already differs in this deployment",
                                  artifact_id=obj["artifact_id"]) from None
            stored[obj["artifact_id"]] = existing
    return stored


def _artifact_index(columns: list[str], rows: list[list[str | None]], stored: dict[str, Any],
                    manifest: dict[str, Any], deps: Dependencies, region: str) -> list[list[str | None]]:
    """Operational rows point at this deployment's copies; regulatory rows stay pointing at the source's objects."""
    regulatory = {o["artifact_id"] for o in manifest["regulatory_objects"]}
    out = []
    for values in rows:
        row = dict(zip(columns, values))
        if row["artifact_id"] in regulatory:
            row["original_region"] = manifest["from_region"]
        else:
            obj = stored[row["artifact_id"]]
            row.update(object_uri=obj.uri, generation=str(obj.generation), region=region, original_region=None)
            if "encryption" in row:
                row["encryption"] = getattr(obj, "encryption", row["encryption"]) or row["encryption"]
        out.append([row[c] for c in columns])
    return out


# ---- 4. region_changed (both sides) -------------------------------------------------------------------------

def complete_move(envelope: Envelope, deps: Dependencies) -> str:
    """tenant.region_changed.v1: the target activates the tenant, the source marks it moved; replays change nothing."""
    data = envelope.data
    tenant_id, move_id = data["tenant_id"], data["move_id"]
    to_residency, from_residency = Residency(data["to_residency"]), Residency(data["from_residency"])
    if deps.residency not in (to_residency, from_residency):
        return "not-this-residency"
    with deps.uow(tenant_id, causation_id=envelope.event_id, correlation_id=envelope.correlation_id) as uow:
        tenant = uow.tenants.get(tenant_id)
        if tenant is None:
            if deps.residency is to_residency:  # the import has not started here yet: redeliver later
                raise MoveNotReady("the tenant is not imported here yet", tenant_id=tenant_id)
            return "unknown-tenant"
        if not uow.inbox.record("region_changed", envelope.event_id, tenant_id, envelope.event_type):
            return "duplicate"
        side = "target" if deps.residency is to_residency else "source"
        move = _move_row(uow, move_id, side)
        if side == "target":
            if tenant.status is TenantStatus.ACTIVE and tenant.residency is to_residency:
                outcome = "already-active"
            elif move is None or move["state"] not in ("imported", "completed"):
                raise MoveNotReady("the import has not finished here yet", move_id=move_id)
            else:
                uow.moves.activate_here(tenant_id, to_residency, data["to_region"])
                outcome = "activated"
        else:
            if tenant.status is TenantStatus.MOVED:
                outcome = "already-moved"
            elif move is None or move["state"] not in ("exported", "completed"):
                raise MoveRefused("region_changed for a move this deployment never exported", move_id=move_id)
            else:
                uow.moves.set_tenant_status(tenant_id, TenantStatus.MOVED, moved_to=to_residency)
                outcome = "moved"
        if move is not None and move["state"] != "completed":
            uow.moves.advance(move_id, side, "completed")
        uow.audit.append(tenant_id=tenant_id, actor=ACTOR, action="tenant.region_changed", target_type="tenant",
                         target_id=tenant_id, details={"move_id": move_id, "side": side, "outcome": outcome,
                                                       "to_residency": str(to_residency)})
        uow.commit()
    log.info("residency move: region changed", extra={"move_id": move_id, "tenant_id": tenant_id,
                                                      "side": side, "outcome": outcome})
    return outcome


def abort_move(move_id: str, tenant_id: str, deps: Dependencies) -> MoveReport:
    """Give up a move in the source before it completed: unlock; the source simply carries on."""
    with deps.uow(tenant_id) as uow:
        move = _move_row(uow, move_id, "source")
        if move is None:
            raise NotFound("no such move from this deployment", move_id=move_id)
        if move["state"] == "completed":
            raise MoveRefused("the move has completed; move the tenant back instead", move_id=move_id)
        if move["state"] != "aborted":
            uow.moves.set_tenant_status(tenant_id, TenantStatus.ACTIVE)
            uow.moves.advance(move_id, "source", "aborted")
            uow.audit.append(tenant_id=tenant_id, actor=ACTOR, action="tenant.abort_move", target_type="tenant",
                             target_id=tenant_id, details={"move_id": move_id})
        uow.commit()
    log.info("residency move aborted", extra={"move_id": move_id, "tenant_id": tenant_id})
    return MoveReport(move_id, "abort", "aborted")


def move_status(move_id: str, tenant_id: str, deps: Dependencies) -> list[dict[str, Any]]:
    with deps.uow(tenant_id) as uow:
        rows = [r for r in (uow.moves.get(move_id, side) for side in ("source", "target")) if r is not None]
    return rows


def region_changed_event(*, move_id: str, tenant_id: str, from_residency: Residency, to_residency: Residency,
                         to_region: str, now: datetime) -> Envelope:
    """The event tenant-service sends when the move's export is imported (built here for local runs and tests)."""
    return Envelope(event_id=str(uuid.uuid4()), subject="tenant.region_changed", version=1,
                    occurred_at=now.isoformat(), tenant_id=tenant_id, residency=str(from_residency),
                    correlation_id=move_id, causation_id=None, aggregate_id=tenant_id,
                    data={"tenant_id": tenant_id, "from_residency": str(from_residency),
                          "to_residency": str(to_residency), "to_region": to_region, "move_id": move_id,
                          "requested_at": now.isoformat()})


__all__ = ["MOVED_TABLES", "NOT_MOVED", "MoveNotReady", "MoveRefused", "MoveReport", "abort_move",
           "complete_move", "export_tenant", "import_tenant", "lock_for_move", "move_status",
           "region_changed_event"]
