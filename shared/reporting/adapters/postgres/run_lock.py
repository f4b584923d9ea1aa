"""A per-run lock across instances: a Postgres session-level advisory lock held while a run renders.

Pub/Sub may deliver the same event twice at once (a redelivery while the first
push is still running). The second delivery must not re-enter `rendering` and
render again; it is told to retry later (RenderInProgress is transient), when
it will find the run finished. Session-level, on a connection held for the
render: if the first instance dies, its connection closes and Postgres releases
the lock, so a crash never blocks the redelivery that recovers the run.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

from reporting.adapters.postgres.connection import fetch_one
from reporting.adapters.postgres.pool import ConnectionPool
from reporting.domain.errors import RenderInProgress

NAMESPACE = 0x52454E44  # "REND": keeps these keys apart from other advisory-lock users


def _key(run_id: str) -> int:
    return int(uuid.UUID(run_id).int & 0x7FFFFFFF)


@contextmanager
def run_lock(pool: ConnectionPool, run_id: str) -> Iterator[None]:
    conn = pool.get()
    broken = False
    try:
        row = fetch_one(conn, "SELECT pg_try_advisory_lock(:ns, :key) AS got", {"ns": NAMESPACE, "key": _key(run_id)})
        conn.commit()
        if not (row and row["got"]):
            raise RenderInProgress("another delivery is rendering this run", run_id=run_id)
        try:
            yield
        finally:
            try:
                fetch_one(conn, "SELECT pg_advisory_unlock(:ns, :key) AS released",
                          {"ns": NAMESPACE, "key": _key(run_id)})
                conn.commit()
            except Exception:
                broken = True  # closing the connection releases the lock
    except RenderInProgress:
        raise
    except Exception:
        broken = True
        raise
    finally:
        pool.put(conn, broken=broken)
