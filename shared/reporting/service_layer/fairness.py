"""Per-tenant fairness (issue 3 item 6): a request-rate limit and a cap on ad-hoc runs in flight.

Both answer 429 MELMASTOON.REPORTING.RATE_LIMITED with Retry-After, so one tenant's
burst (or a runaway script) cannot starve the other tenants, nor its own scheduled
runs. Decisions:

- **Request rate**: a fixed one-minute window per tenant in Postgres (rate_limits),
  so the limit holds across every function instance serving the tenant. Writes
  (POST/PUT/PATCH/DELETE) are limited to `requests_per_minute`; reads have their
  own bucket with READS_PER_WRITE times that, so a dashboard polling run states
  can neither be starved by, nor use up, the write budget. The window is counted
  in its own tiny transaction, before the handler runs: a refused call writes
  nothing else. Only tenants the request gate would let in are counted (mirrored,
  flag on); others get their 403 from the gate first (plan §1.2). Instants come
  from the app clock (NTP-synced instances; tests move it by hand).
- **Runs in flight**: a new run with origin=user is refused while the tenant has
  `max_runs_in_flight` ad-hoc runs in `requested` or `rendering`. Only ad-hoc runs
  count and only they are refused: scheduled runs carry due times and legal
  cutoffs and must never be starved by a tenant's own ad-hoc burst, and backfills
  are bounded by their job (90-day cap, sharding) and would otherwise block
  operators for hours. An idempotent replay of an existing run is never refused.
  A per-tenant transaction advisory lock makes the count-then-insert exact.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from reporting.domain.errors import RateLimited
from reporting.domain.tenant import REPORTING_FLAG
from reporting.service_layer.dependencies import Dependencies

WINDOW = timedelta(minutes=1)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READS_PER_WRITE = 10
IN_FLIGHT_RETRY_AFTER_SECONDS = 30  # an ad-hoc render takes seconds; its due time is 15 minutes


@dataclass(frozen=True)
class FairnessLimits:
    requests_per_minute: int = 120  # writes; reads get READS_PER_WRITE times as many
    max_runs_in_flight: int = 50

    def per_minute(self, bucket: str) -> int:
        return self.requests_per_minute * (READS_PER_WRITE if bucket == "read" else 1)


@dataclass(frozen=True)
class WindowCount:
    """What one bump of a tenant's window found: `admitted` False when the limit was already reached."""

    enabled: bool  # the tenant is mirrored with the flag on (only those are counted)
    admitted: bool
    hits: int | None


class FairnessStore(ABC):
    """The Postgres side, bound to one unit of work (its tenant-scoped transaction)."""

    @abstractmethod
    def bump_window(self, tenant_id: str, bucket: str, window_start: datetime, limit: int,
                    flag: str) -> Callable[[], WindowCount]:
        """Count one call in the tenant's window unless `limit` is reached; drop the tenant's older windows.
        The store may defer the statement until the transaction commits; the callable gives what it found."""

    @abstractmethod
    def lock_and_count_user_runs(self, tenant_id: str) -> Callable[[], int]:
        """Serialise the tenant's ad-hoc run admissions until the transaction ends, then count its origin=user
        runs in requested or rendering. The store may defer both until the caller's next statement (which then
        runs under the lock); the returned callable gives the count."""


@dataclass(frozen=True)
class Fairness:
    """The wiring: the configured limits and how to reach the store from a unit of work."""

    limits: FairnessLimits
    store: Callable[[Any], FairnessStore]


def fairness_of(deps: Dependencies) -> Fairness | None:
    """The deployment's limits; None (no limits) where none were configured (hand-built dependencies)."""
    return deps.fairness


def window_start(now: datetime) -> datetime:
    now = now.astimezone(timezone.utc)
    return now.replace(second=0, microsecond=0)


def seconds_until_next_window(now: datetime) -> int:
    left = (window_start(now) + WINDOW - now.astimezone(timezone.utc)).total_seconds()
    return max(1, math.ceil(left))


def admit_request(tenant_id: str, method: str, deps: Dependencies, fairness: Fairness | None = None) -> None:
    """Count one API call against the tenant's request-rate window; raise RateLimited beyond the limit."""
    fairness = fairness or fairness_of(deps)
    if fairness is None:
        return
    bucket = "write" if method.upper() in WRITE_METHODS else "read"
    limit = fairness.limits.per_minute(bucket)
    now = deps.clock.now()
    with deps.uow(tenant_id) as uow:
        counted = fairness.store(uow).bump_window(tenant_id, bucket, window_start(now), limit, REPORTING_FLAG)
        uow.commit()
    count = counted()
    if count.enabled and not count.admitted:
        raise RateLimited(f"too many {bucket} requests for this tenant; retry after the window",
                          retry_after_seconds=seconds_until_next_window(now), limit=limit,
                          window_seconds=int(WINDOW.total_seconds()), scope=f"{bucket}_requests")


def admit_user_run(uow: Any, tenant_id: str, deps: Dependencies) -> Callable[[], None] | None:
    """Take the tenant's admission lock and count its ad-hoc runs in flight; return the check for a new run.

    Called inside the request's unit of work *before* its idempotency lookup, so that
    lookup runs under the lock: a concurrent request with the same key that committed
    while we waited is found there and answered as a replay (never refused). The
    returned check raises RateLimited while the tenant is at its in-flight cap; call it
    only when the run is new. None (no lock taken) where no limits are configured.
    """
    fairness = fairness_of(deps)
    if fairness is None:
        return None
    in_flight = fairness.store(uow).lock_and_count_user_runs(tenant_id)
    limit = fairness.limits.max_runs_in_flight

    def check() -> None:
        if in_flight() >= limit:
            raise RateLimited("too many ad-hoc runs in flight for this tenant; retry when some have finished",
                              retry_after_seconds=IN_FLIGHT_RETRY_AFTER_SECONDS, limit=limit,
                              scope="runs_in_flight")

    return check
