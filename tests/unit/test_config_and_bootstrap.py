"""Settings.from_env and the Postgres connection choice of bootstrap (local pg8000 vs Cloud SQL connector)."""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from reporting.adapters.postgres.connection import CloudSqlConnectionFactory, ConnInfo
from reporting.bootstrap import connection_factory
from reporting.config import ConfigError, Settings
from reporting.domain.tenant import Residency

CONNECTOR_MODULE = "google.cloud.sql.connector"
LOCAL = {"REPORTING_RESIDENCY": "AF", "REPORTING_DATABASE_URL": "postgresql://reporting_app@127.0.0.1:5432/reporting"}
CLOUD = {"REPORTING_RESIDENCY": "KSA", "CLOUD_SQL_INSTANCE": "melmastoon-ksa:me-central2:reporting",
         "CLOUD_SQL_IAM_USER": "fn-render@melmastoon-ksa.iam"}


def config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    return str(err.value)


# --- Settings.from_env -------------------------------------------------------


def test_local_settings_have_defaults_under_reporting_home() -> None:
    settings = Settings.from_env({**LOCAL, "REPORTING_HOME": "/var/rs"})
    assert settings.residency is Residency.AF
    assert settings.region == "local-af"
    assert not settings.uses_cloud_sql
    assert settings.artifact_dir == Path("/var/rs/artifacts")
    assert settings.dead_letter_dir == Path("/var/rs/dead-letters")
    assert settings.backfill_days == 90
    assert settings.max_bytes_billed is None


def test_cloud_settings_use_cloud_sql() -> None:
    settings = Settings.from_env({**CLOUD, "REPORTING_REGION": "me-central2", "REPORTING_BACKFILL_DAYS": "30"})
    assert settings.uses_cloud_sql
    assert settings.database_url is None
    assert settings.cloud_sql_database == "reporting"
    assert settings.region == "me-central2"
    assert settings.backfill_days == 30


def test_from_env_reads_os_environ_when_no_mapping_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LOCAL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CLOUD_SQL_INSTANCE", raising=False)
    monkeypatch.setenv("REPORTING_RESIDENCY", "IN")
    assert Settings.from_env().residency is Residency.IN


@pytest.mark.parametrize("residency", [None, "", "af", "EU", "SA"])
def test_missing_or_unknown_residency_is_an_error_naming_the_variable(residency: str | None) -> None:
    env = {k: v for k, v in LOCAL.items() if k != "REPORTING_RESIDENCY"}
    if residency is not None:
        env["REPORTING_RESIDENCY"] = residency
    assert "REPORTING_RESIDENCY" in config_error(env)


def test_neither_database_setting_is_an_error_naming_both_variables() -> None:
    message = config_error({"REPORTING_RESIDENCY": "AF"})
    assert "REPORTING_DATABASE_URL" in message and "CLOUD_SQL_INSTANCE" in message


def test_both_database_settings_is_an_error_naming_both_variables() -> None:
    message = config_error({**LOCAL, **CLOUD})
    assert "REPORTING_DATABASE_URL" in message and "CLOUD_SQL_INSTANCE" in message


@pytest.mark.parametrize("instance", ["reporting", "melmastoon-ksa:reporting", "a:b:c:d"])
def test_malformed_cloud_sql_instance_is_an_error_naming_the_variable(instance: str) -> None:
    assert "CLOUD_SQL_INSTANCE" in config_error({**CLOUD, "CLOUD_SQL_INSTANCE": instance})


def test_cloud_sql_without_iam_user_is_an_error_naming_the_variable() -> None:
    env = {k: v for k, v in CLOUD.items() if k != "CLOUD_SQL_IAM_USER"}
    assert "CLOUD_SQL_IAM_USER" in config_error(env)


@pytest.mark.parametrize("days", ["91", "365", "0", "-1", "ninety"])
def test_backfill_days_outside_1_to_90_is_an_error_naming_the_variable(days: str) -> None:
    assert "REPORTING_BACKFILL_DAYS" in config_error({**LOCAL, "REPORTING_BACKFILL_DAYS": days})


@pytest.mark.parametrize("days", ["1", "90"])
def test_backfill_days_at_the_bounds_are_accepted(days: str) -> None:
    assert Settings.from_env({**LOCAL, "REPORTING_BACKFILL_DAYS": days}).backfill_days == int(days)


@pytest.mark.parametrize("store", ["s3", "LOCAL"])
def test_unknown_artifact_store_is_an_error_naming_the_variable(store: str) -> None:
    assert "REPORTING_ARTIFACT_STORE" in config_error({**LOCAL, "REPORTING_ARTIFACT_STORE": store})


def test_gcs_needs_both_buckets_and_envelope_encryption_there_needs_a_kms_key() -> None:
    assert "REPORTING_OPERATIONAL_BUCKET" in config_error({**LOCAL, "REPORTING_ARTIFACT_STORE": "gcs"})
    buckets = {"REPORTING_OPERATIONAL_BUCKET": "op", "REPORTING_REGULATORY_BUCKET": "reg"}
    assert "REPORTING_ARTIFACT_KEK" in config_error({**LOCAL, "REPORTING_ARTIFACT_STORE": "gcs", **buckets})
    settings = Settings.from_env({**LOCAL, "REPORTING_ARTIFACT_STORE": "gcs", **buckets,
                                  "REPORTING_ARTIFACT_KEK": "projects/p/locations/l/keyRings/r/cryptoKeys/k"})
    assert (settings.artifact_store, settings.artifact_encryption) == ("gcs", "envelope")
    assert Settings.from_env(LOCAL).artifact_encryption == "none"  # the demo's PDFs open straight from disk


def test_retention_overrides_must_name_known_classes() -> None:
    assert "REPORTING_RETENTION_DAYS" in config_error({**LOCAL, "REPORTING_RETENTION_DAYS": '{"forever": 1}'})
    settings = Settings.from_env({**LOCAL, "REPORTING_RETENTION_DAYS": '{"operational": 30}'})
    assert dict(settings.retention_days) == {"operational": 30}


def test_bigquery_needs_a_project_and_a_location_with_no_default() -> None:
    message = config_error({**LOCAL, "REPORTING_WAREHOUSE": "bigquery", "REPORTING_BIGQUERY_PROJECT": "p"})
    assert "REPORTING_BIGQUERY_LOCATION" in message
    assert "REPORTING_WAREHOUSE" in config_error({**LOCAL, "REPORTING_WAREHOUSE": "snowflake"})


def test_local_envelope_encryption_seals_with_a_key_file(tmp_path: Path) -> None:
    from reporting.adapters.crypto.sealed_store import SealedArtifactStore
    from reporting.bootstrap import Services

    services = Services(Settings.from_env({**LOCAL, "REPORTING_ARTIFACT_ENCRYPTION": "envelope",
                                           "REPORTING_HOME": str(tmp_path)}))
    store = services.artifact_store
    assert isinstance(store, SealedArtifactStore)
    stored = store.put_once("tenants/t/runs/r/report.pdf", b"%PDF-1.4 report", "operational")
    assert store.read("tenants/t/runs/r/report.pdf") == b"%PDF-1.4 report" and stored.encryption == "envelope"
    assert b"%PDF" not in next((tmp_path / "artifacts").rglob("report.pdf")).read_bytes()  # sealed on disk


def test_every_problem_is_reported_together() -> None:
    message = config_error({"REPORTING_RESIDENCY": "XX", "REPORTING_BACKFILL_DAYS": "500",
                            "REPORTING_ARTIFACT_STORE": "s3"})
    for variable in ("REPORTING_RESIDENCY", "REPORTING_DATABASE_URL", "REPORTING_BACKFILL_DAYS",
                     "REPORTING_ARTIFACT_STORE"):
        assert variable in message


def test_event_bus_defaults_to_local_and_pubsub_needs_a_project() -> None:
    assert Settings.from_env(LOCAL).event_bus == "local"
    assert "REPORTING_PUBSUB_PROJECT" in config_error({**LOCAL, "REPORTING_EVENT_BUS": "pubsub"})
    assert "REPORTING_EVENT_BUS" in config_error({**LOCAL, "REPORTING_EVENT_BUS": "kafka"})
    settings = Settings.from_env({**LOCAL, "REPORTING_EVENT_BUS": "pubsub", "GOOGLE_CLOUD_PROJECT": "mm-af"})
    assert (settings.event_bus, settings.pubsub_project) == ("pubsub", "mm-af")


@pytest.mark.parametrize("lease", ["0", "3601", "soon"])
def test_outbox_lease_outside_1_to_3600_is_an_error_naming_the_variable(lease: str) -> None:
    assert "REPORTING_OUTBOX_LEASE_SECONDS" in config_error({**LOCAL, "REPORTING_OUTBOX_LEASE_SECONDS": lease})


@pytest.mark.parametrize("issuers", ["not json", "{}", '[{"jwks_uri": "https://x/jwks"}]',
                                     '[{"issuer": "https://idp", "jwks_uri": "http://idp.example/jwks", '
                                     '"audiences": ["a"]}]'])
def test_malformed_trusted_issuers_are_an_error_naming_the_variable(issuers: str) -> None:
    assert "REPORTING_OIDC_ISSUERS" in config_error({**LOCAL, "REPORTING_OIDC_ISSUERS": issuers})


def test_trusted_issuers_are_parsed_and_none_means_refuse_all() -> None:
    settings = Settings.from_env({**LOCAL, "REPORTING_OIDC_ISSUERS":
                                  '[{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks", '
                                  '"audiences": ["reporting-api"]}]'})
    [issuer] = settings.oidc_issuers
    assert issuer.audiences == ("reporting-api",) and issuer.kind == "user"
    assert Settings.from_env(LOCAL).oidc_issuers == ()


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- connection_factory ----------------------------------------------------------


def _forget_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the process look as if the Cloud SQL connector was never imported (restored after the test)."""
    for name in [m for m in sys.modules if m == CONNECTOR_MODULE or m.startswith(CONNECTOR_MODULE + ".")]:
        monkeypatch.delitem(sys.modules, name)
    parent = sys.modules.get("google.cloud.sql")
    if parent is not None and hasattr(parent, "connector"):
        monkeypatch.delattr(parent, "connector")


class FakeConnector:
    instances: list["FakeConnector"] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.connects: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        FakeConnector.instances.append(self)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self.connects.append((args, kwargs))
        return types.SimpleNamespace(autocommit=True)


def test_cloud_sql_config_gives_a_connector_factory_that_imports_the_connector_only_when_called(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _forget_connector(monkeypatch)
    assert CONNECTOR_MODULE not in sys.modules

    factory = connection_factory(Settings.from_env(CLOUD))

    assert isinstance(factory, CloudSqlConnectionFactory)
    assert CONNECTOR_MODULE not in sys.modules, "building the factory must not import the connector (cold start)"

    # Calling it imports the connector: stand in a fake one so nothing reaches Google.
    FakeConnector.instances.clear()
    fake = types.ModuleType(CONNECTOR_MODULE)
    fake.Connector = FakeConnector  # type: ignore[attr-defined]
    fake.IPTypes = types.SimpleNamespace(PRIVATE="PRIVATE", PUBLIC="PUBLIC")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, CONNECTOR_MODULE, fake)
    first, second = factory(), factory()

    assert first.autocommit is False and second.autocommit is False
    [connector] = FakeConnector.instances  # one Connector per process, reused
    assert connector.kwargs["enable_iam_auth"] is True
    assert connector.kwargs["ip_type"] == "PRIVATE"
    assert connector.connects[0] == (("melmastoon-ksa:me-central2:reporting", "pg8000"),
                                     {"user": "fn-render@melmastoon-ksa.iam", "db": "reporting"})
    assert len(connector.connects) == 2


def test_importing_bootstrap_and_building_the_factory_does_not_import_the_connector() -> None:
    """In a fresh interpreter, so a module-level import anywhere under bootstrap would show."""
    code = (
        "import sys\n"
        "from reporting.bootstrap import connection_factory\n"
        "from reporting.config import Settings\n"
        f"connection_factory(Settings.from_env({CLOUD!r}))\n"
        f"print({CONNECTOR_MODULE!r} in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_database_url_config_gives_a_local_pg8000_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    import reporting.adapters.postgres.connection as connection

    opened: list[ConnInfo] = []
    monkeypatch.setattr(connection, "connect", lambda info: opened.append(info) or "conn")
    factory = connection_factory(Settings.from_env(
        {**LOCAL, "REPORTING_DATABASE_URL": "postgresql://reporting_app@db.internal:6543/reporting_af"}))

    assert not isinstance(factory, CloudSqlConnectionFactory)
    assert factory() == "conn"
    assert opened == [ConnInfo(database="reporting_af", user="reporting_app", host="db.internal", port=6543)]


# --- ConnInfo.from_url -----------------------------------------------------------------


def test_tcp_url_gives_host_port_user_password_and_database() -> None:
    info = ConnInfo.from_url("postgresql://reporting_app:s%40cret@db.internal:6543/reporting_af")
    assert info == ConnInfo(database="reporting_af", user="reporting_app", host="db.internal", port=6543,
                            password="s@cret")


def test_postgres_scheme_and_defaults() -> None:
    info = ConnInfo.from_url("postgres://localhost")
    assert (info.host, info.port, info.user, info.database, info.unix_sock) == \
        ("localhost", 5432, "postgres", "postgres", None)


def test_socket_url_gives_the_socket_directory() -> None:
    info = ConnInfo.from_url("postgresql://u@/db?host=/tmp/sock")
    assert (info.user, info.database, info.unix_sock, info.port) == ("u", "db", "/tmp/sock", 5432)


def test_non_postgres_url_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        ConnInfo.from_url("mysql://u@host/db")


@pytest.mark.parametrize("info", [
    ConnInfo(database="reporting", user="reporting_app"),
    ConnInfo(database="reporting_af", user="reporting_owner", host="db.internal", port=6543),
    ConnInfo(database="db", user="u", unix_sock="/tmp/sock"),
    # A socket on a non-default port (the embedded server picks one): the port names the socket file.
    ConnInfo(database="db", user="u", port=54329, unix_sock="/tmp/pg-embedded"),
])
def test_url_round_trips_through_from_url(info: ConnInfo) -> None:
    assert ConnInfo.from_url(info.url()) == info


@pytest.mark.parametrize("url", [
    "postgresql://reporting_app@db.internal:6543/reporting_af",
    "postgresql://u@/db?host=/tmp/sock",
])
def test_from_url_round_trips_back_to_the_same_url(url: str) -> None:
    assert ConnInfo.from_url(url).url() == url


def test_url_never_contains_the_password() -> None:
    info = ConnInfo(database="db", user="u", password="hunter2")
    assert "hunter2" not in info.url()
    assert ConnInfo.from_url(info.url()) == info.as_user("u", None)


def test_bad_max_bytes_billed_is_reported_with_the_other_problems():
    from reporting.config import ConfigError, Settings

    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"REPORTING_RESIDENCY": "XX", "REPORTING_DATABASE_URL": "postgresql://u@h/d",
                           "REPORTING_MAX_BYTES_BILLED": "lots"})
    assert "REPORTING_MAX_BYTES_BILLED" in str(exc.value) and "REPORTING_RESIDENCY" in str(exc.value)


def test_cloud_sql_instance_needs_three_non_empty_parts():
    from reporting.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="CLOUD_SQL_INSTANCE"):
        Settings.from_env({"REPORTING_RESIDENCY": "AF", "CLOUD_SQL_INSTANCE": "::", "CLOUD_SQL_IAM_USER": "sa"})


# --- fairness limits and the SLO target -------------------------------------------------------------------------


def test_fairness_and_slo_settings_have_defaults() -> None:
    settings = Settings.from_env(LOCAL)
    assert (settings.rate_limit_per_minute, settings.max_runs_in_flight, settings.slo_target) == (120, 50, 0.99)


def test_fairness_and_slo_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env({**LOCAL, "REPORTING_RATE_LIMIT_PER_MINUTE": "600",
                                  "REPORTING_MAX_RUNS_IN_FLIGHT": "5", "REPORTING_SLO_TARGET": "0.995"})
    assert (settings.rate_limit_per_minute, settings.max_runs_in_flight, settings.slo_target) == (600, 5, 0.995)
    assert Settings.from_env({**LOCAL, "REPORTING_SLO_TARGET": "1"}).slo_target == 1.0


@pytest.mark.parametrize("variable, value", [
    ("REPORTING_RATE_LIMIT_PER_MINUTE", "0"), ("REPORTING_RATE_LIMIT_PER_MINUTE", "-5"),
    ("REPORTING_RATE_LIMIT_PER_MINUTE", "100001"), ("REPORTING_RATE_LIMIT_PER_MINUTE", "lots"),
    ("REPORTING_RATE_LIMIT_PER_MINUTE", "1.5"),
    ("REPORTING_MAX_RUNS_IN_FLIGHT", "0"), ("REPORTING_MAX_RUNS_IN_FLIGHT", "fifty"),
    ("REPORTING_SLO_TARGET", "0"), ("REPORTING_SLO_TARGET", "-0.1"), ("REPORTING_SLO_TARGET", "1.01"),
    ("REPORTING_SLO_TARGET", "99"), ("REPORTING_SLO_TARGET", "nan"), ("REPORTING_SLO_TARGET", "high"),
])
def test_bad_fairness_or_slo_setting_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    assert variable in config_error({**LOCAL, variable: value})


def test_bad_fairness_and_slo_settings_are_reported_together() -> None:
    message = config_error({**LOCAL, "REPORTING_RATE_LIMIT_PER_MINUTE": "0", "REPORTING_MAX_RUNS_IN_FLIGHT": "x",
                            "REPORTING_SLO_TARGET": "2", "REPORTING_BACKFILL_DAYS": "500"})
    for variable in ("REPORTING_RATE_LIMIT_PER_MINUTE", "REPORTING_MAX_RUNS_IN_FLIGHT", "REPORTING_SLO_TARGET",
                     "REPORTING_BACKFILL_DAYS"):
        assert variable in message


def test_services_expose_the_limits_to_the_use_cases_without_connecting() -> None:
    from reporting.bootstrap import Services
    from reporting.service_layer.fairness import fairness_of

    def no_database() -> Any:
        raise AssertionError("exposing the limits must not open a connection")

    services = Services(Settings.from_env({**LOCAL, "REPORTING_RATE_LIMIT_PER_MINUTE": "30",
                                           "REPORTING_MAX_RUNS_IN_FLIGHT": "7", "REPORTING_SLO_TARGET": "0.95"}),
                        conn_factory=no_database)
    limits = services.fairness.limits
    assert (limits.requests_per_minute, limits.max_runs_in_flight) == (30, 7)
    assert (limits.per_minute("write"), limits.per_minute("read")) == (30, 300)  # reads: 10x the writes
    assert fairness_of(services.deps) is services.fairness
    assert services.service_level.target == 0.95


@pytest.mark.parametrize("now, seconds", [("06:00:00", 60), ("06:00:15", 45), ("06:00:59.2", 1), ("06:00:59.9", 1)])
def test_retry_after_is_the_time_left_in_the_window(now: str, seconds: int) -> None:
    from datetime import datetime, timezone

    from reporting.service_layer.fairness import seconds_until_next_window, window_start

    at = datetime.fromisoformat(f"2026-11-24T{now}").replace(tzinfo=timezone.utc)
    assert window_start(at) == datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    assert seconds_until_next_window(at) == seconds


def test_tenant_service_url_must_be_https_except_on_localhost() -> None:
    assert "REPORTING_TENANT_SERVICE_URL" in config_error({**LOCAL, "REPORTING_TENANT_SERVICE_URL": "http://ts.corp"})
    assert Settings.from_env({**LOCAL, "REPORTING_TENANT_SERVICE_URL": "https://tenants.internal"}
                             ).tenant_service_url == "https://tenants.internal"
    assert Settings.from_env(LOCAL).tenant_service_url is None  # locally the mirror alone decides


@pytest.mark.parametrize("ttl", ["0", "3601", "soon"])
def test_tenant_ttl_outside_1_to_3600_is_an_error_naming_the_variable(ttl: str) -> None:
    assert "REPORTING_TENANT_TTL_SECONDS" in config_error({**LOCAL, "REPORTING_TENANT_TTL_SECONDS": ttl})
