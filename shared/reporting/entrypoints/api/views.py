"""JSON views of domain objects for API responses (ids, states and timestamps; never guest data)."""
from __future__ import annotations

from typing import Any

from reporting.domain.artifact import Artifact
from reporting.domain.report_run import ReportRun

API = "/api/v1/reports"


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def artifact_view(run_id: str, artifact: Artifact) -> dict[str, Any]:
    return {"format": artifact.format, "sha256": artifact.sha256, "size_bytes": artifact.size_bytes,
            "retention_class": artifact.retention_class, "locked_until": _ts(artifact.locked_until),
            "region": artifact.region, "encryption": artifact.encryption,
            "download_url": f"{API}/runs/{run_id}/artifacts/{artifact.format}"}


def run_view(run: ReportRun, artifacts: tuple[Artifact, ...] | list[Artifact] = ()) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "property_id": run.property_id, "template_version_id": run.template_version_id,
        "snapshot_hash": run.snapshot_hash, "run_date": run.run_date.isoformat(), "origin": str(run.origin),
        "state": str(run.state), "locale": run.locale, "formats": list(run.formats), "params": run.params,
        "attempts": run.attempts, "requested_at": _ts(run.requested_at), "due_by": _ts(run.due_by),
        "started_at": _ts(run.started_at), "finished_at": _ts(run.finished_at),
        "error": {"code": run.error_code, "message": run.error_message} if run.error_code else None,
        "supersedes": run.supersedes, "superseded_by": run.superseded_by,
        "artifacts": [artifact_view(run.run_id, a) for a in artifacts],
    }
