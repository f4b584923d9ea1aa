"""The ArtifactStore contract against the local filesystem store, plain and sealed (envelope encryption)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pytest

from reporting.adapters.crypto.local_key_file import LocalKeyFileWrapper
from reporting.adapters.crypto.sealed_store import SealedArtifactStore
from reporting.adapters.local.artifact_store import LocalArtifactStore
from reporting.service_layer.ports import ArtifactStore
from tests.storage.contract import REGION, ArtifactStoreContract, RetentionContract, WriteOnceContract


class TestLocalArtifactStore(ArtifactStoreContract, WriteOnceContract, RetentionContract):
    def setup_backing(self, request: pytest.FixtureRequest) -> None:
        self.root: Path = request.getfixturevalue("tmp_path") / "artifacts"

    def make_store(self, retention_days: Mapping[str, int] | None = None) -> ArtifactStore:
        return LocalArtifactStore(self.root, region=REGION, retention_days=retention_days)


class TestSealedLocalArtifactStore(ArtifactStoreContract, WriteOnceContract, RetentionContract):
    expected_encryption = {"operational": "envelope"}

    def setup_backing(self, request: pytest.FixtureRequest) -> None:
        tmp_path: Path = request.getfixturevalue("tmp_path")
        self.root = tmp_path / "artifacts"
        self.key_file = tmp_path / "home" / "keys" / "artifact-kek"

    def make_store(self, retention_days: Mapping[str, int] | None = None) -> ArtifactStore:
        return SealedArtifactStore(LocalArtifactStore(self.root, region=REGION, retention_days=retention_days),
                                   LocalKeyFileWrapper(self.key_file))
