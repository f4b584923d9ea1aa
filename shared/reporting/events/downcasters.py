"""Downcasters for subjects in transition (plan §3): new-version data → the old version's data.

The producer emits the new version; while the transition is open the relay also
publishes the old one, derived here from the same outbox entry (same event id,
so a consumer that switches versions still dedupes). Register one function per
new event type, e.g. DOWNCASTERS["report_run.completed.v2"] = completed_v2_to_v1.
"""
from __future__ import annotations

from typing import Any, Callable

Downcaster = Callable[[dict[str, Any]], dict[str, Any]]  # data of vN+1 -> data of vN

DOWNCASTERS: dict[str, Downcaster] = {}
