"""region_changed: Pub/Sub (tenant.region_changed.v1) → residency-move completion (lands with the residency issue)."""
import functions_framework

from reporting.bootstrap import services
from reporting.entrypoints.consumers import consume
from reporting.logs import configure

configure()


@functions_framework.cloud_event
def region_changed(cloud_event):  # noqa: ANN001
    consume("region_changed", cloud_event, services())
