"""The Postgres unit of work: a tenant-scoped transaction (SET LOCAL app.tenant_id) that also writes the outbox."""
from __future__ import annotations

import uuid
from typing import Any, Callable

from reporting.adapters.postgres import repositories as repos
from reporting.adapters.postgres.backfill_repository import BackfillRepository
from reporting.adapters.postgres.move_repository import MoveRepository
from reporting.adapters.postgres.tenant_rows import TenantRows
from reporting.adapters.postgres.connection import (Connection, begin_for_tenant, commit, discard_queue, queued,
                                                    rollback)
from reporting.adapters.postgres.pool import ConnectionPool
from reporting.adapters.postgres.schedule_repository import ScheduleRepository
from reporting.adapters.postgres.submission_repository import SubmissionRepository
from reporting.domain.tenant import Residency
from reporting.events.envelope import Envelope
from reporting.service_layer.ports import Clock
from reporting.service_layer.unit_of_work import UnitOfWork


class PostgresUnitOfWork(UnitOfWork):
    def __init__(self, pool: ConnectionPool, tenant_id: str | None, residency: Residency, clock: Clock,
                 *, causation_id: str | None = None, correlation_id: str | None = None,
                 after_commit: Callable[[list[str]], None] | None = None) -> None:
        self._pool = pool
        self.after_commit = after_commit
        self.tenant_id = tenant_id
        self._residency = residency
        self._clock = clock
        self.causation_id = causation_id
        self.correlation_id = correlation_id
        self._conn: Connection | None = None
        self._seen: list[Any] = []
        self._broken = False

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside its `with` block"
        return self._conn

    def _track(self, aggregate: Any) -> None:
        self._seen.append(aggregate)

    def _begin(self) -> None:
        self._conn = self._pool.get()
        self._seen = []
        self._broken = False
        try:
            # BEGIN and the tenant setting are queued: they travel with the first statement.
            begin_for_tenant(self._conn, str(uuid.UUID(self.tenant_id)) if self.tenant_id else "")
        except Exception:
            self._broken = True
            self._end()
            raise
        conn = self._conn
        track = self._track
        self.tenants = repos.TenantRepository(conn, track)
        self.properties = repos.PropertyRepository(conn, track)
        self.templates = repos.TemplateRepository(conn, track)
        self.runs = repos.ReportRunRepository(conn, track)
        self.artifacts = repos.ArtifactRepository(conn, track)
        self.inbox = repos.InboxRepository(conn, track)
        self.audit = repos.AuditRepository(conn, track)
        self.outbox = repos.OutboxRepository(conn, track)
        self.schedules = ScheduleRepository(conn, track)
        self.submissions = SubmissionRepository(conn, track)
        self.backfill = BackfillRepository(conn, track)
        self.moves = MoveRepository(conn, track)
        self.rows = TenantRows(conn, track)

    def _flush_events(self) -> list[str]:
        written: list[str] = []
        for aggregate in self._seen:
            events = getattr(aggregate, "events", None)
            while events:
                event = events.pop(0)
                tenant_id = getattr(aggregate, "tenant_id", None) or self.tenant_id
                if tenant_id is None:
                    raise ValueError(f"{event.subject}: an event needs a tenant")
                envelope = Envelope.for_event(
                    event, event_id=str(uuid.uuid4()), occurred_at=self._clock.now().isoformat(), tenant_id=tenant_id,
                    residency=str(self._residency), correlation_id=self.correlation_id or str(uuid.uuid4()),
                    causation_id=self.causation_id)
                self.outbox.add(envelope.to_dict())
                written.append(envelope.event_id)
        return written

    def _commit(self) -> None:
        try:
            commit(self.connection)
        except Exception:
            self._broken = True
            raise

    def rollback(self) -> None:
        if self._conn is None:
            return
        try:
            rollback(self._conn)
        except Exception:
            self._broken = True

    def _end(self) -> None:
        if self._conn is not None:
            if queued(self._conn):  # statements never sent: the transaction never finished cleanly
                discard_queue(self._conn)
                self._broken = True
            self._pool.put(self._conn, broken=self._broken)
            self._conn = None
