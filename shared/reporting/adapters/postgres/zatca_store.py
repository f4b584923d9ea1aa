"""The ZATCA chain in Postgres (migrations/0017): each call one tenant-scoped unit of work, under row-level security.

`append` is the one that matters: in one transaction it takes the property's chain head
FOR UPDATE (creating it at ICV 0 the first time), looks for the submission's document once
it holds the lock — a concurrent attempt of the same submission that got there first has
committed it, and READ COMMITTED lets this statement see it — and otherwise signs the next
link, inserts it and moves the head, then commits. Concurrent filings of one property wait
on the head row and take consecutive counters; the unique keys on (property, icv) and
(property, previous_hash) refuse a gap or a fork outright should the code ever be wrong.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Callable

from reporting.adapters.postgres.connection import Connection, execute, fetch_all, fetch_one
from reporting.adapters.regulatory.zatca.chain import ChainHead, next_link
from reporting.adapters.regulatory.zatca.store import (
    ChainConflict,
    DocumentDraft,
    DocumentRole,
    Outcome,
    Signer,
    StoredDocument,
    Verdict,
    ZatcaStore,
)

_COLUMNS = ("document_id, tenant_id, property_id, submission_id, role, subject_ref, icv, previous_hash, invoice_hash, "
            "invoice_uuid, invoice_number, type_code, issued_at, billing_reference, signed_xml, qr, outcome, "
            "http_status, validation_messages, report_attempts, created_at, reported_at")

ENSURE_HEAD = """
    INSERT INTO reporting.zatca_chain_heads (property_id, tenant_id) VALUES (:property_id::uuid, :tenant_id::uuid)
    ON CONFLICT (property_id) DO NOTHING"""
LOCK_HEAD = """
    SELECT icv, invoice_hash FROM reporting.zatca_chain_heads WHERE property_id = :property_id::uuid FOR UPDATE"""
MOVE_HEAD = """
    UPDATE reporting.zatca_chain_heads SET icv = :icv, invoice_hash = :invoice_hash, updated_at = :now
     WHERE property_id = :property_id::uuid AND icv = :previous_icv"""
INSERT_DOCUMENT = f"""
    INSERT INTO reporting.zatca_invoices ({_COLUMNS})
    VALUES (:document_id::uuid, :tenant_id::uuid, :property_id::uuid, :submission_id::uuid, :role, :subject_ref, :icv,
            :previous_hash, :invoice_hash, :invoice_uuid::uuid, :invoice_number, :type_code, :issued_at,
            :billing_reference, :signed_xml, :qr, NULL, NULL, '[]'::jsonb, 0, :now, NULL)"""
FIND = f"SELECT {_COLUMNS} FROM reporting.zatca_invoices WHERE submission_id = :submission_id::uuid AND role = :role"
BY_UUID = f"""SELECT {_COLUMNS} FROM reporting.zatca_invoices
               WHERE property_id = :property_id::uuid AND invoice_uuid = :invoice_uuid::uuid"""
FOR_SUBMISSION = f"""SELECT {_COLUMNS} FROM reporting.zatca_invoices
                      WHERE submission_id = :submission_id::uuid ORDER BY icv"""
FOR_SUBJECT = f"""SELECT {_COLUMNS} FROM reporting.zatca_invoices
                   WHERE property_id = :property_id::uuid AND subject_ref = :subject_ref ORDER BY icv"""
CHAIN = f"""SELECT {_COLUMNS} FROM reporting.zatca_invoices
             WHERE property_id = :property_id::uuid AND icv >= :from_icv
               AND (CAST(:to_icv AS bigint) IS NULL OR icv <= CAST(:to_icv AS bigint))
             ORDER BY icv"""
ISSUED_BETWEEN = f"""SELECT {_COLUMNS} FROM reporting.zatca_invoices
                      WHERE property_id = :property_id::uuid AND issued_at >= :start AND issued_at < :end
                      ORDER BY icv"""
HEAD = "SELECT icv, invoice_hash FROM reporting.zatca_chain_heads WHERE property_id = :property_id::uuid"
# The first verdict stands: a second one (the same bytes answered again) only counts the call.
RECORD_REPORT = f"""
    UPDATE reporting.zatca_invoices
       SET report_attempts = report_attempts + 1,
           outcome = COALESCE(outcome, CAST(:outcome AS text)),
           http_status = CASE WHEN outcome IS NULL THEN CAST(:http_status AS integer) ELSE http_status END,
           validation_messages = CASE WHEN outcome IS NULL AND CAST(:outcome AS text) IS NOT NULL
                                      THEN CAST(:messages AS jsonb) ELSE validation_messages END,
           reported_at = CASE WHEN outcome IS NULL AND CAST(:outcome AS text) IS NOT NULL
                              THEN CAST(:now AS timestamptz) ELSE reported_at END
     WHERE document_id = :document_id::uuid
 RETURNING {_COLUMNS}"""


def _document(row: dict[str, Any]) -> StoredDocument:
    messages = row["validation_messages"]
    if isinstance(messages, str):
        messages = json.loads(messages)
    return StoredDocument(
        document_id=str(row["document_id"]), tenant_id=str(row["tenant_id"]), property_id=str(row["property_id"]),
        submission_id=str(row["submission_id"]), role=DocumentRole(row["role"]), subject_ref=row["subject_ref"],
        icv=int(row["icv"]), previous_hash=row["previous_hash"], invoice_hash=row["invoice_hash"],
        invoice_uuid=str(row["invoice_uuid"]), invoice_number=row["invoice_number"], type_code=row["type_code"],
        issued_at=row["issued_at"], billing_reference=row["billing_reference"], xml=bytes(row["signed_xml"]),
        qr=row["qr"], verdict=Verdict(row["outcome"]) if row["outcome"] else None, http_status=row["http_status"],
        messages=tuple(messages or ()), report_attempts=int(row["report_attempts"]), created_at=row["created_at"],
        reported_at=row["reported_at"])


class PostgresZatcaStore(ZatcaStore):
    """ZatcaStore over the deployment's units of work (`uow(tenant_id)`, as Services.uow builds them)."""

    def __init__(self, uow: Callable[[str], Any]) -> None:
        self._uow = uow

    def _read(self, tenant_id: str, sql: str, params: dict[str, Any]) -> list[StoredDocument]:
        with self._uow(tenant_id) as uow:
            rows = fetch_all(uow.connection, sql, params)
        return [_document(r) for r in rows]

    def _one(self, tenant_id: str, sql: str, params: dict[str, Any]) -> StoredDocument | None:
        found = self._read(tenant_id, sql, params)
        return found[0] if found else None

    def append(self, draft: DocumentDraft, sign: Signer, *, now: datetime) -> StoredDocument:
        with self._uow(draft.tenant_id) as uow:
            conn: Connection = uow.connection
            execute(conn, ENSURE_HEAD, {"property_id": draft.property_id, "tenant_id": draft.tenant_id})
            head = fetch_one(conn, LOCK_HEAD, {"property_id": draft.property_id})
            if head is None:  # RLS: the property is another tenant's
                raise ChainConflict("the property's chain head is not this tenant's")
            existing = fetch_one(conn, FIND, {"submission_id": draft.submission_id, "role": str(draft.role)})
            if existing is not None:
                return _document(existing)
            icv = int(head["icv"])
            link = next_link(ChainHead(icv, head["invoice_hash"]) if icv else None)
            signed = sign(link)
            if (signed.icv, signed.previous_hash) != (link.icv, link.previous_hash):
                raise ChainConflict("the signed document is not the link it was given")
            params = {"document_id": str(uuid.uuid4()), "tenant_id": draft.tenant_id,
                      "property_id": draft.property_id, "submission_id": draft.submission_id,
                      "role": str(draft.role), "subject_ref": draft.subject_ref, "icv": signed.icv,
                      "previous_hash": signed.previous_hash, "invoice_hash": signed.invoice_hash,
                      "invoice_uuid": signed.uuid, "invoice_number": signed.invoice_number,
                      "type_code": draft.type_code, "issued_at": draft.issued_at,
                      "billing_reference": draft.billing_reference, "signed_xml": signed.xml, "qr": signed.qr_base64,
                      "now": now}
            execute(conn, INSERT_DOCUMENT, params)
            moved = execute(conn, MOVE_HEAD, {"property_id": draft.property_id, "icv": signed.icv,
                                              "invoice_hash": signed.invoice_hash, "now": now, "previous_icv": icv})
            if moved != 1:
                raise ChainConflict("the chain head moved while it was locked")
            stored = fetch_one(conn, FIND, {"submission_id": draft.submission_id, "role": str(draft.role)})
            uow.commit()
        assert stored is not None
        return _document(stored)

    def find(self, tenant_id: str, submission_id: str, role: DocumentRole) -> StoredDocument | None:
        return self._one(tenant_id, FIND, {"submission_id": submission_id, "role": str(role)})

    def by_uuid(self, tenant_id: str, property_id: str, invoice_uuid: str) -> StoredDocument | None:
        try:
            canonical = str(uuid.UUID(str(invoice_uuid)))
        except ValueError:
            return None  # not a document UUID (e.g. another adapter's reference): not ours
        return self._one(tenant_id, BY_UUID, {"property_id": property_id, "invoice_uuid": canonical})

    def for_submission(self, tenant_id: str, submission_id: str) -> list[StoredDocument]:
        return self._read(tenant_id, FOR_SUBMISSION, {"submission_id": submission_id})

    def for_subject(self, tenant_id: str, property_id: str, subject_ref: str) -> list[StoredDocument]:
        return self._read(tenant_id, FOR_SUBJECT, {"property_id": property_id, "subject_ref": subject_ref})

    def chain(self, tenant_id: str, property_id: str, *, from_icv: int = 1,
              to_icv: int | None = None) -> list[StoredDocument]:
        return self._read(tenant_id, CHAIN, {"property_id": property_id, "from_icv": from_icv, "to_icv": to_icv})

    def issued_between(self, tenant_id: str, property_id: str, start: datetime,
                       end: datetime) -> list[StoredDocument]:
        return self._read(tenant_id, ISSUED_BETWEEN, {"property_id": property_id, "start": start, "end": end})

    def head(self, tenant_id: str, property_id: str) -> ChainHead | None:
        with self._uow(tenant_id) as uow:
            row = fetch_one(uow.connection, HEAD, {"property_id": property_id})
        if row is None or not row["icv"]:
            return None
        return ChainHead(int(row["icv"]), row["invoice_hash"])

    def record_report(self, tenant_id: str, document_id: str, outcome: Outcome | None, *,
                      now: datetime) -> StoredDocument:
        with self._uow(tenant_id) as uow:
            row = fetch_one(uow.connection, RECORD_REPORT, {
                "document_id": document_id, "outcome": str(outcome.verdict) if outcome else None,
                "http_status": outcome.http_status if outcome else None,
                "messages": json.dumps([dict(m) for m in outcome.messages]) if outcome else "[]", "now": now})
            if row is None:
                raise KeyError(f"no zatca document {document_id} for this tenant")
            uow.commit()
        return _document(row)
