"""Read use cases on regulatory submissions (the API's list and get); creating and submitting them is the
submit function's (issue 6). Same gate as every read: mirrored tenant, flag on, served here, locks allowed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reporting.domain.errors import NotFound
from reporting.domain.submission import Submission
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.tenants import require_readable_tenant


@dataclass(frozen=True)
class SubmissionFilter:
    state: str | None = None
    adapter: str | None = None
    property_ids: list[str] | None = None  # None = every property of the tenant; [] = none
    cutoff_from: datetime | None = None  # inclusive
    cutoff_before: datetime | None = None  # exclusive


@dataclass(frozen=True)
class SubmissionsPage:
    submissions: tuple[Submission, ...]
    next_after: tuple[datetime, str] | None  # keyset position of the next page, None when this is the last


def get_submission(tenant_id: str, submission_id: str, deps: Dependencies, *,
                   visible_property_ids: frozenset[str] | None = None) -> Submission:
    """One submission. Another tenant's (RLS hides it) or another hotel's, for a hotel-limited user, is not found."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        submission = uow.submissions.get(submission_id)
    if submission is None or (visible_property_ids is not None
                              and submission.property_id not in visible_property_ids):
        raise NotFound("submission not found")
    return submission


def list_submissions(tenant_id: str, filters: SubmissionFilter, deps: Dependencies, *, limit: int = 50,
                     after: tuple[datetime, str] | None = None) -> SubmissionsPage:
    """Latest cutoff first, keyset-paginated on (cutoff_at, submission_id)."""
    with deps.uow(tenant_id) as uow:
        require_readable_tenant(uow, tenant_id, deps.residency)
        if filters.property_ids == []:
            return SubmissionsPage((), None)
        rows = uow.submissions.list(limit=limit + 1, state=filters.state, adapter=filters.adapter,
                                    property_ids=filters.property_ids, cutoff_from=filters.cutoff_from,
                                    cutoff_before=filters.cutoff_before, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return SubmissionsPage(tuple(rows), (rows[-1].cutoff_at, rows[-1].submission_id) if more and rows else None)
