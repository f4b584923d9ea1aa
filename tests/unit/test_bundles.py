"""The deployable bundles: layout, real package data, pinned requirements, byte-for-byte reproducibility."""
from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import stat
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from reporting.cli import main
from reporting.packaging.bundles import (
    JOBS,
    BundleError,
    build_all,
    build_bundle,
    bundle_names,
    runtime_requirements,
)

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (REPO / "functions").glob("*/main.py"))
JOB_NAMES = sorted(p.parent.name for p in (REPO / "jobs").glob("*/main.py"))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.stem: p for p in build_all(tmp_path_factory.mktemp("bundles"))}


def _read(bundle: Path, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name)


def _names(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as archive:
        return archive.namelist()


def test_every_function_gets_a_bundle_and_all_jobs_share_one():
    assert FUNCTIONS and JOB_NAMES
    assert bundle_names() == FUNCTIONS + [JOBS]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_bundle_has_its_entry_file_requirements_and_the_library_at_the_root(bundles, name):
    names = _names(bundles[name])
    assert _read(bundles[name], "main.py") == (REPO / "functions" / name / "main.py").read_bytes()
    assert "requirements.txt" in names and "reporting/__init__.py" in names and "reporting/cli.py" in names
    assert not any(n.startswith(f"{JOBS}/") or n == "Dockerfile" for n in names)


def test_package_data_ships_as_real_files_with_the_sources_bytes(bundles):
    # migrations/ is a symlink in the package: the archive must hold the SQL itself, not a link.
    expected = {f"reporting/migrations/{p.name}": p for p in (REPO / "migrations").glob("*.sql")}
    expected |= {f"reporting/events/schemas/{p.name}": p
                 for p in (REPO / "shared/reporting/events/schemas").glob("*.json")}
    expected["reporting/catalog/daily_occupancy/layout.html.j2"] = \
        REPO / "shared/reporting/catalog/daily_occupancy/layout.html.j2"
    assert len(expected) > 12
    with zipfile.ZipFile(bundles["render"]) as archive:
        for arcname, source in expected.items():
            info = archive.getinfo(arcname)
            assert stat.S_ISREG(info.external_attr >> 16), arcname
            assert archive.read(info) == source.read_bytes(), arcname


def test_no_bytecode_caches_or_tests_are_shipped(bundles):
    for bundle in bundles.values():
        for name in _names(bundle):
            parts = name.split("/")
            assert "__pycache__" not in parts and "tests" not in parts and not name.endswith(".pyc"), name


def test_entries_are_sorted_with_fixed_timestamps_and_permissions(bundles):
    for bundle in bundles.values():
        with zipfile.ZipFile(bundle) as archive:
            infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_a_rebuild_from_another_checkout_with_fresh_mtimes_is_byte_identical(bundles, tmp_path):
    copy = tmp_path / "checkout"
    for part in ("pyproject.toml", "functions", "jobs", "migrations", "shared/reporting"):
        source, target = REPO / part, copy / part
        if source.is_dir():
            # symlinks=True keeps shared/reporting/migrations a link, as in the repository.
            shutil.copytree(source, target, symlinks=True, copy_function=shutil.copy,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    rebuilt = {p.stem: p for p in build_all(tmp_path / "out", repo=copy)}
    assert rebuilt.keys() == bundles.keys()
    for name, bundle in bundles.items():
        assert rebuilt[name].read_bytes() == bundle.read_bytes(), name


def test_requirements_pin_the_runtime_closure_to_the_installed_versions(bundles):
    lines = _read(bundles["request"], "requirements.txt").decode().splitlines()
    pins = dict(line.split("==") for line in lines)
    assert list(pins) == sorted(pins) and len(pins) == len(lines)
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {canonicalize_name(Requirement(d).name) for d in declared["dependencies"]} <= pins.keys()
    assert "functions-framework" in pins and "cryptography" in pins  # the latter via pyjwt[crypto]
    dev_only = {canonicalize_name(Requirement(d).name) for d in declared["optional-dependencies"]["dev"]}
    # xhtml2pdf needs pypdf and the Google clients need packaging at run time: those two are in both lists
    assert "reporting-service" not in pins and not dev_only & (pins.keys() - {"pypdf", "packaging"})


def test_every_bundle_carries_the_same_requirements(bundles):
    assert len({_read(b, "requirements.txt") for b in bundles.values()}) == 1


def test_markers_are_evaluated_for_the_linux_runtime(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "reporting-service"\n'
        'dependencies = ["jinja2>=3", "pywin32-ctypes; sys_platform == \'win32\'", "reporting-service"]\n')
    pins = runtime_requirements(tmp_path)
    assert [p.split("==")[0] for p in pins] == ["jinja2", "markupsafe"]


def test_a_stale_environment_is_refused_rather_than_pinned(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["jinja2>=999"]\n')
    with pytest.raises(BundleError, match="make install"):
        runtime_requirements(tmp_path)


def test_the_jobs_bundle_is_a_docker_context_whose_entrypoint_is_the_cli(bundles):
    names = _names(bundles[JOBS])
    assert {f"{JOBS}/{job}/main.py" for job in JOB_NAMES} <= set(names)
    assert "main.py" not in names and "requirements.txt" in names
    dockerfile = _read(bundles[JOBS], "Dockerfile").decode()
    assert "FROM python:3.11-slim\n" in dockerfile
    assert "-r requirements.txt" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "reporting.cli"]' in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            source = line.split()[1]
            assert any(n == source or n.startswith(source) for n in names), line


def test_an_unknown_bundle_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no bundle named"):
        build_bundle("nope", tmp_path)
    assert main(["bundle", "--out", str(tmp_path), "--only", "nope"]) == 2


def test_the_cli_prints_each_archive_with_its_size_and_sha256(tmp_path, capsys):
    assert main(["bundle", "--out", str(tmp_path), "--only", "render"]) == 0
    archive = tmp_path / "render.zip"
    data = archive.read_bytes()
    assert capsys.readouterr().out == f"{archive}  {len(data)} bytes  sha256:{hashlib.sha256(data).hexdigest()}\n"
