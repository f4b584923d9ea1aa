"""Postgres repositories. Every statement is parameterised and runs inside the UoW's tenant-scoped transaction."""
from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from reporting.adapters.postgres.connection import Connection, execute, fetch_all, fetch_one, queue
from reporting.domain.artifact import Artifact
from reporting.domain.errors import ConcurrentUpdate
from reporting.domain.report_run import ReportRun, RunOrigin, RunState
from reporting.domain.template import (Template, TemplateCategory, TemplateVersion, TemplateVersionSummary,
                                       VersionStatus)
from reporting.domain.tenant import Property, Residency, Tenant, TenantStatus


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


class _Repo:
    def __init__(self, conn: Connection, track: Callable[[Any], None]) -> None:
        self._conn = conn
        self._track = track


class TenantRepository(_Repo):
    def get(self, tenant_id: str) -> Tenant | None:
        row = fetch_one(self._conn, "SELECT * FROM reporting.tenants WHERE tenant_id = :t::uuid", {"t": tenant_id})
        if row is None:
            return None
        return Tenant(
            tenant_id=str(row["tenant_id"]), name=row["name"], residency=Residency(row["residency"]),
            stored_region=row["stored_region"], default_locale=row["default_locale"], features=row["features"],
            status=TenantStatus(row["status"]),
            moved_to_residency=Residency(row["moved_to_residency"]) if row["moved_to_residency"] else None,
        )

    def refresh(self, record: Any) -> None:
        """Take tenant-service's view (a TenantRecord): name, locale, flags — and the residency only for a
        tenant not mirrored yet. The status (locks, moves) is this service's own and is never overwritten."""
        execute(self._conn, """
            INSERT INTO reporting.tenants AS t (tenant_id, name, residency, stored_region, default_locale, features,
                                                synced_at)
            VALUES (:tenant_id::uuid, :name, :residency, :stored_region, :default_locale, :features::jsonb, now())
            ON CONFLICT (tenant_id) DO UPDATE SET
              name = EXCLUDED.name, default_locale = EXCLUDED.default_locale, features = EXCLUDED.features,
              synced_at = now(), updated_at = now()""",
            {"tenant_id": record.tenant_id, "name": record.name, "residency": record.residency,
             "stored_region": record.stored_region, "default_locale": record.default_locale,
             "features": json.dumps(dict(record.features))})

    def upsert(self, tenant: Tenant) -> None:
        execute(self._conn, """
            INSERT INTO reporting.tenants AS t (tenant_id, name, residency, stored_region, default_locale, features,
                                                status, moved_to_residency, synced_at)
            VALUES (:tenant_id::uuid, :name, :residency, :stored_region, :default_locale, :features::jsonb,
                    :status, :moved_to, now())
            ON CONFLICT (tenant_id) DO UPDATE SET
              name = EXCLUDED.name, residency = EXCLUDED.residency, stored_region = EXCLUDED.stored_region,
              default_locale = EXCLUDED.default_locale, features = EXCLUDED.features, status = EXCLUDED.status,
              moved_to_residency = EXCLUDED.moved_to_residency, synced_at = now(), updated_at = now()""",
            {"tenant_id": tenant.tenant_id, "name": tenant.name, "residency": str(tenant.residency),
             "stored_region": tenant.stored_region, "default_locale": tenant.default_locale,
             "features": json.dumps(tenant.features), "status": str(tenant.status),
             "moved_to": _s(tenant.moved_to_residency)})


_PROPERTY = "SELECT * FROM reporting.properties WHERE property_id = :p::uuid"


class PropertyRepository(_Repo):
    def get(self, property_id: str) -> Property | None:
        return self._property(fetch_one(self._conn, _PROPERTY, {"p": property_id}))

    def get_later(self, property_id: str) -> Callable[[], Property | None]:
        """`get`, queued to travel with the transaction's next statement (one round trip for both)."""
        later = queue(self._conn, _PROPERTY, {"p": property_id})
        return lambda: self._property(later.one())

    @staticmethod
    def _property(row: dict[str, Any] | None) -> Property | None:
        if row is None:
            return None
        # Reads switched to the typed column (0018 → 0019, docs/schema-backfills.md); the domain still carries
        # the setting in `settings`. NULL only if this release ran before the backfill: refuse, never guess.
        deduct = row["deduct_out_of_order"]
        if deduct is None:
            raise RuntimeError(f"property {row['property_id']}: deduct_out_of_order is not backfilled; run "
                               "`reporting schema-backfill --script d0001` before this release")
        return Property(
            property_id=str(row["property_id"]), tenant_id=str(row["tenant_id"]), name=row["name"],
            timezone=row["timezone"], currency=row["currency"], country=row["country"], locale=row["locale"],
            room_count=row["room_count"], settings={**row["settings"], "deduct_out_of_order": deduct},
            regulatory_ids=row["regulatory_ids"], adapters=list(row["adapters"] or []),
        )

    def upsert(self, prop: Property) -> None:
        # Dual-write (0018 → 0019, docs/schema-backfills.md): the typed column, and the settings key the release
        # before still reads, both from the domain's one reading of the setting, so they never disagree.
        deduct = prop.deduct_out_of_order
        execute(self._conn, """
            INSERT INTO reporting.properties (property_id, tenant_id, name, timezone, currency, country, locale,
                                              room_count, settings, deduct_out_of_order, regulatory_ids, adapters)
            VALUES (:property_id::uuid, :tenant_id::uuid, :name, :timezone, :currency, :country, :locale,
                    :room_count, :settings::jsonb, :deduct_out_of_order, :regulatory_ids::jsonb, :adapters)
            ON CONFLICT (property_id) DO UPDATE SET
              name = EXCLUDED.name, timezone = EXCLUDED.timezone, currency = EXCLUDED.currency,
              country = EXCLUDED.country, locale = EXCLUDED.locale, room_count = EXCLUDED.room_count,
              settings = EXCLUDED.settings, deduct_out_of_order = EXCLUDED.deduct_out_of_order,
              regulatory_ids = EXCLUDED.regulatory_ids, adapters = EXCLUDED.adapters, updated_at = now()""",
            {"property_id": prop.property_id, "tenant_id": prop.tenant_id, "name": prop.name,
             "timezone": prop.timezone, "currency": prop.currency, "country": prop.country, "locale": prop.locale,
             "room_count": prop.room_count, "settings": json.dumps({**prop.settings, "deduct_out_of_order": deduct}),
             "deduct_out_of_order": deduct, "regulatory_ids": json.dumps(prop.regulatory_ids),
             "adapters": list(prop.adapters)})


_VERSION_SELECT = """
    SELECT v.*, t.key AS template_key FROM reporting.template_versions v
    JOIN reporting.templates t USING (template_id)"""


_LATEST_PUBLISHED = _VERSION_SELECT + """
    WHERE v.template_id = :t::uuid AND v.status = 'published' ORDER BY v.version DESC LIMIT 1"""
# by_key, then latest_published, in one statement
_LATEST_PUBLISHED_BY_KEY = _VERSION_SELECT + """
    WHERE v.template_id = (SELECT template_id FROM reporting.templates WHERE key = :k
                            ORDER BY (tenant_id IS NULL) LIMIT 1)
      AND v.status = 'published' ORDER BY v.version DESC LIMIT 1"""


class TemplateRepository(_Repo):
    @staticmethod
    def _template(row: dict[str, Any]) -> Template:
        return Template(template_id=str(row["template_id"]), tenant_id=_s(row["tenant_id"]), key=row["key"],
                        category=TemplateCategory(row["category"]), name=row["name"],
                        description=row["description"])

    def _version(self, row: dict[str, Any]) -> TemplateVersion:
        version = TemplateVersion(
            template_version_id=str(row["template_version_id"]), template_id=str(row["template_id"]),
            tenant_id=_s(row["tenant_id"]), version=row["version"], status=VersionStatus(row["status"]),
            layout=row["layout"], dataset_sql=row["dataset_sql"], params_schema=row["params_schema"],
            formats=list(row["formats"]), locales=list(row["locales"]), retention_class=row["retention_class"],
            catalog_hash=row["catalog_hash"], regulatory_adapter=row["regulatory_adapter"],
            snapshot_hash=row["snapshot_hash"], template_key=row["template_key"],
            published_at=row["published_at"], archived_at=row["archived_at"],
        )
        self._track(version)
        return version

    def get(self, template_id: str) -> Template | None:
        row = fetch_one(self._conn, "SELECT * FROM reporting.templates WHERE template_id = :t::uuid",
                        {"t": template_id})
        return self._template(row) if row else None

    def by_key(self, key: str, tenant_id: str | None) -> Template | None:
        """The tenant's own template with this key wins over a platform-shared one."""
        row = fetch_one(self._conn, """
            SELECT * FROM reporting.templates WHERE key = :k
             ORDER BY (tenant_id IS NULL) LIMIT 1""", {"k": key})
        return self._template(row) if row else None

    def add(self, template: Template) -> None:
        execute(self._conn, """
            INSERT INTO reporting.templates (template_id, tenant_id, key, category, name, description)
            VALUES (:id::uuid, :tenant::uuid, :key, :category, :name, :description)""",
            {"id": template.template_id, "tenant": template.tenant_id, "key": template.key,
             "category": str(template.category), "name": template.name, "description": template.description})

    def get_version(self, template_version_id: str) -> TemplateVersion | None:
        row = fetch_one(self._conn, _VERSION_SELECT + " WHERE v.template_version_id = :v::uuid",
                        {"v": template_version_id})
        return self._version(row) if row else None

    def latest_published(self, template_id: str) -> TemplateVersion | None:
        row = fetch_one(self._conn, _LATEST_PUBLISHED, {"t": template_id})
        return self._version(row) if row else None

    def latest_published_per_key(self, keys: list[str] | None = None) -> list[TemplateVersion]:
        """For each template key the tenant sees (or each of `keys`): the latest published version, the tenant's
        own template winning over a platform one with the same key. Ordered by key."""
        rows = fetch_all(self._conn, _VERSION_SELECT + """
            WHERE v.status = 'published' AND (CAST(:keys AS text[]) IS NULL OR t.key = ANY (CAST(:keys AS text[])))
            ORDER BY t.key, (t.tenant_id IS NULL), v.version DESC""", {"keys": keys})
        latest: dict[str, TemplateVersion] = {}
        for row in rows:
            if row["template_key"] not in latest:
                latest[row["template_key"]] = self._version(row)
        return list(latest.values())

    def pinnable_version_later(self, *, key: str | None = None, template_id: str | None = None,
                               template_version_id: str | None = None) -> Callable[[], TemplateVersion | None]:
        """The version a new run would pin, as a queued read (it travels with the next statement): the one
        named by id, else the latest published version of the template named by id or by key (the
        tenant's own key winning over a platform one). Exactly one of the three names is given."""
        if template_version_id:
            later = queue(self._conn, _VERSION_SELECT + " WHERE v.template_version_id = :v::uuid",
                          {"v": template_version_id})
        elif template_id:
            later = queue(self._conn, _LATEST_PUBLISHED, {"t": template_id})
        else:
            later = queue(self._conn, _LATEST_PUBLISHED_BY_KEY, {"k": key})

        def version() -> TemplateVersion | None:
            row = later.one()
            return self._version(row) if row else None

        return version

    def next_version_number(self, template_id: str) -> int:
        row = fetch_one(self._conn, """
            SELECT coalesce(max(version), 0) + 1 AS n FROM reporting.template_versions
             WHERE template_id = :t::uuid""", {"t": template_id})
        return int(row["n"]) if row else 1

    def add_version(self, v: TemplateVersion) -> None:
        execute(self._conn, """
            INSERT INTO reporting.template_versions
              (template_version_id, template_id, tenant_id, version, status, layout, dataset_sql, params_schema,
               formats, locales, retention_class, regulatory_adapter, catalog_hash, snapshot_hash, published_at)
            VALUES (:id::uuid, :template_id::uuid, :tenant::uuid, :version, :status, :layout, :dataset_sql,
                    :params_schema::jsonb, :formats, :locales, :retention_class, :adapter, :catalog_hash,
                    :snapshot_hash, :published_at)""",
            {"id": v.template_version_id, "template_id": v.template_id, "tenant": v.tenant_id,
             "version": v.version, "status": str(v.status), "layout": v.layout, "dataset_sql": v.dataset_sql,
             "params_schema": json.dumps(v.params_schema), "formats": v.formats, "locales": v.locales,
             "retention_class": v.retention_class, "adapter": v.regulatory_adapter,
             "catalog_hash": v.catalog_hash, "snapshot_hash": v.snapshot_hash, "published_at": v.published_at})
        self._track(v)

    def save_version_status(self, v: TemplateVersion) -> None:
        execute(self._conn, """
            UPDATE reporting.template_versions SET status = :status, published_at = :published_at,
                   archived_at = :archived_at WHERE template_version_id = :id::uuid""",
            {"id": v.template_version_id, "status": str(v.status), "published_at": v.published_at,
             "archived_at": v.archived_at})

    def get_for_update(self, template_id: str) -> Template | None:
        """The tenant's own template, row-locked until commit, and tracked so its events reach the outbox.

        The lock serialises publishing (version numbers) and archiving (one event per
        change) on one template. Platform rows never come back: no tenant writes them.
        """
        row = fetch_one(self._conn, """
            SELECT * FROM reporting.templates
             WHERE template_id = :t::uuid AND tenant_id = reporting.current_tenant_id() FOR UPDATE""",
            {"t": template_id})
        if row is None:
            return None
        template = self._template(row)
        self._track(template)
        return template

    def add_if_key_free(self, template: Template) -> bool:
        """Insert unless the tenant already has a template with this key (or this id); True if inserted."""
        row = fetch_one(self._conn, """
            INSERT INTO reporting.templates (template_id, tenant_id, key, category, name, description)
            VALUES (:id::uuid, :tenant::uuid, :key, :category, :name, :description)
            ON CONFLICT DO NOTHING RETURNING template_id""",
            {"id": template.template_id, "tenant": template.tenant_id, "key": template.key,
             "category": str(template.category), "name": template.name, "description": template.description})
        return row is not None

    def versions_of(self, template_id: str, *, for_update: bool = False) -> list[TemplateVersion]:
        """Every version of one template, oldest first (optionally row-locked until commit)."""
        rows = fetch_all(self._conn, _VERSION_SELECT + " WHERE v.template_id = :t::uuid ORDER BY v.version"
                         + (" FOR UPDATE OF v" if for_update else ""), {"t": template_id})
        return [self._version(row) for row in rows]

    def list_visible(self, *, category: str | None = None) -> list[Template]:
        """Platform-shared templates and the current tenant's own, platform first, then by key.

        RLS already hides other tenants' rows; the explicit filter keeps it so even
        for a connection that bypasses RLS (the owner, in maintenance).
        """
        rows = fetch_all(self._conn, """
            SELECT * FROM reporting.templates
             WHERE (tenant_id IS NULL OR tenant_id = reporting.current_tenant_id())
               AND (CAST(:cat AS text) IS NULL OR category = :cat)
             ORDER BY (tenant_id IS NULL) DESC, key, template_id""", {"cat": category})
        return [self._template(row) for row in rows]

    def version_summaries(self, template_ids: list[str], *,
                          statuses: tuple[str, ...] = ("published", "archived")) -> list[TemplateVersionSummary]:
        """Summaries (no layout, no SQL) of these templates' versions in these states, by template then version."""
        if not template_ids:
            return []
        rows = fetch_all(self._conn, """
            SELECT template_version_id, template_id, version, status, formats, locales, retention_class,
                   snapshot_hash, params_schema, regulatory_adapter, published_at, archived_at
              FROM reporting.template_versions
             WHERE template_id = ANY (CAST(:ids AS uuid[])) AND status = ANY (CAST(:statuses AS text[]))
               AND (tenant_id IS NULL OR tenant_id = reporting.current_tenant_id())
             ORDER BY template_id, version""", {"ids": list(template_ids), "statuses": list(statuses)})
        return [TemplateVersionSummary(
            template_version_id=str(r["template_version_id"]), template_id=str(r["template_id"]),
            version=r["version"], status=VersionStatus(r["status"]), formats=list(r["formats"]),
            locales=list(r["locales"]), retention_class=r["retention_class"], snapshot_hash=r["snapshot_hash"],
            params_schema=r["params_schema"], regulatory_adapter=r["regulatory_adapter"],
            published_at=r["published_at"], archived_at=r["archived_at"]) for r in rows]


_RUN_COLUMNS = ("run_id", "tenant_id", "property_id", "template_version_id", "snapshot_hash", "params", "locale",
                "formats", "run_date", "origin", "idempotency_key", "request_hash", "state", "attempts",
                "error_code", "error_message", "requested_by", "correlation_id", "supersedes", "superseded_by",
                "requested_at", "due_by", "started_at", "finished_at")


_INSERT_RUN = f"""
    INSERT INTO reporting.report_runs ({", ".join(_RUN_COLUMNS)})
    VALUES (:run_id::uuid, :tenant_id::uuid, :property_id::uuid, :template_version_id::uuid, :snapshot_hash,
            :params::jsonb, :locale, :formats, :run_date, :origin, :idempotency_key, :request_hash, :state,
            :attempts, :error_code, :error_message, :requested_by, :correlation_id::uuid,
            :supersedes::uuid, :superseded_by::uuid, :requested_at, :due_by, :started_at, :finished_at)"""


class ReportRunRepository(_Repo):
    def _run(self, row: dict[str, Any]) -> ReportRun:
        run = ReportRun(
            run_id=str(row["run_id"]), tenant_id=str(row["tenant_id"]), property_id=str(row["property_id"]),
            template_version_id=str(row["template_version_id"]), snapshot_hash=row["snapshot_hash"],
            params=row["params"], locale=row["locale"], formats=list(row["formats"]), run_date=row["run_date"],
            origin=RunOrigin(row["origin"]), idempotency_key=row["idempotency_key"],
            request_hash=row["request_hash"], requested_by=row["requested_by"],
            correlation_id=str(row["correlation_id"]), requested_at=row["requested_at"], due_by=row["due_by"],
            state=RunState(row["state"]), attempts=row["attempts"], error_code=row["error_code"],
            error_message=row["error_message"], supersedes=_s(row["supersedes"]),
            superseded_by=_s(row["superseded_by"]), started_at=row["started_at"], finished_at=row["finished_at"],
        )
        self._track(run)
        return run

    def get(self, run_id: str, *, for_update: bool = False) -> ReportRun | None:
        sql = "SELECT * FROM reporting.report_runs WHERE run_id = :r::uuid" + (" FOR UPDATE" if for_update else "")
        row = fetch_one(self._conn, sql, {"r": run_id})
        return self._run(row) if row else None

    def stuck(self, started_before: Any, limit: int) -> list[tuple[str, str]]:
        """(run id, tenant id) of runs in `rendering` since before `started_before`, across tenants, oldest first
        (the audited definer function; only the watchdog calls this, in a unit of work without a tenant)."""
        rows = fetch_all(self._conn, "SELECT run_id, tenant_id FROM reporting.stuck_runs(:before, :limit)",
                         {"before": started_before, "limit": limit})
        return [(str(r["run_id"]), str(r["tenant_id"])) for r in rows]

    def by_idempotency_key(self, key: str) -> ReportRun | None:
        row = fetch_one(self._conn, "SELECT * FROM reporting.report_runs WHERE idempotency_key = :k", {"k": key})
        return self._run(row) if row else None

    def add(self, run: ReportRun) -> bool:
        """Insert unless the tenant already has a run under this idempotency key; True if inserted."""
        inserted = fetch_one(self._conn, _INSERT_RUN + """
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING run_id""", self._params(run))
        if inserted:
            self._track(run)
        return inserted is not None

    def add_with_commit(self, run: ReportRun) -> None:
        """Insert with the transaction's COMMIT (queued). For a caller that holds the tenant's admission lock
        and found the key free: a duplicate key is not expected, and would fail the commit, not pass silently."""
        queue(self._conn, _INSERT_RUN, self._params(run))
        self._track(run)

    def list(self, *, limit: int, state: str | None = None, template_id: str | None = None,
             template_version_id: str | None = None, property_ids: list[str] | None = None,
             run_date_from: Any = None, run_date_to: Any = None,
             after: tuple[Any, str] | None = None) -> list[ReportRun]:
        """Newest first, keyset-paginated on (requested_at, run_id); RLS keeps it to the tenant."""
        rows = fetch_all(self._conn, """
            SELECT * FROM reporting.report_runs
             WHERE (CAST(:state AS text) IS NULL OR state = :state)
               AND (CAST(:tv AS uuid) IS NULL OR template_version_id = CAST(:tv AS uuid))
               AND (CAST(:tid AS uuid) IS NULL OR template_version_id IN (
                     SELECT template_version_id FROM reporting.template_versions
                      WHERE template_id = CAST(:tid AS uuid)))
               AND (CAST(:props AS uuid[]) IS NULL OR property_id = ANY (CAST(:props AS uuid[])))
               AND (CAST(:from_date AS date) IS NULL OR run_date >= CAST(:from_date AS date))
               AND (CAST(:to_date AS date) IS NULL OR run_date <= CAST(:to_date AS date))
               AND (CAST(:after_at AS timestamptz) IS NULL
                    OR (requested_at, run_id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
             ORDER BY requested_at DESC, run_id DESC
             LIMIT :limit""",
            {"state": state, "tv": template_version_id, "tid": template_id, "props": property_ids,
             "from_date": run_date_from, "to_date": run_date_to, "after_at": after[0] if after else None,
             "after_id": after[1] if after else None, "limit": limit})
        return [self._run(row) for row in rows]

    def save(self, run: ReportRun, *, expected_state: RunState) -> None:
        """Write the run's mutable fields, only if nobody moved it meanwhile (optimistic check on state)."""
        count = execute(self._conn, """
            UPDATE reporting.report_runs SET state = :state, attempts = :attempts, error_code = :error_code,
                   error_message = :error_message, superseded_by = :superseded_by::uuid, started_at = :started_at,
                   finished_at = :finished_at, updated_at = now()
             WHERE run_id = :run_id::uuid AND state = :expected""",
            {**{k: v for k, v in self._params(run).items() if k in (
                "state", "attempts", "error_code", "error_message", "superseded_by", "started_at", "finished_at",
                "run_id")}, "expected": str(expected_state)})
        if count != 1:
            raise ConcurrentUpdate("report run changed concurrently", run_id=run.run_id)

    @staticmethod
    def _params(run: ReportRun) -> dict[str, Any]:
        return {
            "run_id": run.run_id, "tenant_id": run.tenant_id, "property_id": run.property_id,
            "template_version_id": run.template_version_id, "snapshot_hash": run.snapshot_hash,
            "params": json.dumps(run.params), "locale": run.locale, "formats": list(run.formats),
            "run_date": run.run_date, "origin": str(run.origin), "idempotency_key": run.idempotency_key,
            "request_hash": run.request_hash, "state": str(run.state), "attempts": run.attempts,
            "error_code": run.error_code, "error_message": run.error_message, "requested_by": run.requested_by,
            "correlation_id": run.correlation_id, "supersedes": run.supersedes, "superseded_by": run.superseded_by,
            "requested_at": run.requested_at, "due_by": run.due_by, "started_at": run.started_at,
            "finished_at": run.finished_at,
        }


class ArtifactRepository(_Repo):
    def add(self, a: Artifact) -> bool:
        """Record an artifact once per (run, format); True if this call recorded it."""
        row = fetch_one(self._conn, """
            INSERT INTO reporting.artifacts (artifact_id, tenant_id, run_id, format, object_uri, generation, sha256,
                                             size_bytes, retention_class, locked_until, encryption, region,
                                             original_region)
            VALUES (:id::uuid, :tenant::uuid, :run::uuid, :format, :uri, :generation, :sha256, :size,
                    :retention_class, :locked_until, :encryption, :region, :original_region)
            ON CONFLICT (run_id, format) DO NOTHING RETURNING artifact_id""",
            {"id": a.artifact_id, "tenant": a.tenant_id, "run": a.run_id, "format": a.format, "uri": a.object_uri,
             "generation": a.generation, "sha256": a.sha256, "size": a.size_bytes,
             "retention_class": a.retention_class, "locked_until": a.locked_until, "encryption": a.encryption,
             "region": a.region, "original_region": a.original_region})
        return row is not None

    def for_run(self, run_id: str) -> list[Artifact]:
        rows = fetch_all(self._conn, """
            SELECT * FROM reporting.artifacts WHERE run_id = :r::uuid ORDER BY format""", {"r": run_id})
        return [Artifact(
            artifact_id=str(r["artifact_id"]), tenant_id=str(r["tenant_id"]), run_id=str(r["run_id"]),
            format=r["format"], object_uri=r["object_uri"], generation=r["generation"], sha256=r["sha256"],
            size_bytes=r["size_bytes"], retention_class=r["retention_class"], locked_until=r["locked_until"],
            region=r["region"], encryption=r["encryption"], original_region=r["original_region"]) for r in rows]


class InboxRepository(_Repo):
    def seen(self, consumer: str, event_id: str) -> bool:
        return fetch_one(self._conn, """
            SELECT 1 AS x FROM reporting.inbox WHERE consumer = :c AND event_id = :e::uuid""",
            {"c": consumer, "e": event_id}) is not None

    def record(self, consumer: str, event_id: str, tenant_id: str, subject: str) -> bool:
        """Mark the event processed by `consumer` in this transaction; False if it already was (a duplicate)."""
        row = fetch_one(self._conn, """
            INSERT INTO reporting.inbox (consumer, event_id, tenant_id, subject)
            VALUES (:c, :e::uuid, :t::uuid, :s) ON CONFLICT DO NOTHING RETURNING event_id""",
            {"c": consumer, "e": event_id, "t": tenant_id, "s": subject})
        return row is not None


class AuditRepository(_Repo):
    def append(self, *, tenant_id: str, actor: str, action: str, target_type: str, target_id: str,
               details: dict[str, Any] | None = None) -> None:
        execute(self._conn, """
            INSERT INTO reporting.audit_log (tenant_id, actor, action, target_type, target_id, details)
            VALUES (:t::uuid, :actor, :action, :tt, :tid, :details::jsonb)""",
            {"t": tenant_id, "actor": actor, "action": action, "tt": target_type, "tid": target_id,
             "details": json.dumps(details or {})})


class OutboxRepository(_Repo):
    def add(self, envelope: dict[str, Any]) -> None:
        """Queued: the row travels with the transaction's COMMIT (a failed insert fails the commit)."""
        queue(self._conn, """
            INSERT INTO reporting.outbox (event_id, tenant_id, subject, aggregate_id, envelope)
            VALUES (:e::uuid, :t::uuid, :s, :a, :env::jsonb)""",
            {"e": envelope["event_id"], "t": envelope["tenant_id"],
             "s": f"{envelope['subject']}.v{envelope['version']}", "a": envelope["aggregate_id"],
             "env": json.dumps(envelope)})


def new_id() -> str:
    return str(uuid.uuid4())
