"""The only place that picks adapters. Clients are built lazily, once per instance (cold start matters)."""
from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, Callable

from reporting.adapters.postgres.connection import (CloudSqlConnectionFactory, CloudSqlTarget, ConnectionFactory,
                                                    ConnInfo, local_connection_factory)
from reporting.adapters.postgres.pool import ConnectionPool
from reporting.adapters.postgres.run_lock import run_lock
from reporting.adapters.postgres.unit_of_work import PostgresUnitOfWork
from reporting.config import Settings
from reporting.service_layer.dependencies import Dependencies
from reporting.service_layer.outbox_relay import OutboxRelay
from reporting.service_layer.ports import (ArtifactStore, Clock, DeadLetterSink, OutboxRow, Renderer, SystemClock,
                                           Warehouse)

LOCAL_MAX_ATTEMPTS = 5  # like a subscription's max_delivery_attempts


def connection_factory(settings: Settings) -> ConnectionFactory:
    """Cloud SQL connector with IAM auth when an instance is configured, else a plain pg8000 URL."""
    if settings.uses_cloud_sql:
        assert settings.cloud_sql_instance and settings.cloud_sql_iam_user
        return CloudSqlConnectionFactory(CloudSqlTarget(
            instance_connection_name=settings.cloud_sql_instance, database=settings.cloud_sql_database,
            iam_user=settings.cloud_sql_iam_user))
    assert settings.database_url
    return local_connection_factory(ConnInfo.from_url(settings.database_url))


def _once(build: Callable[[], object]) -> Callable[[], object]:
    lock = threading.Lock()
    box: list[object] = []

    def get() -> object:
        if not box:
            with lock:
                if not box:
                    box.append(build())
        return box[0]

    return get


class Services:
    """Everything a function, job or the local runner needs; overrides are for tests and the demo."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 conn_factory: ConnectionFactory | None = None, warehouse: Warehouse | None = None,
                 renderer: Renderer | None = None, artifact_store: ArtifactStore | None = None,
                 dead_letters: DeadLetterSink | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._conn_factory = conn_factory
        self._warehouse = _once(lambda: warehouse or self._build_warehouse())
        self._renderer = _once(lambda: renderer or self._build_renderer())
        self._artifact_store = _once(lambda: artifact_store or self._build_artifact_store())
        self._dead_letters = _once(lambda: dead_letters or self._build_dead_letters())

    @cached_property
    def pool(self) -> ConnectionPool:
        return ConnectionPool(self._conn_factory or connection_factory(self.settings))

    def uow(self, tenant_id: str | None, *, causation_id: str | None = None,
            correlation_id: str | None = None) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self.pool, tenant_id, self.settings.residency, self.clock,
                                  causation_id=causation_id, correlation_id=correlation_id,
                                  after_commit=self._publish_after_commit)

    def _publish_after_commit(self, event_ids: list[str]) -> None:
        # On Pub/Sub, committed events go out at once (the sweeper catches stragglers).
        # The local bus is drained explicitly instead: delivering in-process from inside
        # a commit would nest one function's work inside another's.
        if self.settings.event_bus == "pubsub":
            self._fast_relay.publish_now(event_ids)

    @cached_property
    def _fast_relay(self) -> OutboxRelay:
        """The after-commit relay: a short publish deadline, so a broker outage costs a request at most
        two seconds; what it cannot publish waits for the sweeper."""
        return self._build_relay(publish_timeout_seconds=2.0)

    @cached_property
    def tenant_freshness(self) -> Any:
        """Keeps each tenant's mirror row fresh from tenant-service (cloud); a no-op without one (local)."""
        from datetime import timedelta

        from reporting.service_layer.tenants import TenantFreshness

        directory = None
        if self.settings.tenant_service_url:
            from reporting.adapters.tenant_service.http_directory import HttpTenantDirectory, google_id_token

            # A localhost tenant-service (tests, dev) takes no token; in the cloud it wants a Google ID token.
            local = self.settings.tenant_service_url.startswith(("http://127.0.0.1", "http://localhost"))
            directory = HttpTenantDirectory(self.settings.tenant_service_url,
                                            token=None if local else google_id_token)
        return TenantFreshness(directory, ttl=timedelta(seconds=self.settings.tenant_ttl_seconds),
                               retry_after=timedelta(seconds=10))

    @cached_property
    def verifier(self) -> Any:
        """OIDC verification against the configured issuers' JWKS (cached per instance)."""
        from reporting.adapters.auth.oidc import OidcVerifier, RefuseAll

        if not self.settings.oidc_issuers:
            return RefuseAll()
        return OidcVerifier(self.settings.oidc_issuers)

    @cached_property
    def relay(self) -> OutboxRelay:
        """The outbox relay for this deployment's bus: Pub/Sub, or in-process delivery to the consumers."""
        return self._build_relay(publish_timeout_seconds=10.0)

    def _build_relay(self, *, publish_timeout_seconds: float) -> OutboxRelay:
        from reporting.adapters.postgres.outbox_store import PostgresOutboxStore
        from reporting.events.publication import PublicationPlan

        plan = PublicationPlan(today=lambda: self.clock.now().date())
        store = PostgresOutboxStore(self.pool)
        lease = self.settings.outbox_lease_seconds
        if self.settings.event_bus == "pubsub":
            from reporting.adapters.pubsub.publisher import PubSubPublisher

            assert self.settings.pubsub_project
            return OutboxRelay(store, PubSubPublisher(self.settings.pubsub_project,
                                                      timeout_seconds=publish_timeout_seconds), plan,
                               lease_seconds=lease)
        from reporting.adapters.local.bus import InProcessPublisher
        from reporting.entrypoints.consumers import HANDLERS, consume

        consumers = {name: (lambda ce, name=name: consume(name, ce, self)) for name in HANDLERS}
        return OutboxRelay(store, InProcessPublisher(consumers), plan, lease_seconds=lease,
                           max_attempts=LOCAL_MAX_ATTEMPTS, on_gave_up=self._park_locally)

    def _park_locally(self, row: OutboxRow, reason: str) -> None:
        """What a subscription's dead-letter policy does when retries run out."""
        from reporting.events.envelope import Envelope

        envelope = Envelope.from_dict(row.envelope)
        self.dead_letters.publish("local-bus", envelope.to_bytes(), envelope.attributes(), reason)

    @cached_property
    def deps(self) -> Dependencies:
        return Dependencies(uow=self.uow, clock=self.clock, residency=self.settings.residency,
                            warehouse=self._warehouse, renderer=self._renderer,  # type: ignore[arg-type]
                            artifact_store=self._artifact_store,  # type: ignore[arg-type]
                            backfill_days=self.settings.backfill_days,
                            max_bytes_billed=self.settings.max_bytes_billed,
                            run_lock=lambda run_id: run_lock(self.pool, run_id), fairness=self.fairness,
                            regulatory=self.regulatory_adapter)

    @cached_property
    def fairness(self) -> Any:
        """Per-tenant request-rate and runs-in-flight limits (service_layer/fairness.py), counted in Postgres."""
        from reporting.adapters.postgres.fairness import PostgresFairnessStore
        from reporting.service_layer.fairness import Fairness, FairnessLimits

        return Fairness(FairnessLimits(requests_per_minute=self.settings.rate_limit_per_minute,
                                       max_runs_in_flight=self.settings.max_runs_in_flight),
                        store=lambda uow: PostgresFairnessStore(uow.connection))

    def regulatory_adapter(self, submission: Any, live: bool) -> Any:
        """The adapter that files a submission: the fake unless the property switched this adapter to live
        (property setting `regulatory_live`: the cut-over is a setting, not a deploy)."""
        if not live:
            return self.fake_regulatory
        adapter = str(submission.adapter)
        if adapter == "in_form_c":  # the file for the FRRO portal, then an operator's confirmation
            from reporting.adapters.regulatory.form_c import FormCAdapter

            return FormCAdapter(self.artifact_store)
        if adapter == "af_police" and self.settings.af_police_endpoint and self.settings.af_police_token:
            return self._af_police
        if adapter == "ksa_zatca" and self.settings.zatca_endpoint:
            return self._zatca
        from reporting.adapters.regulatory.unconfigured import UnconfiguredLiveAdapter

        return UnconfiguredLiveAdapter(adapter)

    @cached_property
    def _af_police(self) -> Any:
        from reporting.adapters.regulatory.af_police import AfPoliceAdapter
        from reporting.adapters.secrets import Secret

        token = self.settings.af_police_token or ""
        secret = Secret(secret_version=token) if token.startswith("projects/") else Secret(value=token)
        return AfPoliceAdapter(self.settings.af_police_endpoint or "", secret)

    @cached_property
    def zatca_store(self) -> Any:
        """The e-invoicing units' chains (migration 0017), one tenant-scoped unit of work per call."""
        from reporting.adapters.postgres.zatca_store import PostgresZatcaStore

        return PostgresZatcaStore(self.uow)

    @cached_property
    def _zatca(self) -> Any:
        """The live KSA VAT adapter: each property is its own e-invoicing unit, reporting to REPORTING_ZATCA_ENDPOINT
        with the key and CSID its settings (or REPORTING_ZATCA_SECRETS) name (docs/regulatory/zatca.md)."""
        from reporting.adapters.regulatory.zatca.adapter import ZatcaReportingAdapter
        from reporting.adapters.regulatory.zatca.credentials import PropertyCredentials

        def settings_of(tenant_id: str, property_id: str) -> dict[str, Any]:
            with self.uow(tenant_id) as uow:
                prop = uow.properties.get(property_id)
            return dict(prop.settings) if prop else {}

        assert self.settings.zatca_endpoint
        credentials = PropertyCredentials(settings_of, base_url=self.settings.zatca_endpoint,
                                          template=self.settings.zatca_secrets,
                                          timeout_seconds=self.settings.zatca_timeout_seconds)
        return ZatcaReportingAdapter(self.zatca_store, credentials, now=self.clock.now)

    @cached_property
    def fake_regulatory(self) -> Any:
        """FakeRegulatoryAdapter (plan §8), scripted by REPORTING_FAKE_REGULATORY_SCRIPT (outages, rejections)."""
        from reporting.adapters.regulatory.fake import FakeRegulatoryAdapter, FakeScript

        return FakeRegulatoryAdapter(FakeScript.from_json(self.settings.fake_regulatory_script),
                                     now=self.clock.now)

    @cached_property
    def service_level(self) -> Any:
        """The per-tenant SLO target and its aggregate (service_layer/slo.py)."""
        from reporting.adapters.postgres.fairness import PostgresSloStore
        from reporting.service_layer.slo import ServiceLevel

        return ServiceLevel(target=self.settings.slo_target, store=lambda uow: PostgresSloStore(uow.connection))

    @property
    def dead_letters(self) -> DeadLetterSink:
        return self._dead_letters()  # type: ignore[return-value]

    @property
    def artifact_store(self) -> ArtifactStore:
        return self._artifact_store()  # type: ignore[return-value]

    def _build_warehouse(self) -> Warehouse:
        s = self.settings
        if s.warehouse == "bigquery":
            from reporting.adapters.warehouse.bigquery import DEFAULT_MAX_BYTES_BILLED, BigQueryWarehouse

            return BigQueryWarehouse(s.bigquery_project, location=s.bigquery_location, dataset=s.bigquery_dataset,
                                     max_bytes_billed=s.max_bytes_billed or DEFAULT_MAX_BYTES_BILLED,
                                     labels={"residency": str(s.residency).lower()})
        from reporting.adapters.warehouse.duckdb_local import DuckDBWarehouse

        # Ours to close: DuckDB holds a file lock until the connection closes.
        self._owned_warehouse = DuckDBWarehouse(s.warehouse_path)
        return self._owned_warehouse

    def warehouse_loader(self) -> Any:
        """The historical import's writer into the same warehouse the datasets read (jobs only: not cached)."""
        s = self.settings
        if s.warehouse == "bigquery":
            from reporting.adapters.warehouse.bigquery_loader import BigQueryWarehouseLoader

            return BigQueryWarehouseLoader(s.bigquery_project, location=s.bigquery_location,
                                           dataset=s.bigquery_dataset,
                                           labels={"residency": str(s.residency).lower()})
        from reporting.adapters.warehouse.duckdb_loader import DuckDBWarehouseLoader

        return DuckDBWarehouseLoader(self.deps.warehouse())

    @staticmethod
    def _build_renderer() -> Renderer:
        from reporting.adapters.renderers.document import DocumentRenderer

        return DocumentRenderer()

    def _build_artifact_store(self) -> ArtifactStore:
        s = self.settings
        retention = dict(s.retention_days)
        store: ArtifactStore
        if s.artifact_store == "gcs":
            from reporting.adapters.gcs.artifact_store import GcsArtifactStore

            assert s.operational_bucket and s.regulatory_bucket
            store = GcsArtifactStore(operational_bucket=s.operational_bucket, regulatory_bucket=s.regulatory_bucket,
                                     region=s.region, retention_days=retention, clock=self.clock)
        else:
            from reporting.adapters.local.artifact_store import LocalArtifactStore

            store = LocalArtifactStore(s.artifact_dir, region=s.region, retention_days=retention)
        if s.artifact_encryption != "envelope":
            return store
        from reporting.adapters.crypto.sealed_store import SealedArtifactStore

        if s.artifact_kek:
            from reporting.adapters.kms.key_wrapper import CloudKmsKeyWrapper

            return SealedArtifactStore(store, CloudKmsKeyWrapper(s.artifact_kek))
        from reporting.adapters.crypto.local_key_file import LocalKeyFileWrapper

        assert s.artifact_key_file is not None
        return SealedArtifactStore(store, LocalKeyFileWrapper(s.artifact_key_file))

    def _build_dead_letters(self) -> DeadLetterSink:
        if self.settings.event_bus == "pubsub":
            from reporting.adapters.pubsub.dead_letters import PubSubDeadLetterSink

            assert self.settings.pubsub_project
            return PubSubDeadLetterSink(self.settings.pubsub_project)
        from reporting.adapters.local.dead_letters import FileDeadLetterSink

        return FileDeadLetterSink(self.settings.dead_letter_dir)

    def close(self) -> None:
        if "pool" in self.__dict__:
            self.pool.close()
        owned = getattr(self, "_owned_warehouse", None)
        if owned is not None:
            owned.close()
            self._owned_warehouse = None


_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    """The process-wide Services, built from the environment on first use."""
    global _services
    if _services is None:
        with _services_lock:
            if _services is None:
                _services = Services(Settings.from_env())
    return _services
