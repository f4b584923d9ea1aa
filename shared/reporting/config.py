"""Environment → settings, validated once at start-up (every problem reported together)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from reporting.domain.tenant import Residency


class ConfigError(ValueError):
    pass


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int, problem: str,
                 problems: list[str]) -> int:
    """An integer setting within [low, high]; anything else is reported (with the others) and the default kept."""
    try:
        value = int(env.get(name, str(default)))
        if low <= value <= high:
            return value
    except ValueError:
        pass
    problems.append(problem)
    return default


@dataclass(frozen=True)
class Settings:
    residency: Residency
    region: str
    # Postgres: a local URL (pg8000 over TCP or socket) or a Cloud SQL instance (connector, IAM auth)
    database_url: str | None
    cloud_sql_instance: str | None
    cloud_sql_database: str
    cloud_sql_iam_user: str | None
    artifact_dir: Path
    warehouse_path: Path | None
    dead_letter_dir: Path
    backfill_days: int = 90
    max_bytes_billed: int | None = None
    # Events: "local" = the in-process bus draining the outbox (demo, most tests);
    # "pubsub" = the outbox relay to Pub/Sub (the cloud, and the emulator tests)
    event_bus: str = "local"
    pubsub_project: str | None = None
    outbox_lease_seconds: int = 30
    # tenant-service (the flag's owner); None = the mirror table alone decides (local)
    tenant_service_url: str | None = None
    tenant_ttl_seconds: int = 60
    # Trusted OIDC issuers (JSON list, see adapters/auth/oidc.py); none = every API call is refused
    oidc_issuers: tuple = ()
    # Fairness (issue 3 item 6): writes per tenant per minute (reads get READS_PER_WRITE times as
    # many, see service_layer/fairness.py) and ad-hoc runs in flight per tenant
    rate_limit_per_minute: int = 120
    max_runs_in_flight: int = 50
    # Per-tenant SLO target (SPEC §3): share of runs succeeded by their due time
    slo_target: float = 0.99
    # The runs watchdog fails a run still `rendering` this long after it started (service_layer/watchdogs.py)
    render_timeout_minutes: int = 30
    # FakeRegulatoryAdapter's script (adapters/regulatory/fake.py): scripted outages, slow answers, rejections
    fake_regulatory_script: str = "{}"
    # The live AF police register: its endpoint and its API token (a Secret Manager version name in the cloud)
    af_police_endpoint: str | None = None
    af_police_token: str | None = None
    # Artifacts: the local folder or the residency's two GCS buckets; operational ones sealed with a per-object
    # data key wrapped by a KMS key (cloud) or a local key file (development)
    artifact_store: str = "local"
    operational_bucket: str | None = None
    regulatory_bucket: str | None = None
    artifact_encryption: str = "none"
    artifact_kek: str | None = None
    artifact_key_file: Path | None = None
    retention_days: tuple = ()  # (class, days) overrides of SPEC §7's defaults
    # Warehouse: DuckDB locally, the residency's BigQuery dataset in the cloud
    warehouse: str = "duckdb"
    bigquery_project: str | None = None
    bigquery_dataset: str = "dw"
    bigquery_location: str | None = None
    # The live KSA VAT adapter (ZATCA reporting; adapters/regulatory/zatca, docs/regulatory/zatca.md): ZATCA's base
    # URL for this deployment (no default: sandbox, simulation or production is a decision), the template of each
    # property's three secret names (a property's settings.zatca may name its own) and the reporting call's timeout
    zatca_endpoint: str | None = None
    zatca_secrets: str | None = None
    zatca_timeout_seconds: int = 15

    @property
    def uses_cloud_sql(self) -> bool:
        return self.cloud_sql_instance is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        problems: list[str] = []
        residency_raw = env.get("REPORTING_RESIDENCY", "")
        try:
            residency = Residency(residency_raw)
        except ValueError:
            problems.append(f"REPORTING_RESIDENCY must be one of AF, IN, KSA (got {residency_raw!r})")
            residency = Residency.AF
        database_url = env.get("REPORTING_DATABASE_URL") or None
        instance = env.get("CLOUD_SQL_INSTANCE") or None
        iam_user = env.get("CLOUD_SQL_IAM_USER") or None
        if bool(database_url) == bool(instance):
            problems.append("set exactly one of REPORTING_DATABASE_URL (local) or CLOUD_SQL_INSTANCE (cloud)")
        if instance and (instance.count(":") != 2 or not all(instance.split(":")) or not iam_user):
            problems.append("CLOUD_SQL_INSTANCE is project:region:instance and needs CLOUD_SQL_IAM_USER")
        store = env.get("REPORTING_ARTIFACT_STORE", "local")
        buckets = (env.get("REPORTING_OPERATIONAL_BUCKET") or None, env.get("REPORTING_REGULATORY_BUCKET") or None)
        if store not in ("local", "gcs"):
            problems.append(f"REPORTING_ARTIFACT_STORE must be 'local' or 'gcs' (got {store!r})")
        elif store == "gcs" and not all(buckets):
            problems.append("REPORTING_ARTIFACT_STORE=gcs needs REPORTING_OPERATIONAL_BUCKET and REPORTING_REGULATORY_BUCKET")
        # Envelope encryption of operational artifacts (plan phase 4): on by default in the cloud; off locally
        # so the demo's PDFs open straight from out/ (set it to `envelope` to rehearse it with a local key file).
        encryption = env.get("REPORTING_ARTIFACT_ENCRYPTION", "envelope" if store == "gcs" else "none")
        kek = env.get("REPORTING_ARTIFACT_KEK") or None
        if encryption not in ("envelope", "none"):
            problems.append(f"REPORTING_ARTIFACT_ENCRYPTION must be 'envelope' or 'none' (got {encryption!r})")
        elif encryption == "envelope" and store == "gcs" and not kek:
            problems.append("envelope encryption in GCS needs REPORTING_ARTIFACT_KEK (the Cloud KMS key name)")
        retention_days: dict[str, int] = {}
        if env.get("REPORTING_RETENTION_DAYS"):
            try:
                import json

                raw = json.loads(env["REPORTING_RETENTION_DAYS"])
                from reporting.domain.artifact import RETENTION_DAYS

                if not isinstance(raw, dict) or not all(k in RETENTION_DAYS and isinstance(v, int) and v > 0
                                                        for k, v in raw.items()):
                    raise ValueError("a JSON object of retention class -> positive days")
                retention_days = raw
            except ValueError as exc:
                problems.append(f"REPORTING_RETENTION_DAYS: {exc}")
        warehouse = env.get("REPORTING_WAREHOUSE", "duckdb")
        bigquery = (env.get("REPORTING_BIGQUERY_PROJECT") or None, env.get("REPORTING_BIGQUERY_DATASET") or "dw",
                    env.get("REPORTING_BIGQUERY_LOCATION") or None)
        if warehouse not in ("duckdb", "bigquery"):
            problems.append(f"REPORTING_WAREHOUSE must be 'duckdb' or 'bigquery' (got {warehouse!r})")
        elif warehouse == "bigquery" and not (bigquery[0] and bigquery[2]):
            # The location is the residency: no default, ever.
            problems.append("REPORTING_WAREHOUSE=bigquery needs REPORTING_BIGQUERY_PROJECT and REPORTING_BIGQUERY_LOCATION")
        backfill_days = _bounded_int(env, "REPORTING_BACKFILL_DAYS", 90, 1, 90,
            "REPORTING_BACKFILL_DAYS must be 1..90 (plan §5 caps backfills at 90 days)",
            problems)
        max_bytes_billed: int | None = None
        if env.get("REPORTING_MAX_BYTES_BILLED"):
            try:
                max_bytes_billed = int(env["REPORTING_MAX_BYTES_BILLED"])
                if max_bytes_billed <= 0:
                    raise ValueError
            except ValueError:
                problems.append("REPORTING_MAX_BYTES_BILLED must be a positive whole number of bytes")
        event_bus = env.get("REPORTING_EVENT_BUS", "local")
        pubsub_project = env.get("REPORTING_PUBSUB_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or None
        if event_bus not in ("local", "pubsub"):
            problems.append(f"REPORTING_EVENT_BUS must be 'local' or 'pubsub' (got {event_bus!r})")
        elif event_bus == "pubsub" and not pubsub_project:
            problems.append("REPORTING_EVENT_BUS=pubsub needs REPORTING_PUBSUB_PROJECT (or GOOGLE_CLOUD_PROJECT)")
        lease = _bounded_int(env, "REPORTING_OUTBOX_LEASE_SECONDS", 30, 1, 3600,
            "REPORTING_OUTBOX_LEASE_SECONDS must be 1..3600", problems)
        rate_limit = _bounded_int(env, "REPORTING_RATE_LIMIT_PER_MINUTE", 120, 1, 100_000,
            "REPORTING_RATE_LIMIT_PER_MINUTE must be 1..100000 (write requests per tenant per minute)",
            problems)
        max_in_flight = _bounded_int(env, "REPORTING_MAX_RUNS_IN_FLIGHT", 50, 1, 100_000,
            "REPORTING_MAX_RUNS_IN_FLIGHT must be 1..100000 (ad-hoc runs in flight per tenant)",
            problems)
        try:
            slo_target = float(env.get("REPORTING_SLO_TARGET", "0.99"))
            if not 0.0 < slo_target <= 1.0:  # also refuses nan
                raise ValueError
        except ValueError:
            problems.append("REPORTING_SLO_TARGET must be a share in (0, 1], e.g. 0.99")
            slo_target = 0.99
        tenant_service_url = env.get("REPORTING_TENANT_SERVICE_URL") or None
        if tenant_service_url and not tenant_service_url.startswith(("https://", "http://127.0.0.1",
                                                                      "http://localhost")):
            problems.append("REPORTING_TENANT_SERVICE_URL must be https (plain http only for localhost)")
        render_timeout = _bounded_int(env, "REPORTING_RENDER_TIMEOUT_MINUTES", 30, 10, 1440,
            "REPORTING_RENDER_TIMEOUT_MINUTES must be 10..1440 (a render's own timeout is 9 minutes)", problems)
        fake_script = env.get("REPORTING_FAKE_REGULATORY_SCRIPT", "{}")
        try:
            from reporting.adapters.regulatory.fake import FakeScript

            FakeScript.from_json(fake_script)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"REPORTING_FAKE_REGULATORY_SCRIPT: {type(exc).__name__}: {exc}")
            fake_script = "{}"
        tenant_ttl = _bounded_int(env, "REPORTING_TENANT_TTL_SECONDS", 60, 1, 3600,
            "REPORTING_TENANT_TTL_SECONDS must be 1..3600", problems)
        zatca_endpoint = env.get("REPORTING_ZATCA_ENDPOINT") or None
        if zatca_endpoint and not zatca_endpoint.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append("REPORTING_ZATCA_ENDPOINT must be https (plain http only for a local simulator)")
        zatca_secrets = env.get("REPORTING_ZATCA_SECRETS") or None
        if zatca_secrets:
            from reporting.adapters.regulatory.zatca.credentials import check_secret_name

            try:
                check_secret_name(zatca_secrets.format(property_id="p", secret="csid"))
                if "{property_id}" not in zatca_secrets or "{secret}" not in zatca_secrets:
                    raise ValueError("it names {property_id} and {secret}")
            except (ValueError, KeyError, IndexError) as exc:
                problems.append(f"REPORTING_ZATCA_SECRETS: {exc}")
        zatca_timeout = _bounded_int(env, "REPORTING_ZATCA_TIMEOUT_SECONDS", 15, 1, 120,
            "REPORTING_ZATCA_TIMEOUT_SECONDS must be 1..120", problems)
        oidc_issuers: tuple = ()
        if env.get("REPORTING_OIDC_ISSUERS"):
            from reporting.adapters.auth.oidc import issuers_from_json

            try:
                oidc_issuers = tuple(issuers_from_json(env["REPORTING_OIDC_ISSUERS"]))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"REPORTING_OIDC_ISSUERS: {type(exc).__name__}: {exc}")
        if problems:
            raise ConfigError("; ".join(problems))
        home = Path(env.get("REPORTING_HOME", ".local"))
        return cls(
            residency=residency,
            region=env.get("REPORTING_REGION", f"local-{residency.value.lower()}"),
            database_url=database_url,
            cloud_sql_instance=instance,
            cloud_sql_database=env.get("CLOUD_SQL_DATABASE", "reporting"),
            cloud_sql_iam_user=iam_user,
            artifact_dir=Path(env.get("REPORTING_ARTIFACT_DIR", str(home / "artifacts"))),
            warehouse_path=Path(env["REPORTING_WAREHOUSE_PATH"]) if env.get("REPORTING_WAREHOUSE_PATH") else None,
            dead_letter_dir=Path(env.get("REPORTING_DEAD_LETTER_DIR", str(home / "dead-letters"))),
            backfill_days=backfill_days,
            max_bytes_billed=max_bytes_billed,
            event_bus=event_bus,
            pubsub_project=pubsub_project,
            outbox_lease_seconds=lease,
            oidc_issuers=oidc_issuers,
            rate_limit_per_minute=rate_limit,
            max_runs_in_flight=max_in_flight,
            slo_target=slo_target,
            render_timeout_minutes=render_timeout,
            fake_regulatory_script=fake_script,
            af_police_endpoint=env.get("REPORTING_AF_POLICE_ENDPOINT") or None,
            af_police_token=env.get("REPORTING_AF_POLICE_TOKEN") or None,
            artifact_store=store, operational_bucket=buckets[0], regulatory_bucket=buckets[1],
            artifact_encryption=encryption, artifact_kek=kek,
            artifact_key_file=Path(env.get("REPORTING_ARTIFACT_KEY_FILE", str(home / "keys" / "artifact-kek"))),
            retention_days=tuple(sorted(retention_days.items())),
            warehouse=warehouse, bigquery_project=bigquery[0], bigquery_dataset=bigquery[1],
            bigquery_location=bigquery[2],
            tenant_service_url=tenant_service_url,
            tenant_ttl_seconds=tenant_ttl,
            zatca_endpoint=zatca_endpoint,
            zatca_secrets=zatca_secrets,
            zatca_timeout_seconds=zatca_timeout,
        )
