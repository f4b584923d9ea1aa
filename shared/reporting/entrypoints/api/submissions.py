"""Regulatory submissions, read-only here: list and get."""
from __future__ import annotations

from reporting.entrypoints.api.context import Route

ROUTES: list[Route] = []
