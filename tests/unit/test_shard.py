"""Shard: a one-shot job's share of the keys when Cloud Run runs it as N tasks."""
import uuid

import pytest

from reporting.domain.shard import Shard


def test_shards_cover_every_key_once():
    keys = [(str(uuid.uuid4()), str(uuid.uuid4()), "arrivals") for _ in range(500)]
    owners = [[i for i in range(4) if Shard(i, 4).owns(*k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    assert {o[0] for o in owners} == {0, 1, 2, 3}  # 500 keys: every shard gets work


def test_ownership_is_stable_and_ignores_case():
    key = str(uuid.uuid4())
    assert [Shard(i, 3).owns(key) for i in range(3)] == [Shard(i, 3).owns(key.upper()) for i in range(3)]
    assert Shard().owns(key)


@pytest.mark.parametrize("text", ["4/4", "-1/2", "0/0", "1", "a/b", "1/x"])
def test_bad_shards_are_refused_with_a_message(text):
    with pytest.raises(ValueError, match="shard is"):
        Shard.parse(text)


def test_from_env_reads_cloud_run_task_variables():
    assert Shard.from_env({"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "5"}) == Shard(2, 5)
    assert Shard.from_env({}) == Shard(0, 1)
