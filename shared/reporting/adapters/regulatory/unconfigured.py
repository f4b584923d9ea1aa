"""A property switched to a live adapter this deployment has no transport for: refuse loudly, never pretend."""
from __future__ import annotations

from reporting.service_layer.regulatory import FilingRequest, FilingResult, RegulatoryAdapter


class UnconfiguredLiveAdapter(RegulatoryAdapter):
    def __init__(self, adapter: str) -> None:
        self.name = adapter

    def file(self, request: FilingRequest) -> FilingResult:
        # Permanent: retrying cannot help, and a rejection alerts (an operator must configure or switch back).
        return FilingResult.rejected("LIVE_ADAPTER_NOT_CONFIGURED",
                                     f"the live {self.name} adapter is not configured in this deployment")
