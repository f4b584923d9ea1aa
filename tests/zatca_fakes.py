"""An in-memory ZatcaStore as honest as the Postgres one: per-tenant visibility, the head locked while a link
is signed, the same unique keys, immutable documents and a first verdict that stands."""
from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import datetime

from reporting.adapters.regulatory.zatca.chain import ChainHead, next_link
from reporting.adapters.regulatory.zatca.store import (
    ChainConflict,
    DocumentDraft,
    DocumentRole,
    Outcome,
    Signer,
    StoredDocument,
    ZatcaStore,
)


class InMemoryZatcaStore(ZatcaStore):
    def __init__(self) -> None:
        self._docs: dict[str, StoredDocument] = {}
        self._heads: dict[str, tuple[str, ChainHead | None]] = {}  # property → (tenant, head)
        self._head_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts themselves (a row's own latch, not the head lock)

    def _visible(self, tenant_id: str) -> list[StoredDocument]:
        with self._lock:
            return sorted((d for d in self._docs.values() if d.tenant_id == tenant_id), key=lambda d: d.icv)

    def _head_lock(self, property_id: str) -> threading.Lock:
        with self._lock:
            return self._head_locks.setdefault(property_id, threading.Lock())

    def append(self, draft: DocumentDraft, sign: Signer, *, now: datetime) -> StoredDocument:
        with self._head_lock(draft.property_id):  # SELECT … FOR UPDATE on the head row
            with self._lock:
                owner, head = self._heads.setdefault(draft.property_id, (draft.tenant_id, None))
            if owner != draft.tenant_id:
                raise ChainConflict("the property's chain head is not this tenant's")
            existing = self.find(draft.tenant_id, draft.submission_id, draft.role)
            if existing is not None:
                return existing
            link = next_link(head)
            signed = sign(link)
            if (signed.icv, signed.previous_hash) != (link.icv, link.previous_hash):
                raise ChainConflict("the signed document is not the link it was given")
            doc = StoredDocument(
                document_id=str(uuid.uuid4()), tenant_id=draft.tenant_id, property_id=draft.property_id,
                submission_id=draft.submission_id, role=draft.role, subject_ref=draft.subject_ref, icv=signed.icv,
                previous_hash=signed.previous_hash, invoice_hash=signed.invoice_hash, invoice_uuid=signed.uuid,
                invoice_number=signed.invoice_number, type_code=draft.type_code, issued_at=draft.issued_at,
                xml=signed.xml, qr=signed.qr_base64, billing_reference=draft.billing_reference, created_at=now)
            with self._lock:
                for other in self._docs.values():  # the table's unique keys
                    if other.property_id == doc.property_id and (
                            other.icv == doc.icv or other.previous_hash == doc.previous_hash
                            or other.invoice_uuid == doc.invoice_uuid):
                        raise ChainConflict("duplicate ICV, PIH or UUID in the property's chain")
                    if (other.submission_id, other.role) == (doc.submission_id, doc.role):
                        raise ChainConflict("the submission already has a document in this role")
                self._docs[doc.document_id] = doc
                self._heads[draft.property_id] = (draft.tenant_id, signed.chain_head)
            return doc

    def find(self, tenant_id: str, submission_id: str, role: DocumentRole) -> StoredDocument | None:
        return next((d for d in self._visible(tenant_id) if (d.submission_id, d.role) == (submission_id, role)), None)

    def by_uuid(self, tenant_id: str, property_id: str, invoice_uuid: str) -> StoredDocument | None:
        try:
            canonical = str(uuid.UUID(str(invoice_uuid)))
        except ValueError:
            return None
        return next((d for d in self._visible(tenant_id)
                     if d.property_id == property_id and d.invoice_uuid == canonical), None)

    def for_submission(self, tenant_id: str, submission_id: str) -> list[StoredDocument]:
        return [d for d in self._visible(tenant_id) if d.submission_id == submission_id]

    def for_subject(self, tenant_id: str, property_id: str, subject_ref: str) -> list[StoredDocument]:
        return [d for d in self._visible(tenant_id) if d.property_id == property_id and d.subject_ref == subject_ref]

    def chain(self, tenant_id: str, property_id: str, *, from_icv: int = 1,
              to_icv: int | None = None) -> list[StoredDocument]:
        return [d for d in self._visible(tenant_id) if d.property_id == property_id and d.icv >= from_icv
                and (to_icv is None or d.icv <= to_icv)]

    def issued_between(self, tenant_id: str, property_id: str, start: datetime,
                       end: datetime) -> list[StoredDocument]:
        return [d for d in self._visible(tenant_id) if d.property_id == property_id and start <= d.issued_at < end]

    def head(self, tenant_id: str, property_id: str) -> ChainHead | None:
        with self._lock:
            owner, head = self._heads.get(property_id, (tenant_id, None))
        return head if owner == tenant_id else None

    def record_report(self, tenant_id: str, document_id: str, outcome: Outcome | None, *,
                      now: datetime) -> StoredDocument:
        with self._lock:
            doc = self._docs.get(document_id)
            if doc is None or doc.tenant_id != tenant_id:
                raise KeyError(f"no zatca document {document_id} for this tenant")
            changes: dict = {"report_attempts": doc.report_attempts + 1}
            if doc.verdict is None and outcome is not None:
                changes.update(verdict=outcome.verdict, http_status=outcome.http_status,
                               messages=tuple(dict(m) for m in outcome.messages), reported_at=now)
            doc = self._docs[document_id] = dataclasses.replace(doc, **changes)
            return doc
