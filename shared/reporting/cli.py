"""`reporting` command line: db migrate / lint, catalog seed, demo."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _db_migrate(args: argparse.Namespace) -> int:
    from reporting.adapters.postgres.connection import ConnInfo, local_connection_factory
    from reporting.db import migrate

    url = args.database_url or os.environ.get("REPORTING_MIGRATE_URL")
    if not url:
        print("reporting db migrate: pass --database-url or set REPORTING_MIGRATE_URL "
              "(a URL for the reporting_owner role)", file=sys.stderr)
        return 2
    argv = ["--dir", args.dir] if args.dir else []
    return migrate.main(argv, local_connection_factory(ConnInfo.from_url(url)))


def _db_lint(args: argparse.Namespace) -> int:
    from reporting.db import lint

    return lint.main(args.files)


def _catalog_seed(args: argparse.Namespace) -> int:
    from reporting.catalog.platform import SEED_FILE, seed_sql

    target = Path(args.migrations) / SEED_FILE
    content = seed_sql()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != content:
            print(f"{target} is out of date: run `make seed` (reporting catalog seed)", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(content, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from reporting.devenv.demo import run_demo

    return run_demo(home=Path(args.home), out=Path(args.out), days=args.days)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reporting", description="Melmastoon reporting-service")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="schema migrations").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("migrate", help="apply migrations as reporting_owner (idempotent, safe to run twice at once)")
    p.add_argument("--database-url", help="reporting_owner's URL (default: $REPORTING_MIGRATE_URL)")
    p.add_argument("--dir", help="migrations directory (default: the packaged migrations)")
    p.set_defaults(func=_db_migrate)
    p = db.add_parser("lint", help="the RLS gate and forward-only rules; prints file:line: reason")
    p.add_argument("files", nargs="*", help="files or directories (default: the packaged migrations)")
    p.set_defaults(func=_db_lint)

    catalog = sub.add_parser("catalog", help="platform templates").add_subparsers(dest="catalog_command", required=True)
    p = catalog.add_parser("seed", help="regenerate migrations/0005_seed_platform_templates.sql from the catalog")
    p.add_argument("--migrations", default="migrations")
    p.add_argument("--check", action="store_true", help="fail if the committed seed is out of date")
    p.set_defaults(func=_catalog_seed)

    p = sub.add_parser("demo", help="three residencies, one hotel each, yesterday's daily occupancy end to end")
    p.add_argument("--home", default=".local", help="where the demo keeps its Postgres cluster and warehouses")
    p.add_argument("--out", default="out", help="where the artifacts land")
    p.add_argument("--days", type=int, default=90, help="days of synthetic hotel history")
    p.set_defaults(func=_demo)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
