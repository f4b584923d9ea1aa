"""Each bundle, installed in a fresh virtualenv with only its pinned requirements, loads its entry point."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reporting.packaging.bundles import JOBS, build_all, bundle_names

pytestmark = pytest.mark.e2e

FUNCTIONS = [name for name in bundle_names() if name != JOBS]

# Loads main.py the way the Cloud Functions runtime does (functions-framework --target=NAME), then checks
# the decorator registered the entry point and that `reporting` came from the bundle, not from elsewhere.
LOAD_FUNCTION = """
import os, sys
import functions_framework
from functions_framework import _function_registry as registry
import reporting

target = sys.argv[1]
functions_framework.create_app(target=target, source="main.py")
assert callable(getattr(sys.modules["main"], target)), target
assert registry.REGISTRY_MAP.get(target), f"{target} is not registered by a functions_framework decorator"
assert os.path.realpath(reporting.__file__).startswith(os.path.realpath(os.getcwd())), reporting.__file__
print(registry.REGISTRY_MAP[target])
"""

# Imports each job's main module without running it (each guards its work with __main__).
IMPORT_JOBS = """
import importlib, pathlib, sys
for main in sorted(pathlib.Path("jobs").glob("*/main.py")):
    module = importlib.import_module(f"jobs.{main.parent.name}.main")
    assert pathlib.Path(module.__file__).resolve() == main.resolve(), module.__file__
    print(main.parent.name)
"""


def _env(**extra: str) -> dict[str, str]:
    # Nothing from the development environment may leak into the fresh one.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return env | extra


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env or _env(), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.stem: p for p in build_all(tmp_path_factory.mktemp("bundles"))}


@pytest.fixture(scope="module")
def fresh_python(bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One virtualenv with no site packages, holding exactly the bundles' pinned requirements."""
    requirements = set()
    for bundle in bundles.values():
        with zipfile.ZipFile(bundle) as archive:
            requirements.add(archive.read("requirements.txt"))
    assert len(requirements) == 1, "every bundle is expected to pin the same requirements"
    root = tmp_path_factory.mktemp("venv")
    (root / "requirements.txt").write_bytes(requirements.pop())
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # --no-deps, as in the jobs' Dockerfile: a dependency missing from the pins fails `pip check`
    # here instead of being fetched unpinned.
    _run(python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-deps",
         "-r", root / "requirements.txt")
    _run(python, "-m", "pip", "check", "--disable-pip-version-check")
    return python


def _unzip(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(into)
    return into


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_bundle_loads_its_entry_point_in_a_fresh_virtualenv(bundles, fresh_python, tmp_path, name):
    source = _unzip(bundles[name], tmp_path / name)
    signature = _run(fresh_python, "-c", LOAD_FUNCTION, name, cwd=source).strip()
    assert signature in ("http", "cloudevent"), signature


def test_the_jobs_bundle_imports_every_job_and_runs_the_cli_in_a_fresh_virtualenv(bundles, fresh_python, tmp_path):
    app = _unzip(bundles[JOBS], tmp_path / "app")
    env = _env(PYTHONPATH=str(app))  # as the Dockerfile sets it (WORKDIR /app)
    jobs = _run(fresh_python, "-c", IMPORT_JOBS, cwd=app, env=env).split()
    assert jobs == sorted(p.parent.name for p in (app / JOBS).glob("*/main.py")) and jobs
    assert "outbox" in _run(fresh_python, "-m", "reporting.cli", "--help", cwd=app, env=env)
    # The args a Cloud Run job passes, and the packaged migrations read from the bundle (no database needed).
    _run(fresh_python, "-m", "reporting.cli", "outbox", "sweep", "--help", cwd=app, env=env)
    _run(fresh_python, "-m", "reporting.cli", "db", "lint", cwd=app, env=env)
