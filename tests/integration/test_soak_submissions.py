"""A short run of the submissions soak (bench/soak_submissions.py): on a simulated clock with scripted outages,
nothing that had a retry window left is missed, and every miss is reported exactly once."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from soak_submissions import run_soak  # noqa: E402

pytestmark = pytest.mark.integration


def test_two_simulated_days_miss_only_what_no_retry_could_save_and_report_each_miss_once(pg_server):
    result = run_soak(pg_server.admin, days=2, properties=1, seed=11)
    assert result["ok"], result["problems"]
    rows = {r["residency"]: r for r in result["rows"]}
    assert set(rows) == {"AF", "IN", "KSA"}
    assert sum(r["accepted"] for r in rows.values()) > 0 and sum(r["retried"] for r in rows.values()) > 0
    assert all(r["submissions"] > 0 for r in rows.values())
