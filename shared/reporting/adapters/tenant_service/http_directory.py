"""TenantDirectory over tenant-service's HTTP API, authenticated with a Google-signed ID token.

Only reads: GET {base}/v1/tenants/{tenant_id}. The caller (service_layer.tenants.
TenantFreshness) decides how often; this adapter only fetches and parses, and
raises on anything it cannot trust so the mirror is kept rather than clobbered.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Callable

from reporting.service_layer.ports import TenantDirectory, TenantRecord

MAX_BYTES = 64 * 1024
RESIDENCIES = {"AF", "IN", "KSA"}


class TenantServiceError(RuntimeError):
    pass


def google_id_token(audience: str) -> str:
    """An ID token for `audience` from the metadata server (the function's own service account)."""
    import google.auth.transport.requests
    import google.oauth2.id_token

    return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)


class HttpTenantDirectory(TenantDirectory):
    def __init__(self, base_url: str, *, token: Callable[[str], str] | None = google_id_token,
                 timeout_seconds: float = 2.0) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout_seconds

    def fetch(self, tenant_id: str) -> TenantRecord | None:
        request = urllib.request.Request(f"{self._base}/v1/tenants/{tenant_id}", method="GET",
                                         headers={"Accept": "application/json"})
        if self._token is not None:
            request.add_header("Authorization", f"Bearer {self._token(self._base)}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise TenantServiceError(f"tenant-service answered {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise TenantServiceError(f"tenant-service unreachable: {type(error).__name__}") from None
        if len(raw) > MAX_BYTES:
            raise TenantServiceError("tenant-service answer too large")
        try:
            body = json.loads(raw)
            record = TenantRecord(tenant_id=str(body["tenant_id"]), name=str(body["name"]),
                                  residency=str(body["residency"]), stored_region=str(body["stored_region"]),
                                  default_locale=str(body.get("default_locale") or "en"),
                                  features=dict(body.get("features") or {}))
        except (ValueError, KeyError, TypeError):
            raise TenantServiceError("tenant-service answer is not a tenant") from None
        if record.tenant_id.lower() != tenant_id.lower() or record.residency not in RESIDENCIES:
            raise TenantServiceError("tenant-service answered for another tenant or residency")
        return record
