"""`reporting zatca …`: what a property's e-invoicing unit filed, for an operator or an auditor.

    reporting zatca chain --tenant T --property P --date 2026-11-23   # verify the day's stretch of the chain
    reporting zatca chain --tenant T --property P --all               # … or the whole chain from ICV 1
    reporting zatca qr --tenant T --submission S [--png qr.png]       # the QR's tags 1-9 by ZATCA's names
    reporting zatca export --tenant T --property P --date D --out DIR # signed XML + QR PNG per document
    reporting zatca files out/ksa/zatca [--qr]                        # the same checks on exported XML files

Configured from the environment like every job (REPORTING_DATABASE_URL or Cloud SQL); reads as
reporting_app in the tenant's own transaction, so row-level security applies. Exit 0 when all is
well, 1 when the chain is broken, 2 when there is nothing to look at.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from reporting.adapters.regulatory.zatca.chain import ChainReport
from reporting.adapters.regulatory.zatca.inspect import day_bounds, day_stretch, verify_documents
from reporting.adapters.regulatory.zatca.invoice import RIYADH
from reporting.adapters.regulatory.zatca.store import StoredDocument, ZatcaStore


def _print_chain(documents: list[StoredDocument], report: ChainReport, out: TextIO) -> None:
    print(f"{'ICV':>6}  {'number':<24} {'type':<11} {'issued (Riyadh)':<19} {'verdict':<23} {'invoice hash':<14}",
          file=out)
    for d in documents:
        kind = {"388": "invoice", "381": "credit note"}.get(d.type_code, d.type_code)
        verdict = str(d.verdict) if d.verdict else "not yet reported"
        if d.http_status:
            verdict += f" ({d.http_status})"
        issued = d.issued_at.astimezone(RIYADH).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{d.icv:>6}  {d.invoice_number:<24} {kind:<11} {issued:<19} {verdict:<23} {d.invoice_hash[:12]}…",
              file=out)
    for problem in report.problems:
        print(f"BROKEN {problem.code}: {problem.message}", file=out)


def chain(args: argparse.Namespace, services: Any, out: TextIO) -> int:
    """Verify a day's stretch (or the whole) of a property's chain: hashes, signatures, counters, PIHs."""
    store: ZatcaStore = services.zatca_store
    public_key = None
    if args.cert:
        from cryptography import x509

        public_key = x509.load_pem_x509_certificate(Path(args.cert).read_bytes()).public_key()
    if args.all:
        documents, previous = store.chain(args.tenant, args.property), None
    else:
        documents, previous = day_stretch(store, args.tenant, args.property, date.fromisoformat(args.date))
    if not documents:
        print("no documents: nothing was chained for this property"
              + ("" if args.all else f" with an issue date of {args.date}"), file=out)
        return 2
    report = verify_documents(documents, previous, public_key)
    _print_chain(documents, report, out)
    verdicts = [d.verdict for d in documents]
    summary = (f"{report.checked} documents, ICV {documents[0].icv}-{documents[-1].icv}, "
               f"{sum(v is not None and v.value.startswith('reported') for v in verdicts)} reported, "
               f"{sum(v is not None and v.value == 'rejected' for v in verdicts)} rejected, "
               f"{sum(v is None for v in verdicts)} awaiting ZATCA")
    if report.ok:
        link = f" after ICV {previous.icv}" if previous else (" from the genesis PIH" if documents[0].icv == 1 else "")
        print(f"OK: one unbroken chain{link}: {summary}", file=out)
        return 0
    print(f"BROKEN: {len(report.problems)} problem(s) in {summary}", file=out)
    return 1


def qr(args: argparse.Namespace, services: Any, out: TextIO) -> int:
    """Print each document of a submission with its QR decoded, tag by tag, checked against the document."""
    from reporting.adapters.regulatory.zatca.inspect import qr_fields
    from reporting.adapters.regulatory.zatca.qr import qr_png

    documents = services.zatca_store.for_submission(args.tenant, args.submission)
    if not documents:
        print("no documents: the submission has not been filed through ZATCA (or is another tenant's)", file=out)
        return 2
    bad = 0
    for n, d in enumerate(documents):
        kind = {"388": "invoice", "381": "credit note"}.get(d.type_code, d.type_code)
        print(f"{d.invoice_number}  {kind} ({d.role})  ICV {d.icv}  UUID {d.invoice_uuid}  "
              f"{d.verdict or 'not yet reported'}", file=out)
        print(f"  {'tag':>3}  {'field (ZATCA)':<80} matches", file=out)
        try:
            fields = qr_fields(d.xml)
        except ValueError as error:  # a QR that is not TLV base64
            print(f"  QR unreadable: {error}", file=out)
            bad += 1
            continue
        for field in fields:
            bad += not field.matches
            print(f"  {field.tag:>3}  {field.name:<80} {'yes' if field.matches else 'NO'}", file=out)
            print(f"       {field.value}", file=out)
        if args.png:
            target = Path(args.png)
            if len(documents) > 1:
                target = target.with_name(f"{target.stem}-{n + 1}{target.suffix or '.png'}")
            target.write_bytes(qr_png(d.qr))
            print(f"  QR image: {target}", file=out)
    return 1 if bad else 0


def export(args: argparse.Namespace, services: Any, out: TextIO) -> int:
    """Write the signed XML and a QR PNG of each document issued on a date (ICV-number.xml, …-qr.png)."""
    from reporting.adapters.regulatory.zatca.inspect import write_document_files

    start, end = day_bounds(date.fromisoformat(args.date))
    documents = services.zatca_store.issued_between(args.tenant, args.property, start, end)
    for d in documents:
        xml_path, _ = write_document_files(d.xml, d.qr, Path(args.out), f"{d.icv:06d}-{d.invoice_number}")
        print(xml_path, file=out)
    print(f"{len(documents)} documents in {args.out}", file=out)
    return 0 if documents else 2


def files(args: argparse.Namespace, out: TextIO) -> int:
    """Verify exported documents without a database (what `make demo` or `export` wrote): one chain, and each QR."""
    from reporting.adapters.regulatory.zatca.chain import verify_chain
    from reporting.adapters.regulatory.zatca.inspect import qr_fields, qr_problems

    paths = sorted(Path(args.dir).glob("*.xml"))
    if not paths:
        print(f"no documents: {args.dir} holds no .xml files", file=out)
        return 2
    xmls = [p.read_bytes() for p in paths]
    report = verify_chain(xmls)
    bad_qr = 0
    for path, xml in zip(paths, xmls):
        problems = qr_problems(xml)
        bad_qr += bool(problems)
        print(f"{path.name}: QR {'ok' if not problems else '; '.join(problems)}", file=out)
        if args.qr and not problems:
            for field in qr_fields(xml):
                print(f"  {field.tag:>3}  {field.name:<80} {field.value}", file=out)
    for problem in report.problems:
        print(f"BROKEN {problem.code}: {problem.message}", file=out)
    head = f", head ICV {report.head.icv}" if report.head else ""
    print(f"{'OK' if report.ok and not bad_qr else 'BROKEN'}: {report.checked} documents, "
          f"{len(report.problems)} chain problem(s), {bad_qr} QR problem(s){head}", file=out)
    return 0 if report.ok and not bad_qr else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`reporting zatca chain | qr | export | files`."""
    commands = parser.add_subparsers(dest="zatca_command", required=True)
    p = commands.add_parser("chain", help="verify a property's invoice hash chain across a day (or all of it)")
    p.add_argument("--tenant", required=True, metavar="TENANT_ID")
    p.add_argument("--property", required=True, metavar="PROPERTY_ID")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", help="an issue date (YYYY-MM-DD, Riyadh)")
    which.add_argument("--all", action="store_true", help="the whole chain from ICV 1")
    p.add_argument("--cert", help="the unit's certificate (PEM); default: each document's embedded one")
    p.set_defaults(func=_run, action=chain)
    p = commands.add_parser("qr", help="decode a submission's QR codes: tags 1-9 by ZATCA's names")
    p.add_argument("--tenant", required=True, metavar="TENANT_ID")
    p.add_argument("--submission", required=True, metavar="SUBMISSION_ID")
    p.add_argument("--png", help="also write the QR image here")
    p.set_defaults(func=_run, action=qr)
    p = commands.add_parser("export", help="write a day's signed XML documents and QR images to a folder")
    p.add_argument("--tenant", required=True, metavar="TENANT_ID")
    p.add_argument("--property", required=True, metavar="PROPERTY_ID")
    p.add_argument("--date", required=True, help="an issue date (YYYY-MM-DD, Riyadh)")
    p.add_argument("--out", required=True, help="the folder")
    p.set_defaults(func=_run, action=export)
    p = commands.add_parser("files", help="verify exported XML files (e.g. make demo's out/ksa/zatca): chain and QRs")
    p.add_argument("dir", help="a folder of signed invoice XML files")
    p.add_argument("--qr", action="store_true", help="print each QR's tags 1-9 by ZATCA's names")
    p.set_defaults(func=lambda args: files(args, sys.stdout))


def _run(args: argparse.Namespace) -> int:
    from reporting.bootstrap import Services
    from reporting.config import Settings

    services = Services(Settings.from_env())
    try:
        return int(args.action(args, services, sys.stdout))
    finally:
        services.close()
