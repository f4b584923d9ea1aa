"""A tiny connection pool: functions keep a few warm connections per instance, created lazily."""
from __future__ import annotations

import threading

from reporting.adapters.postgres.connection import Connection, ConnectionFactory


class ConnectionPool:
    def __init__(self, factory: ConnectionFactory, max_idle: int = 4) -> None:
        self._factory = factory
        self._max_idle = max_idle
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def get(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._factory()

    def put(self, conn: Connection, *, broken: bool = False) -> None:
        """Return a connection whose transaction is already finished; broken ones are closed."""
        if not broken:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        try:
            conn.close()
        except Exception:
            pass

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.close()
            except Exception:
                pass
