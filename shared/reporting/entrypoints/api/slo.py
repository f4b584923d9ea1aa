"""Per-tenant SLO: share of runs succeeded by their due time, per window."""
from __future__ import annotations

from reporting.entrypoints.api.context import Route

ROUTES: list[Route] = []
