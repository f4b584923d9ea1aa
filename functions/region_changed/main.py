"""region_changed: Pub/Sub (tenant.region_changed.v1) → the end of a residency move on this side (target: the
tenant becomes active here; source: it is marked moved). Raise = retry, return = ack."""
import functions_framework

from reporting.bootstrap import services
from reporting.entrypoints.consumers import consume
from reporting.logs import configure

configure()


@functions_framework.cloud_event
def region_changed(cloud_event):  # noqa: ANN001
    consume("region_changed", cloud_event, services())
