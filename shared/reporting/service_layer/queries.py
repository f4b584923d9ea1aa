"""Read-side use cases for the API: what a tenant may see, through the same gates as writes (minus the lock)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reporting.domain.artifact import Artifact, ArtifactCorrupted, artifact_name
from reporting.domain.errors import NotFound
from reporting.domain.report_run import ReportRun
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_readable_tenant


@dataclass(frozen=True)
class RunView:
    run: ReportRun
    artifacts: tuple[Artifact, ...]


def get_report_run(tenant_id: str, run_id: str, deps: Dependencies) -> RunView:
    """One run with its artifacts. Another tenant's run is simply not found (RLS hides it)."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        run = uow.runs.get(run_id)
        if run is None:
            raise NotFound("run not found")
        return RunView(run, tuple(uow.artifacts.for_run(run_id)))


@dataclass(frozen=True)
class ArtifactDownload:
    """What a download gets: the verified bytes to stream, or a short-lived URL to send the caller to."""
    artifact: Artifact
    data: bytes | None = None
    url: str | None = None


def read_artifact(tenant_id: str, run_id: str, fmt: str, deps: Dependencies, *,
                  signed_url_ttl: timedelta | None = None) -> ArtifactDownload:
    """An artifact, after the same visibility checks as the run itself.

    With `signed_url_ttl`, a plain (not envelope-encrypted) object the store can sign is answered with a
    URL instead of bytes. Bytes are checked against the sha256 recorded for the artifact (the one users
    compare with) before they are served: a substituted or corrupted object is an error, never a download."""
    view = get_report_run(tenant_id, run_id, deps)
    artifact = next((a for a in view.artifacts if a.format == fmt), None)
    if artifact is None:
        raise NotFound("artifact not found")
    store = deps.artifact_store()
    name = artifact_name(tenant_id, run_id, fmt)
    if signed_url_ttl is not None and artifact.encryption != "envelope":
        url = store.signed_url(name, signed_url_ttl, artifact.retention_class)
        if url is not None:
            return ArtifactDownload(artifact, url=url)
    data = store.read(name, artifact.retention_class)
    if hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise ArtifactCorrupted("artifact bytes do not match the sha256 recorded for the run", run_id=run_id,
                                format=fmt)
    return ArtifactDownload(artifact, data=data)


@dataclass(frozen=True)
class RunFilter:
    state: str | None = None
    template_id: str | None = None
    template_version_id: str | None = None
    property_ids: list[str] | None = None  # None = every property the caller may see
    run_date_from: date | None = None
    run_date_to: date | None = None


@dataclass(frozen=True)
class RunsPage:
    runs: tuple[ReportRun, ...]
    next_after: tuple[datetime, str] | None  # keyset position of the next page, None when this is the last


def list_report_runs(tenant_id: str, filters: RunFilter, deps: Dependencies, *, limit: int = 50,
                     after: tuple[datetime, str] | None = None) -> RunsPage:
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        runs = uow.runs.list(limit=limit + 1, state=filters.state, template_id=filters.template_id,
                             template_version_id=filters.template_version_id, property_ids=filters.property_ids,
                             run_date_from=filters.run_date_from, run_date_to=filters.run_date_to, after=after)
    more = len(runs) > limit
    runs = runs[:limit]
    return RunsPage(tuple(runs), (runs[-1].requested_at, runs[-1].run_id) if more and runs else None)
