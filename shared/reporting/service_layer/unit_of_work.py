"""The unit of work: one transaction, scoped to one tenant, that commits state and outbox events together."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

from reporting.logs import get_logger

log = get_logger(__name__)


class UnitOfWork(ABC):
    """`with uow:` … `uow.commit()`; leaving the block without commit rolls back.

    Repositories hang off the instance (tenants, properties, templates, runs,
    artifacts, inbox, audit). Aggregates they hand out are tracked; on commit,
    the events those aggregates recorded are written to the outbox in the same
    transaction, so a state change and its event are never separated.
    """

    tenant_id: str | None
    # Called with the ids of the events a successful commit wrote, after the
    # connection is released: the relay publishes them straight away. Best effort:
    # the sweeper publishes whatever this misses.
    after_commit: Callable[[list[str]], None] | None = None

    def __enter__(self) -> "UnitOfWork":
        self._committed = False
        self._event_ids: list[str] = []
        self._begin()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._committed:
            self.rollback()
        self._end()
        if self._committed and self._event_ids and self.after_commit is not None:
            ids, self._event_ids = self._event_ids, []
            try:
                self.after_commit(ids)
            except Exception as error:  # never fail a committed change because publishing lagged
                log.warning("publish after commit failed; the outbox sweeper will publish",
                            extra={"events": len(ids), "error_type": type(error).__name__})

    def commit(self) -> None:
        self._event_ids.extend(self._flush_events())
        self._commit()
        self._committed = True

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _flush_events(self) -> list[str]:
        """Write the tracked aggregates' events to the outbox; return their event ids."""

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    def _end(self) -> None:
        """Release resources (connection back to the pool)."""


UnitOfWorkFactory = Callable[[str | None], UnitOfWork]
