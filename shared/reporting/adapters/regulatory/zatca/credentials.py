"""Each property's e-invoicing unit credentials: its private key, its CSID and the CSID's API secret.

ZATCA onboards one EGS unit per property: the unit's secp256k1 key signs every document, and
the production CSID (the `binarySecurityToken` ZATCA issues for the unit's CSR, a certificate)
with its `secret` authenticates the reporting calls (HTTP Basic). Three secrets per property,
never in the database: the property's settings (or a deployment-wide template) hold only
their *names* (docs/regulatory/zatca.md):

    settings.zatca = {"private_key": NAME, "csid": NAME, "api_secret": NAME}
    REPORTING_ZATCA_SECRETS = "projects/P/secrets/zatca-{property_id}-{secret}/versions/latest"
                              ({secret} is private-key, csid or api-secret)

A NAME is a Secret Manager version (`projects/P/secrets/S/versions/V`, the cloud), or for
local work `env:VARIABLE` or `file:/path` (the demo's self-signed test unit). Secret Manager
values are cached for a few minutes (adapters/secrets.py), so a renewed CSID is picked up
without a deploy. Nothing here logs or raises a secret's value.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporting.adapters.regulatory.zatca.client import ReportingConfig
from reporting.adapters.regulatory.zatca.signing import (
    InvalidCredentials,
    SigningCredentials,
    certificate_pem_from_csid,
    load_credentials,
)
from reporting.adapters.secrets import Secret

SECRET_KEYS = {"private_key": "private-key", "csid": "csid", "api_secret": "api-secret"}


class CredentialsUnavailable(RuntimeError):
    """The unit's credentials cannot be had now: `code` says why (an operator fixes it before the cutoff)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UnitCredentials:
    """What one filing needs: the signing pair and the reporting call's configuration."""

    signing: SigningCredentials
    reporting: ReportingConfig


def secret_names(property_id: str, settings: Mapping[str, Any], template: str | None) -> dict[str, str]:
    """The three secret names of a property: its own settings first, then the deployment's template."""
    own = settings.get("zatca") if isinstance(settings.get("zatca"), Mapping) else {}
    names: dict[str, str] = {}
    for key, slug in SECRET_KEYS.items():
        name = own.get(key) if isinstance(own.get(key), str) and own.get(key) else None
        if name is None and template:
            name = template.format(property_id=property_id, secret=slug)
        if name is None:
            raise CredentialsUnavailable("ZATCA_CREDENTIALS_NOT_CONFIGURED",
                                         f"no secret name for the unit's {key} "
                                         "(settings.zatca or REPORTING_ZATCA_SECRETS)")
        names[key] = name
    return names


def check_secret_name(name: str) -> None:
    """Raise ValueError unless `name` is a Secret Manager version, env:VARIABLE or file:/path."""
    if name.startswith("projects/") and "/secrets/" in name and "/versions/" in name:
        return
    if name.startswith("env:") and len(name) > 4:
        return
    if name.startswith("file:") and len(name) > 5:
        return
    raise ValueError("a secret name is projects/P/secrets/S/versions/V, env:VARIABLE or file:/path")


def _local_reader(name: str) -> Callable[[], str]:
    if name.startswith("env:"):
        variable = name[4:]

        def from_env() -> str:
            value = os.environ.get(variable)
            if not value:
                raise CredentialsUnavailable("ZATCA_CREDENTIALS_UNAVAILABLE",
                                             f"environment variable {variable} is not set")
            return value

        return from_env
    path = Path(name[5:])

    def from_file() -> str:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise CredentialsUnavailable("ZATCA_CREDENTIALS_UNAVAILABLE",
                                         f"secret file unreadable: {type(error).__name__}") from None

    return from_file


class PropertyCredentials:
    """(tenant, property) → UnitCredentials, from the property's settings and the secrets they name."""

    def __init__(self, settings_for: Callable[[str, str], Mapping[str, Any]], *, base_url: str,
                 template: str | None = None, timeout_seconds: float = 15.0,
                 secret_factory: Callable[[str], Callable[[], str]] | None = None) -> None:
        self._settings_for = settings_for
        self._base_url = base_url
        self._template = template
        self._timeout = timeout_seconds
        self._secret_factory = secret_factory or self._reader
        self._readers: dict[str, Callable[[], str]] = {}
        self._loaded: dict[str, SigningCredentials] = {}  # by a digest of (key, certificate): parsing costs
        self._lock = threading.Lock()

    @staticmethod
    def _reader(name: str) -> Callable[[], str]:
        check_secret_name(name)
        if name.startswith("projects/"):
            return Secret(secret_version=name)
        return _local_reader(name)

    def _read(self, name: str) -> str:
        with self._lock:
            reader = self._readers.get(name)
            if reader is None:
                try:
                    reader = self._readers[name] = self._secret_factory(name)
                except ValueError as error:
                    raise CredentialsUnavailable("ZATCA_CREDENTIALS_NOT_CONFIGURED", str(error)) from None
        try:
            return reader()
        except CredentialsUnavailable:
            raise
        except Exception as error:  # Secret Manager down, permission denied: an operator or a retry fixes it
            raise CredentialsUnavailable("ZATCA_CREDENTIALS_UNAVAILABLE",
                                         f"secret unreadable: {type(error).__name__}") from None

    def __call__(self, tenant_id: str, property_id: str) -> UnitCredentials:
        names = secret_names(property_id, self._settings_for(tenant_id, property_id), self._template)
        key_pem, token, api_secret = (self._read(names[k]) for k in ("private_key", "csid", "api_secret"))
        digest = hashlib.sha256(f"{key_pem}\0{token}".encode()).hexdigest()
        signing = self._loaded.get(digest)
        if signing is None:
            try:
                signing = load_credentials(key_pem, certificate_pem_from_csid(token))
            except InvalidCredentials as error:
                raise CredentialsUnavailable("ZATCA_CREDENTIALS_INVALID", str(error)) from None
            with self._lock:
                self._loaded[digest] = signing
        return UnitCredentials(signing, ReportingConfig(base_url=self._base_url, binary_security_token=token,
                                                        secret=api_secret, timeout_seconds=self._timeout))
