"""Load a Cloud Function's own entry file, as the runtime does (by path, not as a package)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fn_{name}", REPO / "functions" / name / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
