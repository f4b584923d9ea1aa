"""Run one data-backfill script over this task's share of the tenants: batched, checkpointed, logged.

- **Tenants** come from `reporting.data_backfill_tenants()` (audited, ids only); this task
  takes those with crc32(tenant id) mod CLOUD_RUN_TASK_COUNT = CLOUD_RUN_TASK_INDEX, so
  shards never overlap and together cover every tenant, whatever order they run in.
- **A batch** is one transaction in the tenant's unit of work (reporting_app, NOBYPASSRLS,
  `app.tenant_id` set): lock the checkpoint, run the script's step from the checkpoint's
  key, advance the checkpoint, COMMIT. Both or neither: a task killed anywhere resumes at
  the last committed batch, and no batch is ever counted twice.
- **Finished** checkpoints are read without a write: a re-run after completion does nothing.
- A tenant that fails is logged (its SQLSTATE, never the message: driver messages can
  carry row data) and the others go on; the job then exits 1 and Cloud Run's retry resumes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from reporting.db.data_backfills import Script, scripts
from reporting.db.data_backfills import store
from reporting.domain.shard import Shard
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies

__all__ = ["DEFAULT_BATCH_SIZE", "RunnerNotInstalled", "ScriptNotReady", "ScriptReport", "ScriptState", "Shard",
           "list_states", "run_script"]

log = get_logger(__name__)

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000
RUNNER_MIGRATION = "0018_deduct_out_of_order_expand.sql"  # creates the runner's bookkeeping

Progress = Callable[[int, int], None]  # (rows done, rows total)


class RunnerNotInstalled(RuntimeError):
    """The database lacks the runner's bookkeeping (migration 0018)."""

    def __init__(self) -> None:
        super().__init__(f"the schema-backfill runner needs migration {RUNNER_MIGRATION}: run `reporting db migrate`")


class ScriptNotReady(RuntimeError):
    """The script's expand migration is not applied here yet."""

    def __init__(self, script: Script) -> None:
        self.script = script
        super().__init__(f"{script.name} needs migration {script.requires}, not applied here: "
                         "run `reporting db migrate` first")


@dataclass
class ScriptReport:
    """What one run of one script did in this shard."""

    script: str
    shard: Shard
    status: str = "ran"  # ran | retired
    tenants: list[str] = field(default_factory=list)  # this shard's tenants
    finished: list[str] = field(default_factory=list)  # tenants this run brought to the end
    already_finished: int = 0
    batches: int = 0
    rows: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The job's summary line (no tenant lists: they can be thousands long)."""
        return {"script": self.script, "status": self.status, "shard": f"{self.shard.index}/{self.shard.count}",
                "tenants": len(self.tenants), "finished": len(self.finished),
                "already_finished": self.already_finished, "batches": self.batches, "rows": self.rows,
                "failed_tenants": len(self.errors), "elapsed_s": round(self.elapsed_s, 2)}


@dataclass(frozen=True)
class ScriptState:
    """One line of `reporting schema-backfill --list`."""

    script: str
    description: str
    status: str  # ready | waiting for <migration> | retired by <migration>
    tenants: int
    finished: int
    in_progress: int
    rows_done: int

    @property
    def not_started(self) -> int:
        return max(self.tenants - self.finished - self.in_progress, 0)


def _status(script: Script, done: set[str]) -> str:
    if script.retired_by and script.retired_by in done:
        return f"retired by {script.retired_by}"
    if script.requires not in done:
        return f"waiting for {script.requires}"
    return "ready"


def _sqlstate(error: BaseException) -> str | None:
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return info.get("C")


def _prepare(script: Script, deps: Dependencies) -> tuple[str, list[str]]:
    """(status, every tenant id) in one audited transaction without a tenant."""
    with deps.uow(None) as uow:
        conn = uow.connection
        if not store.installed(conn):
            raise RunnerNotInstalled()
        status = _status(script, store.applied(conn, [m for m in (script.requires, script.retired_by) if m]))
        tenant_ids = store.tenants(conn) if status == "ready" else []
        uow.commit()  # keeps the definer function's audit row
    return status, tenant_ids


def _remaining(script: Script, tenant_id: str, deps: Dependencies) -> int | None:
    """Rows left for this tenant, or None when its checkpoint says finished (read only, nothing written)."""
    with deps.uow(tenant_id) as uow:
        checkpoint = store.read(uow.connection, script.name, tenant_id)
        left = None if checkpoint.finished else script.count_rows(uow.connection, tenant_id, checkpoint.last_key)
        uow.commit()
    return left


def _run_tenant(script: Script, tenant_id: str, deps: Dependencies, batch_size: int,
                on_batch: Callable[[int], None]) -> tuple[int, int, bool]:
    """Batches until the tenant is finished: (batches, rows, finished by this call)."""
    batches = rows = 0
    while True:
        with deps.uow(tenant_id) as uow:
            conn = uow.connection
            checkpoint = store.claim(conn, script.name, tenant_id)
            if checkpoint.finished:  # another task got there first
                uow.commit()
                return batches, rows, False
            done, next_key = script.run_batch(conn, tenant_id, checkpoint.last_key, batch_size)
            store.advance(conn, script.name, tenant_id, done, next_key)
            uow.commit()
        batches += 1
        rows += done
        on_batch(done)
        if next_key is None:
            return batches, rows, True


def run_script(script: Script, deps: Dependencies, *, shard: Shard = Shard(),
               batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None) -> ScriptReport:
    """Bring every tenant of this shard to the end of `script`; raises ScriptNotReady before its migration."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE} (got {batch_size})")
    started = time.monotonic()
    report = ScriptReport(script.name, shard)
    status, every_tenant = _prepare(script, deps)
    if status.startswith("waiting"):
        raise ScriptNotReady(script)
    if status.startswith("retired"):
        # Its contract step applied, which it only does once every row is backfilled: nothing left.
        report.status = "retired"
        log.info("schema backfill retired", extra={"schema_backfill": {"script": script.name, "status": status}})
        return report
    report.tenants = [t for t in every_tenant if shard.owns(t)]

    pending: list[tuple[str, int]] = []
    for tenant_id in report.tenants:
        left = _remaining(script, tenant_id, deps)
        if left is None:
            report.already_finished += 1
        else:
            pending.append((tenant_id, left))
    total = sum(left for _, left in pending)
    log.info("schema backfill starts", extra={"schema_backfill": {
        "script": script.name, "shard": f"{shard.index}/{shard.count}", "tenants": len(report.tenants),
        "already_finished": report.already_finished, "rows_estimate": total, "batch_size": batch_size}})

    def on_batch(rows: int) -> None:
        report.rows += rows
        if progress is not None:
            progress(report.rows, max(total, report.rows))  # rows written meanwhile can outgrow the estimate

    for tenant_id, _ in pending:
        try:
            batches, rows, finished = _run_tenant(script, tenant_id, deps, batch_size, on_batch)
        except Exception as error:  # the others go on; the exit code makes Cloud Run retry the task
            report.errors.append({"tenant_id": tenant_id, "error_type": type(error).__name__,
                                  "sqlstate": _sqlstate(error) or ""})
            log.warning("schema backfill tenant failed", extra={"schema_backfill": {
                "script": script.name, **report.errors[-1]}})
            continue
        report.batches += batches
        if finished:
            report.finished.append(tenant_id)
        else:
            report.already_finished += 1
        log.info("schema backfill tenant finished", extra={"schema_backfill": {
            "script": script.name, "tenant_id": tenant_id, "rows": rows, "batches": batches}})
    if progress is not None and not pending:
        progress(0, 0)
    report.elapsed_s = time.monotonic() - started
    log.info("schema backfill done", extra={"schema_backfill": report.as_dict()})
    return report


def list_states(deps: Dependencies) -> list[ScriptState]:
    """Each script's state across every tenant here (counts only, one audited transaction)."""
    every = scripts()
    with deps.uow(None) as uow:
        conn = uow.connection
        if not store.installed(conn):
            raise RunnerNotInstalled()
        done = store.applied(conn, {m for s in every for m in (s.requires, s.retired_by) if m})
        tenants = len(store.tenants(conn))
        counts = store.summary(conn)
        uow.commit()
    states = []
    for script in every:
        finished, started, rows = counts.get(script.name, (0, 0, 0))
        states.append(ScriptState(script.name, script.description, _status(script, done), tenants, finished,
                                  started, rows))
    return states
