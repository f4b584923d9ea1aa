"""Template routes: list (platform-shared and the tenant's own), create, publish a version, archive."""
from __future__ import annotations

from reporting.entrypoints.api.context import Route

ROUTES: list[Route] = []
