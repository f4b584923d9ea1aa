"""Numbered data-backfill scripts (plan §2: backfills of existing tenants are scripted and run as one-shot
Cloud Run Jobs with progress logging), and their discovery.

A script is a module `dNNNN_<name>.py` in this package declaring:

- `REQUIRES`: the migration file that must be applied first (its expand step);
- `RETIRED_BY` (optional): the migration after which there is nothing left to do (its
  contract step, which refuses to apply until the backfill has finished everywhere);
- `DESCRIPTION`: one line for `reporting schema-backfill --list`;
- `run_batch(conn, tenant_id, after_key, limit) -> (rows_done, next_key | None)`: one
  idempotent batch of the tenant's rows after `after_key` in the script's own key order,
  in the tenant's transaction under row-level security; `next_key` None means finished;
- `count_rows(conn, tenant_id, after_key) -> int`: the rows `run_batch` still has to visit
  (sizes the progress total).

The runner (runner.py) owns transactions, checkpoints, shards and logs; docs/schema-backfills.md
is the walkthrough.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the CLI imports this package to build its parser: no driver import at startup
    from reporting.adapters.postgres.connection import Connection

__all__ = ["SCRIPT_NAME_RE", "Script", "UnknownScript", "find_script", "scripts"]

SCRIPT_NAME_RE = re.compile(r"^(d\d{4})_[a-z0-9_]+$")


class UnknownScript(LookupError):
    """No script has that name or number."""


@dataclass(frozen=True)
class Script:
    """One data-backfill script, as the runner sees it."""

    name: str  # d0001_deduct_out_of_order
    description: str
    requires: str  # the migration file it needs applied
    retired_by: str | None  # the migration after which it has nothing to do
    run_batch: Callable[[Connection, str, str | None, int], tuple[int, str | None]]
    count_rows: Callable[[Connection, str, str | None], int]

    @property
    def number(self) -> str:
        """`d0001`: what `--script` accepts besides the full name."""
        return self.name.split("_", 1)[0]


def _script(module: ModuleType, name: str) -> Script:
    missing = [a for a in ("REQUIRES", "DESCRIPTION", "run_batch", "count_rows") if not hasattr(module, a)]
    if missing:
        raise TypeError(f"data-backfill script {name} lacks {', '.join(missing)}")
    return Script(name=name, description=module.DESCRIPTION, requires=module.REQUIRES,
                  retired_by=getattr(module, "RETIRED_BY", None), run_batch=module.run_batch,
                  count_rows=module.count_rows)


def scripts() -> list[Script]:
    """Every script of this package, in number order; two scripts with one number are refused."""
    found: dict[str, Script] = {}
    for info in pkgutil.iter_modules(__path__):
        m = SCRIPT_NAME_RE.match(info.name)
        if not m:
            continue
        if m.group(1) in found:
            raise TypeError(f"data-backfill number {m.group(1)} is used by {found[m.group(1)].name} and {info.name}")
        found[m.group(1)] = _script(importlib.import_module(f"{__name__}.{info.name}"), info.name)
    return [found[k] for k in sorted(found)]


def find_script(name: str) -> Script:
    """The script named `name` in full (d0001_deduct_out_of_order) or by number (d0001)."""
    for script in scripts():
        if name in (script.name, script.number):
            return script
    known = ", ".join(s.name for s in scripts()) or "none"
    raise UnknownScript(f"no data-backfill script {name!r} (known: {known})")
