"""What use cases get from the bootstrap: a unit-of-work factory and the ports."""
from __future__ import annotations

from dataclasses import dataclass
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from reporting.domain.tenant import Residency
from reporting.service_layer.ports import ArtifactStore, Clock, Renderer, Warehouse
from reporting.service_layer.unit_of_work import UnitOfWork


@dataclass
class Dependencies:
    uow: Callable[..., UnitOfWork]  # uow(tenant_id, causation_id=None, correlation_id=None)
    clock: Clock
    residency: Residency
    warehouse: Callable[[], Warehouse]  # lazy: the request path never builds it
    renderer: Callable[[], Renderer]
    artifact_store: Callable[[], ArtifactStore]
    backfill_days: int = 90
    max_bytes_billed: int | None = None
    # run_lock(run_id): held while one delivery renders a run; raises RenderInProgress if another holds it
    run_lock: Callable[[str], ContextManager[None]] = lambda run_id: nullcontext()
    # Per-tenant request-rate and runs-in-flight limits (service_layer/fairness.py); None = no limits
    fairness: Any = None
    # regulatory(submission, live) → the RegulatoryAdapter that files it (service_layer/submit.py)
    regulatory: Any = None
