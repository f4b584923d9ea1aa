"""Submissions in Postgres. Every statement runs inside the unit of work's tenant-scoped transaction,
so RLS keeps it to one tenant; the watchdog's cross-tenant read will be an owner's function (SPEC §4)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from reporting.adapters.postgres.connection import Connection, execute, fetch_all, fetch_one
from reporting.domain.errors import ConcurrentUpdate
from reporting.domain.submission import Adapter, SubjectKind, Submission, SubmissionState

_COLUMNS = ("submission_id, tenant_id, property_id, run_id, adapter, subject_kind, subject_ref, corrects, cutoff_at, "
            "state, attempts, last_attempt_at, next_attempt_at, authority_reference, last_error_code, last_error_at, "
            "accepted_at, created_at, updated_at")

_INSERT = f"""
    INSERT INTO reporting.submissions ({_COLUMNS})
    VALUES (:submission_id::uuid, :tenant_id::uuid, :property_id::uuid, :run_id::uuid, :adapter, :subject_kind,
            :subject_ref, :corrects::uuid, :cutoff_at, :state, :attempts, :last_attempt_at, :next_attempt_at,
            :authority_reference, :last_error_code, :last_error_at, :accepted_at, :created_at, :updated_at)
    ON CONFLICT ON CONSTRAINT submissions_subject_key DO NOTHING
    RETURNING submission_id"""

_FOR_SUBJECT = f"""
    SELECT {_COLUMNS} FROM reporting.submissions
     WHERE property_id = :property_id::uuid AND adapter = :adapter AND subject_kind = :subject_kind
       AND subject_ref = :subject_ref AND corrects IS NOT DISTINCT FROM CAST(:corrects AS uuid)"""

_LIST = f"""
    SELECT {_COLUMNS} FROM reporting.submissions
     WHERE (CAST(:state AS text) IS NULL OR state = :state)
       AND (CAST(:adapter AS text) IS NULL OR adapter = :adapter)
       AND (CAST(:props AS uuid[]) IS NULL OR property_id = ANY (CAST(:props AS uuid[])))
       AND (CAST(:cutoff_from AS timestamptz) IS NULL OR cutoff_at >= CAST(:cutoff_from AS timestamptz))
       AND (CAST(:cutoff_before AS timestamptz) IS NULL OR cutoff_at < CAST(:cutoff_before AS timestamptz))
       AND (CAST(:after_at AS timestamptz) IS NULL
            OR (cutoff_at, submission_id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
     ORDER BY cutoff_at DESC, submission_id DESC
     LIMIT :limit"""

# Only what a state change moves: the subject, its run, its cutoff and its link never change.
_SAVE = """
    UPDATE reporting.submissions
       SET state = :state, attempts = :attempts, last_attempt_at = :last_attempt_at,
           next_attempt_at = :next_attempt_at, authority_reference = :authority_reference,
           last_error_code = :last_error_code, last_error_at = :last_error_at, accepted_at = :accepted_at,
           updated_at = :updated_at
     WHERE submission_id = :submission_id::uuid AND state = :expected"""


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _params(s: Submission) -> dict[str, Any]:
    return {"submission_id": s.submission_id, "tenant_id": s.tenant_id, "property_id": s.property_id,
            "run_id": s.run_id, "adapter": str(s.adapter), "subject_kind": str(s.subject_kind),
            "subject_ref": s.subject_ref, "corrects": s.corrects, "cutoff_at": s.cutoff_at, "state": str(s.state),
            "attempts": s.attempts, "last_attempt_at": s.last_attempt_at, "next_attempt_at": s.next_attempt_at,
            "authority_reference": s.authority_reference, "last_error_code": s.last_error_code,
            "last_error_at": s.last_error_at, "accepted_at": s.accepted_at, "created_at": s.created_at,
            "updated_at": s.updated_at}


class SubmissionRepository:
    def __init__(self, conn: Connection, track: Callable[[Any], None]) -> None:
        self._conn = conn
        self._track = track  # submissions raise accepted / rejected / cutoff_missed events

    def _submission(self, row: dict[str, Any]) -> Submission:
        submission = Submission(
            submission_id=str(row["submission_id"]), tenant_id=str(row["tenant_id"]),
            property_id=str(row["property_id"]), run_id=str(row["run_id"]), adapter=Adapter(row["adapter"]),
            subject_kind=SubjectKind(row["subject_kind"]), subject_ref=row["subject_ref"],
            corrects=_s(row["corrects"]), cutoff_at=row["cutoff_at"], state=SubmissionState(row["state"]),
            attempts=row["attempts"], last_attempt_at=row["last_attempt_at"],
            next_attempt_at=row["next_attempt_at"], authority_reference=row["authority_reference"],
            last_error_code=row["last_error_code"], last_error_at=row["last_error_at"],
            accepted_at=row["accepted_at"], created_at=row["created_at"], updated_at=row["updated_at"])
        self._track(submission)
        return submission

    def add(self, s: Submission) -> bool:
        """Insert unless the tenant already has this subject (or this correction); True if inserted."""
        inserted = fetch_one(self._conn, _INSERT, _params(s))
        if inserted:
            self._track(s)
        return inserted is not None

    def get(self, submission_id: str, *, for_update: bool = False, skip_locked: bool = False) -> Submission | None:
        """The submission; with skip_locked, None also when another transaction holds its row."""
        lock = " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE" if for_update else ""
        row = fetch_one(self._conn, f"SELECT {_COLUMNS} FROM reporting.submissions WHERE submission_id = :s::uuid"
                        + lock, {"s": submission_id})
        return self._submission(row) if row else None

    def to_watch(self, now: datetime, horizon: Any, limit: int) -> list[tuple[str, str, datetime, str]]:
        """(submission, tenant, cutoff, state) of open submissions due, at risk or past their cutoff, across
        tenants, soonest cutoff first (the audited definer function; the watchdog's unit of work has no tenant)."""
        rows = fetch_all(self._conn, "SELECT * FROM reporting.submissions_to_watch(:now, :horizon, :limit)",
                         {"now": now, "horizon": horizon, "limit": limit})
        return [(str(r["submission_id"]), str(r["tenant_id"]), r["cutoff_at"], r["state"]) for r in rows]

    def for_subject(self, property_id: str, adapter: Adapter, subject_kind: SubjectKind, subject_ref: str,
                    *, corrects: str | None = None) -> Submission | None:
        """The submission of a subject (corrects None: the original; else the correction of that one)."""
        row = fetch_one(self._conn, _FOR_SUBJECT, {
            "property_id": property_id, "adapter": str(adapter), "subject_kind": str(subject_kind),
            "subject_ref": subject_ref, "corrects": corrects})
        return self._submission(row) if row else None

    def list(self, *, limit: int, state: str | None = None, adapter: str | None = None,
             property_ids: list[str] | None = None, cutoff_from: datetime | None = None,
             cutoff_before: datetime | None = None,
             after: tuple[datetime, str] | None = None) -> list[Submission]:
        """Latest cutoff first, keyset-paginated on (cutoff_at, submission_id); cutoff range half-open."""
        rows = fetch_all(self._conn, _LIST, {
            "state": state, "adapter": adapter, "props": property_ids, "cutoff_from": cutoff_from,
            "cutoff_before": cutoff_before, "after_at": after[0] if after else None,
            "after_id": after[1] if after else None, "limit": limit})
        return [self._submission(r) for r in rows]

    def save(self, s: Submission, *, expected_state: SubmissionState) -> None:
        """Write a state change, only if nobody moved the submission meanwhile (optimistic check on state)."""
        count = execute(self._conn, _SAVE, {**_params(s), "expected": str(expected_state)})
        if count != 1:
            raise ConcurrentUpdate("submission changed concurrently", submission_id=s.submission_id)
