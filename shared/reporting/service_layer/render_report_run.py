"""Render a requested run: data from the warehouse, the pinned layout, artifacts stored once.

Three steps, because rendering must not hold a database transaction open:
1. claim: requested → rendering (or re-enter `rendering` after a crash), commit;
2. produce: query, render, `put_once` every format under deterministic names;
3. complete: record artifacts, rendering → succeeded, inbox + outbox, commit.
A crash anywhere converges on redelivery: step 2 finds its objects already stored
and reuses them, step 3 is guarded by the run's state and the inbox.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reporting.domain.artifact import Artifact, StoredObject, artifact_name
from reporting.domain.errors import ArtifactExists, DomainError, NotFound
from reporting.domain.report_run import ReportRun, RunState
from reporting.domain.template import TemplateVersion
from reporting.domain.tenant import Property
from reporting.events.envelope import Envelope
from reporting.logs import get_logger
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.ports import RenderRequest

CONSUMER = "render"
log = get_logger(__name__)


@dataclass(frozen=True)
class RenderOutcome:
    run_id: str
    state: str
    duplicate: bool = False
    artifacts: tuple[Artifact, ...] = ()
    render_ms: int = 0


def _claim(envelope: Envelope, deps: Dependencies) -> tuple[ReportRun, TemplateVersion, Property] | RenderOutcome:
    run_id = envelope.data["run_id"]
    now = deps.clock.now()
    with deps.uow(envelope.tenant_id, causation_id=envelope.event_id,
                  correlation_id=envelope.correlation_id) as uow:
        if uow.inbox.seen(CONSUMER, envelope.event_id):
            return RenderOutcome(run_id, "duplicate", duplicate=True)
        run = uow.runs.get(run_id, for_update=True)
        if run is None:
            raise NotFound("run not found for its requested event", run_id=run_id)
        if run.state is not RunState.REQUESTED and run.state is not RunState.RENDERING:
            # Cancelled (or finished) before we got here: nothing to do, remember we saw it.
            uow.inbox.record(CONSUMER, envelope.event_id, envelope.tenant_id, envelope.event_type)
            uow.commit()
            return RenderOutcome(run_id, str(run.state))
        before = run.state
        if before is RunState.REQUESTED:
            run.start_rendering(now)
        else:
            run.retry_rendering(now)
        uow.runs.save(run, expected_state=before)
        version = uow.templates.get_version(run.template_version_id)
        prop = uow.properties.get(run.property_id)
        if version is None or prop is None:
            raise NotFound("run's template version or property is gone", run_id=run_id)
        uow.commit()
        return run, version, prop


def render_context(run: ReportRun, version: TemplateVersion, prop: Property, now: datetime) -> dict[str, Any]:
    local_now = now.astimezone(ZoneInfo(prop.timezone))
    return {
        "property": {"id": prop.property_id, "name": prop.name, "timezone": prop.timezone,
                     "currency": prop.currency, "country": prop.country},
        "run": {"id": run.run_id, "run_date": run.run_date, "origin": str(run.origin), "params": run.params},
        "template": {"key": version.template_key, "version": version.version,
                     "snapshot_hash": version.snapshot_hash},
        "generated_at": local_now,
        "locale": run.locale,
    }


def dataset_params(run: ReportRun, prop: Property) -> dict[str, Any]:
    """Tenant and property are always bound from the run itself, never from caller-supplied params."""
    return {**run.params, "tenant_id": run.tenant_id, "property_id": run.property_id, "run_date": run.run_date,
            "deduct_out_of_order": prop.deduct_out_of_order}


def _store(deps: Dependencies, run: ReportRun, fmt: str, data: bytes, retention_class: str) -> StoredObject:
    store = deps.artifact_store()
    name = artifact_name(run.tenant_id, run.run_id, fmt)
    try:
        return store.put_once(name, data, retention_class)
    except ArtifactExists:
        # A previous attempt stored it before crashing: that object is the artifact.
        existing = store.stat(name, retention_class)
        if existing is None:
            raise
        return existing


def _produce(run: ReportRun, version: TemplateVersion, prop: Property,
             deps: Dependencies) -> list[tuple[str, StoredObject]]:
    rows = deps.warehouse().query(version.dataset_sql, dataset_params(run, prop),
                                  max_bytes_billed=deps.max_bytes_billed)
    context = render_context(run, version, prop, deps.clock.now())
    renderer = deps.renderer()
    stored = []
    for fmt in run.formats:
        data = renderer.render(RenderRequest(layout=version.layout, fmt=fmt, locale=run.locale, rows=rows,
                                             context=context))
        stored.append((fmt, _store(deps, run, fmt, data, version.retention_class)))
    return stored


def _finish(envelope: Envelope, deps: Dependencies, *, stored: list[tuple[str, StoredObject]] | None,
            error: DomainError | None, render_ms: int) -> RenderOutcome:
    run_id = envelope.data["run_id"]
    region = deps.artifact_store().region if stored is not None else ""
    with deps.uow(envelope.tenant_id, causation_id=envelope.event_id,
                  correlation_id=envelope.correlation_id) as uow:
        if not uow.inbox.record(CONSUMER, envelope.event_id, envelope.tenant_id, envelope.event_type):
            return RenderOutcome(run_id, "duplicate", duplicate=True)
        run = uow.runs.get(run_id, for_update=True)
        assert run is not None
        if run.state is not RunState.RENDERING:  # cancelled while we rendered: keep its state
            uow.commit()
            return RenderOutcome(run_id, str(run.state))
        now = deps.clock.now()
        artifacts: list[Artifact] = []
        if error is not None:
            run.fail(now, error.code, error.message)
        else:
            for fmt, obj in stored or []:
                artifact = Artifact(
                    artifact_id=str(uuid.uuid4()), tenant_id=run.tenant_id, run_id=run.run_id, format=fmt,
                    object_uri=obj.uri, generation=obj.generation, sha256=obj.sha256, size_bytes=obj.size_bytes,
                    retention_class=obj.retention_class, locked_until=obj.locked_until, region=region,
                    encryption=obj.encryption)
                uow.artifacts.add(artifact)
                artifacts.append(artifact)
            run.succeed(now, [{"format": a.format, "uri": a.object_uri, "sha256": a.sha256,
                               "size_bytes": a.size_bytes} for a in artifacts])
        uow.runs.save(run, expected_state=RunState.RENDERING)
        uow.commit()
        return RenderOutcome(run_id, str(run.state), artifacts=tuple(artifacts), render_ms=render_ms)


def render_report_run(envelope: Envelope, deps: Dependencies) -> RenderOutcome:
    """Handle report_run.requested.v1; transient errors propagate (the event is redelivered).

    One delivery at a time per run: a concurrent duplicate gets RenderInProgress (transient)
    instead of re-entering `rendering` and rendering again."""
    with deps.run_lock(envelope.data["run_id"]):
        return _render(envelope, deps)


def _render(envelope: Envelope, deps: Dependencies) -> RenderOutcome:
    claimed = _claim(envelope, deps)
    if isinstance(claimed, RenderOutcome):
        return claimed
    run, version, prop = claimed
    started = time.perf_counter()
    try:
        stored = _produce(run, version, prop, deps)
        error = None
    except DomainError as exc:
        if not exc.permanent:
            raise
        # Bad data or a template that cannot render: retrying the same inputs cannot help.
        stored, error = None, exc
        log.warning("report run failed", extra={"run_id": run.run_id, "error_code": exc.code,
                                                "template_key": version.template_key})
    elapsed = int((time.perf_counter() - started) * 1000)
    outcome = _finish(envelope, deps, stored=stored, error=error, render_ms=elapsed)
    log.info("report run rendered", extra={"run_id": run.run_id, "state": outcome.state, "render_ms": elapsed,
                                           "template_key": version.template_key, "tenant_id": run.tenant_id})
    return outcome
