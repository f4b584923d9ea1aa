"""Build each Cloud Function's source zip and the Cloud Run Jobs' image context from a source checkout.

A function zip is laid out the way Cloud Functions (gen2, Python) builds it: `main.py` and
`requirements.txt` at the root, the `reporting` package vendored beside them. The `jobs` zip is a
Docker build context: every `jobs/<name>/main.py`, the package, `requirements.txt` and a Dockerfile
whose entrypoint is `python -m reporting.cli` (each Cloud Run job passes its own args).

Archives are byte-for-byte reproducible, so Terraform re-uploads (and re-deploys) only on a real change.
"""
from __future__ import annotations

import fnmatch
import importlib.metadata
import os
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# shared/reporting/packaging/bundles.py -> the checkout's root (the package is installed editable).
REPO = Path(__file__).resolve().parents[3]
JOBS = "jobs"
PROJECT = "reporting-service"

# The deploy target, not the build machine: markers such as `sys_platform == "win32"` must be
# evaluated for the Cloud Functions / Cloud Run runtime whatever machine builds the bundle.
TARGET_ENVIRONMENT: dict[str, str] = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_version": "3.11.0",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "platform_release": "",
    "platform_version": "",
}

# 1980-01-01 is the earliest time a zip entry can hold; any fixed value makes archives reproducible.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # a regular file, rw-r--r--: symlinks (migrations/) are stored as their target's bytes

DOCKERFILE = """\
# Cloud Run Jobs image: each job runs `python -m reporting.cli <its args>`, e.g. ["outbox", "sweep"].
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app \\
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-deps -r requirements.txt
COPY reporting/ reporting/
COPY jobs/ jobs/
USER 65534:65534
ENTRYPOINT ["python", "-m", "reporting.cli"]
"""


class BundleError(Exception):
    """The checkout or the environment cannot produce a correct bundle."""


@dataclass(frozen=True)
class _Pyproject:
    dependencies: list[str]
    package_data: list[str]


def _pyproject(repo: Path) -> _Pyproject:
    path = repo / "pyproject.toml"
    if not path.is_file():
        raise BundleError(f"{path} not found: bundles are built from a source checkout")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    package_data = data.get("tool", {}).get("setuptools", {}).get("package-data", {}).get("reporting", [])
    return _Pyproject(list(data["project"]["dependencies"]), list(package_data))


def _wanted(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    # `extra` is "" for a dependency requested without extras; try each requested one otherwise.
    return any(req.marker.evaluate({**TARGET_ENVIRONMENT, "extra": extra}) for extra in extras | {""})


def runtime_requirements(repo: Path = REPO) -> list[str]:
    """`name==version` for the closure of [project].dependencies, pinned to what this environment has."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    roots = [Requirement(line) for line in _pyproject(repo).dependencies]
    todo = [(req, frozenset(req.extras)) for req in roots if _wanted(req, frozenset())]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if name == PROJECT or (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BundleError(f"{req} is required but not installed here (run `make install`)") from None
        version = dist.version
        if not req.specifier.contains(version, prereleases=True):
            raise BundleError(f"installed {name} {version} does not satisfy {req} (run `make install`)")
        pins[name] = version
        for line in dist.requires or []:
            dep = Requirement(line)
            if _wanted(dep, extras):
                todo.append((dep, frozenset(dep.extras)))
    return [f"{name}=={pins[name]}" for name in sorted(pins)]


def bundle_names(repo: Path = REPO) -> list[str]:
    """One bundle per function (`functions/<name>/main.py`) plus one `jobs` bundle for every job."""
    names = sorted(p.parent.name for p in (repo / "functions").glob("*/main.py"))
    return (names + [JOBS]) if any((repo / JOBS).glob("*/main.py")) else names


def _package_files(repo: Path, patterns: list[str]) -> dict[str, Path]:
    """The `reporting` package as a wheel would ship it: its modules plus the declared package data."""
    root = repo / "shared" / "reporting"
    # setuptools' `**/` matches any depth including none; fnmatch's `*` already crosses `/`.
    globs = ["*.py"] + [p.removeprefix("**/") for p in patterns]
    files: dict[str, Path] = {}
    # followlinks: migrations/ is a link to the top-level directory and must ship as real files.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "tests")]
        for filename in filenames:
            path = Path(dirpath) / filename
            rel = path.relative_to(root).as_posix()
            if any(fnmatch.fnmatch(rel, g) for g in globs):
                files[f"reporting/{rel}"] = path
    return files


def _write_zip(target: Path, entries: dict[str, bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode on every build host
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=9)
    # Replace atomically: Terraform (or a concurrent `make`) never sees a half-written archive.
    tmp.replace(target)


def build_bundle(name: str, out_dir: Path, repo: Path = REPO, requirements: list[str] | None = None) -> Path:
    """Write `<out_dir>/<name>.zip` for a function or for `jobs`; returns its path."""
    if name not in bundle_names(repo):
        raise BundleError(f"no bundle named {name!r}: expected one of {', '.join(bundle_names(repo))}")
    project = _pyproject(repo)
    pins = requirements if requirements is not None else runtime_requirements(repo)
    entries = {arc: path.read_bytes() for arc, path in _package_files(repo, project.package_data).items()}
    entries["requirements.txt"] = ("\n".join(pins) + "\n").encode()
    if name == JOBS:
        for main in sorted((repo / JOBS).glob("*/main.py")):
            entries[f"{JOBS}/{main.parent.name}/main.py"] = main.read_bytes()
        entries["Dockerfile"] = DOCKERFILE.encode()
    else:
        entries["main.py"] = (repo / "functions" / name / "main.py").read_bytes()
    target = Path(out_dir) / f"{name}.zip"
    _write_zip(target, entries)
    return target


def build_all(out_dir: Path, repo: Path = REPO) -> list[Path]:
    """Every bundle, sharing one requirements closure (resolved once)."""
    pins = runtime_requirements(repo)
    return [build_bundle(name, out_dir, repo, pins) for name in bundle_names(repo)]
