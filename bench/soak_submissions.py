"""Soak: regulatory submissions for 30 days x 3 residencies x several properties, on a simulated clock.

    .venv/bin/python bench/soak_submissions.py [--days 30] [--properties 4] [--seed 7]

Real Postgres (one database per residency, the real use cases, the real watchdog pass every
5 simulated minutes) and the FakeRegulatoryAdapter scripted with random outages (1-8 h,
some running through cutoffs), slow answers and a few malformed payloads. Deterministic
for a seed. Subjects arrive as the hourly regulatory runs would open them: the AF police
register of each business date in the early morning, each KSA invoice and each Indian
foreign-guest arrival within the hour after it happened.

What it checks, and prints:
- no submission whose cutoff left at least one retry window outside an outage (a
  5-minute watchdog slot before cutoff - 5 min) was missed;
- every miss was reported exactly once: one cutoff_missed event and one ERROR line each;
- the table: submissions, accepted, retried, rejected, missed, and the worst margin to cutoff.
"""
from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.adapters.postgres.connection import connect, execute, fetch_all, local_connection_factory  # noqa: E402
from reporting.adapters.regulatory.fake import FakeScript, Window  # noqa: E402
from reporting.bootstrap import Services  # noqa: E402
from reporting.config import Settings  # noqa: E402
from reporting.db.migrate import migrate  # noqa: E402
from reporting.devenv import postgres as pg  # noqa: E402
from reporting.domain.cutoffs import LAST_CHANCE_MARGIN, business_date_cutoff, per_subject_cutoff  # noqa: E402
from reporting.domain.submission import Adapter, SubjectKind, Submission  # noqa: E402
from reporting.domain.tenant import Property, Residency, Tenant  # noqa: E402
from reporting.service_layer import submit  # noqa: E402
from reporting.service_layer.tenants import sync_property, sync_tenant  # noqa: E402

STEP = timedelta(minutes=5)
ADAPTER_OF = {Residency.AF: Adapter.AF_POLICE, Residency.KSA: Adapter.KSA_ZATCA, Residency.IN: Adapter.IN_FORM_C}
TZ = {Residency.AF: "Asia/Kabul", Residency.KSA: "Asia/Riyadh", Residency.IN: "Asia/Kolkata"}


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t


@dataclass
class Planned:
    residency: Residency
    tenant_id: str
    property_id: str
    kind: SubjectKind
    ref: str
    opens_at: datetime
    cutoff_at: datetime
    submission_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class CountingErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.missed: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "alert", None) == "submission_cutoff_missed":
            self.missed[record.submission_id] += 1  # type: ignore[attr-defined]


def outages_for(rng: random.Random, start: datetime, days: int) -> list[Window]:
    windows = []
    for day in range(days):
        if rng.random() < 0.35:  # about one day in three has an outage
            begins = start + timedelta(days=day, minutes=rng.randrange(0, 24 * 60, 5))
            windows.append(Window(begins, begins + timedelta(minutes=rng.randrange(60, 8 * 60, 5))))
    if days >= 2:  # and one long one, through whatever cutoffs fall in it
        begins = start + timedelta(days=days // 2, hours=2)
        windows.append(Window(begins, begins + timedelta(hours=30)))
    return windows


def plan(rng: random.Random, residency: Residency, tenant_id: str, property_ids: list[str], start: datetime,
         days: int) -> list[Planned]:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TZ[residency])
    out = []
    for property_id in property_ids:
        for day in range(days):
            local_day = (start + timedelta(days=day)).astimezone(tz).date()
            if residency is Residency.AF:  # the register of the previous business date, opened at 01:00 local
                business = local_day - timedelta(days=1)
                opens = datetime.combine(local_day, datetime.min.time(), tz) + timedelta(hours=1)
                out.append(Planned(residency, tenant_id, property_id, SubjectKind.BUSINESS_DATE,
                                   business.isoformat(), opens, business_date_cutoff(Adapter.AF_POLICE, business)))
                continue
            count = rng.randint(8, 20) if residency is Residency.KSA else rng.randint(1, 6)
            for n in range(count):
                happened = datetime.combine(local_day, datetime.min.time(), tz) + timedelta(
                    minutes=rng.randrange(7 * 60, 23 * 60))
                kind = SubjectKind.INVOICE if residency is Residency.KSA else SubjectKind.GUEST_STAY
                ref = f"{'INV' if kind is SubjectKind.INVOICE else 'STAY'}-{property_id[:8]}-{day:03d}-{n:02d}"
                out.append(Planned(residency, tenant_id, property_id, kind, ref,
                                   happened + timedelta(minutes=rng.randrange(5, 60, 5)), per_subject_cutoff(happened)))
    return [p for p in out if p.opens_at >= start]


def savable(p: Planned, outages: list[Window]) -> bool:
    """At least one watchdog slot, after it opened and before its last chance, outside every outage."""
    t = p.opens_at
    last = p.cutoff_at - LAST_CHANCE_MARGIN
    while t < last:
        if not any(w.contains(t) for w in outages):
            return True
        t += STEP
    return False


def run_soak(admin: Any, *, days: int = 30, properties: int = 4, seed: int = 7,
             start: datetime = datetime(2026, 10, 1, tzinfo=timezone.utc)) -> dict[str, Any]:
    rng = random.Random(seed)
    errors = CountingErrors()
    submit_log = logging.getLogger("reporting.service_layer.submit")
    submit_log.addHandler(errors)
    level = submit_log.level
    submit_log.setLevel(logging.ERROR)  # the ERROR lines are what is counted, whatever the root level
    results: dict[str, Any] = {"rows": [], "ok": True, "problems": []}
    names = []
    try:
        for residency in (Residency.AF, Residency.IN, Residency.KSA):
            name = f"rs_soak_{residency.value.lower()}_{uuid.uuid4().hex[:6]}"
            names.append(name)
            owner, app = pg.create_database(admin, name)
            migrate(local_connection_factory(owner), log=lambda e: None)
            conn = connect(admin)
            try:  # a simulation: durability of each watchdog pass's audit row is not what is measured
                conn.autocommit = True
                execute(conn, f"ALTER DATABASE {name} SET synchronous_commit = off")
            finally:
                conn.close()
            clock = SimClock(start)
            work = Path(tempfile.mkdtemp(prefix="soak-"))
            services = Services(Settings.from_env({
                "REPORTING_RESIDENCY": residency.value, "REPORTING_DATABASE_URL": app.url(),
                "REPORTING_ARTIFACT_DIR": str(work / "a"), "REPORTING_DEAD_LETTER_DIR": str(work / "d")}),
                clock=clock, conn_factory=local_connection_factory(app))
            outages = outages_for(rng, start, days)
            slow = [(Window(w.start, w.end), timedelta(seconds=40)) for w in outages_for(rng, start, days)[:3]]
            fake = services.fake_regulatory
            fake.script = FakeScript(outages=outages, slow=slow)
            fake._wait = lambda delay: setattr(clock, "t", clock.t + delay)  # slow answers cost simulated time
            tenant_id = str(uuid.uuid4())
            sync_tenant(Tenant(tenant_id, f"soak {residency}", residency, "local", features={"reporting_v1": True}),
                        services.deps)
            property_ids = [str(uuid.uuid4()) for _ in range(properties)]
            for n, property_id in enumerate(property_ids):
                sync_property(Property(property_id, tenant_id, f"Soak hotel {n}", TZ[residency], "XXX",
                                       {"AF": "AF", "IN": "IN", "KSA": "SA"}[residency.value], "en", 50,
                                       adapters=[ADAPTER_OF[residency].value]), services.deps)
            planned = sorted(plan(rng, residency, tenant_id, property_ids, start, days), key=lambda p: p.opens_at)
            rejects = {p.ref for p in rng.sample(planned, k=max(1, len(planned) // 200))}
            fake.script.reject_subjects = rejects
            adapter = ADAPTER_OF[residency]
            end = start + timedelta(days=days + 2)
            i = 0
            while clock.t < end:
                while i < len(planned) and planned[i].opens_at <= clock.t:
                    p = planned[i]
                    with services.deps.uow(tenant_id) as uow:  # what open_submissions does for a run's subject
                        uow.submissions.add(Submission.create(
                            submission_id=p.submission_id, tenant_id=tenant_id, property_id=p.property_id,
                            run_id=_run_for(uow, services, tenant_id, p.property_id), adapter=adapter,
                            subject_kind=p.kind, subject_ref=p.ref, cutoff_at=p.cutoff_at, now=clock.t))
                        uow.commit()
                    submit.attempt(tenant_id, p.submission_id, services.deps, lambda s, live: fake, rng=rng)
                    i += 1
                submit.watch_submissions(clock.t, services.deps, lambda s, live: fake, rng=rng)
                clock.t += STEP
            rows = _rows(app, tenant_id)
            results["rows"].append(_summarise(residency, rows, planned, outages, rejects, errors, results))
            services.close()
    finally:
        submit_log.removeHandler(errors)
        submit_log.setLevel(level)
        for name in names:
            pg.drop_database(admin, name)
    return results


_RUNS: dict[tuple[str, str], str] = {}


def _run_for(uow: Any, services: Services, tenant_id: str, property_id: str) -> str:
    """A regulatory run row for the submissions to point at (the soak files subjects, not renders)."""
    key = (tenant_id, property_id)
    if key not in _RUNS:
        from reporting.catalog.platform import platform_templates
        from reporting.domain.report_run import ReportRun, RunOrigin, idempotency_key

        version = next(t for t in platform_templates() if t.key == "daily_occupancy")
        run = ReportRun.request(run_id=str(uuid.uuid4()), tenant_id=tenant_id, property_id=property_id,
                                template_version_id=version.template_version_id, snapshot_hash=version.snapshot_hash,
                                params={}, locale="en", formats=["csv"], run_date=services.clock.now().date(),
                                origin=RunOrigin.SCHEDULE, request_hash="0" * 64,
                                idempotency_key=idempotency_key(RunOrigin.SCHEDULE, schedule_id=str(uuid.uuid4()),
                                                                scheduled_at=services.clock.now()),
                                requested_by="soak", correlation_id=str(uuid.uuid4()), now=services.clock.now())
        run.events.clear()
        uow.runs.add(run)
        from reporting.domain.artifact import artifact_name

        # Its payload: the subjects' rows are not needed by the fake adapter, only the file's presence.
        services.artifact_store.put_once(artifact_name(tenant_id, run.run_id, "csv"),
                                         "\ufeffsubject\r\n".encode("utf-8"), "operational")
        _RUNS[key] = run.run_id
    return _RUNS[key]


def _rows(app: Any, tenant_id: str) -> dict[str, Any]:
    conn = connect(app.as_user("reporting_owner"))
    try:
        subs = fetch_all(conn, "SELECT * FROM reporting.submissions WHERE tenant_id = :t::uuid", {"t": tenant_id})
        missed_events = fetch_all(conn, """SELECT aggregate_id FROM reporting.outbox WHERE tenant_id = :t::uuid
                                            AND subject = 'regulatory_submission.cutoff_missed.v1'""", {"t": tenant_id})
    finally:
        conn.close()
    return {"subs": subs, "missed_events": Counter(r["aggregate_id"] for r in missed_events)}


def _summarise(residency: Residency, rows: dict[str, Any], planned: list[Planned], outages: list[Window],
               rejects: set[str], errors: CountingErrors, results: dict[str, Any]) -> dict[str, Any]:
    subs = {str(s["submission_id"]): s for s in rows["subs"]}
    by_id = {p.submission_id: p for p in planned}
    states = Counter(s["state"] for s in subs.values())
    missed = [sid for sid, s in subs.items() if s["state"] == "missed_cutoff"]
    for sid in missed:
        p = by_id[sid]
        if savable(p, outages) and p.ref not in rejects:
            results["ok"] = False
            results["problems"].append(f"{residency}: {p.ref} missed although a retry window was left")
        if rows["missed_events"][sid] != 1 or errors.missed[sid] != 1:
            results["ok"] = False
            results["problems"].append(f"{residency}: {p.ref} miss reported {rows['missed_events'][sid]} events, "
                                       f"{errors.missed[sid]} ERROR lines")
    if len(subs) != len(planned):
        results["ok"] = False
        results["problems"].append(f"{residency}: {len(subs)} submissions for {len(planned)} subjects")
    margins = [(s["cutoff_at"] - s["accepted_at"]) for s in subs.values() if s["accepted_at"]]
    return {"residency": str(residency), "adapter": str(ADAPTER_OF[residency]), "submissions": len(subs),
            "accepted": states["accepted"], "retried": sum(1 for s in subs.values() if s["attempts"] > 1),
            "rejected": states["rejected"] + sum(1 for sid in missed if by_id[sid].ref in rejects),
            "missed": len(missed), "unsavable": sum(1 for p in planned if not savable(p, outages)),
            "worst_margin": min(margins) if margins else None, "outages": len(outages)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--properties", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    server = pg.provide_server(work, use_machine_server=True)
    try:
        result = run_soak(server.admin, days=args.days, properties=args.properties, seed=args.seed)
    finally:
        server.stop()
    print(f"soak: {args.days} days x 3 residencies x {args.properties} properties, seed {args.seed}, "
          f"watchdog every {int(STEP.total_seconds() // 60)} min, simulated clock")
    header = ("residency", "adapter", "submissions", "accepted", "retried", "rejected", "missed", "unsavable",
              "outages", "worst margin")
    print("  ".join(f"{h:>12}" for h in header))
    for row in result["rows"]:
        margin = row["worst_margin"]
        cells = [row["residency"], row["adapter"], row["submissions"], row["accepted"], row["retried"],
                 row["rejected"], row["missed"], row["unsavable"], row["outages"],
                 f"{margin.total_seconds() / 3600:.1f} h" if margin is not None else "-"]
        print("  ".join(f"{str(c):>12}" for c in cells))
    print("every miss had no retry window left and was reported once" if result["ok"] else
          "PROBLEMS:\n  " + "\n  ".join(result["problems"]))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
