"""The unit of work: one transaction, scoped to one tenant, that commits state and outbox events together."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable


class UnitOfWork(ABC):
    """`with uow:` … `uow.commit()`; leaving the block without commit rolls back.

    Repositories hang off the instance (tenants, properties, templates, runs,
    artifacts, inbox, audit). Aggregates they hand out are tracked; on commit,
    the events those aggregates recorded are written to the outbox in the same
    transaction, so a state change and its event are never separated.
    """

    tenant_id: str | None

    def __enter__(self) -> "UnitOfWork":
        self._committed = False
        self._begin()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._committed:
            self.rollback()
        self._end()

    def commit(self) -> None:
        self._flush_events()
        self._commit()
        self._committed = True

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _flush_events(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    def _end(self) -> None:
        """Release resources (connection back to the pool)."""


UnitOfWorkFactory = Callable[[str | None], UnitOfWork]
