"""`reporting` command line: db migrate / lint, catalog seed / extract, events check / record / wiring,
pubsub provision, outbox sweep, demo."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _db_migrate(args: argparse.Namespace) -> int:
    """Locally a reporting_owner URL; in the cloud the migrate job's IAM user through the Cloud SQL connector,
    acting as REPORTING_MIGRATE_ROLE, then granting reporting_app to REPORTING_APP_IAM_USERS (terraform/README.md)."""
    from reporting.adapters.postgres.connection import ConnInfo, local_connection_factory
    from reporting.db import migrate

    argv = ["--dir", args.dir] if args.dir else []
    url = args.database_url or os.environ.get("REPORTING_MIGRATE_URL")
    if url:
        return migrate.main(argv, local_connection_factory(ConnInfo.from_url(url)))
    if os.environ.get("CLOUD_SQL_INSTANCE") and os.environ.get("CLOUD_SQL_IAM_USER"):
        from reporting.db.cloud import cloud_migration

        return cloud_migration(argv, os.environ)
    print("reporting db migrate: pass --database-url or set REPORTING_MIGRATE_URL (a URL for the reporting_owner "
          "role), or CLOUD_SQL_INSTANCE and CLOUD_SQL_IAM_USER (the migrate job)", file=sys.stderr)
    return 2


def _db_lint(args: argparse.Namespace) -> int:
    from reporting.db import lint

    return lint.main(args.files)


def _write_or_check(target: Path, content: str, *, check: bool, remedy: str, current: str) -> int:
    """Write a generated file, or (--check, in CI) fail if the committed one differs from what would be written."""
    if check:
        if not target.exists() or target.read_text(encoding="utf-8") != content:
            print(f"{target} is out of date: {remedy}", file=sys.stderr)
            return 1
        print(current)
        return 0
    target.write_text(content, encoding="utf-8")
    print(f"wrote {target}")
    return 0


def _catalog_seed(args: argparse.Namespace) -> int:
    from reporting.catalog.platform import SEED_FILE, seed_sql

    target = Path(args.migrations) / SEED_FILE
    return _write_or_check(target, seed_sql(), check=args.check, remedy="run `make seed` (reporting catalog seed)",
                           current=f"{target} is up to date")


def _catalog_extract(args: argparse.Namespace) -> int:
    from reporting.catalog import i18n

    root = Path(args.locales) if args.locales else None
    found = i18n.extract_platform()
    stale = i18n.update_catalogs(root or i18n.pot_path().parent, found, write=not args.check)
    if not args.check:
        for path in stale:
            print(f"wrote {path}")
        print(f"{len({(f.msgid, f.context) for f in found})} msgid(s) from the platform layouts")
        return 0
    missing = i18n.missing_translations(root)
    for path in stale:
        print(f"{path} is out of date: run `reporting catalog extract`", file=sys.stderr)
    for line in missing:
        print(f"missing translation: {line}", file=sys.stderr)
    if stale or missing:
        return 1
    print("message catalogs are up to date and complete")
    return 0


def _events_check(args: argparse.Namespace) -> int:
    from reporting.events.evolution import check_repository

    violations = check_repository()
    for v in violations:
        print(f"{v.event_type}: {v.field}: {v.rule}: {v.message}", file=sys.stderr)
    if violations:
        breaking = sum(1 for v in violations if v.breaking)
        print(f"event schema gate: {len(violations)} finding(s), {breaking} breaking", file=sys.stderr)
        return 1
    print("event schemas: every change is additive and recorded")
    return 0


def _events_record(args: argparse.Namespace) -> int:
    from reporting.events.evolution import EvolutionError, write_record

    try:
        path = write_record()
    except EvolutionError as exc:
        for v in exc.violations:
            print(f"{v.event_type}: {v.field}: {v.rule}: {v.message}", file=sys.stderr)
        print("refused: a breaking change needs a new version (v2) and a transition, not a new record",
              file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _events_wiring(args: argparse.Namespace) -> int:
    import json

    from reporting.events.wiring import as_document

    print(json.dumps(as_document(), indent=2, sort_keys=True))
    return 0


def _pubsub_provision(args: argparse.Namespace) -> int:
    from reporting.adapters.pubsub.provision import provision

    if not os.environ.get("PUBSUB_EMULATOR_HOST") and not args.yes_real_project:
        print("refusing to provision a real project: set PUBSUB_EMULATOR_HOST, or pass --yes-real-project "
              "(in the cloud, Terraform owns topics and subscriptions)", file=sys.stderr)
        return 2
    endpoints = dict(item.split("=", 1) for item in args.push or [])
    done = provision(args.project, push_endpoints=endpoints)
    print(f"{len(done.topics)} topics, {len(done.subscriptions)} subscriptions in project {args.project}")
    return 0


def _pubsub_replay(args: argparse.Namespace) -> int:
    from reporting.adapters.pubsub.replay import replay_dead_letters

    report = replay_dead_letters(args.project, args.consumer, limit=args.limit, dry_run=args.dry_run)
    print(f"replayed {report.replayed}, kept {report.kept} {report.kept_reasons or ''}".rstrip())
    for topic, n in sorted(report.by_topic.items()):
        print(f"  {topic}: {n}")
    return 0


def _outbox_sweep(args: argparse.Namespace) -> int:
    """The sweeper job: publish every outbox row the fast path left behind, then exit."""
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.logs import configure, get_logger

    configure()
    log = get_logger("reporting.jobs.outbox_sweeper")
    services = Services(Settings.from_env())
    try:
        report = services.relay.sweep(progress=lambda r: log.info(
            "outbox sweep progress", extra={"published": r.published, "retried": r.retried, "dead": r.dead}))
    finally:
        services.close()
    log.info("outbox sweep done", extra={"published": report.published, "messages": report.messages,
                                         "retried": report.retried, "dead": report.dead,
                                         "by_subject": report.by_subject})
    # A row set aside is an incident (a producer bug): fail the job execution so it alerts.
    return 1 if report.dead else 0


def _serve(args: argparse.Namespace) -> int:
    from reporting.devenv.serve import serve

    return serve(residency=args.residency, host=args.host, port=args.port, home=Path(args.home), out=Path(args.out))


def _api_openapi(args: argparse.Namespace) -> int:
    from reporting.entrypoints.api.app import ALL_ROUTES
    from reporting.entrypoints.api.openapi import DOCUMENT_PATH, rendered

    return _write_or_check(DOCUMENT_PATH, rendered(ALL_ROUTES), check=args.check,
                           remedy="run `reporting api openapi`", current=f"{DOCUMENT_PATH.name} matches the routes")


def _demo(args: argparse.Namespace) -> int:
    from reporting.devenv.demo import run_demo

    return run_demo(home=Path(args.home), out=Path(args.out), days=args.days)


def _bundle(args: argparse.Namespace) -> int:
    """The deployable archives Terraform uploads: one per function, one for the jobs' image."""
    import hashlib

    from reporting.packaging.bundles import BundleError, build_all, build_bundle

    try:
        paths = [build_bundle(args.only, Path(args.out))] if args.only else build_all(Path(args.out))
    except BundleError as exc:
        print(f"reporting bundle: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        data = path.read_bytes()
        print(f"{path}  {len(data)} bytes  sha256:{hashlib.sha256(data).hexdigest()}")
    return 0


def _watchdog_runs(args: argparse.Namespace) -> int:
    """The runs watchdog job: fail runs stuck in rendering, log each tenant's SLO metric line."""
    from datetime import timedelta

    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.logs import configure, get_logger
    from reporting.service_layer.watchdogs import fail_stuck_runs, log_tenant_slos

    configure()
    log = get_logger("reporting.jobs.watchdog_runs")
    services = Services(Settings.from_env())
    try:
        now = services.clock.now()
        report = fail_stuck_runs(now, services.deps,
                                 timeout=timedelta(minutes=services.settings.render_timeout_minutes))
        if not args.no_slo:
            log_tenant_slos(now, services.deps, services.service_level, report)
    finally:
        services.close()
    log.info("runs watchdog done", extra={"watchdog": {k: v for k, v in report.__dict__.items()
                                                       if k != "failed_run_ids"}})
    return 1 if report.errors else 0


def _import_history(args: argparse.Namespace) -> int:
    """The history import job: validate a pilot's CSV files; if all is well, replace their range in the warehouse."""
    import json

    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.domain.errors import DomainError
    from reporting.entrypoints.progress import ProgressReporter
    from reporting.logs import configure
    from reporting.service_layer.history_import import ImportHistory, import_history, read_history_files

    configure()
    try:
        files = read_history_files(args.dir)
    except (OSError, ValueError) as exc:
        print(f"reporting import-history: {exc}", file=sys.stderr)
        return 2
    services = Services(Settings.from_env())
    try:
        outcome = import_history(ImportHistory(args.tenant, args.property, dry_run=args.dry_run), files,
                                 services.deps, services.warehouse_loader(), ProgressReporter("history import"))
    except DomainError as refused:
        print(f"reporting import-history: {refused.message}", file=sys.stderr)
        return 2 if refused.permanent else 1  # 1: the warehouse failed; Cloud Run retries the task
    finally:
        services.close()
    print(json.dumps(outcome.as_dict(), indent=2))
    return 1 if outcome.errors else 0


def _watchdog_submissions(args: argparse.Namespace) -> int:
    """The submissions watchdog job: one pass over what is due, at risk or past its cutoff."""
    from reporting.bootstrap import Services
    from reporting.config import Settings
    from reporting.logs import configure, get_logger
    from reporting.service_layer.submit import watch_submissions

    configure()
    log = get_logger("reporting.jobs.watchdog_submissions")
    services = Services(Settings.from_env())
    try:
        report = watch_submissions(services.clock.now(), services.deps, services.deps.regulatory)
    finally:
        services.close()
    log.info("submissions watchdog done", extra={"watchdog": report.__dict__})
    return 1 if report.errors else 0


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
    p = catalog.add_parser("extract", help="extract the platform layouts' msgids into messages.pot and each .po")
    p.add_argument("--locales", help="the locales directory (default: the package's)")
    p.add_argument("--check", action="store_true",
                   help="fail if the catalogs are stale or a template's locale lacks a translation")
    p.set_defaults(func=_catalog_extract)

    events = sub.add_parser("events", help="event catalog").add_subparsers(dest="events_command", required=True)
    p = events.add_parser("check", help="CI gate: refuse non-additive schema changes inside a version")
    p.set_defaults(func=_events_check)
    p = events.add_parser("record", help="update schemas.lock.json after an additive change")
    p.set_defaults(func=_events_record)
    p = events.add_parser("wiring", help="topics, subscriptions and dead-letter topics as JSON (for Terraform)")
    p.set_defaults(func=_events_wiring)

    api = sub.add_parser("api", help="the HTTP API").add_subparsers(dest="api_command", required=True)
    p = api.add_parser("openapi", help="write the OpenAPI 3.1 document from the routes")
    p.add_argument("--check", action="store_true", help="fail if the committed document is out of date")
    p.set_defaults(func=_api_openapi)
    p = sub.add_parser("serve", help="the API on localhost over a residency's demo data, with dev tokens")
    p.add_argument("--residency", choices=["AF", "IN", "KSA"], default="AF")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--home", default=".local")
    p.add_argument("--out", default="out")
    p.set_defaults(func=_serve)

    pubsub = sub.add_parser("pubsub", help="Pub/Sub (emulator) helpers").add_subparsers(dest="pubsub_command",
                                                                                         required=True)
    p = pubsub.add_parser("provision", help="create the wiring's topics and subscriptions (idempotent)")
    p.add_argument("--project", default=os.environ.get("REPORTING_PUBSUB_PROJECT", "local-reporting"))
    p.add_argument("--push", action="append", metavar="CONSUMER=URL", help="push subscription endpoint")
    p.add_argument("--yes-real-project", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_pubsub_provision)
    p = pubsub.add_parser("replay-dead-letters", help="republish a consumer's parked events to their topics")
    p.add_argument("--project", default=os.environ.get("REPORTING_PUBSUB_PROJECT", "local-reporting"))
    p.add_argument("--consumer", required=True, choices=["render", "submit", "region_changed"])
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--dry-run", action="store_true", help="count what would be replayed; leave everything parked")
    p.set_defaults(func=_pubsub_replay)

    outbox = sub.add_parser("outbox", help="the transactional outbox").add_subparsers(dest="outbox_command",
                                                                                       required=True)
    p = outbox.add_parser("sweep", help="publish rows left behind (the sweeper job), configured from the env")
    p.set_defaults(func=_outbox_sweep)

    p = sub.add_parser("demo", help="three residencies, one hotel each, yesterday's daily occupancy end to end")
    p.add_argument("--home", default=".local", help="where the demo keeps its Postgres cluster and warehouses")
    p.add_argument("--out", default="out", help="where the artifacts land")
    p.add_argument("--days", type=int, default=90, help="days of synthetic hotel history")
    p.set_defaults(func=_demo)

    watchdog = sub.add_parser("watchdog", help="watchdog jobs").add_subparsers(dest="watchdog_command",
                                                                               required=True)
    p = watchdog.add_parser("runs", help="fail runs stuck in rendering; log each tenant's SLO metric line")
    p.add_argument("--no-slo", action="store_true", help="only the stuck runs")
    p.set_defaults(func=_watchdog_runs)
    p = watchdog.add_parser("submissions", help="file due regulatory submissions, escalate, record missed cutoffs")
    p.set_defaults(func=_watchdog_submissions)

    devenv = sub.add_parser("devenv", help="the demo's local deployments").add_subparsers(dest="devenv_command",
                                                                                       required=True)
    p = devenv.add_parser("env", help="print a residency's environment as shell exports (starts local Postgres)")
    p.add_argument("--residency", required=True, choices=["AF", "IN", "KSA"])
    p.add_argument("--home", default=".local")
    p.add_argument("--out", default="out")
    p.set_defaults(func=lambda a: __import__("reporting.devenv.env", fromlist=["x"]).print_exports(
        a.residency, Path(a.home), Path(a.out)))
    p = devenv.add_parser("stop", help="stop the local Postgres cluster `env` started")
    p.add_argument("--home", default=".local")
    p.set_defaults(func=lambda a: __import__("reporting.devenv.env", fromlist=["x"]).stop(Path(a.home)))

    p = sub.add_parser("residency", help="residency move steps (runbook: docs/runbooks/platform/residency-migration.md)")
    from reporting.entrypoints import residency_job

    residency_job.add_arguments(p)

    p = sub.add_parser("backfill", help="request the report runs of past business dates (at most 90 days back)")
    from reporting.entrypoints import backfill_job

    backfill_job.add_arguments(p)
    p.set_defaults(func=backfill_job.run)

    p = sub.add_parser("schema-backfill", help="run the numbered data-backfill scripts, per tenant, checkpointed")
    from reporting.db.data_backfills import job as schema_backfill_job

    schema_backfill_job.add_arguments(p)
    p.set_defaults(func=schema_backfill_job.run)

    p = sub.add_parser("zatca", help="what a KSA property's e-invoicing unit filed: chain, QR, export")
    from reporting.entrypoints import zatca_cli

    zatca_cli.add_arguments(p)

    p = sub.add_parser("bundle", help="build each function's and the jobs' deployable zip (reproducible)")
    p.add_argument("--out", default="build/bundles", help="where the archives land")
    p.add_argument("--only", metavar="NAME", help="one bundle: a function's name, or jobs")
    p.set_defaults(func=_bundle)

    p = sub.add_parser("import-history", help="load a pilot property's history from CSV files into the warehouse")
    p.add_argument("--tenant", required=True, metavar="TENANT_ID")
    p.add_argument("--property", required=True, metavar="PROPERTY_ID")
    p.add_argument("--dir", required=True, help="a local directory or gs://BUCKET/history/<tenant>/<property>/")
    p.add_argument("--dry-run", action="store_true", help="validate and summarise; load nothing")
    p.set_defaults(func=_import_history)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
