"""Queued statements (adapters/postgres/connection.py `queue`) on a real Postgres: they travel with the next
statement in one flight, run in order under the same transaction, and an error in any of them fails the
statement that sent them and the transaction, never silently."""
from __future__ import annotations

import uuid

import pytest

from reporting.adapters.postgres.connection import (begin_for_tenant, commit, connect, execute, fetch_one, queue,
                                                    queued, rollback)

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(migrated):
    connection = connect(migrated.owner)
    execute(connection, "CREATE TEMP TABLE IF NOT EXISTS piped (n integer PRIMARY KEY)")
    commit(connection)
    yield connection
    rollback(connection)
    connection.close()


class CountingSocket:
    """Counts flushes on the connection's socket: one per network flight."""

    def __init__(self, conn) -> None:
        self.flights = 0
        real_flush = conn._sock.flush

        def flush() -> None:
            self.flights += 1
            real_flush()

        conn._sock.flush = flush


def test_queued_statements_travel_with_the_next_one_in_a_single_flight(conn):
    flights = CountingSocket(conn)
    first = queue(conn, "INSERT INTO piped (n) VALUES (:n) RETURNING n", {"n": 1})
    second = queue(conn, "INSERT INTO piped (n) VALUES (:n) RETURNING n", {"n": 2})
    assert flights.flights == 0 and queued(conn)
    total = fetch_one(conn, "SELECT sum(n) AS s FROM piped WHERE n >= :low", {"low": 0})
    assert flights.flights == 1 and not queued(conn)
    assert total["s"] == 3  # ran in order, before the statement that sent them
    assert first.one() == {"n": 1} and second.one() == {"n": 2}
    commit(conn)
    assert fetch_one(conn, "SELECT count(*) AS c FROM piped WHERE n >= :low", {"low": 0})["c"] == 2


def test_a_failing_queued_statement_fails_the_sender_and_the_transaction(conn):
    execute(conn, "INSERT INTO piped (n) VALUES (:n)", {"n": 10})
    queue(conn, "INSERT INTO piped (n) VALUES (:n)", {"n": 10})  # duplicate key
    with pytest.raises(Exception) as caught:
        fetch_one(conn, "SELECT 1 AS one WHERE :x = 1", {"x": 1})
    assert "duplicate key" in str(caught.value)
    rollback(conn)
    assert fetch_one(conn, "SELECT count(*) AS c FROM piped WHERE n = :n", {"n": 10})["c"] == 0


def test_a_failing_queued_write_fails_the_commit_it_travels_with(conn):
    execute(conn, "INSERT INTO piped (n) VALUES (:n)", {"n": 20})
    commit(conn)
    execute(conn, "INSERT INTO piped (n) VALUES (:n)", {"n": 21})
    queue(conn, "INSERT INTO piped (n) VALUES (:n)", {"n": 20})
    with pytest.raises(Exception):
        commit(conn)
    rollback(conn)
    assert fetch_one(conn, "SELECT count(*) AS c FROM piped WHERE n = :n", {"n": 21})["c"] == 0


def test_the_tenant_setting_is_queued_and_scoped_to_its_transaction(conn):
    tenant = str(uuid.uuid4())
    flights = CountingSocket(conn)
    begin_for_tenant(conn, tenant)
    row = fetch_one(conn, "SELECT current_setting('app.tenant_id', true) AS t, :x::int AS x", {"x": 1})
    assert row["t"] == tenant and flights.flights == 1
    commit(conn)
    assert fetch_one(conn, "SELECT coalesce(current_setting('app.tenant_id', true), '') AS t, :x::int AS x",
                     {"x": 1})["t"] == ""


def test_a_transaction_that_never_ran_a_statement_costs_no_round_trip(conn):
    flights = CountingSocket(conn)
    begin_for_tenant(conn, str(uuid.uuid4()))
    commit(conn)
    begin_for_tenant(conn, str(uuid.uuid4()))
    rollback(conn)
    assert flights.flights == 0 and not queued(conn)
