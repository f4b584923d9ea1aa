"""The ZatcaStore contract against the in-memory fake (the Postgres store runs the same tests in integration)."""
from __future__ import annotations

import uuid

import pytest

from tests.zatca_fakes import InMemoryZatcaStore
from tests.zatca_store_contract import Unit, ZatcaStoreContract


def _unit() -> Unit:
    return Unit(str(uuid.uuid4()), str(uuid.uuid4()), lambda: str(uuid.uuid4()))


class TestInMemoryZatcaStore(ZatcaStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryZatcaStore:
        return InMemoryZatcaStore()

    @pytest.fixture
    def unit(self) -> Unit:
        return _unit()

    @pytest.fixture
    def other_unit(self) -> Unit:
        return _unit()
