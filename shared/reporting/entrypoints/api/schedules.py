"""Schedule routes (create, update / re-pin, list, delete) and the internal scheduler tick."""
from __future__ import annotations

from reporting.entrypoints.api.context import Route

ROUTES: list[Route] = []
