"""Ports: the small interfaces use cases depend on; adapters implement them."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from reporting.domain.artifact import StoredObject


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """Aware UTC now."""


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class Warehouse(ABC):
    """Runs a curated BigQuery-dialect dataset with bound named parameters."""

    @abstractmethod
    def query(self, dataset_sql: str, params: Mapping[str, Any], *,
              max_bytes_billed: int | None = None) -> list[dict[str, Any]]:
        """Rows as dicts; tenant_id and property_id are always among the bound parameters.

        A warehouse that bills by bytes scanned caps every job at `max_bytes_billed` (or its own
        default) and refuses, before running anything, a query whose estimate is above it
        (WarehouseBudgetExceeded, permanent); a failure a retry can fix raises WarehouseUnavailable."""

    @abstractmethod
    def dataset_parameters(self, dataset_sql: str) -> frozenset[str]:
        """Check a dataset at publish time (one read-only BigQuery-dialect query, named @params only);
        return the names of its parameters. Raises RenderFailed (the adapters' DatasetError) when it is not."""

    def estimate_bytes(self, dataset_sql: str, params: Mapping[str, Any]) -> int:
        """Bytes the query would bill, from a dry run; 0 for a warehouse that bills nothing (local DuckDB)."""
        return 0


@dataclass(frozen=True)
class RenderRequest:
    """Everything a renderer needs; built by the render use case from the pinned version."""

    layout: str
    fmt: str
    locale: str
    rows: list[dict[str, Any]]
    context: dict[str, Any]


class Renderer(ABC):
    @abstractmethod
    def render(self, request: RenderRequest) -> bytes:
        """The document's bytes; raises RenderFailed for a template that cannot render."""

    @abstractmethod
    def compile(self, layout: str, locale: str = "en") -> None:
        """Check a layout at publish time: it must parse in the sandbox (RenderFailed if not)."""


class ArtifactStore(ABC):
    """Write-once object storage (SPEC §7).

    `retention_class` on stat/read/signed_url is a hint (the caller usually knows it from the artifact
    row): a store that keeps classes apart finds the object in one lookup with it, and searches without."""

    @abstractmethod
    def put_once(self, name: str, data: bytes, retention_class: str, *,
                 metadata: Mapping[str, str] | None = None) -> StoredObject:
        """Store `data` under `name`; raises ArtifactExists if the name was ever written.

        The object's lock (locked_until) is fixed here, from its class; `metadata` is kept with the object."""

    @abstractmethod
    def stat(self, name: str, retention_class: str | None = None) -> StoredObject | None:
        """Metadata of a stored object, or None."""

    @abstractmethod
    def read(self, name: str, retention_class: str | None = None) -> bytes:
        """The object's verified bytes (raises NotFound; ArtifactIntegrityError rather than bad bytes)."""

    def signed_url(self, name: str, ttl: timedelta, retention_class: str | None = None) -> str | None:
        """A short-lived GET-only URL for the object, or None when it must be streamed through the API."""
        return None

    @property
    @abstractmethod
    def region(self) -> str:
        """Where objects written here live."""


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted by a key-encryption key, and which key (and version, where known) did it."""

    key_name: str
    key_version: str | None
    ciphertext: bytes


class KeyWrapper(ABC):
    """Wraps and unwraps per-object data keys with a key-encryption key (Cloud KMS, or a local key file)."""

    @property
    @abstractmethod
    def key_name(self) -> str:
        """The key-encryption key new data keys are wrapped with."""

    @abstractmethod
    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        """Encrypt `data_key`, bound to `context` (additional authenticated data: it must match on unwrap)."""

    @abstractmethod
    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        """The data key; ArtifactUnsealFailed for a wrong key, another context or tampered bytes."""


class DeadLetterSink(ABC):
    """Where a consumer parks an event it can never process, with the reason (SPEC §5)."""

    @abstractmethod
    def publish(self, consumer: str, raw: bytes, attributes: Mapping[str, str], reason: str) -> None:
        ...


@dataclass(frozen=True)
class OutboxRow:
    """One claimed outbox entry: the envelope exactly as committed, and how often it was claimed."""
    event_id: str
    subject: str  # versioned, e.g. "report_run.requested.v1"
    aggregate_id: str
    envelope: dict[str, Any]
    claim_count: int


class OutboxStore(ABC):
    """Cross-tenant access to the outbox, only through the owner's audited functions (SPEC §4)."""

    @abstractmethod
    def claim(self, limit: int, lease_seconds: int) -> list[OutboxRow]:
        """Oldest unpublished rows nobody holds; each held for `lease_seconds`."""

    @abstractmethod
    def claim_ids(self, event_ids: Sequence[str], lease_seconds: int) -> list[OutboxRow]:
        """The given rows, if still unpublished and not held by another relay."""

    @abstractmethod
    def mark_published(self, event_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def release(self, event_id: str, *, dead: bool, reason: str) -> None:
        """Retry after the lease runs out, or set aside as dead with a reason (kept, never deleted)."""


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    data: bytes
    attributes: Mapping[str, str]
    ordering_key: str


@dataclass(frozen=True)
class PublishFailure:
    reason: str
    permanent: bool  # True: retrying can never help (e.g. no such topic); the row is set aside


class MessagePublisher(ABC):
    """Pub/Sub in the cloud and in the emulator tests; in-process delivery for the demo."""

    @abstractmethod
    def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishFailure | None]:
        """Publish all, wait for each; one result per message, None when the broker accepted it."""


class TenantDirectory(ABC):
    """tenant-service, the owner of tenants and their flags (plan §1.2); read to keep the mirror fresh."""

    @abstractmethod
    def fetch(self, tenant_id: str) -> "TenantRecord | None":
        """The tenant as tenant-service knows it now; None if it does not know it. Raises on outage."""


@dataclass(frozen=True)
class TenantRecord:
    """What the mirror takes from tenant-service. Not the status: locks and moves are this service's own."""
    tenant_id: str
    name: str
    residency: str
    stored_region: str
    default_locale: str
    features: Mapping[str, Any]


def business_yesterday(now: datetime, tz_name: str) -> date:
    """The business date that ended most recently in the property's own timezone."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz_name)).date() - timedelta(days=1)


class WarehouseLoader(ABC):
    """The warehouse's write side for history imports: one atomic replace per tenant, property and date range.

    `tables` maps dw table names (rooms, guests, reservations, room_nights, room_status_daily) to rows keyed
    by column, without tenant_id / property_id: the loader stamps those from its arguments, so a row cannot
    land in another tenant. Within (tenant_id, property_id) and date_range = (first, last), both included:
    room_nights with stay_date in the range, room_status_daily with business_date in the range, reservations
    with arrival_date in the range (plus any reservation with an id being loaded) and every room night of a
    replaced reservation are deleted; rooms and guests are upserted by id (the given columns updated, the
    others and unnamed rows kept); then the given rows are inserted. All of it commits at once or not at
    all, so running the same load twice leaves the same warehouse state. Returns the rows written per table."""

    @abstractmethod
    def replace_history(self, tenant_id: str, property_id: str, date_range: tuple[date, date],
                        tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                        import_id: str | None = None) -> dict[str, int]:
        """Replace the property's history in the range with `tables` atomically; `import_id` names the load
        (the files' manifest digest) in logs and job labels."""
