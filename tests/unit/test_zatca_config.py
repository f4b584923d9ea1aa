"""ZATCA settings are validated at start-up, and Services wires the live ZATCA adapter only where it is configured."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from reporting.adapters.regulatory.fake import FakeRegulatoryAdapter
from reporting.adapters.regulatory.unconfigured import UnconfiguredLiveAdapter
from reporting.adapters.regulatory.zatca.adapter import ZatcaReportingAdapter
from reporting.adapters.regulatory.zatca.credentials import (
    CredentialsUnavailable,
    PropertyCredentials,
    check_secret_name,
    secret_names,
)
from reporting.bootstrap import Services
from reporting.config import ConfigError, Settings
from reporting.service_layer.regulatory import FilingRequest, Outcome

KSA = {"REPORTING_RESIDENCY": "KSA", "REPORTING_DATABASE_URL": "postgresql://reporting_app@127.0.0.1:5432/reporting"}
SUBMISSION = SimpleNamespace(adapter="ksa_zatca")
TEMPLATE = "projects/p/secrets/zatca-{property_id}-{secret}/versions/latest"


def test_the_endpoint_must_be_https_except_a_local_simulator():
    assert Settings.from_env({**KSA}).zatca_endpoint is None
    assert Settings.from_env({**KSA, "REPORTING_ZATCA_ENDPOINT": "https://gw-fatoora.zatca.gov.sa/e-invoicing/core"}
                             ).zatca_endpoint.endswith("/core")
    assert Settings.from_env({**KSA, "REPORTING_ZATCA_ENDPOINT": "http://127.0.0.1:8443/e-invoicing/simulation"}
                             ).zatca_endpoint.startswith("http://127.0.0.1")
    with pytest.raises(ConfigError, match="REPORTING_ZATCA_ENDPOINT must be https"):
        Settings.from_env({**KSA, "REPORTING_ZATCA_ENDPOINT": "http://zatca.example/e-invoicing/core"})


def test_the_secret_template_names_the_property_and_the_secret():
    settings = Settings.from_env({**KSA, "REPORTING_ZATCA_SECRETS": TEMPLATE, "REPORTING_ZATCA_TIMEOUT_SECONDS": "30"})
    assert (settings.zatca_secrets, settings.zatca_timeout_seconds) == (TEMPLATE, 30)
    for bad in ("projects/p/secrets/zatca/versions/latest", "zatca-{property_id}-{secret}", "env:{nope}"):
        with pytest.raises(ConfigError, match="REPORTING_ZATCA_SECRETS"):
            Settings.from_env({**KSA, "REPORTING_ZATCA_SECRETS": bad})
    with pytest.raises(ConfigError, match="REPORTING_ZATCA_TIMEOUT_SECONDS"):
        Settings.from_env({**KSA, "REPORTING_ZATCA_TIMEOUT_SECONDS": "0"})


def test_secret_names_come_from_the_property_first_then_the_template():
    own = {"zatca": {"private_key": "env:KEY", "csid": "file:/run/csid",
                     "api_secret": "projects/p/secrets/s/versions/2"}}
    assert secret_names("p1", own, TEMPLATE) == own["zatca"]
    assert secret_names("p1", {"zatca": {"csid": "env:CSID"}}, TEMPLATE) == {
        "private_key": "projects/p/secrets/zatca-p1-private-key/versions/latest", "csid": "env:CSID",
        "api_secret": "projects/p/secrets/zatca-p1-api-secret/versions/latest"}
    with pytest.raises(CredentialsUnavailable) as missing:
        secret_names("p1", {}, None)
    assert missing.value.code == "ZATCA_CREDENTIALS_NOT_CONFIGURED"
    for bad in ("plain-value", "projects/p", "env:", "https://vault/x"):
        with pytest.raises(ValueError):
            check_secret_name(bad)


def test_a_secret_value_never_reaches_the_error(monkeypatch):
    monkeypatch.setenv("ZATCA_KEY", "-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----")
    monkeypatch.setenv("ZATCA_CSID", "c2VjcmV0LWNzaWQ=")
    monkeypatch.setenv("ZATCA_SECRET", "hunter2-secret")
    names = {"zatca": {"private_key": "env:ZATCA_KEY", "csid": "env:ZATCA_CSID", "api_secret": "env:ZATCA_SECRET"}}
    credentials = PropertyCredentials(lambda t, p: names, base_url="https://zatca.example")
    with pytest.raises(CredentialsUnavailable) as refused:
        credentials("t", "p")
    assert refused.value.code == "ZATCA_CREDENTIALS_INVALID"
    assert "hunter2" not in str(refused.value) and "not really" not in str(refused.value)
    adapter = ZatcaReportingAdapter(store=None, credentials=credentials,  # type: ignore[arg-type]
                                    now=lambda: datetime.now(timezone.utc))
    row = {"invoice_number": "SINV-1"}
    result = adapter.file(FilingRequest(
        submission_id=str(uuid.uuid4()), tenant_id="t", property_id="p", adapter="ksa_zatca", subject_kind="invoice",
        subject_ref="SINV-1", cutoff_at=datetime.now(timezone.utc) + timedelta(hours=1), attempt=1, rows=(row,)))
    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "ZATCA_CREDENTIALS_INVALID")
    assert "hunter2" not in result.message


def test_services_pick_the_live_zatca_adapter_only_when_live_and_configured():
    configured = Services(Settings.from_env({**KSA, "REPORTING_ZATCA_ENDPOINT": "https://gw-fatoora.zatca.gov.sa/x"}))
    bare = Services(Settings.from_env(KSA))
    try:
        assert isinstance(configured.regulatory_adapter(SUBMISSION, True), ZatcaReportingAdapter)
        assert configured.regulatory_adapter(SUBMISSION, True) is configured.regulatory_adapter(SUBMISSION, True)
        assert isinstance(configured.regulatory_adapter(SUBMISSION, False), FakeRegulatoryAdapter)  # the default
        unconfigured = bare.regulatory_adapter(SUBMISSION, True)
        assert isinstance(unconfigured, UnconfiguredLiveAdapter) and unconfigured.name == "ksa_zatca"
    finally:
        configured.close()
        bare.close()


def test_the_zatca_commands_parse_as_cli_py_will_register_them():
    import argparse

    from reporting.entrypoints import zatca_cli

    parser = argparse.ArgumentParser(prog="reporting")
    sub = parser.add_subparsers(dest="command", required=True)
    zatca_cli.add_arguments(sub.add_parser("zatca"))
    chain = parser.parse_args(["zatca", "chain", "--tenant", "t", "--property", "p", "--date", "2026-11-23"])
    assert (chain.action, chain.func, chain.date, chain.all) == (zatca_cli.chain, zatca_cli._run, "2026-11-23", False)
    assert parser.parse_args(["zatca", "qr", "--tenant", "t", "--submission", "s"]).action is zatca_cli.qr
    assert parser.parse_args(["zatca", "export", "--tenant", "t", "--property", "p", "--date", "2026-11-23",
                              "--out", "x"]).action is zatca_cli.export
    with pytest.raises(SystemExit):  # a day or the whole chain, not neither
        parser.parse_args(["zatca", "chain", "--tenant", "t", "--property", "p"])
