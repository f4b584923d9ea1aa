"""The demo's ZATCA day: a KSA hotel files a business date's invoices through the live adapter, against the local
ZATCA simulator, through the real use cases (run → render → report_run.completed.v1 → submit → the adapter).

    summary = file_day(services, tenant_id, property_id, business_date, out_dir)
    print(summary)   # "ZATCA: 31 documents issued 2026-11-23, 31 accepted, chain ICV 1-31 verified, QR tags ok"

What it sets up, as an operator would for a pilot (docs/regulatory/zatca.md), but locally:
- the property's e-invoicing unit: a self-signed secp256k1 key and certificate under out_dir/egs
  (NOT ZATCA-issued: the simulator onboards it; ZATCA's services would refuse it), its CSID token and
  API secret from the simulator's onboarding, as `file:` secrets named in the property's settings;
- the property: the ksa_zatca adapter switched on and live (`settings.regulatory_live`);
- a deployment whose REPORTING_ZATCA_ENDPOINT is the simulator (a Services sharing the demo's database,
  warehouse and artifact store).

The clock: ZATCA's cutoff is 24 hours after issue and the hourly regulatory runs file each invoice
within the hour. The demo files a finished day in one go, so it runs the use cases on a clock set to
half past midnight after that day (Riyadh), advancing in real time: every invoice is filed as the
hourly runs would have, before its cutoff. A day not yet over is filed at the real time.

Then it writes, under out_dir, each document's signed XML and QR PNG (`<ICV>-<number>.xml`,
`…-qr.png`), and checks what an auditor would: the day's stretch of the chain (verify_chain) and
every QR's tags 1-9 against its document. Safe to call twice: the run is idempotent, nothing is filed
twice, the files are rewritten from the store.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from reporting.adapters.regulatory.zatca.inspect import (
    day_bounds,
    day_stretch,
    qr_problems,
    verify_documents,
    write_document_files,
)
from reporting.adapters.regulatory.zatca.invoice import RIYADH
from reporting.adapters.regulatory.zatca.signing import generate_test_credentials
from reporting.adapters.regulatory.zatca.simulator import Csid, ZatcaSimulator
from reporting.service_layer.ports import Clock

ADAPTER = "ksa_zatca"
TEMPLATE = "ksa_vat_invoices"


@dataclass(frozen=True)
class DaySummary:
    """What the demo prints about a filed day."""

    business_date: date
    documents: int  # signed documents issued that day (invoices and credit notes)
    submissions: int  # the run's submissions (one per invoice or credit note)
    accepted: int
    rejected: int
    open: int  # not accepted yet (retrying, or a cutoff to come)
    chain_verified: bool
    first_icv: int | None
    last_icv: int | None
    qr_ok: bool
    out_dir: Path
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        chain = (f"chain ICV {self.first_icv}-{self.last_icv} {'verified' if self.chain_verified else 'BROKEN'}"
                 if self.first_icv is not None else "no chain")
        return (f"ZATCA: {self.documents} documents issued {self.business_date}, {self.accepted}/{self.submissions} "
                f"submissions accepted, {self.rejected} rejected, {self.open} open; {chain}; "
                f"QR tags {'ok' if self.qr_ok else 'WRONG'}; XML and QR images in {self.out_dir}")


class _FilingClock(Clock):
    """Real time, shifted back to half past midnight after the business date when that moment has passed."""

    def __init__(self, business_date: date) -> None:
        target = datetime.combine(business_date + timedelta(days=1), time(0, 30), tzinfo=RIYADH)
        self._offset = min(timedelta(0), target - datetime.now(timezone.utc))

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self._offset


def _unit_files(egs: Path, organization: str, vat_number: str) -> tuple[Path, bytes]:
    """The unit's test key and certificate (made once, kept: the unit keeps its identity across demo runs)."""
    egs.mkdir(parents=True, exist_ok=True)
    key, cert = egs / "private-key.pem", egs / "certificate.pem"
    if not key.exists() or not cert.exists():
        key_pem, cert_pem = generate_test_credentials(organization=organization, vat_number=vat_number)
        key.write_bytes(key_pem)
        os.chmod(key, 0o600)
        cert.write_bytes(cert_pem)
    return key, cert.read_bytes()


def _write_secret(path: Path, value: str) -> None:
    path.write_text(value, encoding="utf-8")
    os.chmod(path, 0o600)


def _switch_on(services: Any, tenant_id: str, property_id: str, egs: Path, key: Path, csid: Csid) -> None:
    """The property's ZATCA unit, switched on and live, its three secrets named in its settings."""
    from reporting.service_layer.tenants import sync_property

    _write_secret(egs / "csid.txt", csid.binary_security_token)
    _write_secret(egs / "api-secret.txt", csid.secret)
    with services.uow(tenant_id) as uow:
        prop = uow.properties.get(property_id)
    if prop is None:
        raise LookupError(f"property {property_id} is not mirrored for tenant {tenant_id}")
    live = sorted(set(prop.settings.get("regulatory_live") or []) | {ADAPTER})
    settings = {**prop.settings, "regulatory_live": live,
                "zatca": {"private_key": f"file:{key}", "csid": f"file:{egs / 'csid.txt'}",
                          "api_secret": f"file:{egs / 'api-secret.txt'}"}}
    sync_property(dataclasses.replace(prop, settings=settings, adapters=sorted(set(prop.adapters) | {ADAPTER})),
                  services.deps)


def file_day(services: Any, tenant_id: str, property_id: str, business_date: date, out_dir: Path | str) -> DaySummary:
    """File a KSA property's invoices of `business_date` through the live ZATCA adapter and the simulator."""
    from reporting.bootstrap import Services
    from reporting.service_layer.commands import RequestReportRun
    from reporting.service_layer.report_runs import request_report_run

    out = Path(out_dir)
    egs = out / "egs"
    with services.uow(tenant_id) as uow:
        prop = uow.properties.get(property_id)
    name = prop.name if prop else "Demo hotel"
    key, cert_pem = _unit_files(egs, name, str((prop.regulatory_ids if prop else {}).get("vat_number")
                                               or "399999999900003"))
    with ZatcaSimulator() as simulator:
        csid = simulator.onboard(cert_pem)
        _switch_on(services, tenant_id, property_id, egs, key, csid)
        settings = dataclasses.replace(services.settings, zatca_endpoint=simulator.base_url, zatca_secrets=None)
        live = Services(settings, clock=_FilingClock(business_date), warehouse=services.deps.warehouse(),
                        artifact_store=services.artifact_store, dead_letters=services.dead_letters)
        try:
            run = request_report_run(RequestReportRun(
                tenant_id=tenant_id, property_id=property_id, requested_by="demo", template_key=TEMPLATE,
                run_date=business_date, formats=("pdf", "csv"),
                idempotency_key=f"demo-zatca-{business_date.isoformat()}"), live.deps).run
            live.relay.sweep()  # render → report_run.completed.v1 → submit → ZatcaReportingAdapter → simulator
            with live.uow(tenant_id) as uow:
                mine = [s for s in uow.submissions.list(limit=10_000, adapter=ADAPTER, property_ids=[property_id])
                        if s.run_id == run.run_id]
            store = live.zatca_store
            issued = store.issued_between(tenant_id, property_id, *day_bounds(business_date))
            stretch, previous = day_stretch(store, tenant_id, property_id, business_date)
        finally:
            live.close()
    report = verify_documents(stretch, previous)
    qr = [p for d in issued for p in qr_problems(d.xml)]
    for d in issued:
        write_document_files(d.xml, d.qr, out, f"{d.icv:06d}-{d.invoice_number}")
    states = [str(s.state) for s in mine]
    return DaySummary(
        business_date=business_date, documents=len(issued), submissions=len(mine),
        accepted=states.count("accepted"), rejected=states.count("rejected"),
        open=sum(s not in ("accepted", "rejected", "missed_cutoff") for s in states),
        chain_verified=bool(stretch) and report.ok, first_icv=stretch[0].icv if stretch else None,
        last_icv=stretch[-1].icv if stretch else None, qr_ok=not qr, out_dir=out,
        problems=tuple(p.message for p in report.problems) + tuple(qr))
