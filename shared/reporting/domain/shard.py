"""A one-shot job's share of the work when Cloud Run runs it as N parallel tasks."""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Shard:
    """Task `index` of `count`: it owns the keys whose crc32 is index modulo count.

    crc32, not hash(): a key lands in the same shard in every process and every retry, so a
    retried task redoes exactly its own share, and the shards cover the set with no overlap."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise ValueError(f"a shard is an index in 0..count-1 (got {self.index}/{self.count})")

    def owns(self, *key: str) -> bool:
        """Whether this task owns the key (its parts joined by ':'; ids compared case-insensitively)."""
        return zlib.crc32(":".join(key).lower().encode()) % self.count == self.index

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Shard":
        """Cloud Run Jobs' CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT (0/1 when absent)."""
        env = os.environ if env is None else env
        return cls(int(env.get("CLOUD_RUN_TASK_INDEX", "0")), int(env.get("CLOUD_RUN_TASK_COUNT", "1")))

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """`INDEX/COUNT`, e.g. `2/4`."""
        index, sep, count = text.partition("/")
        if not sep:
            raise ValueError(f"a shard is INDEX/COUNT (got {text!r})")
        try:
            return cls(int(index), int(count))
        except ValueError as exc:
            raise ValueError(f"a shard is INDEX/COUNT, two whole numbers (got {text!r})") from exc
