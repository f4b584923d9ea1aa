"""The per-device invoice chain as pure functions: counter (ICV), previous invoice hash (PIH), checks.

Sources: ZATCA "Security Features Implementation Standards" §3 (previous invoice hash) and the XML
standard's KSA-16 (invoice counter value) and KSA-13 (PIH). Each EGS unit (for us: each property's
e-invoicing unit, one CSID) keeps its own counter and chain; every document it issues, whatever its
type, takes the next counter and the hash of the document before it.

- The first document's PIH is ZATCA's fixed genesis value, base64 of the *hex text* of SHA-256("0")
  (`NWZlY2Vi...OQ==`, the SDK's `Data/PIH/pih.txt`), not base64 of the 32 digest bytes.
- *Assumption*: the first counter is 1 (the standard asks for a counter incremented by one per
  document and does not fix where it starts; 1 is what the SDK samples and ZATCA's answers use).

Persisting the head (so that retries and concurrent runs never skip or fork) is the caller's job:
these functions only say what the next link is and whether a sequence of documents is one chain.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from reporting.adapters.regulatory.zatca.signing import InvalidInvoiceSignature, verify_signed_invoice
from reporting.adapters.regulatory.zatca.ubl import MalformedInvoiceXml, document_fields, invoice_hash, parse

FIRST_ICV = 1
GENESIS_PIH = base64.b64encode(hashlib.sha256(b"0").hexdigest().encode("ascii")).decode("ascii")


@dataclass(frozen=True)
class ChainHead:
    """The last document of a chain: its counter and its invoice hash."""

    icv: int
    invoice_hash: str


@dataclass(frozen=True)
class ChainLink:
    """Where the next document goes: its counter and the hash it must carry as PIH."""

    icv: int
    previous_hash: str


def next_icv(previous_icv: int | None) -> int:
    """The counter after `previous_icv` (the first one when there is none)."""
    return FIRST_ICV if previous_icv is None else previous_icv + 1


def next_previous_hash(previous_invoice_hash: str | None) -> str:
    """The PIH of the next document: the previous document's hash, or the genesis value."""
    return GENESIS_PIH if previous_invoice_hash is None else previous_invoice_hash


def next_link(head: ChainHead | None) -> ChainLink:
    """The next link after `head` (None: the unit has issued nothing yet)."""
    if head is None:
        return ChainLink(FIRST_ICV, GENESIS_PIH)
    return ChainLink(next_icv(head.icv), next_previous_hash(head.invoice_hash))


@dataclass(frozen=True)
class ChainProblem:
    """One broken rule, naming the document (its number, UUID and counter; never guest data)."""

    invoice_number: str
    uuid: str
    icv: int | None
    code: str
    message: str


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found."""

    checked: int
    problems: tuple[ChainProblem, ...]
    head: ChainHead | None

    @property
    def ok(self) -> bool:
        """True when every document verified and they form one unbroken chain."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise ChainBroken when anything is wrong."""
        if self.problems:
            raise ChainBroken(self.problems)


class ChainBroken(Exception):
    """The documents do not form one verified chain."""

    def __init__(self, problems: tuple[ChainProblem, ...]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class _Link:
    invoice_number: str
    uuid: str
    icv: int
    previous_hash: str
    invoice_hash: str

    def name(self) -> str:
        return f"invoice {self.invoice_number} (ICV {self.icv})"


def verify_chain(
    documents: Iterable[bytes | object],
    *,
    public_key: ec.EllipticCurvePublicKey | None = None,
    previous: ChainHead | None = None,
) -> ChainReport:
    """Check a unit's documents (XML bytes, or objects with `.xml`) as one chain.

    Checked: each hash recomputes and each signature verifies (against `public_key` when given, else
    the embedded certificate); counters are consecutive (no gap, no repeat); each PIH is the hash of
    the document before it (no fork); the first continues `previous` when given, or carries the
    genesis PIH when its counter is the first. Documents are taken in counter order.
    """
    problems: list[ChainProblem] = []
    links: list[_Link] = []
    count = 0
    for position, document in enumerate(documents):
        count += 1
        xml = getattr(document, "xml", document)
        try:
            fields = document_fields(parse(xml))
        except MalformedInvoiceXml as exc:
            problems.append(ChainProblem(f"#{position}", "", None, "malformed", f"document #{position}: {exc}"))
            continue
        link = _Link(fields.invoice_number, fields.uuid, fields.icv, fields.previous_hash, invoice_hash(xml))
        try:
            verify_signed_invoice(xml, public_key)
        except InvalidInvoiceSignature as exc:
            problems.append(_problem(link, exc.reason, f"{link.name()}: {exc}"))
        links.append(link)

    links.sort(key=lambda item: item.icv)
    seen_pih: dict[str, _Link] = {}
    before: _Link | None = None
    for link in links:
        twin = seen_pih.get(link.previous_hash)
        if twin is not None:
            problems.append(_problem(link, "fork", f"{link.name()}: same previous hash as {twin.name()}"))
        seen_pih.setdefault(link.previous_hash, link)
        expected = _expected_link(before, previous)
        if expected is not None and link.icv != expected.icv:
            if before is not None and link.icv == before.icv:
                problems.append(_problem(link, "fork", f"{link.name()}: counter repeats {before.name()}"))
            else:
                problems.append(
                    _problem(link, "counter_gap", f"{link.name()}: counter {expected.icv} expected, got {link.icv}")
                )
        if expected is not None and link.previous_hash != expected.previous_hash:
            problems.append(_problem(link, "pih_mismatch", f"{link.name()}: PIH is not the previous invoice's hash"))
        if expected is None and link.icv == FIRST_ICV and link.previous_hash != GENESIS_PIH:
            problems.append(_problem(link, "pih_mismatch", f"{link.name()}: first document without the genesis PIH"))
        before = link
    head = ChainHead(links[-1].icv, links[-1].invoice_hash) if links else previous
    return ChainReport(checked=count, problems=tuple(problems), head=head)


def _expected_link(before: _Link | None, previous: ChainHead | None) -> ChainLink | None:
    if before is not None:
        return next_link(ChainHead(before.icv, before.invoice_hash))
    if previous is not None:
        return next_link(previous)
    return None


def _problem(link: _Link, code: str, message: str) -> ChainProblem:
    return ChainProblem(link.invoice_number, link.uuid, link.icv, code, message)
